// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AVX-512F, NCHW.
//
// Planes wider than 8 pixels: each (image, channel) plane is one unit of work, walked in columns of
// 16 output pixels, so a 14-wide plane (mobile's 14x14 layers) is one column, not an 8-wide one plus
// a 6-wide tail as on AVX2. Every load is a masked load (lanes outside [0, W) read as 0, the zero
// padding, and are never accessed), the masks of a column are computed once for all its rows. Edge
// rows are 9 FMAs in three chains (kernel rows outside the input skipped); stride-1 interior rows,
// four at a time, one chain each (so rows of a plane sum in two orders: deterministic, within the
// tolerance against the reference). Stride 2
// de-interleaves even/odd input columns with one two-source permute per tap.
// Stride 1 computes the output rows whose input rows are all inside four at a time, loading each
// input row once for the three output rows it feeds. Planes up to 8 wide, and outputs up to 8 wide,
// keep the AVX2 kernel (avx2::conv2d_depthwise_3x3): its channel-interleaved path for small planes,
// and 256-bit columns where a 512-bit one would be half empty.
#include <immintrin.h>

// GCC 12's _mm512_min_ps/_mm512_max_ps pass an undefined vector as the masked-off source, which
// trips -Wmaybe-uninitialized (as in sgemm_6x32_avx512.cpp); nothing here reads uninitialised data.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstdint>

#include "../parallel_for.h"
#include "avx2_kernels.h"
#include "avx512_kernels.h"

