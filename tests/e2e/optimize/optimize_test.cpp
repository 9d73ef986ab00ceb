// `mcompress optimize` end to end, with ONNX Runtime as the judge.
//
// For every bundled example model (examples/fashion-mnist/*.onnx) and a set of
// node-suite models that the passes change (expanded functions full of Constant,
// Shape and Identity nodes): the built binary optimizes the model; the result must
// contain no BatchNormalization, Identity, Dropout or Constant node (examples), and
// ONNX Runtime's outputs for the optimized model must equal the original's within
// rtol=1e-4, atol=1e-5 — on the first 256 Fashion-MNIST test images, normalised
// (x/255 - 0.2860)/0.3530, for the examples, and on the suite's own inputs otherwise.
// Error paths: output == input and an unknown pass give exit 2 and one line.
//
// ORT runs through the test peer (tests/support/ort_peer.h); images come from tests/support/fashion_mnist.h (compress/data).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>
#include <set>
#include <sstream>

#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/fashion_mnist.h"
#include "tests/support/ir_builders.h"
#include "tests/support/ort_peer.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kNode = "/usr/share/libonnx-testdata/data/node/";

using mc::test::NpyArray;

void require_close(const std::string& what, const NpyArray& ref, const NpyArray& got) {
  INFO(what);
  REQUIRE(ref.dtype == got.dtype);
  REQUIRE(ref.shape == got.shape);
  REQUIRE(ref.bytes.size() == got.bytes.size());
  if (ref.dtype != mcrt::NpyDtype::kF32) {
    REQUIRE(ref.bytes == got.bytes);  // integer/bool outputs: exact
    return;
  }
  const size_t n = ref.bytes.size() / 4;
  std::vector<float> a(n), b(n);
  std::memcpy(a.data(), ref.bytes.data(), n * 4);
  std::memcpy(b.data(), got.bytes.data(), n * 4);
  size_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= 1e-5 + 1e-4 * std::fabs(a[i]))) ++bad;
    worst = std::max(worst, d);
  }
  INFO("max |diff| " << worst << ", " << bad << " of " << n << " outside rtol=1e-4 atol=1e-5");
  REQUIRE(bad == 0);
}

void require_same_outputs(const std::string& what, const fs::path& original, const fs::path& optimized,
                          const std::map<std::string, NpyArray>& feeds) {
  const auto ref = mc::test::run_in_ort(original.string(), feeds);
  const auto got = mc::test::run_in_ort(optimized.string(), feeds);
  REQUIRE(!ref.empty());
  REQUIRE(ref.size() == got.size());
  for (const auto& [name, arr] : ref) {
    REQUIRE(got.count(name));
    require_close(what + " output " + name, arr, got.at(name));
  }
}

mc::test::ProcessResult optimize(std::vector<std::string> args) {
  args.insert(args.begin(), {MC_BIN, "optimize"});
  return mc::test::run_process(args, 300);
}

std::multiset<std::string> op_types(const fs::path& model) {
  mc::Model m = mc::import_onnx_file(model.string());
  std::multiset<std::string> ops;
  for (const auto& n : m.graph.nodes) ops.insert(n.op_type);
  return ops;
}

// A node-suite input_*.pb as an array (raw_data or the typed fields; float, int32, int64).
bool tensor_pb_to_array(const fs::path& pb, NpyArray* a) {
  std::ifstream f(pb, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) return false;
  a->shape.assign(t.dims().begin(), t.dims().end());
  const char* typed = nullptr;
  size_t typed_bytes = 0;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      a->dtype = mcrt::NpyDtype::kF32;
      typed = reinterpret_cast<const char*>(t.float_data().data());
      typed_bytes = t.float_data_size() * 4u;
      break;
    case onnx::TensorProto::INT32:
      a->dtype = mcrt::NpyDtype::kI32;
      typed = reinterpret_cast<const char*>(t.int32_data().data());
      typed_bytes = t.int32_data_size() * 4u;
      break;
    case onnx::TensorProto::INT64:
      a->dtype = mcrt::NpyDtype::kI64;
      typed = reinterpret_cast<const char*>(t.int64_data().data());
      typed_bytes = t.int64_data_size() * 8u;
      break;
    default:
      return false;
  }
  const std::string& raw = t.raw_data();
  if (!raw.empty()) a->bytes.assign(raw.begin(), raw.end());
  else a->bytes.assign(typed, typed + typed_bytes);
  return true;
}

}  // namespace

