// Per-layer sensitivity sweep, greedy allocation and per-layer application: see sensitivity.h.
#include "prune/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "prune/prunable_layers.h"

namespace mc::prune {
namespace {

bool is_weight_op(const Node& n) {
  return n.is_default_domain() && (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul");
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// Gives every unnamed Conv/Gemm/MatMul the name the prune library reports for it, so
// that --exclude can name it; undone by ~TempNames (by name, since node lists change).
struct TempNames {
  Model& m;
  std::set<std::string> given;
  explicit TempNames(Model& model) : m(model) {
    for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
      Node& n = m.graph.nodes[i];
      if (n.name.empty() && is_weight_op(n)) {
        n.name = layer_name(n, i);
        given.insert(n.name);
      }
    }
  }
  ~TempNames() {
    for (Node& n : m.graph.nodes)
      if (given.count(n.name)) n.name.clear();
  }
};

// Names of every Conv/Gemm/MatMul except the readers of `weight`.
std::vector<std::string> exclude_all_but(const Graph& g, const std::string& weight) {
  std::vector<std::string> ex;
  for (const Node& n : g.nodes)
    if (is_weight_op(n) && !n.name.empty() && !(n.inputs.size() > 1 && n.inputs[1] == weight)) ex.push_back(n.name);
  return ex;
}

// Prunes (or factorizes) the one layer reading `weight`. Names must be set (TempNames).
void apply_one(Model& m, SensitivityPass pass, Granularity gran, const std::string& weight, double ratio,
               ApplyResult* out) {
  if (pass == SensitivityPass::Prune) {
    PruneOptions po;
    po.granularity = gran;
    po.scope = Scope::Layer;
    po.ratio = ratio;
    po.exclude = exclude_all_but(m.graph, weight);
    PruneResult r = prune_model(m, po);
    if (out)
      for (auto& [k, v] : r.kept_outputs) out->kept_outputs[k] = v;
    for (auto& l : r.layers) {
      if (out) {
        out->lines.push_back(l.layer + " (" + l.op_type + "): ratio " + fmt(ratio) + ", " + std::to_string(l.pruned) +
                             "/" + std::to_string(l.total) + (gran == Granularity::Channel ? " channels removed" : " zero"));
        out->pruned.push_back(l);
      }
    }
    return;
  }
  LowRankOptions lo;
  lo.rank_ratio = ratio;
  lo.exclude = exclude_all_but(m.graph, weight);
  const LowRankResult r = factorize_low_rank(m, lo);
  for (const auto& l : r.layers) {
    if (l.weight != weight || !out) continue;
    out->lines.push_back(l.node + " (" + l.op_type + "): rank ratio " + fmt(ratio) + ", " +
                         (l.factorized ? "rank " + std::to_string(l.rank) + "/" + std::to_string(l.full_rank) +
                                             ", params " + std::to_string(l.params_before) + " → " +
                                             std::to_string(l.params_after)
                                       : "not factorized: " + l.reason));
    out->factorized.push_back(l);
  }
}

double metric(const Removed& r, TargetKind k) {
  return k == TargetKind::Params ? r.params : k == TargetKind::Macs ? r.macs : r.bytes;
}

}  // namespace

SensitivityPass parse_sensitivity_pass(const std::string& s) {
  if (s == "prune") return SensitivityPass::Prune;
  if (s == "lowrank") return SensitivityPass::Lowrank;
  throw Error(ErrorKind::Input, "--pass '" + s + "': expected prune or lowrank");
}

const char* pass_name(SensitivityPass p) { return p == SensitivityPass::Prune ? "prune" : "lowrank"; }

const char* granularity_name(Granularity g) {
  return g == Granularity::Unstructured ? "unstructured"
         : g == Granularity::Channel    ? "channel"
         : g == Granularity::Block      ? "block"
                                        : "n:m";
}

std::vector<SensitivityLayer> sensitivity_layers(const Model& m) {
  const ModelStats st = compute_stats(m);
  std::vector<SensitivityLayer> out;
  for (const PrunableWeight& p : find_prunable_weights(m, {}, nullptr)) {
    SensitivityLayer l;
    l.layer = p.layer;
    l.weight = p.weight;
    l.op_type = p.op_type;
    l.params = m.graph.initializer(p.weight)->numel();
    if (p.node < st.layers.size()) l.macs = st.layers[p.node].macs;
    out.push_back(l);
  }
  return out;
}

ApplyResult apply_layer_ratios(Model& m, const LayerRatioConfig& c) {
  if (c.pass == SensitivityPass::Prune && c.granularity != Granularity::Unstructured &&
      c.granularity != Granularity::Channel)
    throw Error(ErrorKind::Input, "config: per-layer ratios need granularity unstructured or channel");
  const auto layers = sensitivity_layers(m);
  // Resolve every key before changing anything: a bad config leaves the model as it was.
  std::vector<std::pair<std::string, double>> todo;  // weight → ratio
  std::set<std::string> seen;
  for (const auto& [key, ratio] : c.layers) {
    auto it = std::find_if(layers.begin(), layers.end(),
                           [&](const SensitivityLayer& l) { return l.weight == key || l.layer == key; });
    if (it == layers.end()) {
      std::string known;
      for (const auto& l : layers) known += (known.empty() ? "" : ", ") + l.weight;
      throw Error(ErrorKind::Input, "config: '" + key + "' names no prunable layer (known: " + known + ")");
    }
    if (!seen.insert(it->weight).second)
      throw Error(ErrorKind::Input, "config: layer '" + it->weight + "' is named twice");
    todo.emplace_back(it->weight, ratio);
  }
  ApplyResult out;
  TempNames names(m);
  for (const auto& [weight, ratio] : todo) apply_one(m, c.pass, c.granularity, weight, ratio, &out);
  return out;
}

Removed measure_removed(const Model& before, const Model& after, const std::vector<SensitivityLayer>& layers,
                        SensitivityPass pass, Granularity granularity) {
  Removed r;
  if (pass == SensitivityPass::Prune && granularity == Granularity::Unstructured) {
    for (const auto& l : layers) {
      const Tensor* a = before.graph.initializer(l.weight);
      const Tensor* b = after.graph.initializer(l.weight);
      if (!a || !b || a->numel() == 0) continue;
      const double z = static_cast<double>(count_zeros(*b)) - static_cast<double>(count_zeros(*a));
      r.params += z;
      r.macs += static_cast<double>(l.macs) * z / static_cast<double>(a->numel());
      r.bytes += 4.0 * z;
    }
    return r;
  }
  const ModelStats a = compute_stats(before), b = compute_stats(after);
  r.params = static_cast<double>(a.params - a.zero_weights) - static_cast<double>(b.params - b.zero_weights);
  r.macs = static_cast<double>(a.macs) - static_cast<double>(b.macs);
  r.bytes = static_cast<double>(a.weight_bytes) - static_cast<double>(b.weight_bytes);
  return r;
}

Target parse_target(const std::string& s) {
  const auto bad = [&](const std::string& why) -> Error {
    return Error(ErrorKind::Input, "--target '" + s + "': " + why + " (expected params=X, macs=X or size=X)");
  };
  const auto eq = s.find('=');
  if (eq == std::string::npos) throw bad("no '='");
  Target t;
  t.text = s;
  const std::string k = s.substr(0, eq), v = s.substr(eq + 1);
  if (k == "params") t.kind = TargetKind::Params;
  else if (k == "macs") t.kind = TargetKind::Macs;
  else if (k == "size") t.kind = TargetKind::Size;
  else throw bad("unknown quantity '" + k + "'");
  char* end = nullptr;
  t.value = std::strtod(v.c_str(), &end);
  if (v.empty() || !end || *end != '\0' || !std::isfinite(t.value)) throw bad("'" + v + "' is not a number");
  if (t.value <= 0) throw bad("must be > 0");
  t.fraction = t.value < 1.0;
  if (!t.fraction && t.value != std::floor(t.value)) throw bad("a count (>= 1) must be a whole number");
  return t;
}

std::vector<double> parse_ratio_list(const std::string& s, SensitivityPass pass) {
  std::vector<double> out;
  std::stringstream ss(s);
  for (std::string tok; std::getline(ss, tok, ',');) {
    char* end = nullptr;
    const double v = std::strtod(tok.c_str(), &end);
    if (tok.empty() || !end || *end != '\0' || !std::isfinite(v))
      throw Error(ErrorKind::Input, "--ratios '" + s + "': '" + tok + "' is not a number");
    if (pass == SensitivityPass::Prune && (v < 0.0 || v >= 1.0))
      throw Error(ErrorKind::Input, "--ratios: " + tok + " is outside [0, 1)");
    if (pass == SensitivityPass::Lowrank && (v <= 0.0 || v > 1.0))
      throw Error(ErrorKind::Input, "--ratios: rank ratio " + tok + " is outside (0, 1]");
    out.push_back(v);
  }
  if (out.empty() || s.back() == ',') throw Error(ErrorKind::Input, "--ratios '" + s + "': expected a list like 0.1,0.5,0.9");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Allocation allocate_greedy(const std::vector<LayerCurve>& curves, double baseline, double needed) {
  Allocation a;
  a.step.assign(curves.size(), -1);
  a.predicted_accuracy = baseline;
  auto removed_at = [&](size_t l, int j) { return j < 0 ? 0.0 : curves[l].points[static_cast<size_t>(j)].removed; };
  auto acc_at = [&](size_t l, int j) { return j < 0 ? baseline : curves[l].points[static_cast<size_t>(j)].accuracy; };
  while (a.removed < needed) {
    size_t best_l = curves.size();
    int best_j = -1;
    double best_cost = std::numeric_limits<double>::infinity(), best_gain = 0;
    for (size_t l = 0; l < curves.size(); ++l) {
      // The next point that removes more than the current one.
      int j = a.step[l] + 1;
      while (j < static_cast<int>(curves[l].points.size()) && removed_at(l, j) <= removed_at(l, a.step[l])) ++j;
      if (j >= static_cast<int>(curves[l].points.size())) continue;
      const double gain = removed_at(l, j) - removed_at(l, a.step[l]);
      const double cost = (acc_at(l, a.step[l]) - acc_at(l, j)) / gain;
      if (cost < best_cost || (cost == best_cost && gain > best_gain)) {
        best_cost = cost;
        best_gain = gain;
        best_l = l;
        best_j = j;
      }
    }
    if (best_l == curves.size()) break;  // every layer is at its last point
    if (a.removed + best_gain >= needed) {
      // This step would complete the target. Of all single moves that complete it (one
      // layer up to any later point, this step included), take the one that loses
      // least: a big layer's costly point must not overshoot when a cheap one suffices.
      size_t fin_l = curves.size();
      int fin_j = -1;
      double fin_loss = std::numeric_limits<double>::infinity(), fin_gain = 0;
      for (size_t l = 0; l < curves.size(); ++l)
        for (int j = a.step[l] + 1; j < static_cast<int>(curves[l].points.size()); ++j) {
          const double gain = removed_at(l, j) - removed_at(l, a.step[l]);
          if (a.removed + gain < needed) continue;
          const double loss = acc_at(l, a.step[l]) - acc_at(l, j);
          if (loss < fin_loss || (loss == fin_loss && gain > fin_gain)) {
            fin_loss = loss;
            fin_gain = gain;
            fin_l = l;
            fin_j = j;
          }
        }
      best_l = fin_l;
      best_j = fin_j;
      best_gain = fin_gain;
    }
    a.predicted_accuracy -= acc_at(best_l, a.step[best_l]) - acc_at(best_l, best_j);
    a.removed += best_gain;
    a.step[best_l] = best_j;
  }
  a.reached = a.removed >= needed;
  return a;
}

SensitivityResult measure_sensitivity(const Model& m, const SensitivityOptions& o, const AccuracyFn& accuracy,
                                      const ProgressFn& progress) {
  if (o.pass == SensitivityPass::Prune && o.granularity != Granularity::Unstructured &&
      o.granularity != Granularity::Channel)
    throw Error(ErrorKind::Input, "--granularity: sensitivity sweeps unstructured or channel");
  if (o.ratios.empty()) throw Error(ErrorKind::Input, "--ratios: empty");
  SensitivityResult r;
  const auto layers = sensitivity_layers(m);
  if (layers.empty()) throw Error(ErrorKind::Input, "the model has no prunable Conv/Gemm/MatMul weight");
  const ModelStats st = compute_stats(m);
  for (const auto& l : layers) r.base_params += l.params;
  r.base_macs = st.macs;
  r.base_bytes = st.weight_bytes;
  const uint64_t total = 1 + layers.size() * o.ratios.size();
  uint64_t done = 0;
  if (progress) progress(done, total, "baseline");
  r.baseline = accuracy(m);
  if (progress) progress(++done, total, "baseline");
  for (const auto& l : layers) {
    LayerSensitivity ls;
    ls.layer = l;
    for (double ratio : o.ratios) {
      Trial t;
      t.ratio = ratio;
      Model copy = m;
      ApplyResult ar;
      {
        TempNames names(copy);
        apply_one(copy, o.pass, o.granularity, l.weight, ratio, &ar);
      }
      if (o.pass == SensitivityPass::Lowrank)
        for (const auto& f : ar.factorized)
          if (!f.factorized) t.note = "not factorized: " + f.reason;
      // What the pruning removed, measured before any re-fit: a re-fit can zero more weights
      // (inputs that are 0 on every calibration sample), in every layer after this one, and
      // counting those per trial would count them once per trial in the allocation.
      t.removed = measure_removed(m, copy, layers, o.pass, o.granularity);
      if (o.refit && o.pass == SensitivityPass::Prune) o.refit(copy, m, ar.kept_outputs);
      t.accuracy = t.note.empty() ? accuracy(copy) : r.baseline;  // unchanged model: no need to run it
      ls.trials.push_back(t);
      if (progress) progress(++done, total, l.weight + " @ " + fmt(ratio));
    }
    r.layers.push_back(std::move(ls));
  }
  return r;
}

AutoResult choose_ratios(const Model& m, const SensitivityResult& s, const SensitivityOptions& o, const Target& t,
                         const AccuracyFn& accuracy) {
  AutoResult a;
  a.target = t;
  a.base = t.kind == TargetKind::Params ? static_cast<double>(s.base_params)
           : t.kind == TargetKind::Macs ? static_cast<double>(s.base_macs)
                                        : static_cast<double>(s.base_bytes);
  a.goal_remaining = t.fraction ? t.value * a.base : t.value;
  const double needed = a.base - a.goal_remaining;
  std::vector<LayerCurve> curves;
  for (const auto& ls : s.layers) {
    LayerCurve c;
    c.name = ls.layer.weight;
    // Growing compression: prune ratios ascending, rank ratios descending.
    std::vector<Trial> trials = ls.trials;
    std::sort(trials.begin(), trials.end(), [&](const Trial& x, const Trial& y) {
      return o.pass == SensitivityPass::Prune ? x.ratio < y.ratio : x.ratio > y.ratio;
    });
    for (const auto& tr : trials) c.points.push_back({tr.ratio, tr.accuracy, metric(tr.removed, t.kind)});
    curves.push_back(std::move(c));
  }
  a.allocation = allocate_greedy(curves, s.baseline, needed);
  if (!a.allocation.reached) {
    throw Error(ErrorKind::Input, "--target " + t.text + ": not reachable with the measured ratios (at most " +
                                      fmt(a.base - a.allocation.removed) + " of " + fmt(a.base) +
                                      " remain at the highest ratios; add higher --ratios)");
  }
  a.config.pass = o.pass;
  a.config.granularity = o.granularity;
  for (size_t l = 0; l < curves.size(); ++l)
    if (a.allocation.step[l] >= 0)
      a.config.layers.emplace_back(curves[l].name, curves[l].points[static_cast<size_t>(a.allocation.step[l])].ratio);
  Model combo = m;
  const ApplyResult applied = apply_layer_ratios(combo, a.config);
  if (o.refit && o.pass == SensitivityPass::Prune) o.refit(combo, m, applied.kept_outputs);
  std::vector<SensitivityLayer> layers;
  for (const auto& ls : s.layers) layers.push_back(ls.layer);
  a.verified_removed = measure_removed(m, combo, layers, o.pass, o.granularity);
  a.verified_accuracy = accuracy(combo);
  return a;
}

}  // namespace mc::prune
