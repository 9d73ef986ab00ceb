// mcompress optimize: graph clean-up without changing what the model computes.
// Parsing and printing only; the passes live in compress/passes.
#include <spdlog/spdlog.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/output_path.h"
#include "cli/before_after.h"
#include "cli/command.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/check_new_tensors_finite.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"
#include "compress/passes/refresh_shapes.h"

namespace mc::cli {
namespace {

struct OptimizeOptions {
  std::string model;
  std::string output;
  std::string passes;         // comma-separated; empty: the default pipeline
  std::string external_data;  // file name next to the output
  bool json = false;
};

std::vector<std::string> split_passes(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (!tok.empty()) out.push_back(tok);
  if (out.empty()) throw Error(ErrorKind::Input, "--passes: no pass named (known: see --help)");
  return out;
}

int run_optimize(const OptimizeOptions& o, const Globals& g) {
  const bool json = o.json || g.json;
  if (o.model == o.output || same_file(o.model, o.output)) {
    std::cerr << "mcompress: optimize: the output '" << o.output
              << "' is the input model; write to another file (-o)\n";
    return 2;
  }
  std::vector<std::string> names = o.passes.empty() ? default_optimize_pipeline() : split_passes(o.passes);
  for (const auto& n : names)
    if (!find_pass(n)) {
      std::string known;
      for (const auto& p : all_passes()) known += std::string(known.empty() ? "" : ", ") + p.name;
      throw Error(ErrorKind::Input, "--passes: unknown pass '" + n + "' (known: " + known + ")");
    }

  Model m = load_model_file(o.model);
  require_known_default_domain_ops(m, o.model);
  const ModelFigures before = measure_model(m, m.source_files);

  PassContext ctx;
  const std::vector<PassReport> reports = run_passes(m, ctx, names);
  const std::string shape_error = refresh_shapes(m);
  if (!shape_error.empty()) spdlog::warn("shape inference after optimize failed, shapes kept: {}", shape_error);
  check_new_tensors_finite(m, reports);

  ExportOptions eo;
  eo.external_data_file = o.external_data;
  export_onnx_file(m, o.output, eo, m.source_files);

  // The figures after come from the written file, read back as any user would.
  Model written = import_onnx_file(o.output);
  const ModelFigures after = measure_model(written, written.source_files);

  if (json) {
    nlohmann::ordered_json j;
    j["model"] = o.model;
    j["output"] = o.output;
    auto fig = [](const ModelFigures& f) {
      return nlohmann::ordered_json{{"nodes", f.nodes}, {"params", f.params}, {"macs", f.macs}, {"bytes", f.bytes}};
    };
    j["before"] = fig(before);
    j["after"] = fig(after);
    j["passes"] = nlohmann::ordered_json::array();
    for (const auto& r : reports) {
      nlohmann::ordered_json p;
      p["name"] = r.pass;
      p["summary"] = r.summary;
      p["counters"] = nlohmann::ordered_json(r.counters);
      p["changes"] = r.changes;
      p["left_alone"] = r.left_alone;
      j["passes"].push_back(std::move(p));
    }
    j["shape_inference"] = shape_error.empty() ? nlohmann::ordered_json("ok") : nlohmann::ordered_json(shape_error);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& r : reports) {
    std::cout << "  " << r.pass << ": " << r.summary << "\n";
    if (g.verbosity > 0) {
      for (const auto& c : r.changes) std::cout << "      " << c << "\n";
      for (const auto& c : r.left_alone) std::cout << "      left alone: " << c << "\n";
    }
  }
  std::cout << before_after_line("optimize", before, after) << "\n";
  std::cout << "wrote " << o.output << "\n";
  return 0;
}

}  // namespace

CLI::App* add_optimize(CLI::App& root, Action* action) {
  auto opts = std::make_shared<OptimizeOptions>();
  std::string pass_list;
  for (const auto& p : all_passes()) pass_list += std::string("\n  ") + p.name + ": " + p.summary;
  CLI::App* sub = root.add_subcommand(
      "optimize", "Clean up a graph: fold constants and BatchNorm, drop Identity/Dropout and dead nodes");
  sub->add_option("model", opts->model, "ONNX model to optimize")->required();
  sub->add_option("-o,--output", opts->output, "Where to write the optimized model (default: MODEL.opt.onnx next to the model)");
  sub->add_option("--passes", opts->passes, "Comma-separated passes to run, in order (default: all, in table order)");
  sub->add_option("--external-data", opts->external_data,
                  "Write tensors of 1 KiB or more to this file, next to the output");
  sub->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  sub->footer("Passes:" + pass_list +
              "\nExample:\n  mcompress optimize model.onnx -o model.opt.onnx\n"
              "Prints the per-pass summaries and 'optimize: nodes A → B, params ..., MACs ..., bytes ...'.");
  sub->callback([opts, action]() {
    *action = [opts](const Globals& g) {
      opts->output = output_or_default(opts->output, opts->model, "opt", "onnx");
      return run_optimize(*opts, g);
    };
  });
  return sub;
}

}  // namespace mc::cli
