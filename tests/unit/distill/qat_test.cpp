// Quantization-aware training of QDQ models (docs/training.md "Quantization-aware training"):
// the fake-quantized LibTorch forward agrees with the int8 runtime, a QAT step changes the
// int8 weights and scales but not the QDQ structure, and the same seed gives the same bytes.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "compress/error.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "distill/ir_on_libtorch.h"
#include "distill/trainer.h"
#include "export/runtime_export.h"
#include "quantize/quantize_model.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/input_error.h"

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";

mc::data::Dataset load(uint64_t n, const std::string& split) {
  mc::data::DatasetOptions o;
  o.data_path = kData + split + "-images-idx3-ubyte.gz";
  o.labels_path = kData + split + "-labels-idx1-ubyte.gz";
  o.mean = 0.286f;
  o.std = 0.353f;
  o.max_samples = n;
  return mc::data::load_dataset(o, {-1, 1, 28, 28});
}

// mobile.onnx (depthwise CNN) through `quantize --mode static` (256 calibration images).
const mc::Model& qdq_mobile() {
  static const mc::Model m = [] {
    mc::Model q = mc::import_onnx_file(kExamples + "mobile.onnx");
    mc::PassContext ctx;
    mc::optimize_for_runtime(q, ctx);
    mc::quant::QuantizeOptions o;
    o.calib_size = 256;
    o.report_samples = 16;
    mc::quant::quantize_static(q, load(256, "train"), o);
    return q;
  }();
  return m;
}

std::vector<float> run_runtime(const mc::Model& m, const std::vector<float>& x, size_t n) {
  const std::vector<uint8_t> bytes = mc::export_runtime_bytes(m);
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  std::vector<float> y;
  for (size_t i = 0; i < n; ++i) {
    std::unique_ptr<mcrt::Interpreter> it;
    REQUIRE(mcrt::Interpreter::prepare(*model, {}, &it).ok());
    REQUIRE(it->input(0).bytes == 28 * 28 * 4);
    std::memcpy(it->input(0).data, x.data() + i * 28 * 28, 28 * 28 * 4);
    REQUIRE(it->run().ok());
    const float* o = static_cast<const float*>(it->output(0).data);
    y.insert(y.end(), o, o + it->output(0).bytes / 4);
  }
  return y;
}

float output_step(const mc::Model& m) {  // scale of the last DequantizeLinear (the logits)
  const mc::Node& last = m.graph.nodes.back();
  REQUIRE(last.op_type == "DequantizeLinear");
  return m.graph.initializer(last.inputs[1])->as<float>()[0];
}

// The fake-quantized LibTorch forward vs the int8 runtime: every logit within one
// quantization step of the output.
void check_against_runtime(const mc::Model& m, const mc::data::Dataset& d) {
  const size_t n = d.num_samples();
  std::vector<int64_t> s;
  const std::vector<float> ft = mc::distill::run_ir_on_libtorch(m, {static_cast<int64_t>(n), 1, 28, 28}, d.data(), &s);
  const std::vector<float> rt = run_runtime(m, d.data(), n);
  REQUIRE(ft.size() == rt.size());
  const float step = output_step(m);
  float worst = 0;
  for (size_t i = 0; i < ft.size(); ++i) worst = std::max(worst, std::fabs(ft[i] - rt[i]));
  INFO("max |LibTorch fake-quant - runtime int8| = " << worst << ", output step " << step);
  CHECK(worst <= step * 1.0001f);
}

mc::distill::TrainOptions qat_opts(uint64_t seed, double lr = 0.005) {
  mc::distill::TrainOptions o;
  o.epochs = 1;
  o.lr = lr;
  o.batch_size = 64;
  o.seed = seed;
  return o;
}

}  // namespace

TEST_CASE("QAT: the fake-quantized forward equals the int8 runtime within one output step", "[distill][qat]") {
  check_against_runtime(qdq_mobile(), load(32, "t10k"));
}

TEST_CASE("QAT: a step changes int8 weights and scales, keeps the QDQ structure, and still runs as int8",
          "[distill][qat]") {
  const mc::Model& before = qdq_mobile();
  mc::Model m = before;
  mc::distill::TrainReport r;
  mc::distill::finetune(m, load(256, "train"), qat_opts(3, 0.05), &r);
  CHECK(r.trainable == 37514);  // every int8 weight and int32 bias trains as an fp32 shadow
  REQUIRE(m.graph.nodes.size() == before.graph.nodes.size());
  for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
    CHECK(m.graph.nodes[i].op_type == before.graph.nodes[i].op_type);
    CHECK(m.graph.nodes[i].inputs == before.graph.nodes[i].inputs);
  }
  REQUIRE(m.graph.initializers.size() == before.graph.initializers.size());
  size_t int8_changed = 0, scales_changed = 0;
  for (size_t i = 0; i < m.graph.initializers.size(); ++i) {
    const mc::Tensor &a = m.graph.initializers[i], &b = before.graph.initializers[i];
    REQUIRE(a.name == b.name);
    REQUIRE(a.dtype == b.dtype);
    REQUIRE(a.dims == b.dims);
    if (a.data == b.data) continue;
    if (a.dtype == mc::DType::I8) ++int8_changed;
    if (a.dtype == mc::DType::F32 && a.name.find("weight") != std::string::npos && a.name.size() > 6 &&
        a.name.compare(a.name.size() - 6, 6, "_scale") == 0)
      ++scales_changed;
    if (a.dtype == mc::DType::F32 && a.name.find("_zero_point") != std::string::npos) FAIL("zero point changed");
  }
  CHECK(int8_changed == 14);  // every Conv and the Gemm
  CHECK(scales_changed > 0);
  // The re-quantized weights and written-back scales run on the runtime as the trained model did.
  check_against_runtime(m, load(32, "t10k"));
}

