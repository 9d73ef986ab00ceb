// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AVX2+FMA, NCHW.
//
// Each (image, channel) plane is one unit of work, walked in columns of 8 output pixels (so border
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

}  // namespace avx2
}  // namespace mcrt