TEST_CASE("optimize: example models lose BN/Identity/Dropout/Constant and keep ORT outputs", "[e2e]") {
  std::vector<fs::path> models;
  // MC_EXAMPLE_MODELS_DIR points the test at another folder of models (e.g. freshly exported ones).
  const char* override_dir = std::getenv("MC_EXAMPLE_MODELS_DIR");
  const fs::path dir = override_dir ? fs::path(override_dir) : fs::path(MC_SOURCE_DIR) / "examples" / "fashion-mnist";
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".onnx" && e.path().string().find(".opt.") == std::string::npos)
        models.push_back(e.path());
  std::sort(models.begin(), models.end());
  // The four bundled models are part of the repository: their absence is a failure.
  INFO("example models found in " << dir << ": " << models.size());
  REQUIRE(models.size() >= 4);

  mc::test::TempDir tmp("mc_e2e_optimize");
  const std::map<std::string, NpyArray> feeds{{"input", mc::test::fashion_mnist_test_images(256)}};
  for (const auto& model : models) {
    DYNAMIC_SECTION(model.filename().string()) {
      const fs::path out = tmp.path / (model.stem().string() + ".opt.onnx");
      auto r = optimize({model.string(), "-o", out.string(), "--json"});
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      const json j = json::parse(r.out);
      REQUIRE(j["after"]["nodes"].get<uint64_t>() <= j["before"]["nodes"].get<uint64_t>());
      REQUIRE(j["after"]["macs"] == j["before"]["macs"]);
      const auto ops = op_types(out);
      for (const char* gone : {"BatchNormalization", "Identity", "Dropout", "Constant"}) {
        INFO(gone);
        REQUIRE(ops.count(gone) == 0);
      }
      require_same_outputs(model.filename().string(), model, out, feeds);
    }
  }
}

TEST_CASE("optimize: node-suite models the passes rewrite keep ORT outputs", "[e2e]") {
  const std::vector<std::string> cases = {
      "test_layer_normalization_4d_axis_negative_2_expanded",  // Shape/Slice/Concat/Reshape chains, Constants
      "test_softmax_axis_1_expanded",
      "test_logsoftmax_default_axis_expanded",
      "test_mvn_expanded",
      "test_celu_expanded",
      "test_hannwindow_symmetric_expanded",                    // Range, Cast, arithmetic on constants
      "test_nllloss_NCd1d2d3_sum_weight_high_ii_expanded",     // Where, Equal, Gather
      "test_sce_mean_weight_ii_4d_log_prob_expanded",
      "test_dynamicquantizelinear_expanded",
      "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn",
      "test_batchnorm_example",                                // BN without a Conv: left alone
  };
  mc::test::TempDir tmp("mc_e2e_optimize");
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c) {
      const fs::path model = kNode + c + "/model.onnx";
      REQUIRE(fs::exists(model));
      const fs::path out = tmp.path / (c + ".opt.onnx");
      auto r = optimize({model.string(), "-o", out.string()});
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      REQUIRE(r.out.find("optimize: nodes ") != std::string::npos);
      REQUIRE(op_types(out).count("Constant") == 0);

      mc::Model m = mc::import_onnx_file(model.string());
      std::map<std::string, NpyArray> feeds;
      const auto inputs = m.graph.real_inputs();
      for (size_t k = 0; k < inputs.size(); ++k) {
        const fs::path pb = fs::path(kNode + c) / "test_data_set_0" / ("input_" + std::to_string(k) + ".pb");
        NpyArray a;
        REQUIRE(tensor_pb_to_array(pb, &a));
        feeds[inputs[k]->name] = std::move(a);
      }
      require_same_outputs(c, model, out, feeds);
    }
  }
}

