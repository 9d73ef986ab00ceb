// Per-layer quantization error: the quantized model and the fp32 model run on the same
// samples (the first calibration samples), and each quantized layer's dequantized output
// is compared with the fp32 value it replaces. The error is end to end up to that layer
// (it includes what earlier layers contributed), which is what the next layer sees.
//   SQNR   = 10·log10(Σ ref² / Σ (ref − q)²) dB  (+inf when identical; -inf when ref is all 0 and q is not)
//   cosine = Σ ref·q / sqrt(Σ ref² · Σ q²)        (1 when both are all zero)
// Sums are in double, in sample order: deterministic.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::quant {

struct ErrorFigures {
  double sqnr_db = 0;
  double cosine = 0;
};

struct ErrorAccumulator {
  double ref2 = 0, diff2 = 0, dot = 0, q2 = 0;
  void add(const float* ref, const float* q, size_t n);
  ErrorFigures figures() const;
};

struct LayerErrorRun {
  std::vector<ErrorFigures> layers;   // one per pair of values
  ErrorFigures output;                // graph output 0
  uint64_t samples = 0;
  uint64_t non_finite_outputs = 0;    // NaN/Inf in the quantized model's graph output 0
};

// fp_values[i] in fp32 vs q_values[i] in quantized, plus graph output 0 of both, on the
// n samples at x (float32, C order, one graph input). `lowered`: the quantized model runs
// as the runtime's int8 ops (export lowering; q_values must then be empty); otherwise its
// constant DequantizeLinear nodes are folded and the Q/DQ pairs run in fp32.
LayerErrorRun measure_layer_errors(const Model& fp32, const std::vector<std::string>& fp_values, const Model& quantized,
                                   const std::vector<std::string>& q_values, const float* x, size_t n, int threads,
                                   bool lowered = false);

}  // namespace mc::quant
