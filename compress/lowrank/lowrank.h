// Low-rank factorization of weight layers by truncated SVD (issue 5, item 4).
//
//  - Gemm (any transA/transB, alpha, beta, optional C) and MatMul whose second input
//    is a constant 2-D fp32 initializer: with W the [K, N] matrix the layer multiplies
//    by (Bᵀ when transB=1) and W ≈ U_r·(S_r·V_rᵀ), the node becomes
//      first:  MatMul(X, U_r)              ([K, r]; Gemm with transA=1 when transA was set)
//      second: Gemm(H, alpha·S_r·V_rᵀ, C, beta)  ([r, N]; MatMul when there is no C)
//    so Y is still written to the original output name.
//  - Conv (group 1, fp32 weight [N, C, k...]): channel decomposition. W reshaped to
//    [N, C·Πk] ≈ U_r·(S_r·V_rᵀ) gives a k×k Conv C→r (weight S_r·V_rᵀ as [r, C, k...],
//    the original strides, pads, dilations and auto_pad, no bias) followed by a 1×1
//    Conv r→N (weight U_r as [N, r, 1...], the original bias).
//    Or, with Spatial, a spatial decomposition (Jaderberg 2014): M[(c,u),(n,v)] =
//    W[n,c,u,v] ≈ U_r S_r V_rᵀ gives a kh×1 Conv C→r (strides/pads/dilations of the
//    height axis) then a 1×kw Conv r→N (those of the width axis, and the bias). A Conv
//    with a 1×1 or 1-D kernel gets the channel split instead.
//    Or, with Tucker2, three Convs (1×1 C→r_in, the k×k core r_in→r_out with the
//    original attributes, 1×1 r_out→N with the bias). The ranks come from the SVDs of
//    the output- and input-channel unfoldings; energy and error are those of the
//    actual core (HOSVD is not optimal, but W_r is an orthogonal projection of W, so
//    ‖W − W_r‖² = ‖W‖² − ‖core‖² exactly). A ratio or energy applies to each mode on
//    its own, so the core keeps less than E of the energy (the report says how much).
//
// A layer is factorized only when it is cheaper: r·(K+N) < K·N (Conv: r·(C·Πk + N) <
// N·C·Πk). Both layers see the same number of rows (Gemm/MatMul) or output pixels
// (Conv), so this one inequality means fewer parameters and fewer MACs alike. The
// spatial split's first layer runs at the full input width and Tucker-2 has three
// layers, so there params and MACs are compared separately.
//
// The rank comes from exactly one of: a ratio of the full rank (r = ⌈R·min(K,N)⌉), a
// retained energy (the smallest r with Σ_{i<r} σᵢ² ≥ E·Σσᵢ²), or a total parameter
// target for the whole model (the largest common energy threshold whose ranks bring
// the model's parameter count to at most N). For the SVD schemes the error per layer is
// ‖W − W_r‖_F/‖W‖_F = sqrt(Σ_{i≥r} σᵢ²/Σσᵢ²) (Eckart–Young; exact for the SVD, the
// fp32 rounding of the stored factors adds ~1e-7).
//
// Deterministic: svd_jacobi has a fixed order, so the same model gives the same bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/passes/pass.h"

namespace mc {

enum class ConvScheme { Channel, Spatial, Tucker2 };

struct LowRankOptions {
  // Exactly one of the three must be set; validate_lowrank_options says what is wrong.
  std::optional<double> rank_ratio;       // (0, 1]
  std::optional<double> energy;           // (0, 1]
  std::optional<uint64_t> target_params;  // > 0: total initializer elements of the model after the pass
  // Conv scheme: Channel (k×k C→r, 1×1 r→N); Spatial (Jaderberg: kh×1 C→r, then
  // 1×kw r→N, from the SVD of W as [C·kh, N·kw]; explicit pads); Tucker2 (1×1 C→r_in,
  // k×k r_in→r_out core, 1×1 r_out→N, by HOSVD: the leading left singular vectors of
  // W's output- and input-channel unfoldings). Spatial and Tucker2 need 2-D Convs with
  // kernels of at least 2×2 (others get the channel split) and known channel/spatial
  // dims (MACs are counted from the shapes).
  ConvScheme conv = ConvScheme::Channel;
  // Node names or op types to leave alone; each entry must match some node.
  std::vector<std::string> exclude;
  // Tests set this to false to factorize even where it costs more (e.g. full rank).
  bool only_if_cheaper = true;
};

struct LowRankLayer {
  std::string node;        // node name (or "#index (Op)")
  std::string op_type;
  std::string weight;      // initializer name
  std::string scheme;      // "svd" (Gemm/MatMul), "channel" or "spatial" (Conv); "" when skipped early
  int64_t rows = 0;        // K (Gemm/MatMul) or N (Conv): the matrix SVD sees is rows×cols
  int64_t cols = 0;        // N (Gemm/MatMul) or C·Πk (Conv)
  int64_t full_rank = 0;   // min(rows, cols)
  int64_t rank = 0;        // chosen rank (0 when skipped before a rank was chosen); Tucker-2: output-channel rank
  int64_t rank_in = 0;     // Tucker-2: input-channel rank (0 otherwise)
  int64_t full_rank_in = 0;  // Tucker-2: min(C, N·Πk)
  double energy = 0.0;     // Σ_{i<rank} σ² / Σσ²
  double rel_error = 0.0;  // ‖W − W_r‖_F / ‖W‖_F
  uint64_t params_before = 0, params_after = 0;  // weight (+ bias) elements of this layer
  uint64_t macs_before = 0, macs_after = 0;      // for one inference; valid when macs_known
  bool macs_known = false;
  bool factorized = false;
  std::string reason;      // why it was skipped (empty when factorized)
};

struct LowRankResult {
  std::vector<LowRankLayer> layers;  // every candidate and excluded layer, in graph order
  std::string mode;                  // "rank_ratio=0.5", "energy=0.9", "target_params=100000 (energy=…)"
  double chosen_energy = 0.0;        // for target_params: the common energy threshold found
  std::vector<std::string> new_tensors;
  int factorized() const;
};

// Throws Error(Input) with one clear line for out-of-range or conflicting options.
void validate_lowrank_options(const LowRankOptions& o);

// Rewrites m in place (shapes refreshed afterwards) and reports per layer. Throws
// Error(Input) for bad options, an exclude entry that matches no node, or a
// target_params that even rank 1 everywhere cannot reach.
LowRankResult factorize_low_rank(Model& m, const LowRankOptions& o);

// Options of the pass table row, from ctx.options "lowrank.rank_ratio", "lowrank.energy",
// "lowrank.target_params", "lowrank.exclude" (comma-separated).
LowRankOptions lowrank_options_from(const PassContext& ctx);

// The pass of the table (pass_registry.cpp): factorize_low_rank with the options above.
PassReport lowrank(Model& m, PassContext& ctx);

}  // namespace mc