TEST_CASE("optimize: the nodes of a folded model shrink and the before/after line is printed", "[e2e]") {
  mc::test::TempDir tmp("mc_e2e_optimize");
  const std::string c = "test_layer_normalization_4d_axis0_expanded";
  const fs::path out = tmp.path / "ln.onnx";
  auto r = optimize({kNode + c + "/model.onnx", "-o", out.string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  REQUIRE(j["before"]["nodes"] == 30);
  REQUIRE(j["after"]["nodes"].get<int>() < 30);
  REQUIRE(j["passes"].size() == 5);
  REQUIRE(j["passes"][0]["name"] == "constant_to_initializer");
  REQUIRE(j["passes"][0]["counters"]["converted"].get<int>() > 0);
}

TEST_CASE("optimize: usage errors exit 2 with one line", "[e2e]") {
  mc::test::TempDir tmp("mc_e2e_optimize");
  const fs::path model = tmp.path / "m.onnx";
  fs::copy_file(kNode + "test_relu/model.onnx", model);
  auto r = optimize({model.string(), "-o", model.string()});
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.find("is the input model") != std::string::npos);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  // The same file under another spelling.
  r = optimize({model.string(), "-o", (tmp.path / "." / "m.onnx").string()});
  REQUIRE(r.exit_code == 2);

  r = optimize({model.string(), "-o", (tmp.path / "o.onnx").string(), "--passes", "fold_constants,nope"});
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.find("unknown pass 'nope'") != std::string::npos);
  REQUIRE(!fs::exists(tmp.path / "o.onnx"));

  // Only the passes asked for run.
  r = optimize({model.string(), "-o", (tmp.path / "o.onnx").string(), "--passes", "eliminate_dead_nodes", "--json"});
  REQUIRE(r.exit_code == 0);
  REQUIRE(json::parse(r.out)["passes"].size() == 1);
}

TEST_CASE("optimize: a fold that creates Inf is a gate failure and writes nothing", "[e2e]") {
  mc::test::TempDir tmp("mc_e2e_optimize");
  mc::Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "div0";
  m.graph.inputs.push_back(mc::test::known_value_info("x", {1}));
  m.graph.outputs.push_back(mc::test::known_value_info("y", {1}));
  m.graph.initializers.push_back(mc::Tensor::make_f32("one", {1}, {1.f}));
  m.graph.initializers.push_back(mc::Tensor::make_f32("zero", {1}, {0.f}));
  m.graph.nodes = {mc::test::make_node("Div", {"one", "zero"}, {"q"}, "div"),
                   mc::test::make_node("Add", {"q", "x"}, {"y"}, "add")};
  const fs::path model = tmp.path / "div0.onnx";
  mc::export_onnx_file(m, model.string());
  const fs::path out = tmp.path / "out.onnx";
  auto r = optimize({model.string(), "-o", out.string()});
  REQUIRE(r.exit_code == 1);
  REQUIRE(r.err.find("non-finite") != std::string::npos);
  REQUIRE(!fs::exists(out));
}

TEST_CASE("optimize: an op ONNX does not define is an input error naming the op", "[e2e]") {
  mc::test::TempDir tmp("mc_e2e_optimize");
  mc::Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "unknown";
  m.graph.inputs.push_back(mc::test::known_value_info("x", {4}));
  m.graph.outputs.push_back(mc::test::known_value_info("y", {4}));
  m.graph.nodes = {mc::test::make_node("FancyOp", {"x"}, {"y"}, "fancy")};
  mc::ExportOptions eo;
  eo.run_checker = false;  // the checker would refuse it, which is the point
  const fs::path model = tmp.path / "fancy.onnx";
  mc::export_onnx_file(m, model.string(), eo);
  auto r = optimize({model.string(), "-o", (tmp.path / "out.onnx").string()});
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.find("FancyOp") != std::string::npos);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("optimize: a graph output whose shape nobody can know is an input error, not an internal one", "[e2e]") {
  // A Conv whose weight has rank 6 on a rank-4 input: ONNX's inference gives y no shape (and the
  // guard in compress/onnx/guarded_inference.h keeps it from crashing), so y cannot be written.
  mc::test::TempDir tmp("mc_e2e_optimize");
  mc::Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "conv_rank";
  m.graph.inputs.push_back(mc::test::known_value_info("x", {1, 1, 5, 5}));
  mc::ValueInfo y;
  y.name = "y";
  y.dtype = mc::DType::F32;  // no shape
  m.graph.outputs.push_back(y);
  m.graph.initializers.push_back(mc::Tensor::make_f32("w", {1, 1, 1, 1, 1, 1}, {1.f}));
  m.graph.nodes = {mc::test::make_node("Conv", {"x", "w"}, {"y"}, "conv")};
  mc::ExportOptions eo;
  eo.run_checker = false;  // the checker would refuse the unshaped output, which is the point
  const fs::path model = tmp.path / "conv_rank.onnx";
  mc::export_onnx_file(m, model.string(), eo);
  const fs::path out = tmp.path / "out.onnx";
  auto r = optimize({model.string(), "-o", out.string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("graph output 'y' without a shape") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(!fs::exists(out));
}
