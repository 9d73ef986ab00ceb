// mcompress inspect: per-layer and total size and compute of a model.
// Parsing and printing only; the numbers come from compress/analysis.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "cli/text_format.h"
#include "compress/analysis/file_size.h"
#include "compress/analysis/model_stats.h"
#include "compress/analysis/stats_json.h"
#include "compress/error.h"
#include "compress/io/model_loader.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_import.h"
#include "runtime-check/check/runtime_file_stats.h"

namespace mc::cli {

namespace {

struct InspectOptions {
  std::string model;
  std::vector<std::string> input_shapes;  // NAME=D1,D2,...
};

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", f * 100.0);
  return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? sep : "") + (v[i].empty() ? std::string("-") : v[i]);
  return r;
}

void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], r[c].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      const std::string pad(w[c] - r[c].size(), ' ');
      line += c ? "  " : "";
      line += right[c] ? pad + r[c] : r[c] + (c + 1 < r.size() ? pad : "");
    }
    os << line << "\n";
  }
}

void print_values(std::ostream& os, const char* title, const std::vector<const ValueInfo*>& vs) {
  os << title << ":\n";
  if (vs.empty()) os << "  (none)\n";
  for (const ValueInfo* v : vs)
    os << "  " << v->name << "  " << (v->is_tensor() ? dtype_name(v->dtype) : "non-tensor") << "  "
       << shape_string(v) << "\n";
}

void print_report(std::ostream& os, const std::string& path, const Model& m, const ModelStats& st,
                  const FileSizes& files) {
  os << "Model: " << path << "\n";
  os << "IR version " << m.ir_version << ", producer "
     << (m.producer_name.empty() ? std::string("(none)")
                                : m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version)) << ", opsets:";
  for (const auto& o : m.opsets) os << " " << (o.domain.empty() ? "ai.onnx" : o.domain) << " " << o.version;
  os << "\n";
  print_values(os, "Inputs", m.graph.real_inputs());
  std::vector<const ValueInfo*> outs;
  for (const auto& v : m.graph.outputs) outs.push_back(&v);
  print_values(os, "Outputs", outs);
  os << "\n";

  std::vector<std::vector<std::string>> rows{
      {"#", "name", "op", "inputs", "outputs", "params", "MACs", "weight bytes", "dtype", "sparsity"}};
  for (size_t i = 0; i < st.layers.size(); ++i) {
    const auto& L = st.layers[i];
    std::string op = L.domain.empty() || L.domain == "ai.onnx" ? L.op_type : L.domain + ":" + L.op_type;
    if (!L.known_op) op += " [unknown op]";
    rows.push_back({std::to_string(i), L.name, op, join(L.input_shapes, ", "), join(L.output_shapes, ", "),
                    thousands(L.params), L.macs_known ? thousands(L.macs) : "?", thousands(L.weight_bytes),
                    L.weight_dtype.empty() ? "-" : L.weight_dtype, L.params ? percent(L.sparsity) : "-"});
  }
  print_table(os, rows, {true, false, false, false, false, true, true, true, false, true});
  os << "\n";
  os << "Totals:\n";
  os << "  params        " << thousands(st.params) << "\n";
  os << "  MACs          " << thousands(st.macs)
     << (st.macs_complete ? "" : "  (lower bound: some layers have unknown shapes or ops, marked ?)") << "\n";
  os << "  weight bytes  " << human_bytes(st.weight_bytes) << ", sparsity " << percent(st.sparsity) << " ("
     << thousands(st.zero_weights) << " zeros)\n";
  os << "  file bytes    " << human_bytes(files.bytes);
  if (files.files.size() > 1) os << " in " << files.files.size() << " files";
  os << "\n";
  os << "  gzip -9       " << human_bytes(files.gzip_bytes) << "\n";
  os << "  nodes         " << st.nodes;
  if (st.nodes_total != st.nodes) os << " (" << st.nodes_total << " with subgraphs)";
  os << "\n";
  if (!st.unknown_ops.empty())
    os << "Unknown ops (not in the ONNX schema registry for their domain and opset; counted as 0 MACs, ?): "
       << join(st.unknown_ops, ", ") << "\n";
}

bool is_runtime_file(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".mcrt") == 0;
}

