// Internal to the NEON int8 sets: the output stage (shared by the baseline and dotprod GEMMs) and the
// depthwise kernel (both sets use it). Included by one TU per set.
#pragma once
#include <arm_neon.h>

#include <cstring>

#include "../../parallel_for.h"
#include "../int8_pack.h"

namespace mcrt {
namespace int8_neon_common {

// 8 int32 accumulators (two int32x4) -> outputs m, columns idx.. (valid of them).
inline void store8(int32x4_t a0, int32x4_t a1, int m, const Int8Out& out, void* y, int64_t idx, int valid) {
  const float32x4_t mult = vdupq_n_f32(out.mult[m]);
  float32x4_t f0 = vmulq_f32(vcvtq_f32_s32(a0), mult), f1 = vmulq_f32(vcvtq_f32_s32(a1), mult);
  if (out.f32) {
    if (out.fbias) {
      const float32x4_t b = vdupq_n_f32(out.fbias[m]);
      f0 = vaddq_f32(f0, b);
      f1 = vaddq_f32(f1, b);
    }
    float t[8];
    vst1q_f32(t, f0);
    vst1q_f32(t + 4, f1);
    std::memcpy(static_cast<float*>(y) + idx, t, (size_t)valid * 4);
    return;
  }
  const float32x4_t lo = vdupq_n_f32((float)(out.act_min - out.zero_point));
  const float32x4_t hi = vdupq_n_f32((float)(out.act_max - out.zero_point));
  f0 = vminq_f32(vmaxq_f32(f0, lo), hi);
  f1 = vminq_f32(vmaxq_f32(f1, lo), hi);
  const int32x4_t z = vdupq_n_s32(out.zero_point);
  const int32x4_t q0 = vaddq_s32(vcvtnq_s32_f32(f0), z), q1 = vaddq_s32(vcvtnq_s32_f32(f1), z);
  const int8x8_t b = vqmovn_s16(vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1)));
  int8_t* yb = static_cast<int8_t*>(y) + idx;
  if (valid == 8) {
    vst1_s8(yb, b);
  } else {
    int8_t t[8];
    vst1_s8(t, b);
    std::memcpy(yb, t, (size_t)valid);
  }
}

// Depthwise: int16 planes of x - zx, 8 outputs per step, smlal (int16 x int16 -> int32) per tap.
inline void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
                   void* scratch, const ParallelFor* pf) {
  const int8_pack::DwPlanes p = int8_pack::dw_planes(g);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int32_t* bias = reinterpret_cast<const int32_t*>(base);
  const int16_t* wall = reinterpret_cast<const int16_t*>(base + int8_pack::dw_w_off(g.C));
  const int taps = g.kh * g.kw, tp = int8_pack::dw_taps_padded(taps);
  parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int16_t* plane = static_cast<int16_t*>(scratch) + (size_t)c * p.channel_elems;
      int8_pack::dw_fill_plane(g, p, x + c * g.H * g.W, zx, plane);
      const int16_t* w = wall + c * tp;
      for (int oy = 0; oy < g.OH; ++oy)
        for (int ox = 0; ox < g.OW; ox += 8) {
          int32x4_t a0 = vdupq_n_s32(bias[c]), a1 = a0;
          for (int ky = 0; ky < g.kh; ++ky) {
            const int r = oy * g.sh + ky * g.dh;
            for (int kx = 0; kx < g.kw; ++kx) {
              const int off = kx * g.dw;
              const int16x8_t xv = vld1q_s16(plane + ((int64_t)r * g.sw + off % g.sw) * p.L + ox + off / g.sw);
              const int16_t wt = w[ky * g.kw + kx];
              a0 = vmlal_n_s16(a0, vget_low_s16(xv), wt);
              a1 = vmlal_high_n_s16(a1, xv, wt);
            }
          }
          store8(a0, a1, (int)c, out, y, (c * g.OH + oy) * g.OW + ox, g.OW - ox < 8 ? g.OW - ox : 8);
        }
    }
  });
}

}  // namespace int8_neon_common
}  // namespace mcrt
