// Import → export → import of every model in the ONNX node conformance suite
// (libonnx-testdata) and of the bundled examples. The re-exported model must pass
// onnx::checker whenever the original does, and every tensor must come back
// byte-identical.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"

namespace fs = std::filesystem;

namespace {

const char* kNodeSuite = "/usr/share/libonnx-testdata/data/node";

void collect_tensors(const mc::Graph& g, std::vector<const mc::Tensor*>* out) {
  std::vector<const mc::Graph*> stack{&g};
  while (!stack.empty()) {
    const mc::Graph* cur = stack.back();
    stack.pop_back();
    for (const auto& t : cur->initializers) out->push_back(&t);
    for (const auto& n : cur->nodes)
      for (const auto& a : n.attrs) {
        for (const auto& t : a.tensors) out->push_back(&t);
        for (const auto& sg : a.graphs) stack.push_back(sg.get());
      }
  }
}

bool checker_accepts(const onnx::ModelProto& mp, std::string* why) {
  try {
    onnx::checker::check_model(mp);
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
}

// Returns "" on success or the reason for failure.
std::string roundtrip(const std::string& path) {
  mc::ImportOptions opts;
  opts.require_input_shapes = false;  // the suite has a few shape-less inputs; import must still work
  mc::Model a = mc::import_onnx_file(path, opts);
  onnx::ModelProto exported;
  mc::model_to_proto(a, &exported);
  std::string why;
  if (!checker_accepts(exported, &why)) return "checker rejects the export: " + why;
  std::string bytes;
  exported.SerializeToString(&bytes);
  mc::Model b = mc::import_onnx_bytes(bytes, mc::dirname_of(path), path + " (re-exported)", opts);
  std::vector<const mc::Tensor*> ta, tb;
  collect_tensors(a.graph, &ta);
  collect_tensors(b.graph, &tb);
  if (ta.size() != tb.size()) return "tensor count changed";
  for (size_t i = 0; i < ta.size(); ++i) {
    if (ta[i]->name != tb[i]->name || ta[i]->dtype != tb[i]->dtype || ta[i]->dims != tb[i]->dims ||
        ta[i]->data != tb[i]->data || ta[i]->strings != tb[i]->strings)
      return "tensor '" + ta[i]->name + "' changed";
  }
  if (a.graph.nodes.size() != b.graph.nodes.size()) return "node count changed";
  for (size_t i = 0; i < a.graph.nodes.size(); ++i)
    if (a.graph.nodes[i].op_type != b.graph.nodes[i].op_type || a.graph.nodes[i].inputs != b.graph.nodes[i].inputs)
      return "node " + std::to_string(i) + " changed";
  if (a.metadata != b.metadata || a.doc_string != b.doc_string || a.graph.doc_string != b.graph.doc_string)
    return "metadata or doc strings changed";
  return "";
}

}  // namespace

TEST_CASE("every node-suite model survives import and export", "[conformance][onnx]") {
  REQUIRE(fs::is_directory(kNodeSuite));
  int total = 0, checked = 0, passed = 0, skipped_checker = 0;
  std::vector<std::string> failures;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeSuite)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    const fs::path model = d / "model.onnx";
    if (!fs::exists(model)) continue;
    ++total;
    // Only models that ONNX's own checker accepts are in scope.
    onnx::ModelProto orig;
    {
      std::ifstream f(model, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(f)), {});
      orig.ParseFromString(bytes);
    }
    std::string why;
    if (!checker_accepts(orig, &why)) {
      ++skipped_checker;
      continue;
    }
    ++checked;
    std::string err;
    try {
      err = roundtrip(model.string());
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (err.empty()) ++passed;
    else failures.push_back(d.filename().string() + ": " + err);
  }
  std::cout << "node-suite round trip: " << total << " models, " << checked << " accepted by the checker, "
            << passed << " round-tripped, " << failures.size() << " failed, " << skipped_checker
            << " rejected by onnx::checker itself\n";
  for (const auto& f : failures) std::cout << "  FAIL " << f << "\n";
  CHECK(total > 900);
  CHECK(failures.empty());
}

TEST_CASE("external data is written and read back byte-identical", "[conformance][onnx]") {
  fs::path dir = fs::temp_directory_path() / "mc_extdata_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  mc::Model m;
  m.opsets.push_back({"", 13});
  m.producer_name = "mc-test";
  m.metadata.push_back({"key", "value"});
  std::vector<float> w(1000);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.5f - 3.f;
  m.graph.name = "g";
  m.graph.initializers.push_back(mc::Tensor::make_f32("W", {10, 100}, w));
  m.graph.initializers.push_back(mc::Tensor::make_f32("b", {10}, std::vector<float>(10, 1.f)));
  mc::ValueInfo x{"x", mc::DType::F32, true, {mc::Dim::symbol("N"), mc::Dim::known(100)}, "", ""};
  mc::ValueInfo y{"y", mc::DType::F32, true, {mc::Dim::symbol("N"), mc::Dim::known(10)}, "", ""};
  m.graph.inputs.push_back(x);
  m.graph.outputs.push_back(y);
  mc::Node n;
  n.op_type = "Gemm";
  n.name = "fc";
  n.inputs = {"x", "W", "b"};
  n.outputs = {"y"};
  n.set_attr_int("transB", 1);
  m.graph.nodes.push_back(n);
  mc::ExportOptions eo;
  eo.external_data_file = "weights.bin";
  eo.external_threshold = 100;
  mc::export_onnx_file(m, (dir / "m.onnx").string(), eo);
  REQUIRE(fs::exists(dir / "weights.bin"));
  mc::Model r = mc::import_onnx_file((dir / "m.onnx").string());
  REQUIRE(r.graph.initializer("W"));
  CHECK(r.graph.initializer("W")->data == m.graph.initializer("W")->data);
  CHECK(r.graph.initializer("b")->data == m.graph.initializer("b")->data);
  CHECK(r.metadata == m.metadata);
  CHECK(r.source_files.size() == 2);
  // Writing over the model's own external data file is refused.
  CHECK_THROWS_AS(mc::export_onnx_file(r, (dir / "weights.bin").string(), {}, r.source_files), mc::Error);
  fs::remove_all(dir);
}
