// What `mcompress prune` and the prune passes accept, and what they report.
//
// One options struct serves every granularity; prune_model() dispatches on it:
//  - Unstructured: zero the smallest-|w| fraction `ratio` of the weights of every
//    prunable layer (scope Layer) or of all of them together (scope Global).
//  - NM (n:m): in every group of m consecutive weights along a layer's input
//    (reduction) dimension keep the n largest |w|; the ratio is 1 - n/m.
//  - Channel: remove whole output channels (filters) of Conv/Gemm and rewrite every
//    consumer (channel_prune.h).
// Zeros in the tensor data are the truth for unstructured and n:m sparsity: no mask
// is stored next to the weights (ONNX and the runtime file both keep the zeros).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compress/passes/pass.h"

namespace mc::prune {

//  - Block (block:BxK): the weight seen as an (output x input) matrix (Conv [O, I*kh*kw],
//    Gemm/MatMul [N, K]) is cut into B x K tiles; the fraction `ratio` of the tiles with
//    the smallest norm (l2, or l1 for l1/magnitude) become 0, per layer or globally.
enum class Granularity { Unstructured, NM, Channel, Block };
// How a weight or a filter is ranked. For unstructured and n:m pruning all three
// reduce to |w| (the norm of one element); for channels, L1 = sum |w| of the filter,
// L2 = sqrt(sum w^2), Magnitude = L1, BN = |gamma| of the BatchNormalization that reads
// the filter's output (network slimming; channels only).
enum class Criterion { L1, L2, Magnitude, BN };
enum class Scope { Layer, Global };

struct PruneOptions {
  double ratio = 0.0;  // fraction of weights (or channels) to remove, in [0, 1)
  Granularity granularity = Granularity::Unstructured;
  int64_t n = 2, m = 4;  // for NM
  int64_t block_rows = 1, block_cols = 1;  // for Block
  // Channel only: each group keeps a multiple of round_to channels (the count left by
  // --ratio rounded up, at most the group's size), like Torch-Pruning's round_to. Kernels
  // that block channels (ONNX Runtime's NCHWc convs: 16 with AVX-512, 8 with AVX2) pad
  // other counts. 1 = no rounding.
  int64_t round_to = 1;
  Criterion criterion = Criterion::Magnitude;
  Scope scope = Scope::Layer;
  // Node names or op types to leave alone; each must match at least one node.
  std::vector<std::string> exclude;
};

// Per prunable layer (or, for channels, per channel group) what happened.
struct LayerPruneResult {
  std::string layer;    // node name, or the group's member names joined by ", "
  std::string op_type;  // "Conv", "Gemm", "MatMul", or "group" for channel groups
  uint64_t total = 0;   // weights in the layer (channels in the group)
  uint64_t zeros_before = 0;  // exact zeros before (0 for channel groups)
  uint64_t pruned = 0;        // zeros after (channels removed, for channel groups)
  double achieved = 0.0;      // pruned / total
};

struct PruneResult {
  PassReport report;                    // summary, changes, left_alone (with reasons)
  std::vector<LayerPruneResult> layers; // what was pruned
  std::vector<std::string> skipped;     // "name (Op): why", one per layer left alone
  // Channel pruning: for each Conv/Gemm (and depthwise Conv) that lost output channels, keyed by its first
  // output name, the original indices of the channels it kept (reconstruct.h needs them).
  std::map<std::string, std::vector<int64_t>> kept_outputs;
};

// Parsers for the CLI spellings; Error(Input) naming the flag on anything else.
// "unstructured", "channel", "2:4", "block:4x4" (n, m receive B and K for blocks)
Granularity parse_granularity(const std::string& s, int64_t* n, int64_t* m);
Criterion parse_criterion(const std::string& s);                            // "l1", "l2", "magnitude", "bn"
Scope parse_scope(const std::string& s);                                    // "global", "layer"
// Error(Input) unless 0 <= ratio < 1 (and finite).
void validate_ratio(double ratio);

// Checks the options against the model (every exclude entry matches a node name or
// an op type, n:m fits) and prunes m in place. Error(Input) on bad options; the model
// is unchanged when it throws.
PruneResult prune_model(Model& m, const PruneOptions& opts);

}  // namespace mc::prune
