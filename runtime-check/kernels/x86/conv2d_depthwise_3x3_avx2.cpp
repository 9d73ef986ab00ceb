// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AVX2+FMA, NCHW.
//
// Input planes up to 8 wide take 8 channels at a time through a channel-interleaved buffer
// (see eight_channels). Otherwise each (image, channel) plane is one unit of work, walked in columns
// of 8 output pixels (so border
// masks are computed once per column). Every output row is computed 8 pixels at a time
// with 9 FMAs in three chains (rows outside the input are skipped). The input is read in place: blocks whose taps
// all fall inside the row use plain loads, border blocks use masked loads (lanes outside [0, W) read
// as 0, which is the zero padding), and the last block of a row uses a masked store. Stride 2
// de-interleaves even/odd input columns with shuffle + permute.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "../parallel_for.h"
#include "avx2_kernels.h"

namespace mcrt {
namespace avx2 {
namespace {

// Lanes j of a load starting at input column s that fall inside [0, W).
inline __m256i row_mask(int s, int W) {
  const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(s), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(W), idx));
}

// Loads row[s .. s+7]; with a mask, lanes outside the row read as 0 and their addresses are never
// accessed (row + s may point before the row, so the address is formed as an integer).
inline __m256 load_row(const float* row, int s, bool inside, __m256i m) {
  if (inside) return _mm256_loadu_ps(row + s);
  return _mm256_maskload_ps(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(row) + intptr_t(s) * 4), m);
}

// Even (odd = false) or odd elements of v0:v1 (16 consecutive floats), in order.
inline __m256 deinterleave(__m256 v0, __m256 v1, bool odd) {
  const __m256 s = odd ? _mm256_shuffle_ps(v0, v1, 0xDD) : _mm256_shuffle_ps(v0, v1, 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

// Sum over the three taps of one kernel row (ky) for the 8 outputs of a block whose first tap is at
// row + s. Masked: lanes outside the row read 0 (m[] from row_mask).
template <int S, bool Masked>
inline __m256 row_taps(const float* row, int s, const __m256* w3, const __m256i* m, __m256 acc) {
  if (S == 1) {
    acc = _mm256_fmadd_ps(w3[0], load_row(row, s, !Masked, m[0]), acc);
    acc = _mm256_fmadd_ps(w3[1], load_row(row, s + 1, !Masked, m[1]), acc);
    acc = _mm256_fmadd_ps(w3[2], load_row(row, s + 2, !Masked, m[2]), acc);
  } else {
    const __m256 v0 = load_row(row, s, !Masked, m[0]), v1 = load_row(row, s + 8, !Masked, m[1]);
    const __m256 v2 = load_row(row, s + 2, !Masked, m[2]), v3 = load_row(row, s + 10, !Masked, m[3]);
    acc = _mm256_fmadd_ps(w3[0], deinterleave(v0, v1, false), acc);
    acc = _mm256_fmadd_ps(w3[1], deinterleave(v0, v1, true), acc);
    acc = _mm256_fmadd_ps(w3[2], deinterleave(v2, v3, false), acc);
  }
  return acc;
}

// One column of 8 output pixels (starting at output column ox, first tap at input column s) over all
// output rows. Rows whose three taps are all inside the input run branch-free.
template <int S, bool Masked>
void column(const ConvGeom& g, const __m256* wv, __m256 vb, __m256 vlo, __m256 vhi, const float* x, float* y, int ox,
            int s, const __m256i* m, bool full, __m256i store_mask) {
  // Output rows with all three input rows inside: oy*S - pad_t >= 0 and oy*S - pad_t + 2 < H.
  const int oy_lo = std::min(g.OH, (g.pad_t + S - 1) / S);
  const int oy_hi = std::max(oy_lo, std::min(g.OH, g.H - 3 + g.pad_t >= 0 ? (g.H - 3 + g.pad_t) / S + 1 : 0));
  auto emit = [&](int oy, __m256 r) {
    r = _mm256_min_ps(_mm256_max_ps(r, vlo), vhi);
    float* yo = y + size_t(oy) * g.OW + ox;
    if (full) _mm256_storeu_ps(yo, r);
    else _mm256_maskstore_ps(yo, store_mask, r);
  };
  auto edge_row = [&](int oy) {
    __m256 acc[3] = {vb, _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int ky = 0; ky < 3; ++ky) {
      const int iy = oy * S - g.pad_t + ky;
      if (iy >= 0 && iy < g.H) acc[ky] = row_taps<S, Masked>(x + size_t(iy) * g.W, s, wv + 3 * ky, m, acc[ky]);
    }
    emit(oy, _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), acc[2]));
  };
  for (int oy = 0; oy < oy_lo; ++oy) edge_row(oy);
  const float* row = x + size_t(oy_lo * S - g.pad_t) * g.W;
  for (int oy = oy_lo; oy < oy_hi; ++oy, row += S * g.W) {
    // One accumulator per kernel row: three short FMA chains instead of one of nine.
    const __m256 a0 = row_taps<S, Masked>(row, s, wv, m, vb);
    const __m256 a1 = row_taps<S, Masked>(row + g.W, s, wv + 3, m, _mm256_setzero_ps());
    const __m256 a2 = row_taps<S, Masked>(row + 2 * g.W, s, wv + 6, m, _mm256_setzero_ps());
    emit(oy, _mm256_add_ps(_mm256_add_ps(a0, a1), a2));
  }
  for (int oy = oy_hi; oy < g.OH; ++oy) edge_row(oy);
}

