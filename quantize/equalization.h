// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", §4.1): for two layers L1 → [Relu] → L2 where L1 is a
// Conv (depthwise included) whose output feeds only L2 (through at most a Relu) and L2 is
// a Conv (depthwise included), output channel i of L1 is divided by s_i and input
// channel i of L2 multiplied by it, with s_i = sqrt(r1_i · r2_i) / r2_i (r = max|w| of the
// channel), which leaves the function unchanged (Relu(x/s) = Relu(x)/s for s > 0) and
// gives both channels the range sqrt(r1_i · r2_i). Pairs are visited in graph order,
// `iterations` times (the paper iterates until the ranges settle). Clip/ReLU6 between the
// layers is not positive-homogeneous: such pairs are skipped, as are channels where either
// range is 0. Deterministic (no data, fixed order).
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::quant {

struct EqualizedPair {
  std::string first, second;  // node ids
};

// Rewrites the weights (and L1's bias) of m in place; returns the pairs equalized.
std::vector<EqualizedPair> equalize_cross_layer(Model& m, int iterations = 20);

}  // namespace mc::quant
