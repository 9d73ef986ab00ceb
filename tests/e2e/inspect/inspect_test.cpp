// `mcompress inspect` end to end: the built binary on node-suite models and on
// models this test writes (LeNet-300-100, external data, an unknown op), plus the
// error paths (missing file, non-ONNX file, bad --input-shape): exit code 2 and
// exactly one line on stderr naming the problem.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compress/onnx/onnx_export.h"
#include "tests/support/ir_builders.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kNode = "/usr/share/libonnx-testdata/data/node/";

mc::test::ProcessResult inspect(std::vector<std::string> args) {
  args.insert(args.begin(), {MC_BIN, "inspect"});
  return mc::test::run_process(args);
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// LeNet-300-100 (784-300-100-10) with a symbolic batch, as torch.onnx writes it.
mc::Model lenet_300_100() {
  mc::Model m;
  m.opsets = {{"", 13}};
  m.producer_name = "e2e";
  m.graph.name = "mlp";
  m.graph.inputs.push_back(
      mc::test::value_info("input", {mc::Dim::symbol("N"), mc::Dim::known(1), mc::Dim::known(28), mc::Dim::known(28)}));
  mc::Node flat;
  flat.name = "flatten";
  flat.op_type = "Flatten";
  flat.inputs = {"input"};
  flat.outputs = {"x0"};
  m.graph.nodes.push_back(flat);
  const int64_t sizes[] = {784, 300, 100, 10};
  for (int l = 0; l < 3; ++l) {
    const std::string s = std::to_string(l + 1);
    mc::Tensor w = mc::Tensor::zeros("fc" + s + ".weight", mc::DType::F32, {sizes[l + 1], sizes[l]});
    for (uint64_t i = 0; i < w.numel(); i += 2) w.as_mut<float>()[i] = 0.25f;  // half the weights are zero
    m.graph.initializers.push_back(w);
    m.graph.initializers.push_back(mc::Tensor::zeros("fc" + s + ".bias", mc::DType::F32, {sizes[l + 1]}));
    mc::Node g;
    g.name = "fc" + s;
    g.op_type = "Gemm";
    g.inputs = {"x" + std::to_string(l), "fc" + s + ".weight", "fc" + s + ".bias"};
    g.outputs = {l == 2 ? "logits" : "g" + s};
    g.set_attr_int("transB", 1);
    m.graph.nodes.push_back(g);
    if (l < 2) {
      mc::Node r;
      r.name = "relu" + s;
      r.op_type = "Relu";
      r.inputs = {"g" + s};
      r.outputs = {"x" + s};
      m.graph.nodes.push_back(r);
    }
  }
  m.graph.outputs.push_back(mc::test::value_info("logits", {mc::Dim::symbol("N"), mc::Dim::known(10)}));
  return m;
}

}  // namespace

TEST_CASE("inspect a node-suite Conv (strides 2, pads 1): table and JSON", "[e2e][inspect]") {
  const std::string model = kNode + "test_conv_with_strides_padding/model.onnx";
  // x [1,1,7,5], W [1,1,3,3] (a graph input, so no params), strides 2, pads 1:
  //   OH = floor((7 + 2 - 3) / 2) + 1 = 4, OW = floor((5 + 2 - 3) / 2) + 1 = 3
  //   MACs = 1·1·4·3·1·3·3 = 108
  SECTION("table") {
    const auto r = inspect({model});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("Conv") != std::string::npos);
    CHECK(r.out.find("1x1x4x3") != std::string::npos);
    CHECK(r.out.find("MACs          108\n") != std::string::npos);
  }
  SECTION("--json after the verb and before it (global flag)") {
    for (const auto& args : {std::vector<std::string>{model, "--json"}, std::vector<std::string>{"--json", model}}) {
      const auto r = inspect(args);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      const json j = json::parse(r.out);  // stdout is exactly one JSON document
      CHECK(j["totals"]["params"] == 0);
      CHECK(j["totals"]["macs"] == 108);
      CHECK(j["totals"]["macs_complete"] == true);
      CHECK(j["totals"]["nodes"] == 1);
      CHECK(j["totals"]["file_bytes"] == fs::file_size(model));
      CHECK(j["totals"]["gzip_bytes"].get<uint64_t>() > 0);
      CHECK(j["ir_version"] == 6);
      CHECK(j["opsets"][0]["version"] == 11);
      CHECK(j["layers"][0]["op_type"] == "Conv");
      CHECK(j["layers"][0]["output_shapes"][0] == "1x1x4x3");
      CHECK(j["inputs"][0]["shape"] == json::array({1, 1, 7, 5}));
    }
  }
}

