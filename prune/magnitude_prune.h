// Unstructured and n:m magnitude pruning: weights are zeroed in place, shapes stay.
//
// Unstructured: the k = round(ratio * count) weights of smallest |w| become 0, per
// layer (Scope::Layer) or over all prunable layers at once (Scope::Global). Ties are
// broken by position (layer order, then element index: the earlier one goes first),
// so the same model and options always give the same bytes. Weights already 0 count
// among the pruned ones, so the achieved ratio is max(ratio, existing sparsity) up to
// one element.
// N:M: along the weight's reduction axis, each run of m consecutive elements (at the
// same position on every other axis) keeps its n largest |w| (ties: the lower index
// stays). A layer whose reduction size is not a multiple of m is an Error(Input) that
// names it (exclude it with --exclude to prune the rest).
#pragma once
#include "prune/prune_options.h"

namespace mc::prune {

PruneResult prune_unstructured(Model& m, const PruneOptions& opts);
PruneResult prune_n_m(Model& m, const PruneOptions& opts);
// Block: tiles of block_rows x block_cols of the (output x input) matrix; a layer whose
// output count is not a multiple of block_rows or whose input size (Conv: I*kh*kw) is not
// a multiple of block_cols is an Error(Input) naming it, checked before anything changes.
// k = round(ratio * tiles) tiles of smallest norm become 0 (ties by position, as above).
PruneResult prune_blocks(Model& m, const PruneOptions& opts);

}  // namespace mc::prune
