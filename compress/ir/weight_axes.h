// The axes of a layer's weight that quantization and pruning reason about, in one place.
#pragma once
#include <cstdint>

#include "compress/ir/graph.h"

namespace mc {

// Output-channel axis of the weight w of node n (Conv W [M, C/g, k...]: 0; Gemm B: 0 with transB,
// else 1; MatMul B [K, N]: 1), or -1 when w's rank does not fit.
inline int weight_output_axis(const Node& n, const Tensor& w) {
  if (n.op_type == "Conv") return w.dims.size() >= 3 ? 0 : -1;
  if (w.dims.size() != 2) return -1;
  if (n.op_type == "Gemm") return n.attr_int("transB", 0) ? 0 : 1;
  return 1;  // MatMul B[K, N]
}

// Weights per output channel (a filter's fan-in: 9 for a 3x3 depthwise Conv or a 1-channel 3x3
// stem), or 0 when unknown.
inline int64_t weight_fan_in(const Node& n, const Tensor& w) {
  const int axis = weight_output_axis(n, w);
  const int64_t outs = axis >= 0 ? w.dims[static_cast<size_t>(axis)] : 0;
  return outs > 0 ? static_cast<int64_t>(w.numel()) / outs : 0;
}

// Filters of fewer weights than this are "small": one 4-bit k-means codebook per tensor and one
// global pruning ratio cost them the most (docs/quantization.md §5, prune/README.md).
constexpr int64_t kSmallFilterFanIn = 16;

}  // namespace mc
