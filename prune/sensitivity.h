// Per-layer sensitivity and automatic per-layer ratios (issue 5, item 5).
//
// How it works:
//  1. The layers: the prunable Conv/Gemm/MatMul weights (prunable_layers.h), the same
//     for both passes. A layer is named in configs by its weight initializer (e.g.
//     "fc1.weight"); its node name is accepted too.
//  2. The sweep (measure_sensitivity): for every layer and every ratio, a copy of the
//     model has only that layer pruned at the ratio (or, for --pass lowrank, only that
//     layer factorized at the rank ratio), and the caller's accuracy callback measures
//     it. prune/ may not depend on the runtime (architecture.md), so the measurement
//     is the callback's business (cli/sensitivity.cpp runs it on the runtime). Every
//     trial also records what it removed: nonzero parameters, MACs and weight bytes.
//     Unstructured: params = new zeros in the weight, MACs = the layer's MACs times the
//     fraction of its weights zeroed (what a sparse kernel skips), bytes = 4 per zero.
//     Channel and low-rank: the difference of compute_stats() before and after
//     (nonzero initializer elements, MACs, initializer bytes).
//  3. The allocation (allocate_greedy): each layer's trials form a curve of (removed,
//     accuracy) points in order of growing compression, starting at (0, baseline).
//     Repeatedly, the layer whose next point costs the least accuracy per unit removed
//     ((acc_now - acc_next) / (removed_next - removed_now); a point that removes
//     nothing more is skipped) moves one point up, until the removed amount reaches the
//     target. Ties: the larger gain, then the earlier layer. When that step would complete
//     the target, the single move that completes it with the least loss (any layer up to
//     any of its later points, that step included) is taken instead, so the last step
//     does not overshoot on a costly point when a cheap one suffices. The predicted accuracy adds
//     the layers' losses (assumes independence); choose_ratios then measures the chosen
//     combination once for real and reports both.
// Where it stops working: losses that interact strongly (the additive prediction can
// be optimistic), and non-convex curves (a step that costs much followed by a free one
// is judged on the first step alone).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/lowrank/lowrank.h"
#include "prune/prune_options.h"

