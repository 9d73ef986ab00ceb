// AVX2 int8 kernels (compiled with -mavx2 only; no FMA is used anywhere, the output stage is a
// float32 multiply then round-half-even conversion, exactly the reference's rule).
//
// GEMM: 4 output channels x 8 columns per tile. Per K-quad, 8 columns x 4 k (32 bytes of X) are
// sign-extended to int16 (vpmovsxbw) and multiplied by the 4 weights of a channel broadcast as int16
// with vpmaddwd (pairs of products summed exactly in int32); per channel two accumulators hold
// [col, k-pair] sums that one vphaddd + vpermq turn into 8 column sums at the end. The zero point
// enters once per output as - zx * Σw (precomputed Σw in the pack).
// Depthwise: int16 planes of x - zx (int8_pack.h), 8 outputs per step, vpmulld per tap.
#include <immintrin.h>

#include <cstring>

#include "../../parallel_for.h"
#include "../int8_pack.h"
#include "../int8_sets.h"

namespace mcrt {
namespace int8_avx2 {
namespace {

constexpr int MR = 4, NR = 8;

// 8 int32 accumulators -> int8 (or float) outputs, `valid` of them stored.
inline void store8(__m256i acc, int m, const Int8Out& out, void* y, int64_t idx, int valid) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(out.mult[m]));
  if (out.f32) {
    if (out.fbias) f = _mm256_add_ps(f, _mm256_set1_ps(out.fbias[m]));
    float* yf = static_cast<float*>(y) + idx;
    if (valid == 8) {
      _mm256_storeu_ps(yf, f);
    } else {
      alignas(32) float t[8];
      _mm256_store_ps(t, f);
      std::memcpy(yf, t, (size_t)valid * 4);
    }
    return;
  }
  f = _mm256_max_ps(f, _mm256_set1_ps((float)(out.act_min - out.zero_point)));
  f = _mm256_min_ps(f, _mm256_set1_ps((float)(out.act_max - out.zero_point)));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(out.zero_point));
  const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i q8 = _mm_packs_epi16(q16, q16);
  int8_t* yb = static_cast<int8_t*>(y) + idx;
  if (valid == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(yb), q8);
  } else {
    alignas(16) int8_t t[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(t), q8);
    std::memcpy(yb, t, (size_t)valid);
  }
}

void gemm_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int M, int N, int n0,
               const int8_t* xp, int64_t Np, int32_t zx, const Int8Out& out, void* y, int64_t ldy) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int16_t* wp = reinterpret_cast<const int16_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4;
  __m256i lo0 = _mm256_setzero_si256(), lo1 = lo0, lo2 = lo0, lo3 = lo0;
  __m256i hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
  const int8_t* xq = xp + (int64_t)n0 * 4;
  for (int q = 0; q < l.Kq; ++q, xq += Np * 4, wp += MR * 4) {
    const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq)));
    const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + 16)));
    long long w64[4];
    std::memcpy(w64, wp, 32);
    __m256i wb = _mm256_set1_epi64x(w64[0]);
    lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(x0, wb));
    hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(x1, wb));
    wb = _mm256_set1_epi64x(w64[1]);
    lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(x0, wb));
    hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(x1, wb));
    wb = _mm256_set1_epi64x(w64[2]);
    lo2 = _mm256_add_epi32(lo2, _mm256_madd_epi16(x0, wb));
    hi2 = _mm256_add_epi32(hi2, _mm256_madd_epi16(x1, wb));
    wb = _mm256_set1_epi64x(w64[3]);
    lo3 = _mm256_add_epi32(lo3, _mm256_madd_epi16(x0, wb));
    hi3 = _mm256_add_epi32(hi3, _mm256_madd_epi16(x1, wb));
  }
  const __m256i los[4] = {lo0, lo1, lo2, lo3}, his[4] = {hi0, hi1, hi2, hi3};
  const int valid = N - n0 < NR ? N - n0 : NR;
  for (int r = 0; r < MR; ++r) {
    const int m = tile * MR + r;
    if (m >= M) break;
    __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(los[r], his[r]), 0xD8);
    s = _mm256_add_epi32(s, _mm256_set1_epi32((int32_t)((uint32_t)bias[m] - (uint32_t)zx * (uint32_t)wsum[m])));
    store8(s, m, out, y, (int64_t)m * ldy + n0, valid);
  }
}

}  // namespace

size_t gemm_packed_size(int M, int K) { return int8_pack::gemm_layout<int16_t>(M, K, MR).bytes; }
void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::gemm_pack<int16_t>(M, K, MR, w, bias, packed);
}

void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int16_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int64_t Np = int8_gemm_cols(N);
  const int mt = l.Mp / MR, nt = (N + NR - 1) / NR;
  parallel_for(pf, (int64_t)mt * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      gemm_tile(l, base, (int)(t / nt), M, N, (int)(t % nt) * NR, xp, Np, zx, out, y, ldy);
  });
}

size_t dw_packed_size(int C, int taps) { return int8_pack::dw_packed_size(C, taps); }
void dw_pack(int C, int taps, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::dw_pack(C, taps, w, bias, packed);
}
size_t dw_scratch_size(const ConvGeom& g) { return int8_pack::dw_scratch_size(g); }

void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
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
      __m256i wv[64];
      const int nw = taps < 64 ? taps : 64;
      for (int t = 0; t < nw; ++t) wv[t] = _mm256_set1_epi32(w[t]);
      for (int oy = 0; oy < g.OH; ++oy)
        for (int ox = 0; ox < g.OW; ox += 8) {
          __m256i acc = _mm256_set1_epi32(bias[c]);
          for (int ky = 0; ky < g.kh; ++ky) {
            const int r = oy * g.sh + ky * g.dh;
            for (int kx = 0; kx < g.kw; ++kx) {
              const int t = ky * g.kw + kx, off = kx * g.dw;
              const int16_t* src = plane + ((int64_t)r * g.sw + off % g.sw) * p.L + ox + off / g.sw;
              const __m256i xv = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
              const __m256i wt = t < 64 ? wv[t] : _mm256_set1_epi32(w[t]);
              acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wt));
            }
          }
          store8(acc, (int)c, out, y, (c * g.OH + oy) * g.OW + ox, g.OW - ox < 8 ? g.OW - ox : 8);
        }
    }
  });
}

}  // namespace int8_avx2
}  // namespace mcrt
