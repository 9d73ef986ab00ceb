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
      for (int oy = 0; oy < g.OH; ++oy) {
        const int16_t* rowp = plane + (int64_t)oy * g.sh * g.sw * p.L;
        for (int ox = 0; ox < g.OW; ox += 8) {
          int32x4_t a0 = vdupq_n_s32(bias[c]), a1 = a0;
          for (int t = 0; t < taps; ++t) {
            const int16x8_t xv = vld1q_s16(rowp + int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw) + ox);
            const int16_t wt = w[t];
            a0 = vmlal_n_s16(a0, vget_low_s16(xv), wt);
            a1 = vmlal_high_n_s16(a1, xv, wt);
          }
          store8(a0, a1, (int)c, out, y, (c * g.OH + oy) * g.OW + ox, g.OW - ox < 8 ? g.OW - ox : 8);
        }
      }
    }
  });
}

inline void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  const float32x4_t ma = vdupq_n_f32(p.ma), mb = vdupq_n_f32(p.mb);
  const float32x4_t flo = vdupq_n_f32((float)(p.lo - p.zy)), fhi = vdupq_n_f32((float)(p.hi - p.zy));
  const int32x4_t za = vdupq_n_s32(p.za), zb = vdupq_n_s32(p.zb), zy = vdupq_n_s32(p.zy);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const int16x8_t a16 = as ? vmovl_s8(vld1_s8(a + i)) : vdupq_n_s16(a[0]);
    const int16x8_t b16 = bs ? vmovl_s8(vld1_s8(b + i)) : vdupq_n_s16(b[0]);
    int32x4_t q[2];
    for (int h = 0; h < 2; ++h) {
      const int32x4_t a32 = vsubq_s32(h ? vmovl_high_s16(a16) : vmovl_s16(vget_low_s16(a16)), za);
      const int32x4_t b32 = vsubq_s32(h ? vmovl_high_s16(b16) : vmovl_s16(vget_low_s16(b16)), zb);
      const float32x4_t f = vaddq_f32(vmulq_f32(ma, vcvtq_f32_s32(a32)), vmulq_f32(mb, vcvtq_f32_s32(b32)));
      q[h] = vaddq_s32(vcvtnq_s32_f32(vminq_f32(vmaxq_f32(f, flo), fhi)), zy);
    }
    vst1_s8(y + i, vqmovn_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))));
  }
  for (; i < n; ++i) {
    const float fa = p.ma * (float)((int32_t)a[i * as] - p.za);
    const float fb = p.mb * (float)((int32_t)b[i * bs] - p.zb);
    const float32x4_t f = vminq_f32(vmaxq_f32(vdupq_n_f32(fa + fb), flo), fhi);
    y[i] = (int8_t)(vgetq_lane_s32(vcvtnq_s32_f32(f), 0) + p.zy);
  }
}

}  // namespace int8_neon_common
}  // namespace mcrt
