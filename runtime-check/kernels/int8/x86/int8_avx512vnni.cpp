// AVX-512 VNNI int8 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni).
//
// GEMM: 8 output channels x 32 columns per tile (16 zmm accumulators; a 16-column variant for the
// last block); weights packed in tiles of 16 rows so that one column (batch-1 MatMul) runs as a GEMV
// over 16 channels per vpdpbusd. vpdpbusd multiplies unsigned by signed bytes, so X is read as x + 128 (xor 0x80) and
// the compensation bias - (zx + 128) * Σw, from the Σw precomputed in the pack, restores
// Σ (x - zx) · w + bias exactly. Each vpdpbusd adds 4 products per lane into int32 without
// saturation; with K · 255 · 127 < 2^31 nothing wraps.
// Output stage: vcvtdq2ps, vmulps, clamp, vcvtps2dq (round half to even), + zp, vpmovdb.
// Depthwise: int16 planes of x - zx (int8_pack.h), 32 outputs per step, vpdpwssd on pairs of taps.
#include <immintrin.h>

#include <cstring>

#include "../../parallel_for.h"
#include "../int8_pack.h"
#include "../int8_sets.h"
#include "int8_avx512_store.h"

namespace mcrt {
namespace int8_avx512vnni {
namespace {

constexpr int MR = 16;  // packed rows per tile; the GEMM tile takes 8 of them, the GEMV all 16

using int8_avx512::requant16;
using int8_avx512::store16;
using int8_avx512::store_bytes;

// Grid mode of the implicit GEMM (stride 1 in height, narrow outputs): column n of the tile is image
// column n of a grid `pitch` wide, i.e. output (n / pitch, n % pitch), stored only when n % pitch < OW.
struct Grid {
  int pitch = 0, OW = 0;
};

// R output channels x 16*NV columns: R = 8 (half h of a packed 16-row tile) or R = 16 (the whole tile, h = 0;
// for a single vector of columns, 16 dpbusd per column load instead of 8).
// kOff: K-quad q of the tile's columns at xp + n0*4 + qoff[q] (implicit-GEMM conv); else at + q*Np*4.
// grid (kOff only): columns are grid columns, see Grid.
template <int NV, bool kOff, int R = 8>
void gemm_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int h, int M, int N, int n0,
               const int8_t* xp, int64_t Np, const int64_t* qoff, int32_t zx, const Int8Out& out, void* y,
               int64_t ldy, const Grid* grid = nullptr, const int8_t* res = nullptr, int y_m0 = 0) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int8_t* wp = reinterpret_cast<const int8_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4 + h * 32;  // (h = 0 when R = 16)
  // Accumulators start at the compensated bias of their row: bias - (zx + 128) * Σw (uint32 arithmetic).
  __m512i acc[R][NV];
  for (int r = 0; r < R; ++r) {
    const int m = tile * MR + h * R + r;  // rows past M: packed zeros, never stored
    const __m512i comp = m < M ? _mm512_set1_epi32((int32_t)((uint32_t)bias[m] - ((uint32_t)zx + 128u) * (uint32_t)wsum[m]))
                               : _mm512_setzero_si512();
    for (int v = 0; v < NV; ++v) acc[r][v] = comp;
  }
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  const int8_t* xc = xp + (int64_t)n0 * 4;
  if constexpr (NV == 2 && R == 8) {
    // The common tile with 16 named accumulators (GCC kept the array's in registers but copied all of them
    // every K-quad).
    __m512i c00 = acc[0][0], c01 = acc[0][1], c10 = acc[1][0], c11 = acc[1][1], c20 = acc[2][0], c21 = acc[2][1],
            c30 = acc[3][0], c31 = acc[3][1], c40 = acc[4][0], c41 = acc[4][1], c50 = acc[5][0], c51 = acc[5][1],
            c60 = acc[6][0], c61 = acc[6][1], c70 = acc[7][0], c71 = acc[7][1];
    for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
      const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
      const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(xq), flip);
      const __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(xq + 64), flip);
#define MCRT_VNNI_ROW(r, a0, a1)                     \
  {                                                  \
    int32_t w4;                                      \
    std::memcpy(&w4, wp + 4 * r, 4);                 \
    const __m512i wb = _mm512_set1_epi32(w4);        \
    a0 = _mm512_dpbusd_epi32(a0, x0, wb);            \
    a1 = _mm512_dpbusd_epi32(a1, x1, wb);            \
  }
      MCRT_VNNI_ROW(0, c00, c01)
      MCRT_VNNI_ROW(1, c10, c11)
      MCRT_VNNI_ROW(2, c20, c21)
      MCRT_VNNI_ROW(3, c30, c31)
      MCRT_VNNI_ROW(4, c40, c41)
      MCRT_VNNI_ROW(5, c50, c51)
      MCRT_VNNI_ROW(6, c60, c61)
      MCRT_VNNI_ROW(7, c70, c71)
#undef MCRT_VNNI_ROW
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11, acc[2][0] = c20, acc[2][1] = c21;
    acc[3][0] = c30, acc[3][1] = c31, acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
    acc[6][0] = c60, acc[6][1] = c61, acc[7][0] = c70, acc[7][1] = c71;
// One row of the one-vector tiles below: broadcast its weight quad, vpdpbusd into its accumulator.
#define MCRT_VNNI_ROW1(r, a0)                        \
  {                                                  \
    int32_t w4;                                      \
    std::memcpy(&w4, wp + 4 * r, 4);                 \
    a0 = _mm512_dpbusd_epi32(a0, x0, _mm512_set1_epi32(w4)); \
  }
  } else if constexpr (NV == 1 && R == 16) {  // the 16x16 tile, same reason
    __m512i c0 = acc[0][0], c1 = acc[1][0], c2 = acc[2][0], c3 = acc[3][0], c4 = acc[4][0], c5 = acc[5][0],
            c6 = acc[6][0], c7 = acc[7][0], c8 = acc[8][0], c9 = acc[9][0], c10 = acc[10][0], c11 = acc[11][0],
            c12 = acc[12][0], c13 = acc[13][0], c14 = acc[14][0], c15 = acc[15][0];
    for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
      const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
      const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(xq), flip);
      MCRT_VNNI_ROW1(0, c0) MCRT_VNNI_ROW1(1, c1) MCRT_VNNI_ROW1(2, c2) MCRT_VNNI_ROW1(3, c3)
      MCRT_VNNI_ROW1(4, c4) MCRT_VNNI_ROW1(5, c5) MCRT_VNNI_ROW1(6, c6) MCRT_VNNI_ROW1(7, c7)
      MCRT_VNNI_ROW1(8, c8) MCRT_VNNI_ROW1(9, c9) MCRT_VNNI_ROW1(10, c10) MCRT_VNNI_ROW1(11, c11)
      MCRT_VNNI_ROW1(12, c12) MCRT_VNNI_ROW1(13, c13) MCRT_VNNI_ROW1(14, c14) MCRT_VNNI_ROW1(15, c15)
    }
    acc[0][0] = c0, acc[1][0] = c1, acc[2][0] = c2, acc[3][0] = c3, acc[4][0] = c4, acc[5][0] = c5;
    acc[6][0] = c6, acc[7][0] = c7, acc[8][0] = c8, acc[9][0] = c9, acc[10][0] = c10, acc[11][0] = c11;
    acc[12][0] = c12, acc[13][0] = c13, acc[14][0] = c14, acc[15][0] = c15;
  } else if constexpr (NV == 1 && R == 8) {  // the 8x16 tile (row tails), same reason
    __m512i c0 = acc[0][0], c1 = acc[1][0], c2 = acc[2][0], c3 = acc[3][0], c4 = acc[4][0], c5 = acc[5][0],
            c6 = acc[6][0], c7 = acc[7][0];
    for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
      const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
      const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(xq), flip);
      MCRT_VNNI_ROW1(0, c0) MCRT_VNNI_ROW1(1, c1) MCRT_VNNI_ROW1(2, c2) MCRT_VNNI_ROW1(3, c3)
      MCRT_VNNI_ROW1(4, c4) MCRT_VNNI_ROW1(5, c5) MCRT_VNNI_ROW1(6, c6) MCRT_VNNI_ROW1(7, c7)
