// AVX-512 VNNI int8 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni).
//
// GEMM: 8 output channels x 32 columns per tile (16 zmm accumulators; a 16-column variant for the
// last block). vpdpbusd multiplies unsigned by signed bytes, so X is read as x + 128 (xor 0x80) and
// the compensation bias - (zx + 128) * Σw, from the Σw precomputed in the pack, restores
// Σ (x - zx) · w + bias exactly. Each vpdpbusd adds 4 products per lane into int32 without
// saturation; with K · 255 · 127 < 2^31 nothing wraps.
// Output stage: vcvtdq2ps, vmulps, clamp, vcvtps2dq (round half to even), + zp, vpmovdb.
// Depthwise: int16 planes of x - zx (int8_pack.h), 16 outputs per step, vpmulld per tap.
#include <immintrin.h>

#include <cstring>

#include "../../parallel_for.h"
#include "../int8_pack.h"
#include "../int8_sets.h"

namespace mcrt {
namespace int8_avx512vnni {
namespace {

constexpr int MR = 8;

inline void store16(__m512i acc, int m, const Int8Out& out, void* y, int64_t idx, int valid) {
  const __mmask16 k = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(out.mult[m]));
  if (out.f32) {
    if (out.fbias) f = _mm512_add_ps(f, _mm512_set1_ps(out.fbias[m]));
    _mm512_mask_storeu_ps(static_cast<float*>(y) + idx, k, f);
    return;
  }
  f = _mm512_max_ps(f, _mm512_set1_ps((float)(out.act_min - out.zero_point)));
  f = _mm512_min_ps(f, _mm512_set1_ps((float)(out.act_max - out.zero_point)));
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(out.zero_point));
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<int8_t*>(y) + idx, k, q);
}

template <int NV>
void gemm_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int M, int N, int n0,
               const int8_t* xp, int64_t Np, int32_t zx, const Int8Out& out, void* y, int64_t ldy) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int8_t* wp = reinterpret_cast<const int8_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4;
  __m512i acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  const int8_t* xq = xp + (int64_t)n0 * 4;
  for (int q = 0; q < l.Kq; ++q, xq += Np * 4, wp += MR * 4) {
    __m512i xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_xor_si512(_mm512_loadu_si512(xq + 64 * v), flip);
    int32_t w4[MR];
    std::memcpy(w4, wp, sizeof w4);
    for (int r = 0; r < MR; ++r) {
      const __m512i wb = _mm512_set1_epi32(w4[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], xv[v], wb);
    }
  }
  for (int r = 0; r < MR; ++r) {
    const int m = tile * MR + r;
    if (m >= M) break;
    const __m512i comp =
        _mm512_set1_epi32((int32_t)((uint32_t)bias[m] - ((uint32_t)zx + 128u) * (uint32_t)wsum[m]));
    for (int v = 0; v < NV; ++v) {
      const int c = n0 + 16 * v;
      if (c >= N) break;
      store16(_mm512_add_epi32(acc[r][v], comp), m, out, y, (int64_t)m * ldy + c, N - c);
    }
  }
}

}  // namespace

size_t gemm_packed_size(int M, int K) { return int8_pack::gemm_layout<int8_t>(M, K, MR).bytes; }
void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::gemm_pack<int8_t>(M, K, MR, w, bias, packed);
}

void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int8_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int64_t Np = int8_gemm_cols(N);
  const int mt = l.Mp / MR, nt = (N + 31) / 32;
  parallel_for(pf, (int64_t)mt * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int tile = (int)(t / nt), n0 = (int)(t % nt) * 32;
      if (N - n0 > 16)
        gemm_tile<2>(l, base, tile, M, N, n0, xp, Np, zx, out, y, ldy);
      else
        gemm_tile<1>(l, base, tile, M, N, n0, xp, Np, zx, out, y, ldy);
    }
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
      for (int oy = 0; oy < g.OH; ++oy)
        for (int ox = 0; ox < g.OW; ox += 16) {
          __m512i acc = _mm512_set1_epi32(bias[c]);
          for (int ky = 0; ky < g.kh; ++ky) {
            const int r = oy * g.sh + ky * g.dh;
            for (int kx = 0; kx < g.kw; ++kx) {
              const int off = kx * g.dw;
              const int16_t* src = plane + ((int64_t)r * g.sw + off % g.sw) * p.L + ox + off / g.sw;
              const __m512i xv = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
              acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, _mm512_set1_epi32(w[ky * g.kw + kx])));
            }
          }
          store16(acc, (int)c, out, y, (c * g.OH + oy) * g.OW + ox, g.OW - ox);
        }
    }
  });
}

}  // namespace int8_avx512vnni
}  // namespace mcrt
