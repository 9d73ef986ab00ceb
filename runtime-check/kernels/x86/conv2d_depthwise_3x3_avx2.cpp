// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AVX2+FMA, NCHW.
//
// Each (image, channel) plane is one unit of work. Every output row is computed 8 pixels at a time
// with 9 FMAs in three chains (rows outside the input are skipped). The input is read in place: blocks whose taps
// all fall inside the row use plain loads, border blocks use masked loads (lanes outside [0, W) read
// as 0, which is the zero padding), and the last block of a row uses a masked store. Stride 2
// de-interleaves even/odd input columns with shuffle + permute.
#include <immintrin.h>

#include <cstdint>

#include "../parallel_for.h"
#include "avx2_kernels.h"

namespace mcrt {
namespace avx2 {
namespace {

// Loads row[s .. s+7], lanes outside [0, W) as 0. The address of a masked-out lane is never accessed.
inline __m256 load_row(const float* row, int s, int W, bool inside) {
  if (inside) return _mm256_loadu_ps(row + s);
  const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(s), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                     _mm256_cmpgt_epi32(_mm256_set1_epi32(W), idx));
  // row + s may point outside the row; only lanes inside it are read.
  return _mm256_maskload_ps(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(row) + intptr_t(s) * 4), m);
}

// Even (odd = false) or odd elements of v0:v1 (16 consecutive floats), in order.
inline __m256 deinterleave(__m256 v0, __m256 v1, bool odd) {
  const __m256 s = odd ? _mm256_shuffle_ps(v0, v1, 0xDD) : _mm256_shuffle_ps(v0, v1, 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

template <int S>
void plane(const ConvGeom& g, const float* w9, float bias, float lo, float hi, const float* x, float* y) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
  __m256 wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = _mm256_set1_ps(w9[i]);
  for (int oy = 0; oy < g.OH; ++oy) {
    const int iy0 = oy * S - g.pad_t;
    float* yr = y + size_t(oy) * g.OW;
    for (int ox = 0; ox < g.OW; ox += 8) {
      const int s = ox * S - g.pad_l;  // input column of tap kx = 0, lane 0
      // Taps span input columns [s, s + 7*S + 2] (stride 2 loads up to s + 17).
      const bool inside = s >= 0 && s + (S == 1 ? 9 : 17) < g.W;
      // One accumulator per kernel row: three short FMA chains instead of one of nine.
      __m256 acc[3] = {vb, _mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int ky = 0; ky < 3; ++ky) {
        const int iy = iy0 + ky;
        if (iy < 0 || iy >= g.H) continue;
        const float* row = x + size_t(iy) * g.W;
        __m256 a = acc[ky];
        if (S == 1) {
          a = _mm256_fmadd_ps(wv[ky * 3 + 0], load_row(row, s, g.W, inside), a);
          a = _mm256_fmadd_ps(wv[ky * 3 + 1], load_row(row, s + 1, g.W, inside), a);
          a = _mm256_fmadd_ps(wv[ky * 3 + 2], load_row(row, s + 2, g.W, inside), a);
        } else {
          const __m256 v0 = load_row(row, s, g.W, inside), v1 = load_row(row, s + 8, g.W, inside);
          const __m256 v2 = load_row(row, s + 2, g.W, inside), v3 = load_row(row, s + 10, g.W, inside);
          a = _mm256_fmadd_ps(wv[ky * 3 + 0], deinterleave(v0, v1, false), a);
          a = _mm256_fmadd_ps(wv[ky * 3 + 1], deinterleave(v0, v1, true), a);
          a = _mm256_fmadd_ps(wv[ky * 3 + 2], deinterleave(v2, v3, false), a);
        }
        acc[ky] = a;
      }
      __m256 r = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), acc[2]);
      r = _mm256_min_ps(_mm256_max_ps(r, vlo), vhi);
      if (ox + 8 <= g.OW) {
        _mm256_storeu_ps(yr + ox, r);
      } else {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(g.OW - ox), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(yr + ox, m, r);
      }
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

}  // namespace avx2
}  // namespace mcrt
