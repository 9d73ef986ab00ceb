// Direct depthwise 3x3 convolution (stride 1 or 2, dilation 1) on AVX2+FMA, NCHW.
//
// Each (image, channel) plane is one unit of work. For every output row, the (up to) three input rows
// it needs are copied into a zero-padded row buffer on the stack, so that every output pixel, border
// or not, is computed by the same 8-wide loop: 9 FMAs per 8 outputs (invalid rows are skipped).
// Stride 2 de-interleaves even/odd input columns with shuffle + permute. Planes wider than
// kMaxRow fall back to the reference loop.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "../parallel_for.h"
#include "../reference/reference_kernels.h"
#include "avx2_kernels.h"

namespace mcrt {
namespace avx2 {
namespace {

constexpr int kMaxRow = 2048;  // padded row floats held on the stack (3 rows: 24 KiB)

// Even (odd = false) or odd elements of p[0..15], in order.
inline __m256 deinterleave(const float* p, bool odd) {
  const __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8);
  const __m256 s = odd ? _mm256_shuffle_ps(v0, v1, 0xDD) : _mm256_shuffle_ps(v0, v1, 0x88);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

void plane(const ConvGeom& g, const float* w9, float bias, float lo, float hi, const float* x, float* y) {
  const int s = g.sh;
  const int wp = g.pad_l + g.W + g.pad_r + 32;  // padded width incl. over-read slack
  alignas(32) float rows[3][kMaxRow];
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
  for (int r = 0; r < 3; ++r) {
    std::memset(rows[r], 0, sizeof(float) * g.pad_l);
    std::memset(rows[r] + g.pad_l + g.W, 0, sizeof(float) * (wp - g.pad_l - g.W));
  }
  for (int oy = 0; oy < g.OH; ++oy) {
    bool valid[3];
    for (int ky = 0; ky < 3; ++ky) {
      const int iy = oy * s - g.pad_t + ky;
      valid[ky] = iy >= 0 && iy < g.H;
      if (valid[ky]) std::memcpy(rows[ky] + g.pad_l, x + size_t(iy) * g.W, sizeof(float) * g.W);
    }
    float* yr = y + size_t(oy) * g.OW;
    for (int ox = 0; ox < g.OW; ox += 8) {
      __m256 acc = vb;
      for (int ky = 0; ky < 3; ++ky) {
        if (!valid[ky]) continue;
        const __m256 w0 = _mm256_set1_ps(w9[ky * 3]), w1 = _mm256_set1_ps(w9[ky * 3 + 1]),
                     w2 = _mm256_set1_ps(w9[ky * 3 + 2]);
        const float* r = rows[ky] + ox * s;
        if (s == 1) {
          acc = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r), acc);
          acc = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r + 1), acc);
          acc = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r + 2), acc);
        } else {
          acc = _mm256_fmadd_ps(w0, deinterleave(r, false), acc);
          acc = _mm256_fmadd_ps(w1, deinterleave(r, true), acc);
          acc = _mm256_fmadd_ps(w2, deinterleave(r + 2, false), acc);
        }
      }
      acc = _mm256_min_ps(_mm256_max_ps(acc, vlo), vhi);
      if (ox + 8 <= g.OW) {
        _mm256_storeu_ps(yr + ox, acc);
      } else {
        alignas(32) float t[8];
        _mm256_store_ps(t, acc);
        std::memcpy(yr + ox, t, sizeof(float) * (g.OW - ox));
      }
    }
  }
}

}  // namespace

void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf) {
  if (g.pad_l + g.W + g.pad_r + 32 > kMaxRow) return ref::conv2d_run(g, w, ep, x, y, nullptr, pf);
  const size_t in_plane = size_t(g.H) * g.W, out_plane = size_t(g.OH) * g.OW;
  parallel_for(pf, int64_t(g.N) * g.C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int c = int(p % g.C);
      plane(g, w + size_t(c) * 9, ep.bias ? ep.bias[c] : 0.0f, ep.lo, ep.hi, x + size_t(p) * in_plane,
            y + size_t(p) * out_plane);
    }
  });
}

}  // namespace avx2
}  // namespace mcrt
