// export_runtime: a hand-built Conv+Relu+Flatten+Gemm model run on the runtime equals a
// naive fp32 evaluation (dynamic batch, fp16 weights too); unsupported ops, attributes,
// dtypes and computed shape inputs are refused with an Input error naming the node; an
// output that is the input is refused; example models stay within 1% of their ONNX size.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "compress/passes/refresh_shapes.h"
#include "export/runtime_export.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/input_error.h"
#include "tests/support/ir_builders.h"
#include "tests/support/random_floats.h"

namespace fs = std::filesystem;
using namespace mc;

namespace {

constexpr int C = 2, H = 5, W = 5, K = 3, OH = 3, OW = 3, F = 4;  // conv 3x3, pad 1, stride 2

// x[N,2,5,5] → Conv(3x3, pad 1, stride 2) → Relu → Flatten → Gemm(transB) → y[N,4]
Model conv_relu_gemm() {
  Model m;
  m.opsets = {{"", 13}};
  Graph& g = m.graph;
  g.name = "conv_relu_gemm";
  g.inputs.push_back(test::value_info("x", {Dim::symbol("N"), Dim::known(C), Dim::known(H), Dim::known(W)}));
  g.outputs.push_back(test::value_info("y", {Dim::symbol("N"), Dim::known(F)}));
  g.initializers.push_back(Tensor::make_f32("w", {K, C, 3, 3}, test::random_floats(K * C * 9, 1)));
  g.initializers.push_back(Tensor::make_f32("b", {K}, test::random_floats(K, 2)));
  g.initializers.push_back(Tensor::make_f32("fc.w", {F, K * OH * OW}, test::random_floats(F * K * OH * OW, 3)));
  g.initializers.push_back(Tensor::make_f32("fc.b", {F}, test::random_floats(F, 4)));
  Node conv = test::make_node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  conv.set_attr_ints("pads", {1, 1, 1, 1});
  conv.set_attr_ints("strides", {2, 2});
  conv.set_attr_ints("kernel_shape", {3, 3});
  g.nodes.push_back(conv);
  g.nodes.push_back(test::make_node("Relu", {"c"}, {"r"}, "relu"));
  g.nodes.push_back(test::make_node("Flatten", {"r"}, {"f"}, "flat"));
  Node gemm = test::make_node("Gemm", {"f", "fc.w", "fc.b"}, {"y"}, "fc");
  gemm.set_attr_int("transB", 1);
  g.nodes.push_back(gemm);
  REQUIRE(refresh_shapes(m).empty());
  return m;
}

// The same computation, written out by hand.
std::vector<float> naive(const Model& m, const std::vector<float>& x, int batch) {
  const float* w = m.graph.initializer("w")->as<float>();
  const float* b = m.graph.initializer("b")->as<float>();
  const float* fw = m.graph.initializer("fc.w")->as<float>();
  const float* fb = m.graph.initializer("fc.b")->as<float>();
  std::vector<float> y(static_cast<size_t>(batch) * F);
  for (int n = 0; n < batch; ++n) {
    std::vector<float> r(K * OH * OW);
    for (int k = 0; k < K; ++k)
      for (int oy = 0; oy < OH; ++oy)
        for (int ox = 0; ox < OW; ++ox) {
          double s = b[k];
          for (int c = 0; c < C; ++c)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += static_cast<double>(x[((n * C + c) * H + iy) * W + ix]) * w[((k * C + c) * 3 + ky) * 3 + kx];
              }
          r[(k * OH + oy) * OW + ox] = s > 0 ? static_cast<float>(s) : 0.f;
        }
    for (int f = 0; f < F; ++f) {
      double s = fb[f];
      for (int i = 0; i < K * OH * OW; ++i) s += static_cast<double>(r[i]) * fw[f * K * OH * OW + i];
      y[n * F + f] = static_cast<float>(s);
    }
  }
  return y;
}

std::vector<float> run_runtime(const std::vector<uint8_t>& bytes, const std::vector<float>& x, int batch) {
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = batch;
  const mcrt::Status st = mcrt::Interpreter::prepare(*model, po, &it);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(it->input(0).bytes == x.size() * sizeof(float));
  std::memcpy(it->input(0).data, x.data(), it->input(0).bytes);
  REQUIRE(it->run().ok());
  const auto* y = static_cast<const float*>(it->output(0).data);
  return std::vector<float>(y, y + it->output(0).bytes / sizeof(float));
}

std::string input_error_of(const Model& m) {
  return test::input_error([&] { (void)export_runtime_bytes(m); });
}

std::string temp_dir() {
  const fs::path p = fs::temp_directory_path() / ("mc_export_test_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p.string();
}

}  // namespace

TEST_CASE("Conv+Relu+Gemm on the runtime equals a naive evaluation, dynamic batch") {
  const Model m = conv_relu_gemm();
  RuntimeExportReport rep;
  const std::vector<uint8_t> bytes = export_runtime_bytes(m, {}, &rep);
  CHECK(rep.nodes == 4);
  CHECK(rep.weight_bytes == 4 * (K * C * 9 + K + F * K * OH * OW + F));
  for (int batch : {1, 3}) {
    const std::vector<float> x = test::random_floats(static_cast<size_t>(batch) * C * H * W, 10 + batch);
    const std::vector<float> want = naive(m, x, batch), got = run_runtime(bytes, x, batch);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-5f + 1e-4f * std::fabs(want[i]));
  }
}

