// mcompress sensitivity: per-layer accuracy against prune ratio (or rank ratio), measured
// on the bundled runtime, and with --auto per-layer ratios for a target, written as a
// config that `prune --config` / `lowrank --config` read. Parsing, wiring and printing:
// the sweep and the allocator live in prune/sensitivity.h; the runtime (mc_check) is
// handed to them as the accuracy callback.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/runtime_activations.h"
#include "cli/text_format.h"
#include "compress/data/dataset.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "prune/reconstruct.h"
#include "prune/sensitivity.h"
#include "runtime-check/check/runtime_session.h"

namespace mc::cli {
namespace {

struct SensArgs {
  std::string model, output;
  DataArgs dataset;
  std::string pass = "prune", granularity = "unstructured", ratios, target;
  bool auto_mode = false, json = false;
  bool reconstruct = false;  // re-fit every trial on the first calib_size samples of --data
  uint64_t calib_size = 2000;
};

// Top-1 of a model on the runtime: the model is cleaned up with the default optimize
// pipeline (as `check` does for ONNX), exported in memory, run in batches of 100.
class RuntimeTop1 {
 public:
  RuntimeTop1(const data::DatasetOptions& d, const Model& m) {
    log_ = spdlog::default_logger()->clone("sensitivity-optimize");
    if (log_->level() > spdlog::level::trace) log_->set_level(spdlog::level::warn);
    check::RuntimeSession s(to_mcrt(m), "model", 1);
    ds_ = std::make_unique<data::Dataset>(data::load_dataset(d, s.input_info().shape));
    if (!ds_->has_labels()) throw Error(ErrorKind::Input, d.data_path + ": sensitivity needs labels (--labels)");
    if (ds_->num_samples() == 0) throw Error(ErrorKind::Input, d.data_path + ": no samples");
  }
  size_t samples() const { return ds_->num_samples(); }

  double operator()(const Model& m) {
    check::RuntimeSession s(to_mcrt(m), "model", 1);
    const uint64_t classes = s.output_sample_elems();
    uint64_t correct = 0;
    for (size_t start = 0; start < ds_->num_samples(); start += 100) {
      const data::Batch b = ds_->batch(start, 100);
      const std::vector<float> y = s.run_f32(b.data, b.size);
      if (y.size() != b.size * classes) throw Error(ErrorKind::Input, "output 0 is not one score row per sample");
      for (size_t i = 0; i < b.size; ++i) {
        const float* row = y.data() + i * classes;
        size_t best = 0;
        for (size_t c = 1; c < classes; ++c)
          if (row[c] > row[best]) best = c;
        if (static_cast<int64_t>(best) == b.labels[i]) ++correct;
      }
    }
    return 100.0 * static_cast<double>(correct) / static_cast<double>(ds_->num_samples());
  }

