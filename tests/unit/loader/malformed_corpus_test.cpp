// The malformed-input corpus (tests/malformed/, written by make_corpus.py):
// every file must be rejected by the ONNX importer with an Input error whose
// message names the file and contains the expected fragment. The valid twins
// must load, so an over-strict loader fails here too. Runs under ASan+UBSan in CI.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"

#include <onnx/onnx_pb.h>

namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(MC_SOURCE_DIR) / "tests" / "malformed";

std::vector<std::vector<std::string>> read_tsv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) cols.push_back(c);
    rows.push_back(cols);
  }
  return rows;
}

// "" when the import failed as expected, else what went wrong.
std::string expect_rejected(const std::string& path, const std::string& fragment) {
  try {
    mc::import_onnx_file(path);
  } catch (const mc::Error& e) {
    const std::string msg = e.what();
    if (e.kind() != mc::ErrorKind::Input) return "wrong error kind: " + msg;
    if (msg.find(path) != 0) return "message does not start with the file name: " + msg;
    if (msg.find(fragment) == std::string::npos) return "message lacks '" + fragment + "': " + msg;
    if (msg.find('\n') != std::string::npos) return "message is more than one line: " + msg;
    return "";
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "accepted a malformed file";
}

}  // namespace

TEST_CASE("valid twins of the corpus load", "[loader]") {
  CHECK_NOTHROW(mc::import_onnx_file((kCorpus / "valid.onnx").string()));
  mc::Model m = mc::import_onnx_file((kCorpus / "ext" / "valid_external.onnx").string());
  REQUIRE(m.graph.initializer("b"));
  CHECK(m.graph.initializer("b")->numel() == 4);
  CHECK(m.graph.initializer("b")->as<float>()[3] == 3.0f);
}

TEST_CASE("every malformed file is rejected with a clear message", "[loader]") {
  const auto rows = read_tsv(kCorpus / "cases.tsv");
  REQUIRE(rows.size() >= 25);
  for (const auto& r : rows) {
    REQUIRE(r.size() >= 2);
    INFO("case " << r[0] << " (" << (r.size() > 2 ? r[2] : "") << ")");
    CHECK(expect_rejected((kCorpus / r[0]).string(), r[1]) == "");
  }
}

TEST_CASE("external data through links is rejected", "[loader]") {
  const auto rows = read_tsv(kCorpus / "link_cases.tsv");
  REQUIRE(rows.size() == 4);
  fs::path tmp = fs::temp_directory_path() / ("mc_links_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "real");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "weights.bin");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "real" / "weights.bin");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "outside.bin");
  fs::create_directories(tmp / "model");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "model" / "weights.bin");
  fs::create_symlink(tmp / "model" / "weights.bin", tmp / "model" / "link.bin");
  fs::create_directory_symlink(tmp / "real", tmp / "model" / "linkdir");
  fs::create_symlink(tmp / "outside.bin", tmp / "model" / "escape.bin");
  fs::create_hard_link(tmp / "weights.bin", tmp / "model" / "hard.bin");
  for (const auto& r : rows) {
    REQUIRE(r.size() >= 3);
    INFO("case " << r[0] << " (" << (r.size() > 3 ? r[3] : "") << ")");
    const fs::path model = tmp / "model" / fs::path(r[0]).filename();
    fs::copy_file(kCorpus / r[0], model);
    CHECK(expect_rejected(model.string(), r[2]) == "");
  }
  fs::remove_all(tmp);
}

// libonnx's Conv shape inference without kernel_shape indexes pads/strides/dilations (sized by X's
// rank) with the weight's rank: a rank-64 weight crashed the importer (found by fuzz_onnx_import).
// compress/onnx/guarded_inference.h: kernel_shape is supplied from the weight's known dims for
// inference, which then rejects the mismatch itself; with an unknown weight shape inference is not run.
namespace {

std::string conv_model(const std::vector<int64_t>& wdims, const std::string& weight_via) {
  onnx::ModelProto mp;
  mp.set_ir_version(8);
  auto* op = mp.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  onnx::GraphProto* g = mp.mutable_graph();
  g->set_name("g");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>* dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    if (dims)
      for (int64_t d : *dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  };
  const std::vector<int64_t> xd = {1, 1, 5, 5};
  add_value(g->add_input(), "x", &xd);
  add_value(g->add_output(), "y", nullptr);
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w0");
  w->set_data_type(onnx::TensorProto::FLOAT);
  int64_t numel = 1;
  for (int64_t d : wdims) w->add_dims(d), numel *= d;
  for (int64_t i = 0; i < numel; ++i) w->add_float_data(1.f);
  std::string weight = "w0";
  if (weight_via == "Identity" || weight_via == "Relu") {  // Identity keeps the shape; Relu is not followed
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(weight_via);
    n->add_input("w0");
    n->add_output("w");
    n->set_name("wnode");
    weight = "w";
  }
  onnx::NodeProto* conv = g->add_node();
  conv->set_op_type("Conv");
  conv->set_name("conv");
  conv->add_input("x");
  conv->add_input(weight);
  conv->add_output("y");
  onnx::AttributeProto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  return mp.SerializeAsString();
}

const mc::ValueInfo& output_y(const mc::Model& m) { return m.graph.outputs.at(0); }

}  // namespace

TEST_CASE("a Conv without kernel_shape: shape inference only where libonnx can take it", "[loader]") {
  SECTION("a consistent weight: inferred as before (kernel from the weight)") {
    for (const char* via : {"", "Identity"}) {
      INFO(via);
      const mc::Model m = mc::import_onnx_bytes(conv_model({2, 1, 3, 3}, via), ".", "conv.onnx");
      REQUIRE(output_y(m).has_shape);
      CHECK(output_y(m).static_shape() == std::vector<int64_t>{1, 2, 5, 5});
      CHECK(m.graph.nodes.back().attr("kernel_shape") == nullptr);  // the guard's attribute stays out of the model
    }
  }
  SECTION("a weight of rank 64 on a rank-4 input: no crash, the output stays unshaped") {
    std::vector<int64_t> wd(64, 1);
    for (const char* via : {"", "Identity"}) {
      INFO(via);
      const mc::Model m = mc::import_onnx_bytes(conv_model(wd, via), ".", "conv.onnx");
      CHECK_FALSE(output_y(m).has_shape);
    }
  }
  SECTION("a weight whose shape only inference knows: inference is not run") {
    const mc::Model m = mc::import_onnx_bytes(conv_model({2, 1, 3, 3}, "Relu"), ".", "conv.onnx");
    CHECK_FALSE(output_y(m).has_shape);
  }
}