namespace mc::prune {

enum class SensitivityPass { Prune, Lowrank };
// "prune" / "lowrank"; Error(Input) naming --pass otherwise.
SensitivityPass parse_sensitivity_pass(const std::string& s);
const char* pass_name(SensitivityPass p);
const char* granularity_name(Granularity g);  // "unstructured", "channel" (n:m is not per-layer)

// Per-layer ratios, as written by `sensitivity --auto -o` and read by `prune --config`
// and `lowrank --config`. JSON:
//   {"pass":"prune","granularity":"unstructured","layers":{"fc1.weight":0.8,...}}
//   {"pass":"lowrank","layers":{"fc1.weight":0.25,...}}   (rank ratios, in (0, 1])
struct LayerRatioConfig {
  SensitivityPass pass = SensitivityPass::Prune;
  Granularity granularity = Granularity::Unstructured;   // prune only: unstructured or channel
  std::vector<std::pair<std::string, double>> layers;    // key (weight or node name) → ratio, in file order
};

std::string config_to_json(const LayerRatioConfig& c);
// Error(Input) "<source>: ..." on malformed JSON, an unknown pass or granularity, a
// non-number ratio, a ratio out of range (prune [0, 1), lowrank (0, 1]), a duplicate key.
LayerRatioConfig parse_config_json(const std::string& text, const std::string& source);
// Reads at most 16 MiB, then parse_config_json.
LayerRatioConfig read_config_file(const std::string& path);

// A layer of the sweep.
struct SensitivityLayer {
  std::string layer;    // node name (or "<Op>_<index>")
  std::string weight;   // initializer name: the config key
  std::string op_type;
  uint64_t params = 0;  // weight elements
  uint64_t macs = 0;    // the node's MACs (compute_stats)
};
std::vector<SensitivityLayer> sensitivity_layers(const Model& m);

struct ApplyResult {
  std::vector<std::string> lines;           // one per layer: what was done
  std::vector<LayerPruneResult> pruned;     // prune
  std::vector<LowRankLayer> factorized;     // lowrank (every layer the config names)
  std::map<std::string, std::vector<int64_t>> kept_outputs;  // channel: as PruneResult::kept_outputs
};
// Applies each entry of the config to its layer alone (the others are excluded),
// in the config's order. Error(Input) for a key that names no layer of the model
// (listing the known ones), or a pass/granularity the config does not allow.
ApplyResult apply_layer_ratios(Model& m, const LayerRatioConfig& c);

// What a change removed.
struct Removed {
  double params = 0, macs = 0, bytes = 0;
};
// See step 2 above. `layers` are the sweep layers of `before`.
Removed measure_removed(const Model& before, const Model& after, const std::vector<SensitivityLayer>& layers,
                        SensitivityPass pass, Granularity granularity);

// Targets: "params=X", "macs=X", "size=X"; X in (0, 1) is a fraction of the original,
// X >= 1 an absolute count (params, MACs, bytes). params counts the prunable weights
// (the sweep layers), macs the model's MACs, size its initializer bytes.
enum class TargetKind { Params, Macs, Size };
struct Target {
  TargetKind kind = TargetKind::Params;
  double value = 0;
  bool fraction = true;
  std::string text;  // as given
};
Target parse_target(const std::string& s);  // Error(Input) "--target '...': ..." when malformed

// Parses "0.1,0.3,0.5"; Error(Input) naming --ratios for a malformed list or a value
// outside [0, 1) (prune) or (0, 1] (lowrank).
std::vector<double> parse_ratio_list(const std::string& s, SensitivityPass pass);

// The greedy allocator on measured curves (step 3). Points are in order of growing
// compression; `removed` is in the target's unit.
struct CurvePoint {
  double ratio = 0;
  double accuracy = 0;
  double removed = 0;
};
struct LayerCurve {
  std::string name;
  std::vector<CurvePoint> points;
};
struct Allocation {
  std::vector<int> step;          // per curve: index of the chosen point, -1 = untouched
  double removed = 0;             // sum of the chosen points' removed
  double predicted_accuracy = 0;  // baseline - sum of the chosen points' losses
  bool reached = false;           // removed >= needed
};
Allocation allocate_greedy(const std::vector<LayerCurve>& curves, double baseline_accuracy, double needed);

// The sweep.
using AccuracyFn = std::function<double(const Model&)>;                                    // top-1, percent
using ProgressFn = std::function<void(uint64_t done, uint64_t total, const std::string&)>;  // may be empty
// Optional step after pruning and before measuring (pass prune): e.g. the least-squares
// re-fit of reconstruct.h, so that the curves and the chosen ratios account for it.
using RefitFn = std::function<void(Model& pruned, const Model& dense,
                                   const std::map<std::string, std::vector<int64_t>>& kept_outputs)>;
struct SensitivityOptions {
  SensitivityPass pass = SensitivityPass::Prune;
  Granularity granularity = Granularity::Unstructured;  // unstructured or channel
  std::vector<double> ratios;                           // prune ratios or rank ratios
  RefitFn refit;                                        // may be empty; every trial and the --auto check use it
};
struct Trial {
  double ratio = 0;
  double accuracy = 0;
  Removed removed;
  std::string note;  // e.g. lowrank "not factorized: not cheaper"
};
struct LayerSensitivity {
  SensitivityLayer layer;
  std::vector<Trial> trials;  // in the order of opts.ratios
};
struct SensitivityResult {
  double baseline = 0;
  uint64_t base_params = 0, base_macs = 0, base_bytes = 0;  // target bases (see Target)
  std::vector<LayerSensitivity> layers;
};
// Error(Input) for a granularity other than unstructured/channel, or an empty ratio list.
SensitivityResult measure_sensitivity(const Model& m, const SensitivityOptions& o, const AccuracyFn& accuracy,
                                      const ProgressFn& progress);

struct AutoResult {
  Target target;
  double goal_remaining = 0;  // in the target's unit
  double base = 0;
  Allocation allocation;
  LayerRatioConfig config;    // the chosen layers only (untouched ones are left out)
  double verified_accuracy = 0;  // measured on the combination
  Removed verified_removed;      // what the combination really removed
};
// Greedy allocation on the sweep's curves, then one real measurement of the result.
// Error(Input) when the target cannot be reached with the measured ratios.
AutoResult choose_ratios(const Model& m, const SensitivityResult& s, const SensitivityOptions& o, const Target& t,
                         const AccuracyFn& accuracy);

}  // namespace mc::prune