// One plane, walked block column by block column (8 output columns), so the border masks of a block
// are computed once for all its rows.
template <int S>
void plane(const ConvGeom& g, const float* w9, float bias, float lo, float hi, const float* x, float* y) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
  __m256 wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = _mm256_set1_ps(w9[i]);
  // Load offsets from the block's first tap column: stride 1 uses 0, 1, 2; stride 2 uses 0, 8, 2, 10.
  constexpr int kLoads = S == 1 ? 3 : 4;
  constexpr int kOff[4] = {0, S == 1 ? 1 : 8, 2, 10};
  for (int ox = 0; ox < g.OW; ox += 8) {
    const int s = ox * S - g.pad_l;  // input column of tap kx = 0, lane 0
    const bool inside = s >= 0 && s + (S == 1 ? 9 : 17) < g.W;
    const bool full = ox + 8 <= g.OW;
    const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(g.OW - ox), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i m[4];
    for (int l = 0; l < kLoads; ++l) m[l] = inside ? _mm256_setzero_si256() : row_mask(s + kOff[l], g.W);
    if (inside) column<S, false>(g, wv, vb, vlo, vhi, x, y, ox, s, m, full, store_mask);
    else column<S, true>(g, wv, vb, vlo, vhi, x, y, ox, s, m, full, store_mask);
  }
}

// --- Small planes: 8 channels at a time, channel-interleaved -----------------------------------
// For planes narrower than a vector (input width <= 8), per-plane work is mostly overhead. Instead, 8 channels are
// transposed (8x8 in registers) into a zero-padded [Hp][Wp][8] buffer on the stack; each output
// pixel of the 8 channels is then 9 FMAs on full vectors, and the [OH*OW][8] result is transposed
// back into the 8 output planes.
constexpr int kSmallMaxPadded = 1024;  // Hp*Wp and OH*OW limits (32 KiB of stack each)

inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

inline bool small_plane(const ConvGeom& g) {
  // Measured on the mobile model's layers: a win for input planes up to 8 wide (7x7, 4x4), a loss
  // from 14 wide on, where the transposes cost more than the per-plane overhead they save.
  return g.W <= 8 && (g.H + g.pad_t + g.pad_b) * (g.W + g.pad_l + g.pad_r) <= kSmallMaxPadded &&
         g.OH * g.OW <= kSmallMaxPadded;
}