#undef MCRT_VNNI_ROW1
    }
    acc[0][0] = c0, acc[1][0] = c1, acc[2][0] = c2, acc[3][0] = c3, acc[4][0] = c4, acc[5][0] = c5;
    acc[6][0] = c6, acc[7][0] = c7;
  } else
  for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
    const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
    __m512i xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_xor_si512(_mm512_loadu_si512(xq + 64 * v), flip);
    for (int r = 0; r < R; ++r) {
      int32_t w4;  // one 32-bit load per broadcast (vpbroadcastd from memory, not from a GPR)
      std::memcpy(&w4, wp + 4 * r, 4);
      const __m512i wb = _mm512_set1_epi32(w4);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], xv[v], wb);
    }
  }
  // Fused residual add (res: out.residual aligned with y): the conv's int8 value v of each output, formed
  // exactly (float product, clamp to [act_min - zp, act_max - zp], rhe, + zp), stays in int32 lanes; then
  // the add's rule: ma * (float)(A - za) and mb * (float)(B - zb) rounded each, their sum, clamped to
  // [lo - zy, hi - zy], rhe (+ zy at the pack). r16 loads the residual's 16 bytes at index i (mask k).
  // Constants in locals (stores through int8_t* would otherwise force reloads of out's fields).
  const Int8AddParams& ap = out.add;
  const bool conv_a = out.conv_is_a;
  const __m512 c_flo = _mm512_set1_ps((float)(out.act_min - out.zero_point));
  const __m512 c_fhi = _mm512_set1_ps((float)(out.act_max - out.zero_point));
  const __m512i c_zp = _mm512_set1_epi32(out.zero_point);
  const __m512 a_ma = _mm512_set1_ps(ap.ma), a_mb = _mm512_set1_ps(ap.mb);
  const __m512i a_za = _mm512_set1_epi32(ap.za), a_zb = _mm512_set1_epi32(ap.zb);
  const __m512 a_flo = _mm512_set1_ps((float)(ap.lo - ap.zy)), a_fhi = _mm512_set1_ps((float)(ap.hi - ap.zy));
  auto conv_v = [&](__m512i acc32, int m) {  // v in [act_min, act_max]
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc32), _mm512_set1_ps(out.mult[m]));
    f = _mm512_min_ps(_mm512_max_ps(f, c_flo), c_fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), c_zp);
  };
  auto add_f = [&](__m512i v, __m512i r) {  // -> rhe'd add result minus zy, int32 lanes
    const __m512i a = conv_a ? v : r, b = conv_a ? r : v;
    const __m512 fa = _mm512_mul_ps(a_ma, _mm512_cvtepi32_ps(_mm512_sub_epi32(a, a_za)));
    const __m512 fb = _mm512_mul_ps(a_mb, _mm512_cvtepi32_ps(_mm512_sub_epi32(b, a_zb)));
    const __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(fa, fb), a_flo), a_fhi);
    return _mm512_cvtps_epi32(f);
  };
  auto r16 = [&](int64_t i, __mmask16 k) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, res + i)); };
  if (grid == nullptr && !out.f32) {
    // int8 output, 4 vectors at a time (rows r, r+1 x 2 vectors, or rows r..r+3 x 1 vector): float product,
    // min with 65536 (so that vcvtps2dq cannot overflow to INT_MIN from above), vcvtps2dq (round half to
    // even), then saturating packs to int16, + zp (saturating), to int8, and the clamp to [act_min, act_max]
    // on bytes. Same integers as the rule: a value past int16 stays past [-128, 127] after + zp (|zp| <= 128),
    // and clamping to integer bounds commutes with rounding. One vpermd puts the packs' lanes in order.
    // With a fused add, q32 is the add's result minus zy (already within [lo - zy, hi - zy]), packed the same.
    const __m512 big = _mm512_set1_ps(65536.f);
    const __m512i zp16 = _mm512_set1_epi16((short)(res ? ap.zy : out.zero_point));
    const __m512i lo8 = _mm512_set1_epi8((char)(res ? ap.lo : out.act_min));
    const __m512i hi8 = _mm512_set1_epi8((char)(res ? ap.hi : out.act_max));
    // pack lane i holds dwords i of the 4 vectors a, b, c, d: output dword 4j + i <- pack dword 4i + j
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    auto q32 = [&](__m512i a, int m) {
      const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(out.mult[m]));
      return _mm512_cvtps_epi32(_mm512_min_ps(f, big));
    };
    auto pack4 = [&](__m512i a, __m512i b, __m512i c, __m512i d) {
      const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(a, b), zp16);
      const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(c, d), zp16);
      const __m512i v = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(ab, cd), lo8), hi8);
      return _mm512_permutexvar_epi32(order, v);
    };
    int8_t* y8 = static_cast<int8_t*>(y);
    const int m0 = tile * MR + h * R;
    const int valid = N - n0;  // columns of this tile that exist (> 16 * (NV - 1))
    const __mmask16 k0 = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
    const __mmask16 k1 = valid >= 32 ? (__mmask16)0xFFFF : valid > 16 ? (__mmask16)((1u << (valid - 16)) - 1) : 0;
    // one vector of channel m, columns n0 + 16 * v: the conv's value, or with a fused add the add's
    auto qv = [&](__m512i a, int m, int v) {
      if (res == nullptr) return q32(a, m);
      return add_f(conv_v(a, m), r16((int64_t)m * ldy + n0 + 16 * v, v ? k1 : k0));
    };
    if (NV == 2) {
      const __mmask32 k = valid >= 32 ? 0xFFFFFFFFu : ((1u << valid) - 1);
      for (int r = 0; r < R && m0 + r < M; r += 2) {
        const int m = m0 + r, m1 = m + 1 < M ? m + 1 : m;
        const __m512i v = pack4(qv(acc[r][0], m, 0), qv(acc[r][NV - 1], m, 1), qv(acc[r + 1][0], m1, 0),
                                qv(acc[r + 1][NV - 1], m1, 1));
        int8_t* p = y8 + (int64_t)(m - y_m0) * ldy + n0;  // y's first row is channel y_m0 (pack4 path only)
        if (valid >= 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_castsi512_si256(v));
        else _mm256_mask_storeu_epi8(p, k, _mm512_castsi512_si256(v));
        if (m + 1 < M) {
          p += ldy;
          if (valid >= 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_extracti64x4_epi64(v, 1));
          else _mm256_mask_storeu_epi8(p, k, _mm512_extracti64x4_epi64(v, 1));
        }
      }
    } else {
      const __mmask16 k = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
      for (int r = 0; r < R && m0 + r < M; r += 4) {
        int mm[4];
        for (int i = 0; i < 4; ++i) mm[i] = m0 + r + i < M ? m0 + r + i : m0 + r;
        const __m512i v = pack4(qv(acc[r][0], mm[0], 0), qv(acc[r + 1][0], mm[1], 0), qv(acc[r + 2][0], mm[2], 0),
                                qv(acc[r + 3][0], mm[3], 0));
        alignas(64) int8_t t[64];
        _mm512_store_si512(t, v);
        for (int i = 0; i < 4 && m0 + r + i < M; ++i)
          store_bytes(y8 + (int64_t)(m0 + r + i - y_m0) * ldy + n0, k, valid, _mm_load_si128(reinterpret_cast<const __m128i*>(t + 16 * i)));
      }
    }
    return;
  }
  // Grid: the columns c..c+15 of vector v that are outputs (c % pitch < OW, c < N) keep their order in y;
  // they are compressed to the front (vpcompressd) and stored as one run at the first one's output index.
  __mmask16 keep[NV];
  int cnt[NV];
  int64_t first[NV];
  if (grid != nullptr)
    for (int v = 0; v < NV; ++v) {
      keep[v] = 0;
      first[v] = -1;
      const int c = n0 + 16 * v;
      int oy = c / grid->pitch, ox = c % grid->pitch;  // one division per vector, then steps
      for (int i = 0; i < 16 && c + i < N; ++i) {
        if (ox < grid->OW) {
          keep[v] |= (__mmask16)(1u << i);
          if (first[v] < 0) first[v] = (int64_t)oy * grid->OW + ox;
        }
        if (++ox == grid->pitch) ox = 0, ++oy;
      }
      cnt[v] = __builtin_popcount((unsigned)keep[v]);
    }
  for (int r = 0; r < R; ++r) {
    const int m = tile * MR + h * R + r;
    if (m >= M) break;
    for (int v = 0; v < NV; ++v) {
      const int c = n0 + 16 * v;
      if (c >= N) break;
      if (grid == nullptr) {
        store16(acc[r][v], m, out, y, (int64_t)m * ldy + c, N - c);
        continue;
      }
      if (keep[v] == 0) continue;
      const __mmask16 kc = (__mmask16)((1u << cnt[v]) - 1);
      const int64_t at = (int64_t)m * ldy + first[v];
      __m512i q = _mm512_maskz_compress_epi32(keep[v], requant16(acc[r][v], m, out));
      if (res) q = _mm512_add_epi32(add_f(q, r16(at, kc)), _mm512_set1_epi32(ap.zy));
      store_bytes(static_cast<int8_t*>(y) + at, kc, cnt[v], _mm512_cvtepi32_epi8(q));
    }
  }
}

