// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AArch64 NEON, NCHW.
//
// Each (image, channel) plane is one unit of work. Output rows are computed 4 pixels at a time with
// 9 fmla in three chains (one per kernel row), reading the input in place; stride 2 uses vld2q to
// split even and odd columns. Blocks whose taps leave the row (the zero-padded borders) or that
// pass the row end are computed one pixel at a time.
#include <arm_neon.h>

#include <algorithm>

#include "../parallel_for.h"
#include "neon_kernels.h"

namespace mcrt {
namespace neon {
namespace {

inline float pixel(const ConvGeom& g, const float* w9, float bias, const float* x, int oy, int ox) {
  float acc = bias;
  for (int ky = 0; ky < 3; ++ky) {
    const int iy = oy * g.sh - g.pad_t + ky;
    if (iy < 0 || iy >= g.H) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const int ix = ox * g.sw - g.pad_l + kx;
      if (ix >= 0 && ix < g.W) acc += x[size_t(iy) * g.W + ix] * w9[ky * 3 + kx];
    }
  }
  return acc;
}

template <int S>
void plane(const ConvGeom& g, const float* w9, float bias, float lo, float hi, const float* x, float* y) {
  const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi), vb = vdupq_n_f32(bias);
  float32x4_t wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = vdupq_n_f32(w9[i]);
  for (int oy = 0; oy < g.OH; ++oy) {
    const int iy0 = oy * S - g.pad_t;
    float* yr = y + size_t(oy) * g.OW;
    for (int ox = 0; ox < g.OW; ox += 4) {
      const int s = ox * S - g.pad_l;
      const bool inside = s >= 0 && s + (S == 1 ? 5 : 9) < g.W && ox + 4 <= g.OW;
      if (!inside) {
        for (int j = ox; j < std::min(ox + 4, g.OW); ++j)
          yr[j] = std::min(std::max(pixel(g, w9, bias, x, oy, j), lo), hi);
        continue;
      }
      float32x4_t acc[3] = {vb, vdupq_n_f32(0), vdupq_n_f32(0)};
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = iy0 + ky;
        if (iy < 0 || iy >= g.H) continue;
        const float* r = x + size_t(iy) * g.W + s;
        float32x4_t a = acc[ky];
        if (S == 1) {
          a = vfmaq_f32(a, wv[ky * 3 + 0], vld1q_f32(r));
          a = vfmaq_f32(a, wv[ky * 3 + 1], vld1q_f32(r + 1));
          a = vfmaq_f32(a, wv[ky * 3 + 2], vld1q_f32(r + 2));
        } else {
          const float32x4x2_t v = vld2q_f32(r), v2 = vld2q_f32(r + 2);
          a = vfmaq_f32(a, wv[ky * 3 + 0], v.val[0]);
          a = vfmaq_f32(a, wv[ky * 3 + 1], v.val[1]);
          a = vfmaq_f32(a, wv[ky * 3 + 2], v2.val[0]);
        }
        acc[ky] = a;
      }
      const float32x4_t r = vaddq_f32(vaddq_f32(acc[0], acc[1]), acc[2]);
      vst1q_f32(yr + ox, vminq_f32(vmaxq_f32(r, vlo), vhi));
    }
  }
}

}  // namespace

void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf) {
  const size_t in_plane = size_t(g.H) * g.W, out_plane = size_t(g.OH) * g.OW;
  parallel_for(pf, int64_t(g.N) * g.C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int c = int(p % g.C);
      const float bias = ep.bias ? ep.bias[c] : 0.0f;
      if (g.sh == 1) plane<1>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
      else plane<2>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
    }
  });
}

}  // namespace neon
}  // namespace mcrt
