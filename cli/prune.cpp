// mcompress prune: unstructured, n:m and channel pruning. Parsing and printing only;
// the passes live in prune/.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "cli/output_path.h"
#include "cli/before_after.h"
#include "cli/command.h"
#include "cli/runtime_activations.h"
#include "cli/text_format.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "compress/ir/weight_axes.h"
#include "prune/prunable_layers.h"
#include "prune/prune_options.h"
#include "prune/reconstruct.h"
#include "prune/sensitivity.h"

namespace mc::cli {
namespace {

struct PruneCliOptions {
  std::string model, output;
  std::string ratio;  // parsed here so that a bad value is exit 2 with our message
  std::string round_to;  // likewise (channel granularity only)
  std::string config;  // per-layer ratios (JSON, from `sensitivity --auto -o`)
  std::string granularity = "unstructured", criterion = "magnitude", scope = "layer", format = "onnx";
  std::vector<std::string> exclude;
  bool json = false;
  // Post-training reconstruction (prune/reconstruct.h) from calibration samples.
  std::string calib_data, layout = "nchw";
  uint64_t calib_size = 2000;
  float mean = 0, std_dev = 0;
  bool has_mean = false, has_std = false;
  double ridge = 1e-2;
};

double parse_ratio(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end != '\0') throw Error(ErrorKind::Input, "--ratio '" + s + "': not a number");
  prune::validate_ratio(v);
  return v;
}

int64_t parse_round_to(const std::string& s) {
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos || std::stoll(s) < 1)
    throw Error(ErrorKind::Input, "--round-to '" + s + "': expected a whole number from 1 to 9999");
  return std::stoll(s);
}

// One global --ratio on filters of few weights (3x3 depthwise, 1-channel stems: 9) is what
// destroys depthwise models (examples/fashion-mnist/mobile at 0.5: 40.45 % top-1, 85.33 % with its
// 7 such layers excluded; fp32 91.84 %). Weights, not data, so a warning, not a refusal. Layers are
// matched by prune's own names (node name, or "<Op>_<index>" for an unnamed node); only named ones
// can be offered to --exclude.
std::string small_filter_warning(const Model& m, const std::vector<prune::LayerPruneResult>& layers, double ratio) {
  if (ratio < 0.3) return "";
  std::set<std::string> pruned;
  for (const auto& l : layers)
    if (l.pruned > 0 && l.op_type != "group") pruned.insert(l.layer);
  std::vector<std::string> named;
  size_t unnamed = 0;
  for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
    const Node& n = m.graph.nodes[i];
    if (n.inputs.size() < 2 || !pruned.count(prune::layer_name(n, i))) continue;
    const Tensor* w = m.graph.initializer(n.inputs[1]);
    const int64_t f = w ? weight_fan_in(n, *w) : 0;
    if (f <= 0 || f >= kSmallFilterFanIn) continue;
    if (n.name.empty()) ++unnamed;
    else named.push_back(n.name);
  }
  if (named.empty() && unnamed == 0) return "";
  std::string names;
  for (const auto& n : named) names += (names.empty() ? "" : ",") + n;
  std::string w = std::to_string(named.size() + unnamed) +
                  " pruned layer(s) have filters of fewer than 16 weights (3x3 depthwise, 1-channel stems), the most "
                  "sensitive to a global ratio: measure with `check --data`, choose per-layer ratios with "
                  "`sensitivity --auto`, or re-fit with --calib-data";
  if (!named.empty()) w += "; or leave them out with --exclude " + names;
  if (unnamed) w += " (" + std::to_string(unnamed) + " of them unnamed nodes, which --exclude cannot name)";
  return w;
}

