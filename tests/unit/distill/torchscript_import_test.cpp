// TorchScript import: the IR of each fixture, run on the LibTorch executor, matches the
// archive's own forward() in LibTorch; bad archives are Input errors naming the problem.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <random>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "distill/ir_on_libtorch.h"
#include "distill/torchscript_import.h"
#include "tests/support/input_error.h"

namespace {

const std::string kFx = std::string(MC_DISTILL_FIXTURES) + "/";
const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";

std::vector<float> random_input(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST_CASE("TorchScript fixtures import and match LibTorch's forward within 1e-4", "[distill][import]") {
  for (const char* name : {"lenet5", "resnet", "ops"}) {
    INFO(name);
    const std::string path = kFx + name + ".pt";
    const mc::Model m = mc::distill::import_torchscript_file(path);
    REQUIRE(m.graph.real_inputs().size() == 1);
    const std::vector<int64_t> shape = {3, 1, 28, 28};
    const auto x = random_input(3 * 28 * 28, 7);
    std::vector<int64_t> s_ir, s_ts;
    const auto y_ir = mc::distill::run_ir_on_libtorch(m, shape, x, &s_ir);
    const auto y_ts = mc::distill::run_torchscript_file(path, shape, x, &s_ts);
    CHECK(s_ir == s_ts);
    CHECK(s_ir == std::vector<int64_t>{3, 10});
    CHECK(max_abs_diff(y_ir, y_ts) <= 1e-4);
  }
}

TEST_CASE("TorchScript LeNet-5 computes what the bundled lenet5.onnx computes", "[distill][import]") {
  const mc::Model pt = mc::distill::import_torchscript_file(kFx + "lenet5.pt");
  const mc::Model onnx = mc::import_onnx_file(kExamples + "lenet5.onnx");
  const std::vector<int64_t> shape = {4, 1, 28, 28};
  const auto x = random_input(4 * 28 * 28, 11);
  std::vector<int64_t> s;
  CHECK(max_abs_diff(mc::distill::run_ir_on_libtorch(pt, shape, x, &s),
                     mc::distill::run_ir_on_libtorch(onnx, shape, x, &s)) <= 1e-4);
  // Same structure as the ONNX export: 2 Conv, 3 Gemm (linear on rank 2), 2 MaxPool.
  int conv = 0, gemm = 0, pool = 0;
  for (const auto& n : pt.graph.nodes) {
    conv += n.op_type == "Conv";
    gemm += n.op_type == "Gemm";
    pool += n.op_type == "MaxPool";
  }
  CHECK(conv == 2);
  CHECK(gemm == 3);
  CHECK(pool == 2);
}

TEST_CASE("the ops fixture maps every listed aten op", "[distill][import]") {
  const mc::Model m = mc::distill::import_torchscript_file(kFx + "ops.pt");
  std::set<std::string> ops;
  for (const auto& n : m.graph.nodes) ops.insert(n.op_type);
  for (const char* op : {"Conv", "BatchNormalization", "Clip", "AveragePool", "MaxPool", "Sigmoid", "Mul", "Concat",
                         "Reshape", "LayerNormalization", "MatMul", "Add", "Erf", "Tanh", "HardSwish", "HardSigmoid",
                         "Transpose", "GlobalAveragePool", "Flatten", "Gemm", "Softmax"})
    CHECK(ops.count(op) == 1);
  CHECK(ops.count("Dropout") == 0);  // eval-mode dropout is the identity
}

TEST_CASE("the model loader sends .pt files to the TorchScript importer", "[distill][import]") {
  mc::distill::register_torchscript_loader();
  const mc::Model m = mc::load_model_file(kFx + "lenet5.pt");
  CHECK(m.source_files == std::vector<std::string>{kFx + "lenet5.pt"});
  CHECK(m.graph.outputs.at(0).name == "output");
}

TEST_CASE("an unsupported aten op is an Input error naming it", "[distill][import]") {
  const std::string e = mc::test::input_error([] { mc::distill::import_torchscript_file(kFx + "unsupported.pt"); });
  CHECK(e.find("unsupported.pt") != std::string::npos);
  CHECK(e.find("aten::cumsum") != std::string::npos);
}

TEST_CASE("a corrupt TorchScript archive is an Input error", "[distill][import]") {
  const std::string bytes = mc::read_file_bounded(kFx + "lenet5.pt", 1 << 24);
  const std::string bad = std::string(MC_BINARY_DIR) + "/distill_corrupt_test.pt";
  {
    std::ofstream f(bad, std::ios::binary);
    f << bytes.substr(0, bytes.size() / 2);
  }
  const std::string e = mc::test::input_error([&] { mc::distill::import_torchscript_file(bad); });
  CHECK(e.find("not a readable TorchScript archive") != std::string::npos);
  std::remove(bad.c_str());
}

TEST_CASE("an archive without input shapes needs --input-shape", "[distill][import]") {
  const std::string e = mc::test::input_error([] { mc::distill::import_torchscript_file(kFx + "noshape.pt"); });
  CHECK(e.find("--input-shape x=") != std::string::npos);
  mc::ImportOptions o;
  o.input_shapes["x"] = {-1, 1, 28, 28};
  const mc::Model m = mc::distill::import_torchscript_file(kFx + "noshape.pt", o);
  CHECK(m.graph.real_inputs().at(0)->shape.size() == 4);
}
