// mcompress sensitivity: per-layer accuracy against prune ratio (or rank ratio, or bits with
// --pass quantize), measured on the bundled runtime, and with --auto per-layer ratios (bits)
// for a target, written as a config that `prune --config` / `lowrank --config` (`quantize
// --config`) read. Parsing, wiring and printing:
// the sweep and the allocator live in prune/sensitivity.h; the runtime (mc_check) is
// handed to them as the accuracy callback.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
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
#include "quantize/bits_config.h"
#include "quantize/quantize_model.h"
#include "quantize/static_quant.h"
#include "quantize/weight_storage.h"
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
  std::string bits_list, mode;  // --pass quantize
};

// Top-1 of a model on the runtime: the model is cleaned up with the default optimize
// pipeline (as `check` does for ONNX), exported in memory, run in batches of 100.
class RuntimeTop1 {
 public:
  // optimize = false: the model is run as given (quantized IR must not be re-optimized:
  // the runtime file stores its int8/palette weights only as the quantizer wrote them).
  RuntimeTop1(const data::DatasetOptions& d, const Model& m, bool optimize = true) : optimize_(optimize) {
    log_ = spdlog::default_logger()->clone("sensitivity-optimize");
    if (log_->level() > spdlog::level::trace) log_->set_level(spdlog::level::warn);
    check::RuntimeSession s(to_mcrt(m), "model", 1);
    ds_ = std::make_unique<data::Dataset>(data::load_dataset(d, s.input_info().shape));
    if (!ds_->has_labels()) throw Error(ErrorKind::Input, d.data_path + ": sensitivity needs labels (--labels)");
    if (ds_->num_samples() == 0) throw Error(ErrorKind::Input, d.data_path + ": no samples");
  }
  size_t samples() const { return ds_->num_samples(); }
  const data::Dataset& dataset() const { return *ds_; }