TEST_CASE("fp16 weights: half the weight bytes, results within fp16 rounding") {
  const Model m = conv_relu_gemm();
  RuntimeExportOptions o;
  o.fp16_weights = true;
  RuntimeExportReport rep;
  const std::vector<uint8_t> bytes = export_runtime_bytes(m, o, &rep);
  CHECK(rep.weight_bytes == 2 * (K * C * 9 + K + F * K * OH * OW + F));
  const std::vector<float> x = test::random_floats(C * H * W, 7);
  const std::vector<float> want = naive(m, x, 1), got = run_runtime(bytes, x, 1);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-2f + 1e-2f * std::fabs(want[i]));
}

TEST_CASE("unsupported op, attribute, dtype and computed shape inputs give an Input error naming the node") {
  SECTION("unknown op") {
    Model m = conv_relu_gemm();
    m.graph.nodes[1].op_type = "Elu";
    m.graph.nodes[1].name = "act";
    const std::string e = input_error_of(m);
    CHECK(e.find("node 'act' (Elu)") != std::string::npos);
    CHECK(e.find("not supported") != std::string::npos);
  }
  SECTION("unsupported attribute value") {
    Model m = conv_relu_gemm();
    m.graph.nodes[0].attrs.push_back(Attribute{});
    m.graph.nodes[0].attrs.back().name = "auto_pad";
    m.graph.nodes[0].attrs.back().type = AttrType::String;
    m.graph.nodes[0].attrs.back().s = "SOMETIMES";
    CHECK(input_error_of(m).find("node 'conv' (Conv): auto_pad = 'SOMETIMES'") != std::string::npos);
  }
  SECTION("unknown attribute") {
    Model m = conv_relu_gemm();
    m.graph.nodes[3].set_attr_int("broadcast", 1);
    CHECK(input_error_of(m).find("node 'fc' (Gemm): attribute 'broadcast'") != std::string::npos);
  }
  SECTION("runtime-unsupported combination found at prepare (int32 Relu)") {
    Model m;
    m.opsets = {{"", 13}};
    m.graph.inputs.push_back(test::value_info("x", {Dim::known(4)}, DType::I32));
    m.graph.outputs.push_back(test::value_info("y", {Dim::known(4)}, DType::I32));
    m.graph.nodes.push_back(test::make_node("Relu", {"x"}, {"y"}, "r"));
    REQUIRE(refresh_shapes(m).empty());
    const std::string e = input_error_of(m);
    CHECK(e.find("runtime: unsupported") != std::string::npos);
    CHECK(e.find("Relu") != std::string::npos);
  }
  SECTION("dtype the format cannot hold") {
    Model m = conv_relu_gemm();
    m.graph.inputs[0].dtype = DType::F64;
    CHECK(input_error_of(m).find("graph input 'x' has data type double") != std::string::npos);
  }
  SECTION("shape input computed at run time") {
    Model m;
    m.opsets = {{"", 13}};
    m.graph.inputs.push_back(test::value_info("x", {Dim::known(2), Dim::known(6)}));
    m.graph.inputs.push_back(test::value_info("s", {Dim::known(2)}, DType::I64));
    m.graph.outputs.push_back(test::value_info("y", {Dim::known(3), Dim::known(4)}));
    m.graph.nodes.push_back(test::make_node("Reshape", {"x", "s"}, {"y"}, "reshape"));
    const std::string e = input_error_of(m);
    CHECK(e.find("node 'reshape' (Reshape): input 1 ('s') must be a constant") != std::string::npos);
    CHECK(runtime_constant_inputs(m) == std::vector<std::string>{"s"});
  }
  SECTION("dynamic non-batch dimension") {
    Model m = conv_relu_gemm();
    m.graph.inputs[0].shape[2] = Dim::symbol("H");
    CHECK(input_error_of(m).find("dynamic dimension 2") != std::string::npos);
  }
}

TEST_CASE("output equal to the input is refused and the input is untouched") {
  const std::string dir = temp_dir();
  const std::string path = dir + "/model.onnx";
  export_onnx_file(conv_relu_gemm(), path);
  const std::string before = read_file_bounded(path, 1 << 20);
  const Model m = import_onnx_file(path);
  REQUIRE(!m.source_files.empty());
  const std::string what = mc::test::input_error([&] { export_runtime_file(m, path, {}, m.source_files); });
  CHECK(what.find("input") != std::string::npos);
  // Also through another spelling of the same file.
  CHECK_THROWS_AS(export_runtime_file(m, dir + "/./model.onnx", {}, m.source_files), Error);
  CHECK(read_file_bounded(path, 1 << 20) == before);
  export_runtime_file(m, dir + "/model.mcrt", {}, m.source_files);
  std::unique_ptr<mcrt::Model> loaded;
  CHECK(mcrt::Model::load_file(dir + "/model.mcrt", &loaded).ok());
  fs::remove_all(dir);
}

TEST_CASE("runtime file of each fp32 example model is at most its ONNX size + 1%") {
  const fs::path dir = fs::path(MC_SOURCE_DIR) / "examples" / "fashion-mnist";
  REQUIRE(fs::exists(dir));
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".onnx") continue;
    Model m = import_onnx_file(e.path().string());
    bool fp32 = true;
    for (const auto& t : m.graph.initializers) fp32 = fp32 && (t.dtype == DType::F32 || t.dtype == DType::I64);
    if (!fp32) continue;
    PassContext ctx;
    (void)run_passes(m, ctx, default_optimize_pipeline());
    REQUIRE(refresh_shapes(m).empty());
    const uint64_t onnx_bytes = fs::file_size(e.path());
    const uint64_t rt_bytes = export_runtime_bytes(m).size();
    INFO(e.path().filename().string() << ": onnx " << onnx_bytes << " B, runtime " << rt_bytes << " B");
    CHECK(rt_bytes * 100 <= onnx_bytes * 101);
    ++checked;
  }
  CHECK(checked >= 2);
}
