// The number-format rules of docs/quantization.md §1, in one place: activation scale
// and zero point from a calibrated range, per-channel weight scales, weight and bias
// quantization. Everything is float32 arithmetic, rounding half to even.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc::quant {

struct ActParams {
  float scale = 1.f;
  int32_t zero_point = 0;  // int8: [-128, 127]
};

// From a calibrated range [lo, hi] (first widened to contain 0):
//   asymmetric: scale = (hi - lo) / 255, zp = round(-128 - lo / scale) clamped to [-128, 127];
//   symmetric:  scale = max(|lo|, |hi|) / 127, zp = 0.
// A constant activation (hi == lo == 0), or a range so narrow that the scale is not a
// positive normal float, gets scale 1, zp 0. Throws Error(Internal) for a non-finite range.
ActParams activation_params(float lo, float hi, bool symmetric);

// Round half to even, as nearbyintf in the default rounding mode.
float round_half_even(float v);

// int8 quantization of one value: clamp(rhe(v / scale) + zp, qmin, qmax).
int32_t quantize_value(float v, float scale, int32_t zp, int32_t qmin, int32_t qmax);

// Symmetric weight scales: one per slice along `axis` (per_channel) or one for all:
// max|w| / 127; an all-zero slice gets scale 1. `dims` is the weight's shape.
// Throws Error(Input) naming `name` when the weight holds NaN or Inf.
std::vector<float> weight_scales(const float* w, const std::vector<int64_t>& dims, int axis, bool per_channel,
                                 const std::string& name);

// int8 weights in [-127, 127] with the scales above (zp 0).
std::vector<int8_t> quantize_weights(const float* w, const std::vector<int64_t>& dims, int axis,
                                     const std::vector<float>& scales);

// int32 bias: b_q[c] = rhe(b[c] / (s_x * s_w[c])) saturated to int32. `bias_scales`
// receives s_x * s_w[c] (float32 product; one entry when s_w has one). Returns false,
// leaving the outputs untouched, when some product is not a positive normal float.
bool quantize_bias(const float* b, size_t n, float s_x, const std::vector<float>& s_w, std::vector<int32_t>* b_q,
                   std::vector<float>* bias_scales);

}  // namespace mc::quant