// One column (batch-1 MatMul): 16 output channels per vector; the column's 4 bytes of a K-quad are
// broadcast and multiplied with the packed tile's 16 rows x 4 (one 64-byte load) by vpdpbusd.
void gemv_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int M, const int8_t* xp, int64_t Np,
               int32_t zx, const Int8Out& out, void* y, int64_t ldy) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int8_t* wp = reinterpret_cast<const int8_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int q = 0;
  auto xb = [&](int qq) {
    int32_t v;
    std::memcpy(&v, xp + (int64_t)qq * Np * 4, 4);
    return _mm512_set1_epi32(v ^ (int32_t)0x80808080);
  };
  for (; q + 4 <= l.Kq; q += 4) {
    a0 = _mm512_dpbusd_epi32(a0, xb(q), _mm512_loadu_si512(wp + (int64_t)q * 64));
    a1 = _mm512_dpbusd_epi32(a1, xb(q + 1), _mm512_loadu_si512(wp + (int64_t)(q + 1) * 64));
    a2 = _mm512_dpbusd_epi32(a2, xb(q + 2), _mm512_loadu_si512(wp + (int64_t)(q + 2) * 64));
    a3 = _mm512_dpbusd_epi32(a3, xb(q + 3), _mm512_loadu_si512(wp + (int64_t)(q + 3) * 64));
  }
  for (; q < l.Kq; ++q) a0 = _mm512_dpbusd_epi32(a0, xb(q), _mm512_loadu_si512(wp + (int64_t)q * 64));
  __m512i acc = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
  const int m0 = tile * MR;
  const __m512i comp = _mm512_sub_epi32(_mm512_loadu_si512(bias + m0),
                                        _mm512_mullo_epi32(_mm512_set1_epi32(zx + 128), _mm512_loadu_si512(wsum + m0)));
  acc = _mm512_add_epi32(acc, comp);
  const int valid = M - m0 < 16 ? M - m0 : 16;
  const __mmask16 k = valid == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(k, out.mult + m0));
  if (out.f32) {
    if (out.fbias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(k, out.fbias + m0));
    if (ldy == 1) {
      _mm512_mask_storeu_ps(static_cast<float*>(y) + m0, k, f);
    } else {
      alignas(64) float t[16];
      _mm512_store_ps(t, f);
      for (int i = 0; i < valid; ++i) static_cast<float*>(y)[(int64_t)(m0 + i) * ldy] = t[i];
    }
    return;
  }
  f = _mm512_max_ps(f, _mm512_set1_ps((float)(out.act_min - out.zero_point)));
  f = _mm512_min_ps(f, _mm512_set1_ps((float)(out.act_max - out.zero_point)));
  const __m512i qv = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(out.zero_point));
  if (ldy == 1) {
    store_bytes(static_cast<int8_t*>(y) + m0, k, valid, _mm512_cvtepi32_epi8(qv));
  } else {
    alignas(64) int32_t t[16];
    _mm512_store_si512(t, qv);
    for (int i = 0; i < valid; ++i) static_cast<int8_t*>(y)[(int64_t)(m0 + i) * ldy] = (int8_t)t[i];
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
  if (N == 1) {
    parallel_for(pf, l.Mp / MR, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) gemv_tile(l, base, (int)t, M, xp, Np, zx, out, y, ldy);
    });
    return;
  }
  const int mt = (M + 7) / 8, nt = (N + 31) / 32;  // half tiles of 8 rows
  parallel_for(pf, (int64_t)mt * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int half = (int)(t / nt), n0 = (int)(t % nt) * 32;
      if (N - n0 > 16)
        gemm_tile<2, false>(l, base, half / 2, half % 2, M, N, n0, xp, Np, nullptr, zx, out, y, ldy);
      else
        gemm_tile<1, false>(l, base, half / 2, half % 2, M, N, n0, xp, Np, nullptr, zx, out, y, ldy);
    }
  });
}