  // Top-1 in percent; *bytes (if given) receives the size of the runtime file that was run.
  double operator()(const Model& m, uint64_t* bytes = nullptr) {
    const std::vector<uint8_t> file = to_mcrt(m);
    if (bytes) *bytes = file.size();
    check::RuntimeSession s(file, "model", 1);
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
    if (optimize_) optimize_for_runtime(c, ctx);
    RuntimeExportOptions eo;
    eo.verify = false;  // the session loads and prepares it anyway
    return export_runtime_bytes(c, eo);
  }
  bool optimize_ = true;
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

// ---- --pass quantize -------------------------------------------------------------------
// The model is optimized once (as `quantize` does before it quantizes), and every trial is
// a copy of it with one layer quantized (weight-only / kmeans at each bit width, or static
// int8 with every other layer kept fp32), exported as is and run on the runtime. The bytes
// are those of the runtime file each trial ran as; removed = fp32 file - trial file.

struct QuantTrial {
  int bits = 0;
  double accuracy = 0;
  uint64_t bytes = 0;
  std::string storage;  // what the layer became ("int4 per-channel", "kmeans4 (16 clusters)", "int8 QDQ")
  std::string note;     // non-empty: the layer was left in fp32 (why)
};
struct QuantLayer {
  prune::SensitivityLayer layer;
  std::vector<QuantTrial> trials;  // in the order of the bit list
};

std::vector<int> parse_bits_list(const std::string& s, quant::Mode mode) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string tok; std::getline(ss, tok, ',');) {
    char* end = nullptr;
    const long v = std::strtol(tok.c_str(), &end, 10);
    if (tok.empty() || !end || *end != '\0')
      throw Error(ErrorKind::Input, "--bits-list '" + s + "': '" + tok + "' is not a whole number");
    const bool ok = mode == quant::Mode::Static       ? v == 8
                    : mode == quant::Mode::WeightOnly ? (v == 8 || v == 4)
                                                      : (v >= 2 && v <= 8);
    if (!ok)
      throw Error(ErrorKind::Input, "--bits-list: " + tok + " bits with --mode " + quant::mode_name(mode) +
                                        (mode == quant::Mode::Static       ? " (static int8 has only 8)"
                                         : mode == quant::Mode::WeightOnly ? " (expected 8 or 4)"
                                                                           : " (expected 2 to 8)"));
    out.push_back(static_cast<int>(v));
  }
  if (out.empty() || s.back() == ',') throw Error(ErrorKind::Input, "--bits-list '" + s + "': expected a list like 8,4,2");
  std::sort(out.begin(), out.end(), std::greater<int>());  // growing compression
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int run_quant_sensitivity(const SensArgs& a, const Globals& g) {
  const bool json = a.json || g.json;
  const quant::Mode mode = quant::parse_mode(a.mode.empty() ? "weight-only" : a.mode);
  if (mode != quant::Mode::WeightOnly && mode != quant::Mode::Kmeans && mode != quant::Mode::Static)
    throw Error(ErrorKind::Input, std::string("--mode ") + quant::mode_name(mode) +
                                      ": sensitivity --pass quantize sweeps weight-only, kmeans or static");
  if (!a.ratios.empty() || a.granularity != "unstructured" || a.reconstruct)
    throw Error(ErrorKind::Input, "--ratios, --granularity and --reconstruct are for --pass prune/lowrank; --pass quantize takes --bits-list");
  const std::vector<int> bits = parse_bits_list(
      !a.bits_list.empty() ? a.bits_list : mode == quant::Mode::Static ? "8" : mode == quant::Mode::WeightOnly ? "8,4" : "8,4,2",
      mode);
  std::optional<prune::Target> target;
  if (a.auto_mode) {
    if (mode == quant::Mode::Static)
      throw Error(ErrorKind::Input, "--auto with --mode static: static int8 has one bit width; use weight-only or kmeans");
    if (a.target.empty()) throw Error(ErrorKind::Input, "--auto needs --target size=X");
    target = prune::parse_target(a.target);
    if (target->kind != prune::TargetKind::Size)
      throw Error(ErrorKind::Input, "--target " + a.target + ": --pass quantize changes bytes only; use size=X");
  } else if (!a.target.empty()) {
    throw Error(ErrorKind::Input, "--target needs --auto");
  }
  if (!a.output.empty() && !a.auto_mode) throw Error(ErrorKind::Input, "-o writes the --auto config; add --auto");
  if (a.dataset.labels.empty()) throw Error(ErrorKind::Input, "sensitivity needs --labels for --data");
  if (a.calib_size == 0) throw Error(ErrorKind::Input, "--calib-size must be at least 1");
  const data::DatasetOptions d = to_dataset_options(a.dataset, "sensitivity").value();

  Model model = load_model_file(a.model);
  if (!a.output.empty() && (a.output == a.model || same_file(a.output, a.model)))
    throw Error(ErrorKind::Input, "sensitivity: the output '" + a.output + "' is the input model");
  {
    PassContext ctx;
    auto log = spdlog::default_logger()->clone("sensitivity-optimize");
    if (log->level() > spdlog::level::trace) log->set_level(spdlog::level::warn);
    ctx.log = log;
    optimize_for_runtime(model, ctx);
  }
  RuntimeTop1 top1(d, model, false);
  const auto layers = prune::sensitivity_layers(model);
  if (layers.empty()) throw Error(ErrorKind::Input, a.model + ": the model has no Conv/Gemm/MatMul weight to quantize");
  std::vector<std::string> all_weights;
  for (const auto& l : layers) all_weights.push_back(l.weight);

  quant::WeightStorageOptions wo;  // weight-only / kmeans: seed 0, kmeans++ (deterministic)
  wo.mode = mode == quant::Mode::WeightOnly ? quant::WeightStorageMode::WeightOnly : quant::WeightStorageMode::KMeans;
  // Static: the plan's layer ids, so that every layer but the one measured is kept fp32.
  std::vector<std::string> static_ids;
  std::map<std::string, std::string> weight_to_id;
  if (mode == quant::Mode::Static) {
    const quant::StaticPlan plan = quant::plan_static(model, {});
    for (const auto& lp : plan.layers) static_ids.push_back(lp.node);
    for (size_t i = 0; i < model.graph.nodes.size(); ++i) {
      const Node& n = model.graph.nodes[i];
      if (n.inputs.size() > 1) weight_to_id.emplace(n.inputs[1], n.name.empty() ? "#" + std::to_string(i) : n.name);
    }
  }

  const prune::ProgressFn progress = make_progress(g.verbosity);
  const uint64_t total = 1 + layers.size() * bits.size();
  uint64_t done = 0, base_bytes = 0;
  if (progress) progress(done, total, "baseline");
  const double baseline = top1(model, &base_bytes);
  if (progress) progress(++done, total, "baseline");
  std::vector<QuantLayer> res;
  for (const auto& l : layers) {
    QuantLayer ql;
    ql.layer = l;
    for (int b : bits) {
      QuantTrial t;
      t.bits = b;
      Model copy = model;
      if (mode == quant::Mode::Static) {
        quant::QuantizeOptions qo;
        qo.calib_size = std::min<uint64_t>(a.calib_size, top1.samples());
        const std::string id = weight_to_id.count(l.weight) ? weight_to_id.at(l.weight) : "";
        for (const auto& other : static_ids)
          if (other != id) qo.sq.keep_fp32[other] = "sensitivity: one layer at a time";
        const quant::QuantizeReport rep = quant::quantize_static(copy, top1.dataset(), qo);
        for (const auto& lr : rep.layers)
          if (lr.plan.node == id) {
            if (lr.plan.quantized) t.storage = "int8 QDQ";
            else t.note = lr.plan.reason;
          }
        if (t.storage.empty() && t.note.empty()) t.note = "not in the static plan";
      } else {
        quant::LayerBitsConfig one;
        one.mode = mode;
        one.layers.emplace_back(l.weight, b);
        const quant::WeightStorageReport wr = quant::apply_layer_bits(copy, one, wo);
        for (const auto& lr : wr.layers) {
          if (lr.applied) t.storage = lr.storage;
          else t.note = lr.reason;
        }
      }
      if (t.note.empty()) {
        t.accuracy = top1(copy, &t.bytes);
      } else {
        t.accuracy = baseline;  // left in fp32: the model is unchanged
        t.bytes = base_bytes;
      }
      ql.trials.push_back(t);
      if (progress) progress(++done, total, l.weight + " @ " + std::to_string(b) + " bits");
    }
    res.push_back(std::move(ql));
  }

  // --auto: greedy allocation over (bytes removed, top-1) curves, then one real run.
  std::optional<prune::Allocation> alloc;
  quant::LayerBitsConfig cfg;
  cfg.mode = mode;
  double goal = 0, verified = 0;
  uint64_t verified_bytes = 0;
  if (target) {
    const double base = static_cast<double>(base_bytes);
    goal = target->fraction ? target->value * base : target->value;
    std::vector<prune::LayerCurve> curves;
    for (const auto& ql : res) {
      prune::LayerCurve c;
      c.name = ql.layer.weight;
      for (const auto& t : ql.trials)
        c.points.push_back({static_cast<double>(t.bits), t.accuracy, base - static_cast<double>(t.bytes)});
      curves.push_back(std::move(c));
    }
    alloc = prune::allocate_greedy(curves, baseline, base - goal);
    if (!alloc->reached)
      throw Error(ErrorKind::Input, "--target " + target->text + ": not reachable with the measured bit widths (at best " +
                                        fixed(base - alloc->removed, 0) + " of " + fixed(base, 0) +
                                        " bytes remain; add lower --bits-list)");
    for (size_t l = 0; l < curves.size(); ++l)
      if (alloc->step[l] >= 0)
        cfg.layers.emplace_back(curves[l].name,
                                static_cast<int>(curves[l].points[static_cast<size_t>(alloc->step[l])].ratio));
    Model combo = model;
    quant::apply_layer_bits(combo, cfg, wo);
    verified = top1(combo, &verified_bytes);
    if (!a.output.empty()) write_file_atomic(a.output, quant::bits_config_to_json(cfg), {a.model});
  }

  if (json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["pass"] = "quantize";
    j["mode"] = quant::mode_name(mode);
    j["data"] = a.dataset.data;
    j["samples"] = top1.samples();
    j["baseline_top1"] = baseline;
    j["baseline_bytes"] = base_bytes;
    j["bits"] = bits;
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& ql : res) {
      nlohmann::ordered_json jl{{"layer", ql.layer.layer}, {"weight", ql.layer.weight}, {"op_type", ql.layer.op_type},
                                {"params", ql.layer.params}, {"macs", ql.layer.macs}};
      jl["points"] = nlohmann::ordered_json::array();
      for (const auto& t : ql.trials) {
        nlohmann::ordered_json jp{{"bits", t.bits},
                                  {"top1", t.accuracy},
                                  {"delta", t.accuracy - baseline},
                                  {"bytes", t.bytes},
                                  {"removed_bytes", static_cast<int64_t>(base_bytes) - static_cast<int64_t>(t.bytes)}};
        if (!t.storage.empty()) jp["storage"] = t.storage;
        if (!t.note.empty()) jp["note"] = t.note;
        jl["points"].push_back(jp);
      }
      j["layers"].push_back(jl);
    }
    if (alloc) {
      nlohmann::ordered_json ja{{"target", target->text},
                                {"base", base_bytes},
                                {"goal_remaining", goal},
                                {"predicted_top1", alloc->predicted_accuracy},
                                {"measured_top1", verified},
                                {"measured_delta", verified - baseline},
                                {"bytes", verified_bytes}};
      ja["config"] = nlohmann::ordered_json::parse(quant::bits_config_to_json(cfg));
      if (!a.output.empty()) ja["written"] = a.output;
      j["auto"] = ja;
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "sensitivity " << a.model << ": quantize (" << quant::mode_name(mode) << "), top-1 on " << top1.samples()
            << " samples of " << a.dataset.data << "\n";
  std::cout << "baseline top-1 " << fixed(baseline, 2) << "%, runtime file " << base_bytes << " bytes\n";
  size_t w = 8;
  for (const auto& ql : res) w = std::max(w, ql.layer.weight.size() + 2);
  std::cout << pad("layer", w) << pad("params", 10);
  for (int b : bits) std::cout << pad(std::to_string(b) + " bits", 17);
  std::cout << "\n";
  for (const auto& ql : res) {
    std::cout << pad(ql.layer.weight, w) << pad(std::to_string(ql.layer.params), 10);
    for (const auto& t : ql.trials)
      std::cout << pad(t.note.empty() ? fixed(t.accuracy, 2) + " (" + signed_fixed(t.accuracy - baseline, 2) + ")"
                                      : std::string("fp32 kept"),
                       17);
    std::cout << "\n";
  }
  if (alloc) {
    std::cout << "auto --target " << target->text << ": at most " << fixed(goal, 0) << " of " << base_bytes
              << " bytes remain\n";
    for (const auto& [name, b] : cfg.layers) std::cout << "  " << pad(name, w) << b << " bits\n";
    std::cout << "  runtime file " << verified_bytes << " bytes ("
              << fixed(base_bytes ? static_cast<double>(verified_bytes) / static_cast<double>(base_bytes) : 0, 3) << "x)\n";
    std::cout << "  top-1 predicted " << fixed(alloc->predicted_accuracy, 2) << "%, measured " << fixed(verified, 2) << "% ("
              << signed_fixed(verified - baseline, 2) << " vs baseline)\n";
    if (!a.output.empty()) std::cout << "wrote " << a.output << "\n";
  }
  return 0;
}

int run_sensitivity(const SensArgs& a, const Globals& g) {
  if (a.pass != "prune" && a.pass != "lowrank" && a.pass != "quantize")
    throw Error(ErrorKind::Input, "--pass '" + a.pass + "': expected prune, lowrank or quantize");
  if (a.pass == "quantize") return run_quant_sensitivity(a, g);
  if (!a.bits_list.empty() || !a.mode.empty())
    throw Error(ErrorKind::Input, "--bits-list and --mode are for --pass quantize");
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
      "sensitivity",
      "Per-layer accuracy against prune ratio (or rank ratio, or quantization bits) on the runtime; --auto picks ratios");
  sub->add_option("model", a->model, "ONNX model")->required();
  add_data_options(*sub, a->dataset, DataRequirement::Required, "Use only the first N samples (default all)");
  sub->add_option("--pass", a->pass, "prune (default), lowrank or quantize");
  sub->add_option("--bits-list", a->bits_list,
                  "--pass quantize: comma-separated bit widths (weight-only 8,4; kmeans 2..8; static 8); default "
                  "weight-only 8,4, kmeans 8,4,2, static 8");
  sub->add_option("--mode", a->mode, "--pass quantize: weight-only (default), kmeans or static (int8 QDQ)");
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
  sub->add_option("--calib-size", a->calib_size,
                  "Samples of --data used by --reconstruct, or to calibrate --pass quantize --mode static (default 2000)");
  sub->add_flag("--json", a->json, "Print the result as JSON on stdout");
  sub->footer(
      "Examples:\n"
      "  mcompress sensitivity mlp.onnx --data train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\\n"
      "      --mean 0.2860 --std 0.3530 --limit 2000\n"
      "  mcompress sensitivity mlp.onnx --data ... --labels ... --auto --target params=0.3 -o mlp.ratios.json\n"
      "  mcompress prune mlp.onnx --config mlp.ratios.json -o mlp.pruned.onnx\n"
      "  mcompress sensitivity mlp.onnx --data ... --labels ... --pass quantize --mode kmeans --auto \\\n"
      "      --target size=0.2 -o mlp.bits.json\n"
      "  mcompress quantize mlp.onnx --mode kmeans --config mlp.bits.json --format runtime -o mlp.mcrt\n"
      "Choose ratios on training data, then judge the result on the test set with `check`.");
  sub->callback([a, action]() { *action = [a](const Globals& g) { return run_sensitivity(*a, g); }; });
  return sub;
}

}  // namespace mc::cli
