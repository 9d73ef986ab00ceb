// export --format torchscript: the written archive, run by LibTorch, computes what the
// IR computes, and imports back to an equivalent IR (round trip).
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"
#include "distill/ir_on_libtorch.h"
#include "distill/torchscript_export.h"
#include "distill/torchscript_import.h"
#include "tests/support/input_error.h"

namespace {

const std::string kFx = std::string(MC_DISTILL_FIXTURES) + "/";
const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST_CASE("export --format torchscript round-trips the fixtures and the bundled ONNX models", "[distill][export]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x(2 * 28 * 28);
  for (auto& v : x) v = nd(rng);
  const std::vector<int64_t> shape = {2, 1, 28, 28};
  for (const std::string& src : {kFx + "lenet5.pt", kFx + "resnet.pt", kFx + "ops.pt", kExamples + "mlp.onnx",
                                kExamples + "mobile.onnx", kExamples + "resnet.onnx"}) {
    INFO(src);
    const bool pt = src.size() > 3 && src.compare(src.size() - 3, 3, ".pt") == 0;
    const mc::Model m = pt ? mc::distill::import_torchscript_file(src) : mc::import_onnx_file(src);
    const std::string out = std::string(MC_BINARY_DIR) + "/distill_export_test.pt";
    std::remove(out.c_str());
    mc::distill::export_torchscript_file(m, out, m.source_files);
    std::vector<int64_t> s1, s2, s3;
    const auto y_ir = mc::distill::run_ir_on_libtorch(m, shape, x, &s1);
    const auto y_ts = mc::distill::run_torchscript_file(out, shape, x, &s2);
    CHECK(s1 == s2);
    CHECK(max_abs(y_ir, y_ts) <= 1e-5);
    // And back: the exported archive imports without --input-shape.
    const mc::Model back = mc::distill::import_torchscript_file(out);
    const auto y_back = mc::distill::run_ir_on_libtorch(back, shape, x, &s3);
    CHECK(max_abs(y_ir, y_back) <= 1e-5);
    std::remove(out.c_str());
  }
}

TEST_CASE("export --format torchscript refuses an op it cannot write, naming the node", "[distill][export]") {
  mc::Model m = mc::import_onnx_file(kExamples + "mlp.onnx");
  m.graph.nodes[1].op_type = "Celu";
  const std::string what = mc::test::input_error([&] { mc::distill::export_torchscript_file(m, std::string(MC_BINARY_DIR) + "/distill_export_bad.pt", {}); });
  CHECK(what.find("Celu") != std::string::npos);
}