void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int8_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int mt = (M + 7) / 8, nt = (OW + 31) / 32;
  const int64_t P = (int64_t)OH * OW;
  const int pitch = (int)(row_step / 4);  // image columns per output row: the grid works when that is 1 row
  if (OW < 16 && OH > 1 && !out.f32 && pitch >= OW && pitch < 2 * OW) {
    // Narrow outputs: tiles over the grid of all rows' columns (pitch - OW wasted lanes per row, not 16 - OW).
    const Grid grid{pitch, OW};
    const int N = (OH - 1) * pitch + OW, ng = (N + 31) / 32;
    constexpr int kGridBuf = 16384;
    const int64_t ldg = (N + 31) / 32 * 32 + 32;  // grid row bytes in the buffer (+ slack for 16-byte reads)
    if (out.residual == nullptr && 8 * ldg <= kGridBuf) {
      // 8 channels at a time: all grid columns through the plain epilogue into a local buffer of grid rows,
      // then each output row's OW bytes copied out (one masked 16-byte store: OW < 16).
      const __mmask16 krow = (__mmask16)((1u << OW) - 1);
      parallel_for(pf, mt, [&](int64_t t0, int64_t t1) {
        alignas(64) int8_t gbuf[kGridBuf];
        for (int64_t half = t0; half < t1; ++half) {
          const int m0 = (int)half * 8;
          for (int n0 = 0; n0 < N; n0 += 32) {
            if (N - n0 > 16)
              gemm_tile<2, true>(l, base, (int)half / 2, (int)half % 2, M, N, n0, img, 0, qoff, zx, out, gbuf, ldg,
                                 nullptr, nullptr, m0);
            else
              gemm_tile<1, true>(l, base, (int)half / 2, (int)half % 2, M, N, n0, img, 0, qoff, zx, out, gbuf, ldg,
                                 nullptr, nullptr, m0);
          }
          // Rows in increasing order: a plain 16-byte store spills 16 - OW junk bytes into the following rows,
          // which later stores of this task overwrite; a row whose 16 bytes would reach past this task's
          // channels (another task's, or past y) is stored masked.
          const int m1 = m0 + 8 < M ? m0 + 8 : M, oh = OH, ow = OW, pg = pitch;
          const int64_t p = P, lg = ldg, end = (int64_t)(m1 - m0) * p;
          int8_t* yt = y + (int64_t)m0 * p;
          for (int m = m0; m < m1; ++m) {
            const int8_t* gr = gbuf + (m - m0) * lg;
            for (int oy = 0; oy < oh; ++oy) {
              const int64_t at = (int64_t)(m - m0) * p + (int64_t)oy * ow;
              const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(gr + (int64_t)oy * pg));
              if (at + 16 <= end) _mm_storeu_si128(reinterpret_cast<__m128i*>(yt + at), v);
              else _mm_mask_storeu_epi8(yt + at, krow, v);
            }
          }
        }
      });
      return;
    }
    parallel_for(pf, (int64_t)mt * ng, [&](int64_t t0, int64_t t1) {
      int half = (int)(t0 / ng), nb = (int)(t0 % ng);
      for (int64_t t = t0; t < t1; ++t, (++nb == ng ? (nb = 0, ++half) : 0)) {
        const int n0 = nb * 32;
        if (N - n0 > 16)
          gemm_tile<2, true>(l, base, half / 2, half % 2, M, N, n0, img, 0, qoff, zx, out, y, P, &grid, out.residual);
        else
          gemm_tile<1, true>(l, base, half / 2, half % 2, M, N, n0, img, 0, qoff, zx, out, y, P, &grid, out.residual);
      }
    });
    return;
  }
  if (OW <= 16 && !out.f32) {
    // One vector of columns per row (e.g. a pointwise conv on a 4x4 plane, flattened): whole 16-row tiles.
    parallel_for(pf, (int64_t)(l.Mp / MR) * OH, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int tile = (int)(t / OH), oy = (int)(t % OH);
        const int8_t* rr = out.residual ? out.residual + (int64_t)oy * OW : nullptr;
        gemm_tile<1, true, 16>(l, base, tile, 0, M, OW, 0, img + oy * row_step, 0, qoff, zx, out, y + (int64_t)oy * OW,
                               P, nullptr, rr);
      }
    });
    return;
  }
  parallel_for(pf, (int64_t)mt * OH * nt, [&](int64_t t0, int64_t t1) {
    // task t = (half * OH + oy) * nt + column block: divided once per chunk, then stepped
    int half = (int)(t0 / ((int64_t)OH * nt)), oy = (int)(t0 % ((int64_t)OH * nt) / nt), xb = (int)(t0 % nt);
    for (int64_t t = t0; t < t1; ++t, (++xb == nt ? (xb = 0, (++oy == OH ? (oy = 0, ++half) : 0)) : 0)) {
      const int ox0 = xb * 32;
      const int8_t* xr = img + oy * row_step;
      int8_t* yr = y + (int64_t)oy * OW;
      const int8_t* rr = out.residual ? out.residual + (int64_t)oy * OW : nullptr;
      if (OW - ox0 > 16)
        gemm_tile<2, true>(l, base, half / 2, half % 2, M, OW, ox0, xr, 0, qoff, zx, out, yr, P, nullptr, rr);
      else
        gemm_tile<1, true>(l, base, half / 2, half % 2, M, OW, ox0, xr, 0, qoff, zx, out, yr, P, nullptr, rr);
    }
  });
}