// A runtime file: per constant, its storage and bytes on disk / decoded at load / in memory.
int inspect_runtime_file(const InspectOptions& o, const Globals& g) {
  const std::string raw = read_file_bounded(o.model, 4ull << 30);
  const check::RuntimeFileStats s = check::runtime_file_stats(std::vector<uint8_t>(raw.begin(), raw.end()), o.model);
  if (g.json) {
    nlohmann::ordered_json j;
    j["model"] = o.model;
    j["format"] = "mcrt";
    j["nodes"] = s.nodes;
    j["size"] = {{"file_bytes", s.file_bytes}, {"graph_bytes", s.graph_bytes},
                 {"weights_section_bytes", s.weights_section_bytes}, {"weight_disk_bytes", s.weight_disk_bytes},
                 {"coded_buffers", s.coded_buffers}, {"coded_body", s.coded_body}, {"image_bytes", s.image_bytes}};
    j["segments"] = nlohmann::ordered_json::array();
    for (const auto& g : s.segments)
      j["segments"].push_back({{"content", g.content}, {"codec", g.codec}, {"width", g.width},
                               {"raw_bytes", g.raw_bytes}, {"coded_bytes", g.coded_bytes}});
    j["memory"] = {{"decoded_bytes", s.decoded_bytes}, {"weight_raw_bytes", s.weight_raw_bytes},
                   {"weight_bytes", s.weight_memory_bytes}};
    j["constants"] = nlohmann::ordered_json::array();
    for (const auto& t : s.tensors)
      j["constants"].push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"storage", t.storage},
                                {"coded", t.coded}, {"disk_bytes", t.disk_bytes}, {"raw_bytes", t.raw_bytes},
                                {"memory_bytes", t.memory_bytes}});
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "Runtime file: " << o.model << " (.mcrt), " << s.nodes << " nodes\n\n";
    std::vector<std::vector<std::string>> rows{{"#", "constant", "dtype", "shape", "storage", "bytes on disk",
                                                "after decoding", "bytes in memory"}};
    for (size_t i = 0; i < s.tensors.size(); ++i) {
      const auto& t = s.tensors[i];
      std::string shape = "[";
      for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? "," : "") + std::to_string(t.shape[d]);
      shape += "]";
      rows.push_back({std::to_string(i), t.name, t.dtype, shape,
                      t.storage + (s.coded_body ? "" : t.coded ? ", huffman" : ""),
                      thousands(t.disk_bytes), thousands(t.raw_bytes), thousands(t.memory_bytes)});
    }
    print_table(std::cout, rows, {true, false, false, false, false, true, true, true});
    std::cout << "\nTotals:\n";
    if (s.coded_body) {
      std::cout << "  file bytes          " << thousands(s.file_bytes) << ", a coded body of " << s.segments.size()
                << " segments (docs/runtime-format.md §2.1), decoded at load to " << thousands(s.image_bytes)
                << " (graph " << thousands(s.graph_bytes) << ", weights section " << thousands(s.weights_section_bytes)
                << "); the column \"bytes on disk\" is before coding\n";
      for (size_t k = 0; k < s.segments.size(); ++k) {
        const auto& g = s.segments[k];
        std::cout << "    segment " << k << "  " << g.content << "  " << g.codec
                  << (g.width > 1 ? " over " + std::to_string(g.width) + " byte planes" : std::string())
                  << "  " << thousands(g.raw_bytes) << " -> " << thousands(g.coded_bytes) << "\n";
      }
    } else {
      std::cout << "  file bytes          " << thousands(s.file_bytes) << " (graph " << thousands(s.graph_bytes)
                << ", weights section " << thousands(s.weights_section_bytes) << ")\n";
    }
    if (s.coded_body)
      std::cout << "  weights             " << thousands(s.weight_disk_bytes) << " before coding (in the coded body)\n";
    else
      std::cout << "  weights on disk     " << thousands(s.weight_disk_bytes) << " (" << s.coded_buffers
                << " buffers entropy-coded)\n";
    std::cout << "  decoded at load     " << thousands(s.decoded_bytes)
              << (s.coded_body ? " from per-buffer codings (§3.1); the coded body's image: " + thousands(s.image_bytes)
                               : std::string())
              << "\n";
    std::cout << "  weights in memory   " << thousands(s.weight_memory_bytes)
              << " after prepare (batch 1; decoded buffers, materialized and packed weights)\n";
  }
  std::cout.flush();
  if (!std::cout) throw Error(ErrorKind::Internal, "writing to stdout failed");
  return 0;
}

int run_inspect(const InspectOptions& o, const Globals& g) {
  if (is_runtime_file(o.model)) {
    if (!o.input_shapes.empty())
      throw Error(ErrorKind::Input, o.model + ": --input-shape applies to ONNX models, not runtime files");
    return inspect_runtime_file(o, g);
  }
  ImportOptions io;
  // A tensor graph input without a shape is an input error (exit 2) with a hint to
  // pass --input-shape, as for every other verb: MACs and shapes depend on it.
  for (const auto& spec : o.input_shapes) add_input_shape(io.input_shapes, spec);
  spdlog::debug("reading {}", o.model);
  const Model m = load_model_file(o.model, io);
  const ModelStats st = compute_stats(m);
  for (const auto& op : st.unknown_ops) spdlog::warn("unknown op {}: listed, counted as unknown MACs", op);
  const FileSizes files = measure_files(m.source_files);
  if (g.json) {
    std::cout << stats_to_json(o.model, m, st, files).dump(2) << "\n";
  } else {
    print_report(std::cout, o.model, m, st, files);
  }
  std::cout.flush();
  if (!std::cout) throw Error(ErrorKind::Internal, "writing to stdout failed");
  return 0;
}

}  // namespace

CLI::App* add_inspect(CLI::App& root, Action* action) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* sub = root.add_subcommand(
      "inspect", "Per-layer and total params, MACs, weight bytes, sparsity and on-disk size of a model");
  sub->add_option("MODEL", opts->model,
                  "ONNX model file (external-data files next to it are counted too), or a runtime file (.mcrt)")
      ->required();
  sub->add_option("--input-shape", opts->input_shapes,
                  "Set the shape of a graph input, NAME=D1,D2,... (-1: dynamic); repeatable")
      ->type_name("NAME=DIMS");
  sub->footer(
      "Examples:\n"
      "  mcompress inspect model.onnx\n"
      "  mcompress inspect model.onnx --json > stats.json\n"
      "  mcompress inspect model.onnx --input-shape input=8,3,224,224\n"
      "  mcompress inspect model.mcrt   (storage per constant: bytes on disk, decoded at load, in memory)\n"
      "MACs: Conv, ConvTranspose, Gemm, MatMul, RNN/GRU/LSTM; other ops count 0. Symbolic dims count as 1.\n");
  sub->callback([action, opts, sub]() {
    (void)sub;
    *action = [opts](const Globals& g) { return run_inspect(*opts, g); };
  });
  return sub;
}

}  // namespace mc::cli
