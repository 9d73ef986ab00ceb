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

// kOff: K-quad q of the tile's columns at xp + n0*4 + qoff[q] (implicit-GEMM conv); else at + q*Np*4.
template <bool kOff>
void gemm_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int M, int N, int n0,
               const int8_t* xp, int64_t Np, const int64_t* qoff, int32_t zx, const Int8Out& out, void* y,
               int64_t ldy) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int16_t* wp = reinterpret_cast<const int16_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4;
  __m256i lo0 = _mm256_setzero_si256(), lo1 = lo0, lo2 = lo0, lo3 = lo0;
  __m256i hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
  const int8_t* xc = xp + (int64_t)n0 * 4;
  for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
    const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
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
      gemm_tile<false>(l, base, (int)(t / nt), M, N, (int)(t % nt) * NR, xp, Np, nullptr, zx, out, y, ldy);
  });
}

void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int16_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int mt = l.Mp / MR, nt = (OW + NR - 1) / NR;
  const int64_t P = (int64_t)OH * OW;
  parallel_for(pf, (int64_t)mt * OH * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int tile = (int)(t / ((int64_t)OH * nt)), rem = (int)(t % ((int64_t)OH * nt));
      const int oy = rem / nt, ox0 = rem % nt * NR;
      gemm_tile<true>(l, base, tile, M, OW, ox0, img + oy * row_step, 0, qoff, zx, out, y + (int64_t)oy * OW, P);
    }
  });
  if (out.residual) int8_pack::residual_pass(pf, add_run, out, M, P, y);  // the fused add
}

size_t dw_packed_size(const ConvGeom& g) { return int8_pack::dw_packed_size(g.C, g.kh * g.kw); }
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::dw_pack(g.C, g.kh * g.kw, w, bias, packed);
  return "avx2";
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
    int64_t toff[64];
    const int nt = taps < 64 ? taps : 64;
    for (int t = 0; t < nt; ++t) toff[t] = int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw);
    for (int64_t c = c0; c < c1; ++c) {
      int16_t* plane = static_cast<int16_t*>(scratch) + (size_t)c * p.channel_elems;
      int8_pack::dw_fill_plane(g, p, x + c * g.H * g.W, zx, plane);
      const int16_t* w = wall + c * tp;
      for (int oy = 0; oy < g.OH; ++oy) {
        const int16_t* rowp = plane + (int64_t)oy * g.sh * g.sw * p.L;
        for (int ox = 0; ox < g.OW; ox += 8) {
          __m256i acc = _mm256_set1_epi32(bias[c]);
          for (int t = 0; t < taps; ++t) {
            const int64_t o = t < 64 ? toff[t] : int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw);
            // |x - zx| <= 255 and |w| <= 127: the int16 product is exact.
            const __m128i xv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rowp + o + ox));
            const __m128i pr = _mm_mullo_epi16(xv, _mm_set1_epi16(w[t]));
            acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(pr));
          }
          store8(acc, (int)c, out, y, (c * g.OH + oy) * g.OW + ox, g.OW - ox < 8 ? g.OW - ox : 8);
        }
      }
    }
  });
}

void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  const __m256 ma = _mm256_set1_ps(p.ma), mb = _mm256_set1_ps(p.mb);
  const __m256 flo = _mm256_set1_ps((float)(p.lo - p.zy)), fhi = _mm256_set1_ps((float)(p.hi - p.zy));
  const __m256i za = _mm256_set1_epi32(p.za), zb = _mm256_set1_epi32(p.zb), zy = _mm256_set1_epi32(p.zy);
  auto load8 = [](const int8_t* s, int st, int64_t i) {
    if (st == 0) return _mm256_set1_epi32(s[0]);
    long long v;
    std::memcpy(&v, s + i, 8);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = _mm256_mul_ps(ma, _mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a, as, i), za)));
    const __m256 fb = _mm256_mul_ps(mb, _mm256_cvtepi32_ps(_mm256_sub_epi32(load8(b, bs, i), zb)));
    const __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(fa, fb), flo), fhi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), zy);
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packs_epi16(q16, q16));
  }
  if (i < n) {  // tail through the reference rule, element by element (same operations, scalar)
    for (; i < n; ++i) {
      const float fa = p.ma * (float)((int32_t)a[i * as] - p.za);
      const float fb = p.mb * (float)((int32_t)b[i * bs] - p.zb);
      const __m128 f = _mm_min_ss(_mm_max_ss(_mm_set_ss(fa + fb), _mm_set_ss((float)(p.lo - p.zy))),
                                  _mm_set_ss((float)(p.hi - p.zy)));
      y[i] = (int8_t)(_mm_cvtss_si32(f) + p.zy);
    }
  }
}

}  // namespace int8_avx2
}  // namespace mcrt