namespace {
// w[i] = s0[i] | s1[i] << 8 | s2[i] << 16 | s3[i] << 24 for i in [0, n), 64 columns per step (vpunpck{l,h}bw/wd,
// then a 4x4 transpose of 128-bit lanes with vshufi64x2; a last block of fewer columns masked). s[j] null:
// that channel reads zx.
void interleave4_avx512(const int8_t* const s[4], int64_t n_all, int8_t zx, uint32_t* w) {
  const __m512i zv = _mm512_set1_epi8((char)zx);
  for (int64_t i = 0; i < n_all; i += 64) {
    const int64_t n = n_all - i < 64 ? n_all - i : 64;
    const __mmask64 kb = n == 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
    __m512i v[4];
    for (int j = 0; j < 4; ++j) v[j] = s[j] ? _mm512_maskz_loadu_epi8(kb, s[j] + i) : zv;
    const __m512i ab0 = _mm512_unpacklo_epi8(v[0], v[1]), ab1 = _mm512_unpackhi_epi8(v[0], v[1]);
    const __m512i cd0 = _mm512_unpacklo_epi8(v[2], v[3]), cd1 = _mm512_unpackhi_epi8(v[2], v[3]);
    // r_j, 128-bit lane L: the words of columns 16L + 4j .. 16L + 4j + 3
    const __m512i r0 = _mm512_unpacklo_epi16(ab0, cd0), r1 = _mm512_unpackhi_epi16(ab0, cd0);
    const __m512i r2 = _mm512_unpacklo_epi16(ab1, cd1), r3 = _mm512_unpackhi_epi16(ab1, cd1);
    const __m512i t0 = _mm512_shuffle_i64x2(r0, r1, 0x44), t1 = _mm512_shuffle_i64x2(r0, r1, 0xEE);
    const __m512i t2 = _mm512_shuffle_i64x2(r2, r3, 0x44), t3 = _mm512_shuffle_i64x2(r2, r3, 0xEE);
    const __m512i o[4] = {_mm512_shuffle_i64x2(t0, t2, 0x88), _mm512_shuffle_i64x2(t0, t2, 0xDD),   // lanes 0, 1
                          _mm512_shuffle_i64x2(t1, t3, 0x88), _mm512_shuffle_i64x2(t1, t3, 0xDD)};  // lanes 2, 3
    for (int L = 0; L < 4 && 16 * L < n; ++L) {
      if (n - 16 * L >= 16) _mm512_storeu_si512(w + i + 16 * L, o[L]);
      else _mm512_mask_storeu_epi32(w + i + 16 * L, (__mmask16)((1u << (n - 16 * L)) - 1), o[L]);
    }
  }
}
}  // namespace