// Channels [c0, c0+8) of one image: x8 and y8 point at plane c0.
template <int S>
void eight_channels(const ConvGeom& g, const float* w, const float* bias, float lo, float hi, int c0, const float* x8,
                    float* y8) {
  const int hp = g.H + g.pad_t + g.pad_b, wp = g.W + g.pad_l + g.pad_r;
  const int hw = g.H * g.W, ohw = g.OH * g.OW;
  alignas(32) float buf[kSmallMaxPadded * 8];
  alignas(32) float out[kSmallMaxPadded * 8];
  // Zero the padding border only: top and bottom rows, then left and right columns.
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < hp; ++i) {
    float* row = buf + size_t(i) * wp * 8;
    if (i < g.pad_t || i >= g.pad_t + g.H) {
      for (int j = 0; j < wp; ++j) _mm256_store_ps(row + j * 8, zero);
    } else {
      for (int j = 0; j < g.pad_l; ++j) _mm256_store_ps(row + j * 8, zero);
      for (int j = g.pad_l + g.W; j < wp; ++j) _mm256_store_ps(row + j * 8, zero);
    }
  }
  // Interior, row by row: 8 pixels of 8 channels per 8x8 transpose.
  for (int iy = 0; iy < g.H; ++iy) {
    float* row = buf + (size_t(iy + g.pad_t) * wp + g.pad_l) * 8;
    for (int ix = 0; ix < g.W; ix += 8) {
      const int n = std::min(8, g.W - ix);
      __m256 r[8];
      if (n == 8) {
        for (int c = 0; c < 8; ++c) r[c] = _mm256_loadu_ps(x8 + size_t(c) * hw + iy * g.W + ix);
      } else {
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int c = 0; c < 8; ++c) r[c] = _mm256_maskload_ps(x8 + size_t(c) * hw + iy * g.W + ix, mk);
      }
      transpose8(r);
      for (int q = 0; q < n; ++q) _mm256_store_ps(row + (ix + q) * 8, r[q]);
    }
  }
  __m256 wv[9];
  for (int k = 0; k < 9; ++k) {
    alignas(32) float t[8];
    for (int c = 0; c < 8; ++c) t[c] = w[size_t(c0 + c) * 9 + k];
    wv[k] = _mm256_load_ps(t);
  }
  const __m256 vb = bias ? _mm256_loadu_ps(bias + c0) : zero;  // bias has C >= c0 + 8 entries
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int oy = 0; oy < g.OH; ++oy) {
    for (int ox = 0; ox < g.OW; ++ox) {
      const float* b0 = buf + size_t(oy * S * wp + ox * S) * 8;
      __m256 a0 = vb, a1 = zero, a2 = zero;
      for (int kx = 0; kx < 3; ++kx) {
        a0 = _mm256_fmadd_ps(wv[kx], _mm256_load_ps(b0 + kx * 8), a0);
        a1 = _mm256_fmadd_ps(wv[3 + kx], _mm256_load_ps(b0 + (wp + kx) * 8), a1);
        a2 = _mm256_fmadd_ps(wv[6 + kx], _mm256_load_ps(b0 + (2 * wp + kx) * 8), a2);
      }
      const __m256 r = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
      _mm256_store_ps(out + size_t(oy * g.OW + ox) * 8, _mm256_min_ps(_mm256_max_ps(r, vlo), vhi));
    }
  }
  // Back to planes: 8 pixels of 8 channels per transpose.
  for (int p = 0; p < ohw; p += 8) {
    const int n = std::min(8, ohw - p);
    const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 r[8];
    for (int q = 0; q < 8; ++q) r[q] = q < n ? _mm256_load_ps(out + size_t(p + q) * 8) : zero;
    transpose8(r);
    for (int c = 0; c < 8; ++c) _mm256_maskstore_ps(y8 + size_t(c) * ohw + p, mk, r[c]);
  }
}

}  // namespace

void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf) {
  const size_t in_plane = size_t(g.H) * g.W, out_plane = size_t(g.OH) * g.OW;
  auto one_plane = [&](int64_t p) {
    const int c = int(p % g.C);
    const float bias = ep.bias ? ep.bias[c] : 0.0f;
    if (g.sh == 1) plane<1>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
    else plane<2>(g, w + size_t(c) * 9, bias, ep.lo, ep.hi, x + size_t(p) * in_plane, y + size_t(p) * out_plane);
  };
  if (small_plane(g)) {
    // Units: blocks of 8 channels of one image; the last block of an image may be partial (per plane).
    const int blocks = (g.C + 7) / 8;
    parallel_for(pf, int64_t(g.N) * blocks, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int n = int(t / blocks), c0 = int(t % blocks) * 8;
        const size_t p0 = size_t(n) * g.C + c0;
        if (c0 + 8 <= g.C) {
          if (g.sh == 1) eight_channels<1>(g, w, ep.bias, ep.lo, ep.hi, c0, x + p0 * in_plane, y + p0 * out_plane);
          else eight_channels<2>(g, w, ep.bias, ep.lo, ep.hi, c0, x + p0 * in_plane, y + p0 * out_plane);
        } else {
          for (int c = c0; c < g.C; ++c) one_plane(int64_t(n) * g.C + c);
        }
      }
    });
    return;
  }
  parallel_for(pf, int64_t(g.N) * g.C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) one_plane(p);
  });
}

}  // namespace avx2
}  // namespace mcrt