int run_prune(const PruneCliOptions& o, const Globals& g) {
  const bool json = o.json || g.json;
  prune::PruneOptions po;
  po.granularity = prune::parse_granularity(o.granularity, &po.n, &po.m);
  if (po.granularity == prune::Granularity::Block) {  // parse_granularity hands B and K back in n, m
    po.block_rows = po.n;
    po.block_cols = po.m;
  }
  po.criterion = prune::parse_criterion(o.criterion);
  po.scope = prune::parse_scope(o.scope);
  for (const auto& e : o.exclude) {
    std::stringstream ss(e);
    for (std::string tok; std::getline(ss, tok, ',');)
      if (!tok.empty()) po.exclude.push_back(tok);
  }
  if (!o.round_to.empty()) po.round_to = parse_round_to(o.round_to);
  if (o.format != "onnx" && o.format != "runtime")
    throw Error(ErrorKind::Input, "--format '" + o.format + "': expected onnx or runtime");
  std::optional<prune::LayerRatioConfig> config;
  if (!o.config.empty()) {
    config = prune::read_config_file(o.config);
    if (config->pass != prune::SensitivityPass::Prune)
      throw Error(ErrorKind::Input, o.config + ": a config for pass '" + prune::pass_name(config->pass) +
                                        "' (use it with mcompress " + prune::pass_name(config->pass) + ")");
    if (!o.ratio.empty()) throw Error(ErrorKind::Input, "--ratio and --config exclude each other");
    if (!po.exclude.empty()) throw Error(ErrorKind::Input, "--exclude and --config exclude each other (leave the layer out of the config)");
    if (!o.round_to.empty()) throw Error(ErrorKind::Input, "--round-to and --config exclude each other (the config gives each layer its ratio)");
    if (po.scope == prune::Scope::Global) throw Error(ErrorKind::Input, "--scope global and --config exclude each other");
    if (o.granularity != "unstructured" && o.granularity != prune::granularity_name(config->granularity))
      throw Error(ErrorKind::Input, "--granularity " + o.granularity + " contradicts " + o.config + " (" +
                                        prune::granularity_name(config->granularity) + ")");
    po.granularity = config->granularity;
  } else if (po.granularity == prune::Granularity::NM) {
    const double implied = 1.0 - static_cast<double>(po.n) / static_cast<double>(po.m);
    if (!o.ratio.empty() && std::fabs(parse_ratio(o.ratio) - implied) > 1e-9)
      throw Error(ErrorKind::Input, "--ratio " + o.ratio + " contradicts --granularity " + o.granularity +
                                        " (which removes " + std::to_string(implied) + "); leave --ratio out");
    po.ratio = implied;
  } else {
    if (o.ratio.empty()) throw Error(ErrorKind::Input, "--ratio is required for --granularity " + o.granularity);
    po.ratio = parse_ratio(o.ratio);
  }
  if (o.model == o.output || same_file(o.model, o.output))
    throw Error(ErrorKind::Input, "prune: the output '" + o.output + "' is the input model; write to another file (-o)");
  if (o.calib_data.empty() && (o.has_mean || o.has_std))
    throw Error(ErrorKind::Input, "prune: --mean and --std need --calib-data");
  if (o.calib_size == 0) throw Error(ErrorKind::Input, "--calib-size must be at least 1");
  if (!std::isfinite(o.ridge) || o.ridge <= 0) throw Error(ErrorKind::Input, "--calib-ridge must be > 0");

  Model m = load_model_file(o.model);
  std::optional<Model> dense;
  std::unique_ptr<RuntimeActivations> calib;
  if (!o.calib_data.empty()) {
    data::DatasetOptions d;
    d.data_path = o.calib_data;
    if (o.has_mean) d.mean = o.mean;
    if (o.has_std) d.std = o.std_dev;
    d.layout = data::parse_layout(o.layout);
    d.max_samples = o.calib_size;
    calib = std::make_unique<RuntimeActivations>(d, m);
    dense = m;
  }
  const ModelFigures before = measure_model(m, m.source_files);
  prune::PruneResult res;
  if (config) {
    prune::ApplyResult ar = prune::apply_layer_ratios(m, *config);
    res.layers = ar.pruned;
    res.kept_outputs = ar.kept_outputs;
    res.report.changes = ar.lines;
    res.report.summary = "per-layer ratios from " + o.config + ": " + std::to_string(ar.pruned.size()) + " layers";
  } else {
    res = prune::prune_model(m, po);
  }
  prune::ReconstructResult rec;
  if (calib) {
    prune::ReconstructOptions ro;
    ro.samples = calib->samples();
    ro.ridge = o.ridge;
    rec = prune::reconstruct_pruned_layers(m, *dense, res.kept_outputs, calib->fn(), ro);
  }

  const std::string warning =
      config || po.granularity == prune::Granularity::Channel ? std::string() : small_filter_warning(m, res.layers, po.ratio);
  ModelFigures after;
  // Zeros in an ONNX file stay dense (ONNX Runtime and most readers take no sparse initializers), so
  // an unstructured or n:m ONNX output is no smaller on disk; the runtime file stores them sparse.
  // Its size, exported in memory, is printed beside the ONNX figures so the smaller file is one flag
  // away (0 when the runtime cannot take the model; the reason is printed instead).
  uint64_t runtime_bytes = 0;
  std::string runtime_note;
  if (o.format == "onnx" && o.granularity != "channel") {
    try {
      Model rm = m;
      PassContext ctx;
      optimize_for_runtime(rm, ctx);
      runtime_bytes = export_runtime_bytes(rm).size();
    } catch (const std::exception& e) {  // the prune itself worked: a size it cannot give is a note
      runtime_note = e.what();
    }
  }
  if (o.format == "onnx") {
    export_onnx_file(m, o.output, {}, m.source_files);
    Model written = import_onnx_file(o.output);  // figures from the file, read back as a user would
    after = measure_model(written, written.source_files);
  } else {
    // As `export` does: the runtime needs BatchNorm folded and constants resolved.
    PassContext ctx;
    optimize_for_runtime(m, ctx);
    RuntimeExportReport rr;
    export_runtime_file(m, o.output, {}, m.source_files, &rr);
    after = measure_model(m, {o.output});
  }

  if (json) {
    nlohmann::ordered_json j;
    j["model"] = o.model;
    j["output"] = o.output;
    j["format"] = o.format;
    j["granularity"] = o.granularity;
    if (config) j["config"] = o.config;
    else j["ratio"] = po.ratio;
    auto fig = [](const ModelFigures& f) {
      return nlohmann::ordered_json{{"bytes", f.bytes}, {"gzip_bytes", f.gzip_bytes}, {"params", f.params},
                                    {"nonzero_params", f.nonzero_params}, {"macs", f.macs}};
    };
    j["before"] = fig(before);
    j["after"] = fig(after);
    if (!warning.empty()) j["warning"] = warning;
    if (runtime_bytes) j["runtime_file_bytes"] = runtime_bytes;
    if (!runtime_note.empty()) j["runtime_file_note"] = runtime_note;
    j["summary"] = res.report.summary;
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : res.layers)
      j["layers"].push_back({{"layer", l.layer}, {"op_type", l.op_type}, {"total", l.total},
                             {"zeros_before", l.zeros_before}, {"pruned", l.pruned}, {"achieved", l.achieved}});
    j["skipped"] = res.skipped;
    if (calib) {
      nlohmann::ordered_json jr{{"calib_data", o.calib_data}, {"samples", calib->samples()}, {"ridge", o.ridge}};
      jr["layers"] = nlohmann::ordered_json::array();
      for (const auto& l : rec.layers)
        jr["layers"].push_back({{"layer", l.layer}, {"rows", l.rows}, {"rows_failed", l.rows_failed},
                                {"error_before", l.error_before}, {"error_after", l.error_after}});
      jr["skipped"] = rec.skipped;
      j["reconstruction"] = jr;
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (!warning.empty()) std::cerr << "mcompress: prune: warning: " << warning << "\n";
  std::cout << "prune: " << res.report.summary << "\n";
  for (const auto& c : res.report.changes) std::cout << "  " << c << "\n";
  for (const auto& s : res.skipped) std::cout << "  skipped " << s << "\n";
  if (calib) {
    std::cout << "reconstruction (least squares on " << calib->samples() << " samples of " << o.calib_data
              << "): relative output error of each layer, pruned -> re-fitted\n";
    for (const auto& l : rec.layers) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "  %s: %.4f -> %.4f (%llu rows re-fitted%s)", l.layer.c_str(), l.error_before,
                    l.error_after, static_cast<unsigned long long>(l.rows),
                    l.rows_failed ? (", " + std::to_string(l.rows_failed) + " kept as pruned").c_str() : "");
      std::cout << buf << "\n";
    }
    for (const auto& s : rec.skipped) std::cout << "  not re-fitted " << s << "\n";
  }
  std::cout << before_after_line("prune", {{"bytes", before.bytes, after.bytes, true},
                                           {"gzip", before.gzip_bytes, after.gzip_bytes, true},
                                           {"params", before.params, after.params},
                                           {"nonzero params", before.nonzero_params, after.nonzero_params, true},
                                           {"MACs", before.macs, after.macs, true}})
            << "\n";
  if (runtime_bytes)
    std::cout << "  the ONNX file keeps the zeros dense (gzip shows them); as a runtime file (--format runtime) they are "
                 "stored sparse: "
              << thousands(runtime_bytes) << " bytes (" << fixed(double(runtime_bytes) / double(before.bytes), 3)
              << "x the input)\n";
  else if (!runtime_note.empty())
    std::cout << "  no runtime file size: " << runtime_note << "\n";
  std::cout << "wrote " << o.output << "\n";
  return 0;
}

}  // namespace