// The implicit-GEMM image, same bytes as int8_conv_image: a pointwise conv (no pads, no phases, rows exactly W
// wide) interleaves straight into the image; strides 1 and 2 with a plane of at most 4096 pixels interleave the
// plane once into a stack buffer (interleave4_avx512), then copy each row's words to its phases, 16 per step
// (stride 2: even/odd words by vpermt2d); other geometries take the shared int8_conv_image.
void conv_image(const ConvGeom& g, const Int8ConvImage& im, const int8_t* x, int8_t zx, int8_t* img) {
  const int64_t plane = (int64_t)g.H * g.W;
  const bool direct = g.sw == 1 && g.sh == 1 && g.pad_l == 0 && g.pad_t == 0 && im.Wph == g.W && im.Hph == g.H;
  if (direct) {
    const size_t body = (size_t)im.Cq * plane * 4;
    std::memset(img + body, (uint8_t)zx, im.bytes - body);  // the slack past the image
    for (int cq = 0; cq < im.Cq; ++cq) {
      const int8_t* s[4];
      for (int j = 0; j < 4; ++j) s[j] = cq * 4 + j < g.C ? x + (int64_t)(cq * 4 + j) * plane : nullptr;
      interleave4_avx512(s, plane, zx, reinterpret_cast<uint32_t*>(img) + (int64_t)cq * plane);
    }
    return;
  }
  constexpr int64_t kMaxWords = 4096;
  if (plane > kMaxWords || g.sw > 2) return int8_conv_image(g, im, x, zx, img);
  auto col_used = [&](int ph) { return int8_pack::conv_col_phase_used(g, ph); };
  auto row_used = [&](int rp) { return int8_pack::conv_row_phase_used(g, rp); };
  // column phase ph: words j in [j0, j0 + n) hold input columns j * sw + ph - pad_l (word src of the row)
  int j0[2] = {0, 0}, nw[2] = {0, 0};
  int64_t src[2] = {0, 0};
  for (int ph = 0; ph < g.sw; ++ph) {
    if (!col_used(ph)) continue;
    const int c0 = ph - g.pad_l;
    j0[ph] = c0 >= 0 ? 0 : (-c0 + g.sw - 1) / g.sw;
    int j1 = g.W - 1 - c0 < 0 ? 0 : (g.W - 1 - c0) / g.sw + 1;
    if (j1 > im.Wph) j1 = im.Wph;
    nw[ph] = j1 - j0[ph];
    src[ph] = (int64_t)j0[ph] * g.sw + c0;
  }
  const size_t phase_bytes = (size_t)im.Cq * im.Hph * im.Wph * 4, phases = (size_t)g.sw * g.sh;
  for (int ph = 0; ph < g.sw; ++ph)
    for (int rp = 0; rp < g.sh; ++rp)
      if (col_used(ph) && row_used(rp)) std::memset(img + ((size_t)ph * g.sh + rp) * phase_bytes, (uint8_t)zx, phase_bytes);
  std::memset(img + phases * phase_bytes, (uint8_t)zx, im.bytes - phases * phase_bytes);
  alignas(64) uint32_t tw[kMaxWords + 32];  // + 32: the stride-2 copy reads up to 31 words past its last
  std::memset(tw + plane, 0, 32 * sizeof(uint32_t));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int cq = 0; cq < im.Cq; ++cq) {
    const int8_t* s[4];
    for (int j = 0; j < 4; ++j) s[j] = cq * 4 + j < g.C ? x + (int64_t)(cq * 4 + j) * plane : nullptr;
    interleave4_avx512(s, plane, zx, tw);
    int rp = g.pad_t % g.sh, ri = g.pad_t / g.sh;  // padded row ih + pad_t: row ri of row phase rp
    for (int ih = 0; ih < g.H && ri < im.Hph; ++ih) {
      if (row_used(rp)) {
        for (int ph = 0; ph < g.sw; ++ph) {
          const int n = nw[ph];
          if (n <= 0) continue;
          uint32_t* d = reinterpret_cast<uint32_t*>(img) +
                        ((((int64_t)ph * g.sh + rp) * im.Cq + cq) * im.Hph + ri) * im.Wph + j0[ph];
          const uint32_t* w = tw + (int64_t)ih * g.W + src[ph];
          for (int j = 0; j < n; j += 16) {
            const __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            const __m512i v = g.sw == 1 ? _mm512_maskz_loadu_epi32(k, w + j)
                                        : _mm512_permutex2var_epi32(_mm512_loadu_si512(w + 2 * j), even,
                                                                    _mm512_loadu_si512(w + 2 * j + 16));
            _mm512_mask_storeu_epi32(d + j, k, v);
          }
        }
      }
      if (++rp == g.sh) rp = 0, ++ri;
    }
  }
}

