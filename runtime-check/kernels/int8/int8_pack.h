// Internal to mcrt_int8_kernels: the packed-weight layouts shared by the SIMD sets.
//
// GEMM weights: [wsum int32 Mp][bias int32 Mp][pad to 64][tiles], tiles = Mp/MR blocks of
// [Kq][MR][4] elements of type T (int8, or int16 for AVX2's vpmaddwd), Kq = ceil(K/4); rows m >= M
// and k >= K are 0. wsum[m] = Σ_k W[m, k]: run subtracts (zx + offset) · wsum[m] (compensation of
// the zero point, and of the +128 that turns int8 into uint8 for vpdpbusd).
// Depthwise: [bias int32 C][pad to 64][w int16 C][taps] (each channel's taps padded to a multiple of 4).
#pragma once

#include <cstdint>
#include <cstring>

#include "../parallel_for.h"
#include "int8_kernels.h"

namespace mcrt {
namespace int8_pack {

inline int64_t round_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

struct GemmLayout {
  int Mp, Kq;
  size_t w_off, bytes;
};

template <class T>
inline GemmLayout gemm_layout(int M, int K, int MR) {
  GemmLayout l;
  l.Mp = (int)round_up(M, MR);
  l.Kq = (K + 3) / 4;
  l.w_off = (size_t)round_up((int64_t)l.Mp * 8, 64);
  l.bytes = l.w_off + (size_t)l.Mp * (size_t)l.Kq * 4 * sizeof(T);
  return l;
}

template <class T>
inline void gemm_pack(int M, int K, int MR, const int8_t* w, const int32_t* bias, void* packed) {
  const GemmLayout l = gemm_layout<T>(M, K, MR);
  uint8_t* base = static_cast<uint8_t*>(packed);
  int32_t* wsum = reinterpret_cast<int32_t*>(base);
  int32_t* b = wsum + l.Mp;
  T* wp = reinterpret_cast<T*>(base + l.w_off);
  std::memset(base, 0, l.bytes);
  for (int m = 0; m < M; ++m) {
    int32_t s = 0;
    for (int k = 0; k < K; ++k) s += w[(int64_t)m * K + k];
    wsum[m] = s;
    b[m] = bias ? bias[m] : 0;
  }
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) {
      const int64_t tile = m / MR, r = m % MR;
      wp[((tile * l.Kq + k / 4) * MR + r) * 4 + k % 4] = (T)w[(int64_t)m * K + k];
    }
}

// Fused residual add of conv_run (Int8Out::residual): outputs [i0, i0 + n) of channels [m0, m1) (channel m's
// outputs P apart), already stored, replaced in place by the set's add_run of them and the residual.
using AddRunFn = void (*)(int64_t, const int8_t*, int, const int8_t*, int, const Int8AddParams&, int8_t*);
inline void residual_block(AddRunFn add, const Int8Out& out, int m0, int m1, int64_t P, int64_t i0, int64_t n,
                           int8_t* y) {
  if (n <= 0) return;
  for (int m = m0; m < m1; ++m) {
    int8_t* ym = y + (int64_t)m * P + i0;
    const int8_t* rm = out.residual + (int64_t)m * P + i0;
    if (out.conv_is_a) add(n, ym, 1, rm, 1, out.add, ym);
    else add(n, rm, 1, ym, 1, out.add, ym);
  }
}

// The fused add after a whole conv: one pass per channel over its P outputs just written (in cache).
inline void residual_pass(const ParallelFor* pf, AddRunFn add, const Int8Out& out, int M, int64_t P, int8_t* y) {
  parallel_for(pf, M, [&](int64_t m0, int64_t m1) { residual_block(add, out, (int)m0, (int)m1, P, 0, P, y); });
}

// Conv image re-layout (Int8ConvImage): whether any tap reads column phase ph / row phase rp
// (a phase no tap reads, e.g. phase 1 of a strided 1x1, is left at z_x).
inline bool conv_col_phase_used(const ConvGeom& g, int ph) {
  for (int kx = 0; kx < g.kw; ++kx)
    if ((kx * g.dw) % g.sw == ph) return true;
  return false;
}
inline bool conv_row_phase_used(const ConvGeom& g, int rp) {
  for (int ky = 0; ky < g.kh; ++ky)
    if ((ky * g.dh) % g.sh == rp) return true;
  return false;
}

// Depthwise.
inline int dw_taps_padded(int taps) { return (taps + 3) / 4 * 4; }
inline size_t dw_w_off(int C) { return (size_t)round_up((int64_t)C * 4, 64); }
inline size_t dw_packed_size(int C, int taps) { return dw_w_off(C) + (size_t)C * dw_taps_padded(taps) * 2; }
inline void dw_pack(int C, int taps, const int8_t* w, const int32_t* bias, void* packed) {
  uint8_t* base = static_cast<uint8_t*>(packed);
  std::memset(base, 0, dw_packed_size(C, taps));
  int32_t* b = reinterpret_cast<int32_t*>(base);
  int16_t* wp = reinterpret_cast<int16_t*>(base + dw_w_off(C));
  const int tp = dw_taps_padded(taps);
  for (int c = 0; c < C; ++c) {
    b[c] = bias ? bias[c] : 0;
    for (int t = 0; t < taps; ++t) wp[(int64_t)c * tp + t] = w[(int64_t)c * taps + t];
  }
}

// The depthwise planes: for each channel, rows r in [0, Hn) of the padded input (row r is input row
// r - pad_t), each split into sw phases of L int16 values x - zx (0 outside the input): phase p,
// index i holds padded column i * sw + p. Output column ow at tap kx reads phase (kx*dw) % sw,
// index ow + (kx*dw) / sw, so taps are contiguous in ow. L leaves room for 32-wide loads past OW.
struct DwPlanes {
  int Hn, L;
  size_t channel_elems;
};
inline DwPlanes dw_planes(const ConvGeom& g) {
  DwPlanes p;
  p.Hn = (g.OH - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  p.L = (int)round_up(g.OW, 32) + ((g.kw - 1) * g.dw) / g.sw + 1;
  p.channel_elems = (size_t)round_up((int64_t)p.Hn * g.sw * p.L, 32);  // 64-byte aligned per channel
  return p;
}
inline size_t dw_scratch_size(const ConvGeom& g) { return dw_planes(g).channel_elems * 2 * (size_t)g.C; }
// Column phase ph of a plane row: index i holds input column i * sw + c0 (c0 = ph - pad_l), which
// is inside the input row for i in [i0, i1) (i1 at most L).
struct DwRowSpan {
  int c0, i0, i1;
};
inline DwRowSpan dw_row_span(const ConvGeom& g, const DwPlanes& p, int ph) {
  DwRowSpan s;
  s.c0 = ph - g.pad_l;
  s.i0 = s.c0 >= 0 ? 0 : (-s.c0 + g.sw - 1) / g.sw;
  s.i1 = g.W - 1 - s.c0 < 0 ? 0 : (g.W - 1 - s.c0) / g.sw + 1;
  if (s.i1 > p.L) s.i1 = p.L;
  return s;
}
inline void dw_fill_plane(const ConvGeom& g, const DwPlanes& p, const int8_t* x, int32_t zx, int16_t* plane) {
  for (int r = 0; r < p.Hn; ++r) {
    const int ih = r - g.pad_t;
    for (int ph = 0; ph < g.sw; ++ph) {
      int16_t* row = plane + ((int64_t)r * g.sw + ph) * p.L;
      std::memset(row, 0, (size_t)p.L * 2);
      if (ih < 0 || ih >= g.H) continue;
      const int8_t* xr = x + (int64_t)ih * g.W;
      const DwRowSpan sp = dw_row_span(g, p, ph);
      const int c0 = sp.c0, i0 = sp.i0, i1 = sp.i1;
      if (g.sw == 1) {
        const int8_t* src = xr + c0;
        for (int i = i0; i < i1; ++i) row[i] = (int16_t)(src[i] - zx);
      } else {
        for (int i = i0; i < i1; ++i) row[i] = (int16_t)(xr[i * g.sw + c0] - zx);
      }
    }
  }
}

// Offset of tap t (ky, kx) from the first element of output row oy's window in the planes:
// ((ky*dh) * sw + (kx*dw) % sw) * L + (kx*dw) / sw; the row base is oy * sh * sw * L.
inline int64_t dw_tap_offset(const ConvGeom& g, const DwPlanes& p, int ky, int kx) {
  const int off = kx * g.dw;
  return ((int64_t)ky * g.dh * g.sw + off % g.sw) * p.L + off / g.sw;
}

}  // namespace int8_pack
}  // namespace mcrt