CLI::App* add_prune(CLI::App& root, Action* action) {
  auto opts = std::make_shared<PruneCliOptions>();
  CLI::App* sub = root.add_subcommand("prune", "Prune weights (unstructured, n:m) or remove channels (channel)");
  sub->add_option("model", opts->model, "ONNX model to prune")->required();
  sub->add_option("-o,--output", opts->output, "Where to write the pruned model (default: MODEL.pruned.onnx, or .mcrt with --format runtime, next to the model)");
  sub->add_option("--ratio", opts->ratio, "Fraction of weights (channels) to remove, in [0, 1); implied by n:m");
  sub->add_option("--config", opts->config,
                  "Per-layer ratios (JSON from `sensitivity --auto -o`) instead of --ratio");
  sub->add_option("--granularity", opts->granularity, "unstructured (default), channel, n:m such as 2:4, or block:BxK such as block:4x4");
  sub->add_option("--criterion", opts->criterion, "l1, l2, magnitude (default), or bn (channels: |gamma| of the BatchNormalization after the filter); for weights l1/l2/magnitude all mean |w|");
  sub->add_option("--scope", opts->scope, "layer (default: each layer loses --ratio) or global (unstructured)");
  sub->add_option("--round-to", opts->round_to,
                  "Channel pruning: each group keeps a multiple of N channels (rounded up, at most all of them), "
                  "e.g. 16 for ONNX Runtime's AVX-512 NCHWc convs, 8 for AVX2");
  sub->add_option("--exclude", opts->exclude, "Node names or op types to leave alone (comma-separated, repeatable)");
  sub->add_option("--format", opts->format, "onnx (default) or runtime (.mcrt; the optimize pipeline runs first)");
  sub->add_option("--calib-data", opts->calib_data,
                  "Calibration samples (IDX/NPY/NPZ; use training data): after pruning, re-fit each pruned layer's "
                  "remaining weights by least squares to reproduce the dense layer's outputs");
  sub->add_option("--calib-size", opts->calib_size, "Calibration samples to use (first N, default 2000)");
  sub->add_option("--mean", opts->mean, "Normalisation of the calibration samples: (x - mean) / std")
      ->each([opts](const std::string&) { opts->has_mean = true; });
  sub->add_option("--std", opts->std_dev, "See --mean")->each([opts](const std::string&) { opts->has_std = true; });
  sub->add_option("--layout", opts->layout, "Layout of the calibration samples: nchw (default) or nhwc");
  sub->add_option("--calib-ridge", opts->ridge, "Ridge term of the re-fit, relative to the mean input energy (default 0.01)");
  sub->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  sub->footer(
      "Examples:\n"
      "  mcompress prune --ratio 0.7 model.onnx                 (writes model.pruned.onnx)\n"
      "  mcompress prune model.onnx --ratio 0.7 --scope global -o model.pruned.onnx\n"
      "  mcompress prune model.onnx --granularity 2:4 -o model.24.onnx\n"
      "  mcompress prune model.onnx --granularity channel --ratio 0.5 -o model.slim.onnx\n"
      "  mcompress prune model.onnx --granularity channel --ratio 0.65 --round-to 16 -o model.slim16.onnx\n"
      "  mcompress prune model.onnx --granularity block:4x4 --ratio 0.5 -o model.b44.onnx\n"
      "  mcompress prune mlp.onnx --config mlp.ratios.json --calib-data train-images-idx3-ubyte.gz \\\n"
      "      --mean 0.2860 --std 0.3530 -o mlp.pruned.onnx\n"
      "Unstructured and n:m keep dense tensors with zeros (gzip shows the gain); channel makes them smaller.");
  sub->callback([opts, action]() {
    *action = [opts](const Globals& g) {
      opts->output = output_or_default(opts->output, opts->model, "pruned", format_extension(opts->format));
      return run_prune(*opts, g);
    };
  });
  return sub;
}

}  // namespace mc::cli