// Depthwise. With AVX512_VBMI the gather plan of x86/int8_avx512vbmi_dw.cpp runs where it fits the
// geometry. Elsewhere (no VBMI, or a plan that does not fit) the AVX2 set's depthwise kernel runs
// (int8_avx2::dw_*: tap pairs through vpmaddwd, channels in lanes up to 32x32 outputs): on every
// depthwise layer of mobile it measured faster than the 512-bit vpdpwssd kernel this set had
// (MCRT_KERNELS=avx512vnni on Zen 4, check -v: 2.4/2.9/1.3/1.8/1.0/1.3 us against
// 7.1/6.8/5.0/5.2/2.9/3.7), which it replaces. Both are bit-exact to the reference. The packed buffer
// starts with a 64-byte tag block: the plan (its own header, tag != 0), or tag 0 and the AVX2 layout
// from byte 64.
namespace {
constexpr size_t kDwTag = 64;
inline size_t dw_vbmi_size(const ConvGeom& g) { return int8_x86_avx512vbmi() ? int8_avx512vbmi::plan_size(g) : 0; }
}  // namespace

size_t dw_packed_size(const ConvGeom& g) {
  if (const size_t v = dw_vbmi_size(g)) return v;
  return kDwTag + int8_avx2::dw_packed_size(g);
}
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  if (dw_vbmi_size(g)) {
    int8_avx512vbmi::plan_pack(g, w, bias, packed);
    return "avx512vbmi";
  }
  std::memset(packed, 0, kDwTag);
  return int8_avx2::dw_pack(g, w, bias, static_cast<uint8_t*>(packed) + kDwTag);
}
size_t dw_scratch_size(const ConvGeom& g) { return dw_vbmi_size(g) ? 0 : int8_avx2::dw_scratch_size(g); }
void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void* scratch, const ParallelFor* pf) {
  int32_t tag;
  std::memcpy(&tag, packed, 4);
  if (tag != 0) return int8_avx512vbmi::plan_run(g, packed, x, zx, out, y, pf);
  int8_avx2::dw_run(g, static_cast<const uint8_t*>(packed) + kDwTag, x, zx, out, y, scratch, pf);
}

void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  const __m512 ma = _mm512_set1_ps(p.ma), mb = _mm512_set1_ps(p.mb);
  const __m512 flo = _mm512_set1_ps((float)(p.lo - p.zy)), fhi = _mm512_set1_ps((float)(p.hi - p.zy));
  const __m512i za = _mm512_set1_epi32(p.za), zb = _mm512_set1_epi32(p.zb), zy = _mm512_set1_epi32(p.zy);
  for (int64_t i = 0; i < n; i += 16) {
    const int valid = n - i < 16 ? (int)(n - i) : 16;
    const __mmask16 k = valid == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
    const __m512i av = as ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + i)) : _mm512_set1_epi32(a[0]);
    const __m512i bv = bs ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + i)) : _mm512_set1_epi32(b[0]);
    const __m512 fa = _mm512_mul_ps(ma, _mm512_cvtepi32_ps(_mm512_sub_epi32(av, za)));
    const __m512 fb = _mm512_mul_ps(mb, _mm512_cvtepi32_ps(_mm512_sub_epi32(bv, zb)));
    const __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(fa, fb), flo), fhi);
    store_bytes(y + i, k, valid, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zy)));
  }
}

}  // namespace int8_avx512vnni
}  // namespace mcrt
