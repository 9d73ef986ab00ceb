// mcompress lowrank: truncated-SVD factorization of Gemm/MatMul/Conv layers.
// Parsing and printing only; the factorization lives in compress/lowrank.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/output_path.h"
#include "cli/before_after.h"
#include "cli/command.h"
#include "cli/text_format.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/lowrank/lowrank.h"
#include "compress/onnx/onnx_export.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "prune/sensitivity.h"
#include "runtime-check/check/check_harness.h"

namespace mc::cli {
namespace {

struct LowRankCliOptions {
  std::string model;
  std::string output;
  std::optional<double> rank_ratio;
  std::optional<double> energy;
  std::optional<uint64_t> target_params;
  std::string exclude;  // comma-separated
  std::string conv = "channel";
  std::string config;  // per-layer rank ratios (JSON, from `sensitivity --pass lowrank --auto -o`)
  bool json = false;
};

int run_lowrank(const LowRankCliOptions& c, const Globals& g) {
  const bool json = c.json || g.json;
  LowRankOptions o;
  o.rank_ratio = c.rank_ratio;
  o.energy = c.energy;
  o.target_params = c.target_params;
  o.conv = c.conv == "spatial" ? ConvScheme::Spatial : c.conv == "tucker2" ? ConvScheme::Tucker2 : ConvScheme::Channel;
  std::stringstream ss(c.exclude);
  for (std::string tok; std::getline(ss, tok, ',');)
    if (!tok.empty()) o.exclude.push_back(tok);
  std::optional<prune::LayerRatioConfig> config;
  if (!c.config.empty()) {
    if (c.rank_ratio || c.energy || c.target_params)
      throw Error(ErrorKind::Input, "--config gives the rank ratios: leave out --rank-ratio, --energy and --target-params");
    if (!o.exclude.empty()) throw Error(ErrorKind::Input, "--exclude and --config exclude each other (leave the layer out of the config)");
    if (o.conv != ConvScheme::Channel) throw Error(ErrorKind::Input, "--config uses the channel scheme for Conv; leave out --conv");
    config = prune::read_config_file(c.config);
    if (config->pass != prune::SensitivityPass::Lowrank)
      throw Error(ErrorKind::Input, c.config + ": a config for pass '" + prune::pass_name(config->pass) +
                                        "' (use it with mcompress " + prune::pass_name(config->pass) + ")");
  } else {
    validate_lowrank_options(o);  // before reading the model: bad flags are reported first
  }
  if (c.model == c.output || same_file(c.model, c.output))
    throw Error(ErrorKind::Input, "lowrank: the output '" + c.output + "' is the input model; write to another file (-o)");

  Model m = load_model_file(c.model);
  const ModelFigures before = measure_model(m, m.source_files);
  LowRankResult res;
  if (config) {
    res.layers = prune::apply_layer_ratios(m, *config).factorized;
    res.mode = "config " + c.config;
  } else {
    res = factorize_low_rank(m, o);
  }
  export_onnx_file(m, c.output, ExportOptions{}, m.source_files);
  const Model written = import_onnx_file(c.output);  // figures after, as a user would read them
  const ModelFigures after = measure_model(written, written.source_files);

  // Fidelity on the bundled runtime: the written model against the input model on
  // seeded random inputs. Non-finite outputs are a gate failure and the output is
  // removed (security.md: silent collapse); a model the runtime cannot run is a warning.
  std::optional<check::FidelityReport> fidelity;
  try {
    check::CheckOptions co;
    co.model = c.output;
    co.reference = c.model;
    co.runs = 1;
    co.warmup = 0;
    co.random_samples = 32;
    fidelity = check::run_check(co).fidelity;
  } catch (const Error& e) {
    spdlog::warn("lowrank: fidelity not measured on the runtime: {}", e.what());
  }
  if (fidelity && !std::isfinite(fidelity->max_abs_error)) {
    std::remove(c.output.c_str());
    throw Error(ErrorKind::Gate, "lowrank: the factorized model gives non-finite outputs on sample inputs; " +
                                     c.output + " was removed");
  }

  if (json) {
    nlohmann::ordered_json j;
    j["model"] = c.model;
    j["output"] = c.output;
    j["mode"] = res.mode;
    if (o.target_params) j["chosen_energy"] = res.chosen_energy;
    auto fig = [](const ModelFigures& f) {
      return nlohmann::ordered_json{{"params", f.params}, {"macs", f.macs}, {"bytes", f.bytes}};
    };
    j["before"] = fig(before);
    j["after"] = fig(after);
    j["factorized"] = res.factorized();
    if (fidelity) {
      j["fidelity"] = {{"inputs", "random"},
                       {"samples", fidelity->samples},
                       {"agreement", fidelity->agreement},
                       {"max_abs_error", fidelity->max_abs_error},
                       {"snr_db", fidelity->snr_db ? nlohmann::ordered_json(*fidelity->snr_db) : nlohmann::ordered_json()}};
    }
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : res.layers) {
      nlohmann::ordered_json x;
      x["node"] = l.node;
      x["op_type"] = l.op_type;
      x["weight"] = l.weight;
      x["scheme"] = l.scheme;
      x["factorized"] = l.factorized;
      if (!l.factorized) x["reason"] = l.reason;
      x["matrix"] = {l.rows, l.cols};
      x["full_rank"] = l.full_rank;
      x["rank"] = l.rank;
      if (l.full_rank_in > 0) {
        x["rank_in"] = l.rank_in;
        x["full_rank_in"] = l.full_rank_in;
      }
      x["energy"] = l.energy;
      x["rel_error"] = l.rel_error;
      x["params_before"] = l.params_before;
      x["params_after"] = l.params_after;
      if (l.macs_known) {
        x["macs_before"] = l.macs_before;
        x["macs_after"] = l.macs_after;
      }
      j["layers"].push_back(std::move(x));
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "  lowrank (" << res.mode << "): factorized " << res.factorized() << " of " << res.layers.size()
            << " layers\n";
  for (const auto& l : res.layers) {
    std::cout << "  " << l.node << " (" << l.op_type;
    if (l.rows > 0) std::cout << ", " << l.rows << "x" << l.cols;
    std::cout << "): ";
    if (l.factorized)
      std::cout << "rank " << l.rank << "/" << l.full_rank
                << (l.full_rank_in > 0 ? " (input " + std::to_string(l.rank_in) + "/" + std::to_string(l.full_rank_in) + ")"
                                       : std::string())
                << ", energy " << fixed(l.energy, 4) << ", error "
                << fixed(l.rel_error, 4) << ", params " << thousands(l.params_before) << " → "
                << thousands(l.params_after) << ", MACs "
                << (l.macs_known ? thousands(l.macs_before) + " → " + thousands(l.macs_after) : std::string("?"))
                << "\n";
    else
      std::cout << "left alone: " << l.reason << "\n";
  }
  std::cout << before_after_line("lowrank", {{"params", before.params, after.params},
                                             {"MACs", before.macs, after.macs},
                                             {"bytes", before.bytes, after.bytes}})
            << "\n";
  if (fidelity)
    std::cout << "fidelity vs " << c.model << " on " << fidelity->samples << " random inputs (runtime): top-1 agreement "
              << fixed(fidelity->agreement, 1) << "%, max abs error " << fidelity->max_abs_error << ", SNR "
              << (fidelity->snr_db ? fixed(*fidelity->snr_db, 1) + " dB" : std::string("inf")) << "\n";
  std::cout << "wrote " << c.output << "\n";
  return 0;
}

}  // namespace

CLI::App* add_lowrank(CLI::App& root, Action* action) {
  auto opts = std::make_shared<LowRankCliOptions>();
  CLI::App* sub = root.add_subcommand(
      "lowrank", "Factorize Gemm/MatMul/Conv layers by truncated SVD where that reduces MACs and params");
  sub->add_option("model", opts->model, "ONNX model to factorize")->required();
  sub->add_option("-o,--output", opts->output, "Where to write the factorized model (default: MODEL.lowrank.onnx next to the model)");
  sub->add_option("--rank-ratio", opts->rank_ratio, "Rank as a fraction of each layer's full rank, in (0, 1]");
  sub->add_option("--energy", opts->energy, "Keep the smallest rank whose sum of squared singular values reaches this fraction, in (0, 1]");
  sub->add_option("--target-params", opts->target_params, "Total parameters the model should have at most");
  sub->add_option("--config", opts->config,
                  "Per-layer rank ratios (JSON from `sensitivity --pass lowrank --auto -o`) instead of one rule");
  sub->add_option("--conv", opts->conv,
                  "Conv scheme: channel (kxk C->r, then 1x1 r->N), spatial (kx1, then 1xk; Jaderberg) or "
                  "tucker2 (1x1 C->r_in, kxk core, 1x1 r_out->N)")
      ->check(CLI::IsMember({"channel", "spatial", "tucker2"}));
  sub->add_option("--exclude", opts->exclude, "Comma-separated node names or op types to leave alone");
  sub->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  sub->footer(
      "Exactly one of --rank-ratio, --energy, --target-params, --config.\n"
      "Example:\n  mcompress lowrank mlp.onnx --energy 0.9 -o mlp.lr.onnx\n"
      "Prints per layer the rank, energy kept and reconstruction error, then\n"
      "'lowrank: params A → B, MACs A → B, bytes A → B'.");
  sub->callback([opts, action]() {
    *action = [opts](const Globals& g) {
      opts->output = output_or_default(opts->output, opts->model, "lowrank", "onnx");
      return run_lowrank(*opts, g);
    };
  });
  return sub;
}

}  // namespace mc::cli