TEST_CASE("QAT: the same seed gives the same bytes, another seed does not", "[distill][qat]") {
  auto train = [](uint64_t seed) {
    mc::Model m = qdq_mobile();
    mc::distill::TrainReport r;
    mc::distill::finetune(m, load(128, "train"), qat_opts(seed), &r);
    return mc::export_onnx_bytes(m);
  };
  const std::string a = train(7), b = train(7), c = train(8);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("QAT: a quantized weight whose scale is shared is exit 2 naming the node", "[distill][qat]") {
  mc::Model m = qdq_mobile();
  // Point the first bias DequantizeLinear at the first weight's scale.
  std::string wscale;
  for (mc::Node& n : m.graph.nodes) {
    if (n.op_type != "DequantizeLinear") continue;
    const mc::Tensor* t = m.graph.initializer(n.inputs[0]);
    if (!t) continue;
    if (t->dtype == mc::DType::I8 && wscale.empty()) wscale = n.inputs[1];
    else if (t->dtype == mc::DType::I32 && !wscale.empty()) {
      n.inputs[1] = wscale;
      break;
    }
  }
  REQUIRE(!wscale.empty());
  mc::distill::TrainReport r;
  const std::string what = mc::test::input_error([&] { mc::distill::finetune(m, load(64, "train"), qat_opts(1), &r); });
  CHECK(what.find("shared") != std::string::npos);
}

namespace {

// Runs QAT on a mutated QDQ mobile and returns the Input error's message.
std::string qat_error(const std::function<void(mc::Model&)>& mutate) {
  mc::Model m = qdq_mobile();
  mutate(m);
  mc::distill::TrainReport r;
  return mc::test::input_error([&] { mc::distill::finetune(m, load(64, "train"), qat_opts(1), &r); });
}

mc::Node& first_weight_dq(mc::Model& m) {
  for (mc::Node& n : m.graph.nodes)
    if (n.op_type == "DequantizeLinear" && m.graph.initializer(n.inputs[0]) &&
        m.graph.initializer(n.inputs[0])->dtype == mc::DType::I8)
      return n;
  FAIL("no int8 weight");
  return m.graph.nodes[0];
}

}  // namespace

TEST_CASE("QAT: a weight zero point other than 0 is exit 2", "[distill][qat]") {
  const std::string msg = qat_error([](mc::Model& m) {
    mc::Node& dq = first_weight_dq(m);
    mc::Tensor zp = mc::Tensor::zeros("qat_test_zp", mc::DType::I8, {});
    zp.data[0] = 3;
    m.graph.initializers.push_back(zp);
    dq.inputs.resize(3);
    dq.inputs[2] = "qat_test_zp";
  });
  CHECK(msg.find("zero point 0") != std::string::npos);
}

TEST_CASE("QAT: a uint8 weight initializer is exit 2", "[distill][qat]") {
  const std::string msg = qat_error([](mc::Model& m) {
    m.graph.initializer(first_weight_dq(m).inputs[0])->dtype = mc::DType::U8;
  });
  CHECK(msg.find("cannot be trained") != std::string::npos);
}

TEST_CASE("QAT: a per-channel activation QuantizeLinear is exit 2", "[distill][qat]") {
  const std::string msg = qat_error([](mc::Model& m) {
    mc::Node& q = m.graph.nodes[0];
    REQUIRE(q.op_type == "QuantizeLinear");
    const float s = m.graph.initializer(q.inputs[1])->as<float>()[0];
    m.graph.initializers.push_back(mc::Tensor::make_f32("qat_test_scale", {2}, {s, s}));
    q.inputs[1] = "qat_test_scale";
  });
  CHECK(msg.find("per-tensor activation scale") != std::string::npos);
}

TEST_CASE("QAT: 4-bit weights in an int8 container are exit 2", "[distill][qat]") {
  const std::string msg = qat_error([](mc::Model& m) {
    mc::Tensor* w = m.graph.initializer(first_weight_dq(m).inputs[0]);
    for (auto& b : w->data) b = static_cast<uint8_t>(static_cast<int8_t>(b) / 20);  // [-127, 127] -> [-6, 6]
  });
  CHECK(msg.find("4-bit") != std::string::npos);
}