namespace mcrt {
namespace avx512 {
namespace {

// Lanes j of a load whose lane 0 is input column s that fall inside [0, W).
inline __mmask16 lanes_inside(int s, int W) {
  const int lo = std::max(0, -s), hi = std::min(16, W - s);
  if (hi <= lo) return 0;
  const uint32_t n = uint32_t(hi - lo);
  return __mmask16(((n >= 16 ? 0xFFFFu : ((1u << n) - 1u)) << lo) & 0xFFFFu);
}

// row[s .. s+15] with the lanes outside m read as 0; their addresses are never accessed (row + s may
// point before the row, so the address is formed as an integer).
inline __m512 load_row(const float* row, int s, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(row) + intptr_t(s) * 4));
}

// The three taps of kernel row ky for the 16 outputs whose first tap is input column s.
template <int S>
inline __m512 row_taps(const float* row, int s, const __m512* w3, const __mmask16* m, __m512 acc) {
  if (S == 1) {
    acc = _mm512_fmadd_ps(w3[0], load_row(row, s, m[0]), acc);
    acc = _mm512_fmadd_ps(w3[1], load_row(row, s + 1, m[1]), acc);
    return _mm512_fmadd_ps(w3[2], load_row(row, s + 2, m[2]), acc);
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 v0 = load_row(row, s, m[0]), v1 = load_row(row, s + 16, m[1]);
  const __m512 v2 = load_row(row, s + 2, m[2]), v3 = load_row(row, s + 18, m[3]);
  acc = _mm512_fmadd_ps(w3[0], _mm512_permutex2var_ps(v0, even, v1), acc);
  acc = _mm512_fmadd_ps(w3[1], _mm512_permutex2var_ps(v0, odd, v1), acc);
  return _mm512_fmadd_ps(w3[2], _mm512_permutex2var_ps(v2, even, v3), acc);
}

// Stride 1, R output rows whose three input rows are all inside, from input rows r0 .. r0 + R + 1:
// each input row is loaded once (3 shifted vectors) and feeds up to three output rows, instead of
// being loaded again for each of them.
template <int R>
inline void rows_s1(const float* r0, int W, int s, const __m512* wv, const __mmask16* m, __m512 vb, __m512 vlo,
                    __m512 vhi, float* y, int ldy, __mmask16 store) {
  __m512 acc[R];
  for (int i = 0; i < R; ++i) acc[i] = vb;
  for (int j = 0; j < R + 2; ++j) {
    const float* row = r0 + size_t(j) * W;
    const __m512 v0 = load_row(row, s, m[0]), v1 = load_row(row, s + 1, m[1]), v2 = load_row(row, s + 2, m[2]);
    for (int ky = 0; ky < 3; ++ky) {
      const int o = j - ky;
      if (o < 0 || o >= R) continue;
      acc[o] = _mm512_fmadd_ps(wv[3 * ky], v0, acc[o]);
      acc[o] = _mm512_fmadd_ps(wv[3 * ky + 1], v1, acc[o]);
      acc[o] = _mm512_fmadd_ps(wv[3 * ky + 2], v2, acc[o]);
    }
  }
  for (int i = 0; i < R; ++i)
    _mm512_mask_storeu_ps(y + size_t(i) * ldy, store, _mm512_min_ps(_mm512_max_ps(acc[i], vlo), vhi));
}

template <int S>
void plane(const ConvGeom& g, const float* w9, float bias, float lo, float hi, const float* x, float* y) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), vb = _mm512_set1_ps(bias);
  __m512 wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = _mm512_set1_ps(w9[i]);
  // Load offsets from a column's first tap: stride 1 uses 0, 1, 2; stride 2 uses 0, 16, 2, 18.
  constexpr int kLoads = S == 1 ? 3 : 4;
  constexpr int kOff[4] = {0, S == 1 ? 1 : 16, 2, 18};
  for (int ox = 0; ox < g.OW; ox += 16) {
    const int s = ox * S - g.pad_l;  // input column of tap kx = 0, lane 0
    __mmask16 m[4];
    for (int l = 0; l < kLoads; ++l) m[l] = lanes_inside(s + kOff[l], g.W);
    const __mmask16 store = lanes_inside(ox, g.OW);
    // Stride 1: the output rows whose three input rows are inside, four at a time; the rest (edges,
    // and up to three left over) one at a time below.
    int blk_lo = 0, blk_hi = 0;
    if (S == 1) {
      const int in_lo = std::min(g.OH, g.pad_t);
      const int in_hi = std::max(in_lo, std::min(g.OH, g.H - 2 + g.pad_t));
      blk_lo = in_lo;
      blk_hi = in_lo + (in_hi - in_lo) / 4 * 4;
      for (int oy = blk_lo; oy < blk_hi; oy += 4)
        rows_s1<4>(x + size_t(oy - g.pad_t) * g.W, g.W, s, wv, m, vb, vlo, vhi, y + size_t(oy) * g.OW + ox, g.OW, store);
    }
    for (int oy = 0; oy < g.OH; ++oy) {
      if (oy >= blk_lo && oy < blk_hi) continue;
      const int iy = oy * S - g.pad_t;
      __m512 a0 = vb, a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
      if (iy >= 0 && iy + 2 < g.H) {
        const float* r = x + size_t(iy) * g.W;
        a0 = row_taps<S>(r, s, wv, m, a0);
        a1 = row_taps<S>(r + g.W, s, wv + 3, m, a1);
        a2 = row_taps<S>(r + 2 * g.W, s, wv + 6, m, a2);
      } else {
        if (iy >= 0 && iy < g.H) a0 = row_taps<S>(x + size_t(iy) * g.W, s, wv, m, a0);
        if (iy + 1 >= 0 && iy + 1 < g.H) a1 = row_taps<S>(x + size_t(iy + 1) * g.W, s, wv + 3, m, a1);
        if (iy + 2 >= 0 && iy + 2 < g.H) a2 = row_taps<S>(x + size_t(iy + 2) * g.W, s, wv + 6, m, a2);
      }
      const __m512 r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), a2), vlo), vhi);
      _mm512_mask_storeu_ps(y + size_t(oy) * g.OW + ox, store, r);
    }
  }
}

}  // namespace

void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf) {
  // Up to 8 outputs per row, a 512-bit column is half empty (and Zen 4 runs it as two 256-bit
  // halves): mobile's 14x14 -> 7x7 stride-2 layer took 1.4 us here against 1.1 us on AVX2.
  if (g.W <= 8 || g.OW <= 8) return avx2::conv2d_depthwise_3x3(g, w, ep, x, y, pf);
  const size_t in_plane = size_t(g.H) * g.W, out_plane = size_t(g.OH) * g.OW;
  parallel_for(pf, int64_t(g.N) * g.C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int c = int(p % g.C);
      const float bias = ep.bias ? ep.bias[c] : 0.0f;
      if (g.sh == 1)
        plane<1>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
      else
        plane<2>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
    }
  });
}

}  // namespace avx512
}  // namespace mcrt
