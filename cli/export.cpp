// mcompress export: write a model for deployment, as a runtime file (.mcrt) or ONNX.
// Runs the `optimize` pipeline first (unless --no-optimize), since the runtime needs
// static shapes and constant shape inputs that folding provides. Parsing and printing
// only; the exporters live in export/ and compress/onnx/.
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output_path.h"
#include "cli/before_after.h"
#include "cli/command.h"
#include "cli/runtime_file_options.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "distill/torchscript_export.h"
#include "export/runtime_export.h"

namespace mc::cli {
namespace {

struct ExportCliOptions {
  std::string model;
  std::string output;
  std::string format = "runtime";
  bool fp16 = false;
  RuntimeFileArgs file;
  bool no_optimize = false;
  bool json = false;
};

int run_export(const ExportCliOptions& o, const Globals& g) {
  const bool json = o.json || g.json;
  if (o.format != "runtime" && o.format != "onnx" && o.format != "torchscript")
    throw Error(ErrorKind::Input, "--format: '" + o.format + "' is not one of runtime, onnx, torchscript");
  if (o.fp16 && o.format != "runtime") throw Error(ErrorKind::Input, "--fp16 applies to --format runtime only");
  check_runtime_file_options(o.file, o.format);
  if (o.model == o.output || same_file(o.model, o.output))
    throw Error(ErrorKind::Input, "export: the output '" + o.output + "' is the input model; write to another file (-o)");

  Model m = load_model_file(o.model);
  const ModelFigures before = measure_model(m, m.source_files);

  std::vector<PassReport> reports;
  if (!o.no_optimize) {
    PassContext ctx;
    reports = optimize_for_runtime(m, ctx);
  }

  RuntimeExportReport rep;
  ModelFigures after;
  if (o.format == "runtime") {
    RuntimeExportOptions eo;
    eo.fp16_weights = o.fp16;
    apply_runtime_file_options(o.file, eo);
    try {
      export_runtime_file(m, o.output, eo, m.source_files, &rep);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Input) throw;
      throw Error(e.kind(), o.model + ": " + e.what());  // "<file>: <problem>"
    }
    after = measure_model(m, {o.output});
  } else if (o.format == "torchscript") {
    distill::export_torchscript_file(m, o.output, m.source_files);  // docs/training.md
    after = measure_model(m, {o.output});
  } else {
    export_onnx_file(m, o.output, ExportOptions{}, m.source_files);
    Model written = import_onnx_file(o.output);
    after = measure_model(written, written.source_files);
  }

  if (json) {
    nlohmann::ordered_json j;
    j["model"] = o.model;
    j["output"] = o.output;
    j["format"] = o.format;
    j["optimized"] = !o.no_optimize;
    auto fig = [](const ModelFigures& f) {
      return nlohmann::ordered_json{{"nodes", f.nodes}, {"params", f.params}, {"macs", f.macs}, {"bytes", f.bytes}};
    };
    j["before"] = fig(before);
    j["after"] = fig(after);
    j["passes"] = nlohmann::ordered_json::array();
    for (const auto& r : reports) j["passes"].push_back({{"name", r.pass}, {"summary", r.summary}});
    if (o.format == "runtime") {
      j["runtime"] = {{"nodes", rep.nodes},          {"weight_bytes", rep.weight_bytes}, {"fp16_weights", o.fp16},
                      {"entropy_coding", o.file.entropy_coding}, {"strip_names", o.file.strip_names}};
      j["notes"] = rep.notes;
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& r : reports) std::cout << "  " << r.pass << ": " << r.summary << "\n";
  for (const auto& n : rep.notes) std::cout << "  note: " << n << "\n";
  std::cout << before_after_line("export", before, after) << "\n";
  std::cout << "wrote " << o.output << " (" << o.format << (o.fp16 ? ", fp16 weights" : "")
            << (o.file.entropy_coding ? ", coded body" : "") << (o.file.strip_names ? ", names stripped" : "") << ")\n";
  return 0;
}

}  // namespace

CLI::App* add_export(CLI::App& root, Action* action) {
  auto opts = std::make_shared<ExportCliOptions>();
  CLI::App* sub = root.add_subcommand("export", "Write a model for deployment: runtime file (.mcrt) or ONNX");
  sub->add_option("model", opts->model, "ONNX model to export")->required();
  sub->add_option("-o,--output", opts->output, "Where to write (default: MODEL.mcrt, MODEL.exported.onnx or MODEL.pt next to the model)");
  sub->add_option("--format", opts->format, "runtime (the bundled runtime's .mcrt), onnx or torchscript (.pt) (default: runtime)");
  sub->add_flag("--fp16", opts->fp16, "Store fp32 weights as fp16 in the runtime file (computation stays fp32)");
  add_runtime_file_options(*sub, opts->file);
  sub->add_flag("--no-optimize", opts->no_optimize,
                "Do not run the optimize pipeline first (the runtime then needs static shapes and constant "
                "shape inputs already)");
  sub->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  sub->footer(
      "Runs the optimize pipeline (constant and BatchNorm folding, Identity/Dropout removal) first unless "
      "--no-optimize.\nOps, attributes or dtypes the runtime does not implement are refused (exit 2), naming the "
      "node.\nExample:\n  mcompress export model.onnx --format runtime -o model.mcrt\n"
      "Prints 'export: nodes A → B, params ..., MACs ..., bytes ...'.");
  sub->callback([opts, action]() {
    *action = [opts](const Globals& g) {
      opts->output = output_or_default(opts->output, opts->model, opts->format == "onnx" ? "exported" : "",
                                       format_extension(opts->format));
      return run_export(*opts, g);
    };
  });
  return sub;
}

}  // namespace mc::cli
