// Empirical bias correction (Nagel et al. 2019, §4.2): int8 weights Ŵ change a layer's
// expected output by (Ŵ − W)·E[x]. With E[x] per input channel measured on the calibration
// samples (the fp32 model, streamed), each quantized Conv/Gemm's float bias becomes
//   b'[c] = b[c] − Σ_k (Ŵ − W)[c, k, ...] · E[x_k]
// before the bias is quantized (a Conv without bias gets one). Ŵ is computed with the same
// rules as the static pass (quant_params.h), so the correction matches what is written.
// Spatial padding is ignored (E[x] is the channel mean), as in the paper.
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "quantize/static_quant.h"

namespace mc::quant {

// Per-channel means (axis 1, or the last axis for rank 2) of `values` over the first
// `samples` samples at x; one vector per value, in order.
std::vector<std::vector<double>> channel_means(const Model& m, const std::vector<std::string>& values, const float* x,
                                               size_t samples, int threads);

// Corrects the biases of the quantized Conv/Gemm layers of `plan` in m (fp32, before
// apply_static). Returns the number of layers corrected.
size_t correct_biases(Model& m, const StaticPlan& plan, const StaticQuantOptions& o, const float* x, size_t samples,
                      int threads);

}  // namespace mc::quant
