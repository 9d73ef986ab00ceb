// export/weight_encoding: the palette form and its bit widths, and the runtime export of
// kmeans weights as palettes in a coded body (docs/runtime-format.md §2.1): the file loads, the runtime's
// output equals a reference computed from the IR weights, and the coded file is smaller.

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "compress/onnx/onnx_export.h"

#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "export/weight_encoding.h"
#include "quantize/weight_storage.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "storage_test_models.h"
#ifdef MC_HAVE_ORT_PEER
#include "tests/support/ort_peer.h"
#include "tests/support/temp_dir.h"
#endif

using namespace mc;

namespace {

struct Ran {
  std::vector<float> y;
  uint64_t palettes = 0, codings = 0;
  uint64_t decoded = 0;
  size_t segments = 0;             // of a coded body (§2.1)
  std::vector<int> dtypes;         // of the constant tensors with quantization
  std::vector<int> block_sizes;    // of the same
  std::vector<size_t> scales;      // of the same
  size_t dq_nodes = 0;             // DequantizeLinear nodes left in the file
};

// Loads the runtime file, counts palettized tensors and codings, runs x through it.
Ran run_runtime(const std::vector<uint8_t>& bytes, const std::vector<float>& x) {
  Ran r;
  std::unique_ptr<mcrt::Model> model;
  mcrt::Status st = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model);
  INFO(st.to_string());
  REQUIRE(st.ok());
  for (const auto* t : *model->graph().tensors()) r.palettes += t->palette() ? 1 : 0;
  r.codings = model->graph().codings() ? model->graph().codings()->size() : 0;
  for (const auto* t : *model->graph().tensors())
    if (t->quant() && t->buffer()) {
      r.dtypes.push_back(t->dtype());
      r.block_sizes.push_back(t->quant()->block_size());
      r.scales.push_back(t->quant()->scale()->size());
    }
  for (const auto* n : *model->graph().nodes()) r.dq_nodes += n->op() == mcrt::fb::OpType_DequantizeLinear ? 1 : 0;
  r.decoded = model->decoded_bytes();
  r.segments = model->body_segments().size();
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = 1;
  REQUIRE(mcrt::Interpreter::prepare(*model, po, &it).ok());
  mcrt::TensorInfo in = it->input(0);
  REQUIRE(in.bytes == x.size() * 4);
  std::memcpy(in.data, x.data(), in.bytes);
  REQUIRE(it->run().ok());
  mcrt::TensorInfo out = it->output(0);
  r.y.resize(out.bytes / 4);
  std::memcpy(r.y.data(), out.data, out.bytes);
  return r;
}

// y[m] = sum_k x[k] * W[m, k] + b[m], in double, from the IR's weights.
std::vector<float> reference(const Model& md, const std::vector<float>& x) {
  const Tensor* w = md.graph.initializer("fc.w");
  const Tensor* b = md.graph.initializer("fc.b");
  const int64_t m = w->dims[0], k = w->dims[1];
  std::vector<float> y(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    double acc = b->as<float>()[i];
    for (int64_t j = 0; j < k; ++j) acc += (double)x[(size_t)j] * w->as<float>()[i * k + j];
    y[(size_t)i] = static_cast<float>(acc);
  }
  return y;
}

}  // namespace

TEST_CASE("palette_encoding: smallest bit width that fits, lossless bit patterns", "[unit][storage]") {
  struct Case {
    size_t distinct;
    int bits;
  };
  for (const Case& c : {Case{1, 1}, Case{2, 1}, Case{3, 2}, Case{4, 2}, Case{5, 4}, Case{16, 4}, Case{17, 8},
                        Case{256, 8}}) {
    std::vector<float> w(1000);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % c.distinct) - 3.5f;
    PaletteEncoding p;
    REQUIRE(palette_encoding(w.data(), w.size(), &p));
    CHECK(p.bits == c.bits);
    CHECK(p.codebook.size() == c.distinct);
    CHECK(p.packed.size() == (w.size() * (size_t)c.bits + 7) / 8);
    CHECK(p.disk_bytes == r64(c.distinct * 4) + r64(p.packed.size()));
  }
  std::vector<float> many(300);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<float>(i);
  PaletteEncoding p;
  CHECK(!palette_encoding(many.data(), many.size(), &p));
  // -0.0 and +0.0 are different entries (bit patterns).
  const float z[2] = {0.0f, -0.0f};
  REQUIRE(palette_encoding(z, 2, &p));
  CHECK(p.codebook.size() == 2);
}

