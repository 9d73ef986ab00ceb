#include "quantize/quant_params.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>

#include "compress/error.h"

namespace mc::quant {

float round_half_even(float v) { return std::nearbyint(v); }

int32_t quantize_value(float v, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  float q = round_half_even(v / scale) + static_cast<float>(zp);
  if (std::isnan(q)) q = 0.f;
  q = std::min(std::max(q, static_cast<float>(qmin)), static_cast<float>(qmax));
  return static_cast<int32_t>(q);
}

ActParams activation_params(float lo, float hi, bool symmetric) {
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw Error(ErrorKind::Internal, "activation_params: non-finite range");
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  ActParams p;
  if (symmetric) {
    p.scale = std::max(std::fabs(lo), std::fabs(hi)) / 127.f;
    p.zero_point = 0;
  } else {
    p.scale = (hi - lo) / 255.f;
    if (p.scale > 0.f && std::isnormal(p.scale)) {
      const float z = round_half_even(-128.f - lo / p.scale);
      p.zero_point = static_cast<int32_t>(std::min(127.f, std::max(-128.f, z)));
    }
  }
  if (!(p.scale > 0.f) || !std::isnormal(p.scale) || !std::isfinite(p.scale)) return ActParams{1.f, 0};
  return p;
}

namespace {

// outer × channels × inner view of a tensor split along `axis`.
struct AxisView {
  size_t outer = 1, channels = 1, inner = 1;
};

AxisView axis_view(const std::vector<int64_t>& dims, int axis, bool per_channel) {
  AxisView v;
  size_t total = 1;
  for (int64_t d : dims) total *= static_cast<size_t>(d);
  if (!per_channel) {
    v.inner = total;
    return v;
  }
  for (int i = 0; i < static_cast<int>(dims.size()); ++i) {
    const size_t d = static_cast<size_t>(dims[static_cast<size_t>(i)]);
    if (i < axis) v.outer *= d;
    else if (i == axis) v.channels = d;
    else v.inner *= d;
  }
  return v;
}

}  // namespace

std::vector<float> weight_scales(const float* w, const std::vector<int64_t>& dims, int axis, bool per_channel,
                                 const std::string& name) {
  const AxisView v = axis_view(dims, axis, per_channel);
  std::vector<float> amax(v.channels, 0.f);
  for (size_t o = 0; o < v.outer; ++o)
    for (size_t c = 0; c < v.channels; ++c)
      for (size_t i = 0; i < v.inner; ++i) {
        const float x = w[(o * v.channels + c) * v.inner + i];
        if (!std::isfinite(x)) throw Error(ErrorKind::Input, "weight '" + name + "' holds NaN or Inf");
        amax[c] = std::max(amax[c], std::fabs(x));
      }
  std::vector<float> s(v.channels);
  for (size_t c = 0; c < v.channels; ++c) {
    s[c] = amax[c] / 127.f;
    if (!(s[c] > 0.f) || !std::isnormal(s[c])) s[c] = 1.f;  // all-zero (or denormal-only) slice
  }
  return s;
}

std::vector<int8_t> quantize_weights(const float* w, const std::vector<int64_t>& dims, int axis,
                                     const std::vector<float>& scales) {
  const AxisView v = axis_view(dims, axis, scales.size() > 1);
  std::vector<int8_t> q(v.outer * v.channels * v.inner);
  for (size_t o = 0; o < v.outer; ++o)
    for (size_t c = 0; c < v.channels; ++c)
      for (size_t i = 0; i < v.inner; ++i) {
        const size_t k = (o * v.channels + c) * v.inner + i;
        q[k] = static_cast<int8_t>(quantize_value(w[k], scales[c], 0, -127, 127));
      }
  return q;
}

bool quantize_bias(const float* b, size_t n, float s_x, const std::vector<float>& s_w, std::vector<int32_t>* b_q,
                   std::vector<float>* bias_scales) {
  std::vector<float> s(s_w.size());
  for (size_t c = 0; c < s_w.size(); ++c) {
    s[c] = s_x * s_w[c];
    if (!(s[c] > 0.f) || !std::isnormal(s[c])) return false;
  }
  std::vector<int32_t> q(n);
  for (size_t c = 0; c < n; ++c) {
    const float sc = s[s.size() > 1 ? c : 0];
    const double r = static_cast<double>(round_half_even(b[c] / sc));
    // Saturate in double: float(INT32_MAX) rounds up to 2^31, out of int32 range.
    const double lim_hi = static_cast<double>(std::numeric_limits<int32_t>::max());
    const double lim_lo = static_cast<double>(std::numeric_limits<int32_t>::min());
    q[c] = std::isnan(r) ? 0 : static_cast<int32_t>(std::min(lim_hi, std::max(lim_lo, r)));
  }
  *b_q = std::move(q);
  *bias_scales = std::move(s);
  return true;
}

}  // namespace mc::quant
