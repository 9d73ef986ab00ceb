// Post-training reconstruction of pruned layers from calibration data (no gradient
// training): each pruned Conv/Gemm/MatMul gets its remaining weights (and bias) re-fitted
// by least squares so that, on calibration samples, it reproduces the dense layer's
// output (pre-activation) as closely as possible.
//
// How it works, layer by layer in graph order:
//  0. Layers before the first one that differs from the dense model (weights or bias)
//     see the dense inputs and are unchanged: they are skipped ("unchanged").
//  1. Inputs: X_p, the layer's input in the pruned model as pruned so far (earlier
//     layers already re-fitted), and X_d, its input in the dense model, both from the
//     caller's ActivationFn (the CLI runs the models on the runtime). Conv inputs become
//     im2col patches (one row per output pixel), Gemm/MatMul inputs one row per sample.
//     A bias adds a column of ones.
//  2. Target: Y = X_d W_d^T (+ b_d), the dense layer's output; after channel pruning
//     only the output channels the pruned layer kept (`kept_outputs`).
//  3. Per output row o, with S the entries of the pruned row that are nonzero (zeros are
//     the pruning decision and stay zero), minimise ||X_p[:, S] w_S - Y[:, o]||^2 +
//     lambda ||w_S||^2 with lambda = ridge x mean(diag(X_p^T X_p)) (the bias is not
//     penalised): the normal equations are solved with Cholesky on the kept block of
//     the Gram matrix, or, when few entries were removed, by the equivalent OBS update
//     from the inverse Gram (least_squares.h). Gram matrices are accumulated in double
//     in a fixed order on one thread, so the result is deterministic.
//     An input that is 0 on every calibration sample (e.g. a ReLU that never fires) gets
//     weight 0 from the ridge, so a re-fit can add zeros; it never fills a pruned one.
// The data is the caller's: the CLI documents it as calibration images from the
// training set. A depthwise Conv (one input channel per output) is re-fitted channel by
// channel. Cost: per layer, samples x rows x K^2 to accumulate and up to rows x K^3 / 3 to
// solve, so layers with more than 2048 inputs per output (K) are skipped and named.
// Where it stops working: layers with alpha/beta != 1, transA, other grouped or
// non-2-D convolutions, auto_pad, MatMul with a batched weight, or weights shared by
// several nodes are left as they are and named in `skipped`. A row whose solve fails
// (not positive definite, non-finite result), or whose re-fit does not lower the
// (unridged) calibration error, keeps its pruned weights.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::prune {

struct Activation {
  std::vector<int64_t> shape;  // [n, ...]
  std::vector<float> data;     // C order
};
// Runs a prepared model on calibration samples [start, start + n) and returns the
// values asked for, in the order asked.
using ActivationBatchFn = std::function<std::vector<Activation>(size_t start, size_t n)>;
// Prepares model `m` so that the values `names` can be read; throws mc::Error when a
// value cannot be observed.
using ActivationFn = std::function<ActivationBatchFn(const Model& m, const std::vector<std::string>& names)>;

struct ReconstructOptions {
  size_t samples = 0;   // calibration samples the ActivationFn serves
  size_t batch = 100;   // samples per run
  double ridge = 1e-2;  // lambda = ridge * mean diagonal of the input Gram matrix
};

struct ReconstructLayer {
  std::string layer;      // node name
  uint64_t rows = 0;         // output rows (channels) re-fitted
  uint64_t rows_failed = 0;  // rows left as pruned because the solve failed
  // (a row whose re-fit would not lower the unridged calibration error also stays as
  // pruned, and is in neither count)
  double error_before = 0;   // ||X_p w - Y||^2 / ||Y||^2 with the pruned weights
  double error_after = 0;    // same after the re-fit
};
struct ReconstructResult {
  std::vector<ReconstructLayer> layers;
  std::vector<std::string> skipped;  // "name (Op): why"
};

// `m` is the pruned model (changed in place), `dense` the model before pruning; layers
// are matched by their first output name. `kept_outputs` maps a layer's first output
// name to the dense output channels it kept (channel pruning); absent means all.
// Error(Input) when the options are unusable (no samples); the ActivationFn's errors
// pass through.
ReconstructResult reconstruct_pruned_layers(Model& m, const Model& dense,
                                            const std::map<std::string, std::vector<int64_t>>& kept_outputs,
                                            const ActivationFn& activations, const ReconstructOptions& opts);

}  // namespace mc::prune