TEST_CASE("kmeans weights export as palettes, in a coded body with --entropy-coding, and compute the same", "[unit][storage]") {
  Model md = test::gemm_model(512, 64, test::bell_values(512 * 64, 11), test::test_values(64, 12));
  quant::WeightStorageOptions o;
  o.mode = quant::WeightStorageMode::KMeans;
  o.bits = 4;
  REQUIRE(quant::apply_weight_storage(md, o).layers_applied == 1);
  const std::vector<float> x = test::test_values(512, 13);
  const std::vector<float> want = reference(md, x);

  RuntimeExportOptions plain;
  const std::vector<uint8_t> a = export_runtime_bytes(md, plain);
  const Ran ra = run_runtime(a, x);
  CHECK(ra.palettes == 1);
  CHECK(ra.codings == 0);
  CHECK(ra.decoded == 0);
  RuntimeExportOptions coded;
  coded.entropy_coding = true;
  RuntimeExportReport rep;
  const std::vector<uint8_t> b = export_runtime_bytes(md, coded, &rep);
  const Ran rb = run_runtime(b, x);
  CHECK(rb.palettes == 1);
  CHECK(ra.segments == 0);
  CHECK(rb.segments >= 2);  // graph, then the weight groups (§2.1)
  CHECK(rb.codings == 0);   // the body is coded as a whole, not buffer by buffer (§3.1)
  CHECK(b.size() < a.size());
  REQUIRE(ra.y.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(ra.y[i] == Approx(want[i]).margin(1e-4));
    CHECK(rb.y[i] == ra.y[i]);  // decoding is lossless: same weights, same kernel, same bits
  }
  // Same model, same options: same bytes.
  CHECK(export_runtime_bytes(md, coded) == b);
}

namespace {

// Weight-only model of K = 40 inputs (not a multiple of any block size), 8 outputs.
struct WeightOnlyCase {
  int bits;
  int block;
  mcrt::fb::DType stored;
  size_t scales;
  size_t ir_nodes;  // DequantizeLinear chain + the Gemm
};

}  // namespace

TEST_CASE("weight-only int8/int4, per channel and in blocks: runtime file, prepare-time dequantization, ORT", "[unit][storage]") {
  const std::vector<float> w = test::bell_values(40 * 8, 21), b = test::test_values(8, 22);
  const std::vector<float> x = test::test_values(40, 23);
  for (const WeightOnlyCase& c : {WeightOnlyCase{8, 0, mcrt::fb::DType_INT8, 8, 2}, WeightOnlyCase{4, 0, mcrt::fb::DType_INT4, 8, 2},
                                  WeightOnlyCase{8, 32, mcrt::fb::DType_INT8, 16, 5},
                                  WeightOnlyCase{4, 32, mcrt::fb::DType_INT4, 16, 5}}) {
    INFO("bits " << c.bits << " block " << c.block);
    Model md = test::gemm_model(40, 8, w, b);
    const std::vector<float> fp32 = reference(md, x);
    quant::WeightStorageOptions o;
    o.mode = quant::WeightStorageMode::WeightOnly;
    o.bits = c.bits;
    o.block_size = c.block;
    const quant::WeightStorageReport rep = quant::apply_weight_storage(md, o);
    REQUIRE(rep.layers_applied == 1);
    CHECK(md.graph.nodes.size() == c.ir_nodes);
    // The stored weights: what the IR computes, per element (SQNR check of the report).
    CHECK(rep.layers[0].sqnr_db > (c.bits == 8 ? 35.0 : 12.0));
    const Ran r = run_runtime(export_runtime_bytes(md), x);
    CHECK(r.dq_nodes == 0);  // the chain is one quantized constant
    REQUIRE(r.dtypes.size() == 1);
    CHECK(r.dtypes[0] == c.stored);
    CHECK(r.block_sizes[0] == c.block);
    CHECK(r.scales[0] == c.scales);
    REQUIRE(r.y.size() == fp32.size());
    for (size_t i = 0; i < fp32.size(); ++i) CHECK(r.y[i] == Approx(fp32[i]).margin(c.bits == 8 ? 0.02 : 0.2));
#ifdef MC_HAVE_ORT_PEER
    if (!test::ort_available()) {
      WARN("ONNX Runtime peer not available: the ONNX form of weight-only storage is not checked");
      continue;
    }
    mc::test::TempDir tmp("mc_storage_ort");
    const std::string path = (tmp.path / "wo.onnx").string();
    export_onnx_file(md, path);
    test::NpyArray in;
    in.shape = {1, 40};
    in.bytes.resize(40 * 4);
    std::memcpy(in.bytes.data(), x.data(), 40 * 4);
    const auto outs = test::run_in_ort(path, {{"x", in}});
    const test::NpyArray& y = outs.at("y");
    REQUIRE(y.bytes.size() == r.y.size() * 4);
    std::vector<float> yo(r.y.size());
    std::memcpy(yo.data(), y.bytes.data(), y.bytes.size());
    for (size_t i = 0; i < yo.size(); ++i) CHECK(yo[i] == Approx(r.y[i]).margin(1e-4));
#endif
  }
}