TEST_CASE("inspect a node-suite ConvTranspose", "[e2e][inspect]") {
  // X [1,1,3,3], W [1,2,3,3]: MACs = N·C·H·W·(M/group)·kh·kw = 1·1·3·3·2·3·3 = 162
  const auto r = inspect({"--json", kNode + "test_convtranspose/model.onnx"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["totals"]["macs"] == 162);
  CHECK(j["layers"][0]["output_shapes"][0] == "1x2x5x5");
}

TEST_CASE("inspect LeNet-300-100: 266,610 params; --input-shape scales the MACs", "[e2e][inspect]") {
  mc::test::TempDir dir("mc_e2e_inspect");
  const std::string path = (dir.path / "mlp.onnx").string();
  mc::export_onnx_file(lenet_300_100(), path);
  {
    const auto r = inspect({"--json", path});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["totals"]["params"] == 266610);
    CHECK(j["totals"]["macs"] == 266200);  // 784·300 + 300·100 + 100·10, batch N counts as 1
    CHECK(j["totals"]["weight_bytes"] == 266610 * 4);
    // Zeros: every odd weight element (all weight matrices have even sizes) and every bias:
    //   (235200 + 30000 + 1000) / 2 + 410 = 133100 + 410 = 133510
    CHECK(j["totals"]["zero_weights"] == 133510);
    CHECK(j["inputs"][0]["shape"] == json::array({"N", 1, 28, 28}));
    CHECK(j["layers"][1]["input_shapes"][0] == "Nx784");
    CHECK(j["layers"][1]["params"] == 235500);
    CHECK(j["totals"]["file_bytes"] == fs::file_size(path));
    CHECK(j["totals"]["gzip_bytes"].get<uint64_t>() < fs::file_size(path));
  }
  {
    const auto r = inspect({path, "--json", "--input-shape", "input=4,1,28,28"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["totals"]["macs"] == 4 * 266200);
  }
  {
    const auto r = inspect({path});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("params        266,610\n") != std::string::npos);
    CHECK(r.out.find("input  float  Nx1x28x28") != std::string::npos);
  }
}

TEST_CASE("the bundled LeNet-300-100 example reports 266,610 params", "[e2e][inspect][examples]") {
  const std::string path = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/mlp.onnx";
  if (!fs::exists(path)) {
    WARN(path + " does not exist yet (made by examples/fashion-mnist/train.py); skipped");
    return;
  }
  const auto r = inspect({"--json", path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["totals"]["params"] == 266610);
}

TEST_CASE("file bytes include the external-data file", "[e2e][inspect]") {
  mc::test::TempDir dir("mc_e2e_inspect");
  const std::string path = (dir.path / "mlp.onnx").string();
  mc::ExportOptions eo;
  eo.external_data_file = "mlp.weights";
  mc::export_onnx_file(lenet_300_100(), path, eo);
  const auto r = inspect({"--json", path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["files"].size() == 2);
  CHECK(j["totals"]["file_bytes"] == fs::file_size(path) + fs::file_size(dir.path / "mlp.weights"));
  CHECK(j["totals"]["params"] == 266610);
}

TEST_CASE("an unknown op is listed and marked, exit code 0", "[e2e][inspect]") {
  mc::test::TempDir dir("mc_e2e_inspect");
  mc::Model m;
  m.opsets = {{"", 13}, {"com.example", 1}};
  m.graph.name = "g";
  m.graph.inputs.push_back(mc::test::value_info("X", {mc::Dim::known(1), mc::Dim::known(4)}));
  mc::Node n;
  n.name = "mystery";
  n.op_type = "Frobnicate";
  n.domain = "com.example";
  n.inputs = {"X"};
  n.outputs = {"Y"};
  m.graph.nodes.push_back(n);
  m.graph.outputs.push_back(mc::test::value_info("Y", {mc::Dim::known(1), mc::Dim::known(4)}));
  const std::string path = (dir.path / "custom.onnx").string();
  std::ofstream(path, std::ios::binary) << mc::export_onnx_bytes(m);
  const auto r = inspect({path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("com.example:Frobnicate [unknown op]") != std::string::npos);
  CHECK(r.err.find("unknown op com.example:Frobnicate") != std::string::npos);  // a warning on stderr
  const auto rj = inspect({"--json", path});
  REQUIRE(rj.exit_code == 0);
  const json j = json::parse(rj.out);
  CHECK(j["unknown_ops"] == json::array({"com.example:Frobnicate"}));
  CHECK(j["layers"][0]["known_op"] == false);
  CHECK(j["layers"][0]["macs"].is_null());
}

TEST_CASE("bad input: exit code 2 and one line on stderr naming the file", "[e2e][inspect][errors]") {
  mc::test::TempDir dir("mc_e2e_inspect");
  SECTION("missing file") {
    const std::string path = (dir.path / "no-such-model.onnx").string();
    const auto r = inspect({path});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(path) != std::string::npos);
  }
  SECTION("not an ONNX file") {
    const std::string path = (dir.path / "notes.txt").string();
    std::ofstream(path) << "this is a text file, not a protobuf\n";
    for (const auto& args : {std::vector<std::string>{path}, std::vector<std::string>{"--json", path}}) {
      const auto r = inspect(args);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find(path) != std::string::npos);
    }
  }
  SECTION("a malformed --input-shape") {
    const std::string model = kNode + "test_conv_with_strides_padding/model.onnx";
    for (const char* spec : {"x=1,a,7,5", "x", "=1,2", "x=1,1,7,", "x=-5"}) {
      const auto r = inspect({model, "--input-shape", spec});
      INFO(spec);
      CHECK(r.exit_code == 2);
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find("--input-shape") != std::string::npos);
    }
  }
  SECTION("one input given two --input-shape values") {
    const std::string model = kNode + "test_conv_with_strides_padding/model.onnx";
    // both as the verb's option and as the global option (before the verb)
    for (const bool global : {false, true}) {
      INFO(global);
      const auto r = global ? mc::test::run_process({MC_BIN, "--input-shape", "x=1,1,7,5", "--input-shape", "x=2,1,7,5", "inspect", model})
                            : inspect({model, "--input-shape", "x=1,1,7,5", "--input-shape", "x=2,1,7,5"});
      CHECK(r.exit_code == 2);
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find("'x' is given twice") != std::string::npos);
    }
  }
  SECTION("an --input-shape naming no graph input") {
    const auto r = inspect({kNode + "test_conv_with_strides_padding/model.onnx", "--input-shape", "nope=1,2"});
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("nope") != std::string::npos);
  }
}