 private:
  std::vector<uint8_t> to_mcrt(const Model& m) {
    Model c = m;
    PassContext ctx;
    ctx.log = log_;
    optimize_for_runtime(c, ctx);
    RuntimeExportOptions eo;
    eo.verify = false;  // the session loads and prepares it anyway
    return export_runtime_bytes(c, eo);
  }
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<data::Dataset> ds_;
};

// A bar on stderr when it is a terminal; otherwise one line per step at -v.
prune::ProgressFn make_progress(int verbosity) {
  const bool tty = isatty(STDERR_FILENO) != 0 && verbosity >= 0;
  return [tty](uint64_t done, uint64_t total, const std::string& what) {
    if (tty) {
      const int width = 30;
      const int filled = total ? static_cast<int>(width * done / total) : width;
      std::fprintf(stderr, "\r\033[Ksensitivity [%s%s] %llu/%llu %s", std::string(static_cast<size_t>(filled), '#').c_str(),
                   std::string(static_cast<size_t>(width - filled), ' ').c_str(), static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), what.c_str());
      if (done == total) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else if (done > 0) {
      spdlog::debug("sensitivity: {}/{} {}", done, total, what);
    }
  };
}

const char* unit_of(prune::TargetKind k) {
  return k == prune::TargetKind::Params ? "params" : k == prune::TargetKind::Macs ? "MACs" : "bytes";
}

int run_sensitivity(const SensArgs& a, const Globals& g) {
  const bool json = a.json || g.json;
  prune::SensitivityOptions so;
  so.pass = prune::parse_sensitivity_pass(a.pass);
  if (so.pass == prune::SensitivityPass::Prune) {
    int64_t n = 0, m = 0;
    so.granularity = prune::parse_granularity(a.granularity, &n, &m);
    if (so.granularity == prune::Granularity::NM || so.granularity == prune::Granularity::Block)
      throw Error(ErrorKind::Input, "--granularity " + a.granularity + ": sensitivity sweeps unstructured or channel");
  }
  // The table's default is coarse; --auto needs a finer grid to land near the target.
  const std::string default_ratios =
      a.auto_mode ? "0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95"
                  : "0.1,0.3,0.5,0.7,0.9";
  so.ratios = prune::parse_ratio_list(a.ratios.empty() ? default_ratios : a.ratios, so.pass);
  std::optional<prune::Target> target;
  if (a.auto_mode) {
    if (a.target.empty()) throw Error(ErrorKind::Input, "--auto needs --target params=X, macs=X or size=X");
    target = prune::parse_target(a.target);
  } else if (!a.target.empty()) {
    throw Error(ErrorKind::Input, "--target needs --auto");
  }
  if (!a.output.empty() && !a.auto_mode) throw Error(ErrorKind::Input, "-o writes the --auto config; add --auto");
  if (a.dataset.labels.empty()) throw Error(ErrorKind::Input, "sensitivity needs --labels for --data");
  const data::DatasetOptions d = to_dataset_options(a.dataset, "sensitivity").value();  // --data is required

  const Model model = load_model_file(a.model);
  if (!a.output.empty() && (a.output == a.model || same_file(a.output, a.model)))
    throw Error(ErrorKind::Input, "sensitivity: the output '" + a.output + "' is the input model");
  RuntimeTop1 top1(d, model);
  if (a.reconstruct && so.pass != prune::SensitivityPass::Prune)
    throw Error(ErrorKind::Input, "--reconstruct applies to --pass prune");
  if (a.calib_size == 0) throw Error(ErrorKind::Input, "--calib-size must be at least 1");
  std::unique_ptr<RuntimeActivations> calib;
  if (a.reconstruct) {
    data::DatasetOptions cd = d;
    cd.labels_path.clear();
    cd.max_samples = d.max_samples ? std::min<uint64_t>(d.max_samples, a.calib_size) : a.calib_size;
    calib = std::make_unique<RuntimeActivations>(cd, model);
    so.refit = [&calib](Model& pruned, const Model& dense, const std::map<std::string, std::vector<int64_t>>& kept) {
      prune::ReconstructOptions ro;
      ro.samples = calib->samples();
      prune::reconstruct_pruned_layers(pruned, dense, kept, calib->fn(), ro);
    };
  }
  const prune::AccuracyFn acc = [&top1](const Model& m) { return top1(m); };
  const prune::SensitivityResult res = prune::measure_sensitivity(model, so, acc, make_progress(g.verbosity));
  std::optional<prune::AutoResult> au;
  if (target) au = prune::choose_ratios(model, res, so, *target, acc);
  if (au && !a.output.empty()) write_file_atomic(a.output, prune::config_to_json(au->config), {a.model});

  const std::string what = so.pass == prune::SensitivityPass::Prune
                               ? std::string("prune (") + prune::granularity_name(so.granularity) + ")"
                               : std::string("lowrank (rank ratio)");
  if (json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["pass"] = prune::pass_name(so.pass);
    if (so.pass == prune::SensitivityPass::Prune) j["granularity"] = prune::granularity_name(so.granularity);
    j["data"] = a.dataset.data;
    j["samples"] = top1.samples();
    j["baseline_top1"] = res.baseline;
    j["ratios"] = so.ratios;
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& ls : res.layers) {
      nlohmann::ordered_json jl{{"layer", ls.layer.layer}, {"weight", ls.layer.weight}, {"op_type", ls.layer.op_type},
                                {"params", ls.layer.params}, {"macs", ls.layer.macs}};
      jl["points"] = nlohmann::ordered_json::array();
      for (const auto& t : ls.trials) {
        nlohmann::ordered_json jp{{"ratio", t.ratio},
                                  {"top1", t.accuracy},
                                  {"delta", t.accuracy - res.baseline},
                                  {"removed_params", t.removed.params},
                                  {"removed_macs", t.removed.macs},
                                  {"removed_bytes", t.removed.bytes}};
        if (!t.note.empty()) jp["note"] = t.note;
        jl["points"].push_back(jp);
      }
      j["layers"].push_back(jl);
    }
    if (au) {
      nlohmann::ordered_json ja{{"target", au->target.text},   {"base", au->base},
                                {"goal_remaining", au->goal_remaining},
                                {"predicted_top1", au->allocation.predicted_accuracy},
                                {"measured_top1", au->verified_accuracy},
                                {"measured_delta", au->verified_accuracy - res.baseline},
                                {"removed_params", au->verified_removed.params},
                                {"removed_macs", au->verified_removed.macs},
                                {"removed_bytes", au->verified_removed.bytes}};
      ja["config"] = nlohmann::ordered_json::parse(prune::config_to_json(au->config));
      if (!a.output.empty()) ja["written"] = a.output;
      j["auto"] = ja;
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }

  std::cout << "sensitivity " << a.model << ": " << what << ", top-1 on " << top1.samples() << " samples of " << a.dataset.data
            << "\n";
  std::cout << "baseline top-1 " << fixed(res.baseline, 2) << "%\n";
  size_t w = 8;
  for (const auto& ls : res.layers) w = std::max(w, ls.layer.weight.size() + 2);
  std::cout << pad("layer", w) << pad("params", 10);
  for (double r : so.ratios) std::cout << pad((so.pass == prune::SensitivityPass::Prune ? "" : "rank ") + num(r), 17);
  std::cout << "\n";
  for (const auto& ls : res.layers) {
    std::cout << pad(ls.layer.weight, w) << pad(std::to_string(ls.layer.params), 10);
    for (const auto& t : ls.trials)
      std::cout << pad(t.note.empty() ? fixed(t.accuracy, 2) + " (" + signed_fixed(t.accuracy - res.baseline, 2) + ")"
                                      : std::string("not cheaper"),
                       17);
    std::cout << "\n";
  }
  if (au) {
    const prune::TargetKind k = au->target.kind;
    const double removed = k == prune::TargetKind::Params ? au->verified_removed.params
                           : k == prune::TargetKind::Macs ? au->verified_removed.macs
                                                          : au->verified_removed.bytes;
    std::cout << "auto --target " << au->target.text << ": at most " << fixed(au->goal_remaining, 0) << " of "
              << fixed(au->base, 0) << " " << unit_of(k) << " remain\n";
    for (const auto& [name, r] : au->config.layers)
      std::cout << "  " << pad(name, w) << (so.pass == prune::SensitivityPass::Prune ? "ratio " : "rank ratio ")
                << num(r) << "\n";
    std::cout << "  remaining " << fixed(au->base - removed, 0) << " " << unit_of(k) << " ("
              << fixed(au->base > 0 ? (au->base - removed) / au->base : 0, 3) << "x)\n";
    std::cout << "  top-1 predicted " << fixed(au->allocation.predicted_accuracy, 2) << "%, measured "
              << fixed(au->verified_accuracy, 2) << "% (" << signed_fixed(au->verified_accuracy - res.baseline, 2)
              << " vs baseline)\n";
    if (!a.output.empty()) std::cout << "wrote " << a.output << "\n";
  }
  return 0;
}

}  // namespace

CLI::App* add_sensitivity(CLI::App& root, Action* action) {
  auto a = std::make_shared<SensArgs>();
  CLI::App* sub = root.add_subcommand(
      "sensitivity", "Per-layer accuracy against prune ratio (or rank ratio) on the runtime; --auto picks ratios");
  sub->add_option("model", a->model, "ONNX model")->required();
  add_data_options(*sub, a->dataset, DataRequirement::Required, "Use only the first N samples (default all)");
  sub->add_option("--pass", a->pass, "prune (default) or lowrank");
  sub->add_option("--granularity", a->granularity, "unstructured (default) or channel (pass prune)");
  sub->add_option("--ratios", a->ratios,
                  "Comma-separated ratios (prune: in [0, 1); lowrank: rank ratios in (0, 1]); default "
                  "0.1,0.3,0.5,0.7,0.9, with --auto 0.05 to 0.95 by 0.05");
  sub->add_flag("--auto", a->auto_mode, "Choose per-layer ratios that reach --target with the least measured loss");
  sub->add_option("--target", a->target,
                  "params=X, macs=X or size=X: X < 1 a fraction of the original, X >= 1 an absolute count");
  sub->add_option("-o,--output", a->output, "Write the --auto config (JSON) here, for prune/lowrank --config");
  sub->add_flag("--reconstruct", a->reconstruct,
                "Re-fit each pruned trial by least squares on the first --calib-size samples of --data (as prune "
                "--calib-data does), so the curves and --auto account for it");
  sub->add_option("--calib-size", a->calib_size, "Samples of --data used by --reconstruct (default 2000)");
  sub->add_flag("--json", a->json, "Print the result as JSON on stdout");
  sub->footer(
      "Examples:\n"
      "  mcompress sensitivity mlp.onnx --data train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\\n"
      "      --mean 0.2860 --std 0.3530 --limit 2000\n"
      "  mcompress sensitivity mlp.onnx --data ... --labels ... --auto --target params=0.3 -o mlp.ratios.json\n"
      "  mcompress prune mlp.onnx --config mlp.ratios.json -o mlp.pruned.onnx\n"
      "Choose ratios on training data, then judge the result on the test set with `check`.");
  sub->callback([a, action]() { *action = [a](const Globals& g) { return run_sensitivity(*a, g); }; });
  return sub;
}

}  // namespace mc::cli
