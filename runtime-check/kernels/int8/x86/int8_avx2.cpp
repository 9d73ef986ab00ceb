// AVX2 int8 kernels (compiled with -mavx2 only; no FMA is used anywhere, the output stage is a
// float32 multiply then round-half-even conversion, exactly the reference's rule).
//
// GEMM / implicit-GEMM conv: AVX2 has no u8 x s8 dot product that is exact for full-range weights
// (vpmaddubsw saturates int16), so products go through int16: vpmaddwd adds two exact int16 products into
// one int32 lane (16 multiply-adds per instruction). Weights are packed once as int16 in tiles of 8 rows
// ([tile][Kq][8][4]: 4 k of a row contiguous). A task widens its block of X columns once to int16
// ([Kq][cols][4], 4 k of a column contiguous: a sign extension of the int8 layout, gathered from the
// image's rows for the conv, output rows packed back to back) in a stack buffer that every 4-row half-tile
// of W then runs over; the K loop (inline asm: named registers, two K-quads per iteration) only loads,
// multiplies and adds (4 channels x 8 columns, 8 accumulators of [column, k-pair] sums that vphaddd turns
// into column sums). The zero point enters once per output as - zx * Σw (Σw precomputed in the pack). The
// epilogue requantizes 4 rows x 8 columns together (packs through int16, vpermd + vpshufb to rows) and
// applies conv_run's fused residual add there. K too long for the buffer: X is sign-extended in the loop.
// GEMV (one column, batch-1 MatMul): 8 channels per pair of vectors (the packed tile rows), the column's
// 4 k broadcast; the column widened once to int16.
// One-input-channel conv (stems): the image once as an int16 plane of x - zx (the depthwise planes of
// int8_pack.h); with unit column stride and dilation, 8 channels in lanes x 8 pixels, each kernel row's
// tap pairs broadcast from the plane, results transposed to NCHW; otherwise the taps gathered 4 per quad
// into the GEMM's int16 layout and the GEMM loop (zero point 0: already subtracted).
// Depthwise: outputs of at most 32x32 per channel with 16 channels in lanes (the input window transposed
// to [row][col][16] int16, tap pairs interleaved and multiplied by pair-packed weights with vpmaddwd, the
// outputs transposed back 16x16 bytes at a time); larger planes per channel on int16 planes of x - zx,
// 16 outputs of a row per step, tap pairs through vpmaddwd.
#include <immintrin.h>

#include <cstring>

#include "../../parallel_for.h"
#include "../int8_pack.h"
#include "../int8_sets.h"

namespace mcrt {
namespace int8_avx2 {
namespace {

constexpr int MRP = 8;              // packed rows per weight tile (the GEMV takes 8, the GEMM 4-row halves)
constexpr int kBufBytes = 49152;    // int16 X block of one task (24 KiB measured 3-5% slower on resnet's 3x3 layers)

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

// The first n (< 16) bytes of v to dst.
inline void store_partial(int8_t* dst, __m128i v, int n) {
  alignas(16) int8_t t[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), v);
  int i = 0;
  if (n & 8) std::memcpy(dst, t, 8), i += 8;
  if (n & 4) std::memcpy(dst + i, t + i, 4), i += 4;
  if (n & 2) std::memcpy(dst + i, t + i, 2), i += 2;
  if (n & 1) dst[i] = t[i];
}

inline __m256i bcast4(const int16_t* p) {  // 4 int16 (one packed row's K-quad) to every 64-bit lane
  long long v;
  std::memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}
// 4 columns x 4 k of X as int16: from the int16 block, or sign-extended from the int8 layout.
inline __m256i xload(const int16_t* x) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)); }
inline __m256i xload(const int8_t* x) { return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x))); }


// The asm text of one K-quad in core4's hot loop: each of the 4 rows broadcasts its weight quad (at
// byte offset O0..O3 from %[w]) and multiplies it with both X vectors x0, x1 into its two accumulators.
#define MCRT_AVX2_QUAD_ROW(OFF, A0, A1)      \
  "vpbroadcastq " #OFF "(%[w]), %[wb]\n\t"   \
  "vpmaddwd %[wb], %[x0], %[t]\n\t"          \
  "vpaddd %[t], %[" #A0 "], %[" #A0 "]\n\t"  \
  "vpmaddwd %[wb], %[x1], %[t]\n\t"          \
  "vpaddd %[t], %[" #A1 "], %[" #A1 "]\n\t"
#define MCRT_AVX2_QUAD(O0, O1, O2, O3)                                                          \
  MCRT_AVX2_QUAD_ROW(O0, a00, a01) MCRT_AVX2_QUAD_ROW(O1, a10, a11) MCRT_AVX2_QUAD_ROW(O2, a20, a21) \
  MCRT_AVX2_QUAD_ROW(O3, a30, a31)

// 4 rows (half-tile w: row r's K-quad q at w + q*32 + r*4) x 4*NV columns of X: quad q of column c at
// x + q*xs + c*4, or x + qoff[q] + c*4 (kOff: the implicit-GEMM image read in place). s[r]: the 8 column
// sums of row r in the order c0 c1 c4 c5 c2 c3 c6 c7 (vpermq 0xD8 sorts them; NV == 1: columns 0..3, repeated).
template <int NV, bool kOff, class XT>
inline void core4(const int16_t* w, const XT* x, int64_t xs, const int64_t* qoff, int Kq, __m256i s[4]) {
  const __m256i z = _mm256_setzero_si256();
  if constexpr (NV == 2) {
    __m256i a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
    if constexpr (!kOff && sizeof(XT) == 2) {
      // The hot loop written out: GCC's own allocation of the intrinsics copied every accumulator each K-quad
      // and spilled one (measured). Per quad: 2 X loads, 4 weight broadcasts, 8 vpmaddwd, 8 vpaddd; two quads
      // per iteration (an odd first one alone).
      __m256i x0, x1, wb, t;
      const int16_t* xq = x;
      const int16_t* x2;
      int64_t n = Kq;
      const int64_t xstep = xs * 2;
      asm volatile(
          "test $1, %[n]\n\t"
          "jz 2f\n\t"
          "vmovdqu (%[x]), %[x0]\n\t"
          "vmovdqu 32(%[x]), %[x1]\n\t"
          MCRT_AVX2_QUAD(, 8, 16, 24)
          "add $64, %[w]\n\t"
          "add %[xstep], %[x]\n\t"
          "2:\n\t"
          "shr %[n]\n\t"
          "jz 3f\n\t"
          "1:\n\t"
          "lea (%[x],%[xstep]), %[x2]\n\t"
          "vmovdqu (%[x]), %[x0]\n\t"
          "vmovdqu 32(%[x]), %[x1]\n\t"
          MCRT_AVX2_QUAD(, 8, 16, 24)
          "vmovdqu (%[x2]), %[x0]\n\t"
          "vmovdqu 32(%[x2]), %[x1]\n\t"
          MCRT_AVX2_QUAD(64, 72, 80, 88)
          "add $128, %[w]\n\t"
          "lea (%[x2],%[xstep]), %[x]\n\t"
          "dec %[n]\n\t"
          "jnz 1b\n\t"
          "3:\n\t"
          : [x] "+r"(xq), [x2] "=&r"(x2), [w] "+r"(w), [n] "+r"(n), [a00] "+x"(a00), [a01] "+x"(a01), [a10] "+x"(a10),
            [a11] "+x"(a11), [a20] "+x"(a20), [a21] "+x"(a21), [a30] "+x"(a30), [a31] "+x"(a31), [x0] "=&x"(x0),
            [x1] "=&x"(x1), [wb] "=&x"(wb), [t] "=&x"(t)
          : [xstep] "r"(xstep)
          : "memory", "cc");
#undef MCRT_AVX2_QUAD
#undef MCRT_AVX2_QUAD_ROW
    } else
    for (int q = 0; q < Kq; ++q, w += MRP * 4) {
      const XT* xq = kOff ? x + qoff[q] : x + (int64_t)q * xs;
      const __m256i x0 = xload(xq), x1 = xload(xq + 16);
      __m256i wb = bcast4(w);
      a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(x0, wb));
      a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(x1, wb));
      wb = bcast4(w + 4);
      a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(x0, wb));
      a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(x1, wb));
      wb = bcast4(w + 8);
      a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(x0, wb));
      a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(x1, wb));
      wb = bcast4(w + 12);
      a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(x0, wb));
      a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(x1, wb));
    }
    // a_r0: [c0 k01, c0 k23, c1 .., c1 .. | c2 .., c3 ..], a_r1 the same for c4..c7.
    // vphaddd: [c0 c1 c4 c5 | c2 c3 c6 c7] (the epilogue puts the columns in order).
    s[0] = _mm256_hadd_epi32(a00, a01);
    s[1] = _mm256_hadd_epi32(a10, a11);
    s[2] = _mm256_hadd_epi32(a20, a21);
    s[3] = _mm256_hadd_epi32(a30, a31);
  } else {
    __m256i a0 = z, a1 = z, a2 = z, a3 = z;
    for (int q = 0; q < Kq; ++q, w += MRP * 4) {
      const XT* xq = kOff ? x + qoff[q] : x + (int64_t)q * xs;
      const __m256i x0 = xload(xq);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x0, bcast4(w)));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x0, bcast4(w + 4)));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x0, bcast4(w + 8)));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x0, bcast4(w + 12)));
    }
    s[0] = _mm256_hadd_epi32(a0, a0);
    s[1] = _mm256_hadd_epi32(a1, a1);
    s[2] = _mm256_hadd_epi32(a2, a2);
    s[3] = _mm256_hadd_epi32(a3, a3);
  }
}

// Every row of the packed W over columns [0, cnt) of X (x, xs, qoff as core4); output column c of row m at
// element y[m * ldy + c]. zx: the zero point still in X (0 when already subtracted). res (int8 output only):
// the fused residual add of conv_run, res indexed as y; each output v is replaced by out.add's rule on v and
// the residual byte (v as the add's A when out.conv_is_a).
template <bool kOff, class XT>
void run_block(const int8_pack::GemmLayout& l, const uint8_t* base, int M, const XT* x, int64_t xs,
               const int64_t* qoff, int cnt, int32_t zx, const Int8Out& out, void* y, int64_t ldy,
               const int8_t* res = nullptr) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int16_t* w0 = reinterpret_cast<const int16_t*>(base + l.w_off);
  const __m256 flo = _mm256_set1_ps((float)(out.act_min - out.zero_point));
  const __m256 fhi = _mm256_set1_ps((float)(out.act_max - out.zero_point));
  const __m256i zp16 = _mm256_set1_epi16((short)out.zero_point), zp32 = _mm256_set1_epi32(out.zero_point);
  const Int8AddParams& ap = out.add;
  const __m256 ama = _mm256_set1_ps(ap.ma), amb = _mm256_set1_ps(ap.mb);
  const __m256 alo = _mm256_set1_ps((float)(ap.lo - ap.zy)), ahi = _mm256_set1_ps((float)(ap.hi - ap.zy));
  const __m256i aza = _mm256_set1_epi32(ap.za), azb = _mm256_set1_epi32(ap.zb), zy16 = _mm256_set1_epi16((short)ap.zy);
  const __m256i csel = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);  // columns in order -> c0 c1 c4 c5 c2 c3 c6 c7
  // rows r of a qword each: dwords (lane 0 r, lane 1 r), then bytes c0 c1 c4 c5 c2 c3 c6 c7 -> c0..c7
  const __m256i dsel = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i bsel = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15, 0, 1, 4, 5, 2, 3, 6, 7, 8, 9,
                                        12, 13, 10, 11, 14, 15);
  for (int m0 = 0; m0 < M; m0 += 4) {
    const int16_t* w = w0 + (int64_t)(m0 / MRP) * l.Kq * MRP * 4 + (m0 % MRP) * 4;
    const bool rows4 = m0 + 4 <= M;
    __m256i comp[4];
    __m256 mult[4];
    for (int r = 0; r < 4; ++r) {
      const int m = m0 + r < M ? m0 + r : m0;
      comp[r] = _mm256_set1_epi32((int32_t)((uint32_t)bias[m] - (uint32_t)zx * (uint32_t)wsum[m]));
      mult[r] = _mm256_set1_ps(out.mult[m]);
    }
    for (int c = 0; c < cnt; c += 8) {
      __m256i s[4];
      if (cnt - c > 4) core4<2, kOff>(w, x + (int64_t)c * 4, xs, qoff, l.Kq, s);
      else core4<1, kOff>(w, x + (int64_t)c * 4, xs, qoff, l.Kq, s);
      const int valid = cnt - c < 8 ? cnt - c : 8;
      if (!out.f32) {
        // 4 rows x 8 columns at once (rows past M and columns past valid computed, not stored): the rule on each lane ((float)acc * mult, clamp to [lo - zp, hi - zp], rhe),
        // packed to int16 (exact: |v| <= 255), + zp in int16 (the result is in [lo, hi]), packed to bytes.
        __m256i q[4];
        for (int r = 0; r < 4; ++r) {
          const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[r], comp[r])), mult[r]);
          q[r] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, flo), fhi));
        }
        __m256i zpo = zp16;
        if (res) {
          // the add: ma * (float)(A - za) and mb * (float)(B - zb) rounded each, summed, clamped to
          // [lo - zy, hi - zy], rhe (+ zy at the pack); the residual's 8 bytes in the lanes' column order
          for (int r = 0; r < 4; ++r) {
            long long rb = 0;
            if (m0 + r < M) std::memcpy(&rb, res + (int64_t)(m0 + r) * ldy + c, (size_t)valid);
            const __m256i rv = _mm256_permutevar8x32_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(rb)), csel);
            const __m256i v = _mm256_add_epi32(q[r], zp32);
            const __m256i av = out.conv_is_a ? v : rv, bv = out.conv_is_a ? rv : v;
            const __m256 fa = _mm256_mul_ps(ama, _mm256_cvtepi32_ps(_mm256_sub_epi32(av, aza)));
            const __m256 fb = _mm256_mul_ps(amb, _mm256_cvtepi32_ps(_mm256_sub_epi32(bv, azb)));
            q[r] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_add_ps(fa, fb), alo), ahi));
          }
          zpo = zy16;
        }
        const __m256i a = _mm256_add_epi16(_mm256_packs_epi32(q[0], q[1]), zpo);
        const __m256i b = _mm256_add_epi16(_mm256_packs_epi32(q[2], q[3]), zpo);
        // bytes: lane 0 [r0 r1 r2 r3] x (c0 c1 c4 c5), lane 1 the same x (c2 c3 c6 c7)
        const __m256i v = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), dsel), bsel);
        int8_t* yr = static_cast<int8_t*>(y) + (int64_t)m0 * ldy + c;
        const __m128i v0 = _mm256_castsi256_si128(v), v1 = _mm256_extracti128_si256(v, 1);
        if (rows4 && valid == 8) {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(yr), v0);
          _mm_storeh_pd(reinterpret_cast<double*>(yr + ldy), _mm_castsi128_pd(v0));
          _mm_storel_epi64(reinterpret_cast<__m128i*>(yr + 2 * ldy), v1);
          _mm_storeh_pd(reinterpret_cast<double*>(yr + 3 * ldy), _mm_castsi128_pd(v1));
        } else {
          const __m128i rows[4] = {v0, _mm_srli_si128(v0, 8), v1, _mm_srli_si128(v1, 8)};
          for (int r = 0; r < 4 && m0 + r < M; ++r) store_partial(yr + r * ldy, rows[r], valid);
        }
        continue;
      }
      for (int r = 0; r < 4 && m0 + r < M; ++r) {
        const int m = m0 + r;
        store8(_mm256_add_epi32(_mm256_permute4x64_epi64(s[r], 0xD8), comp[r]), m, out, y, (int64_t)m * ldy + c, valid);
        if (res) {  // the add on the bytes just stored
          int8_t* yb = static_cast<int8_t*>(y) + (int64_t)m * ldy + c;
          const int8_t* rb = res + (int64_t)m * ldy + c;
          if (out.conv_is_a) add_run(valid, yb, 1, rb, 1, out.add, yb);
          else add_run(valid, rb, 1, yb, 1, out.add, yb);
        }
      }
    }
  }
}

// Columns per task of the int16 block (a multiple of 8), 0 when not even 8 fit (K too long: no block).
inline int block_cols(int Kq) {
  const int pb = kBufBytes / (Kq * 8) / 8 * 8;
  return pb > 256 ? 256 : pb;
}
// Columns per task for n columns: blocks of at most block_cols(Kq), a multiple of 8, in an even count (two
// threads get equal shares; the per-column sums do not depend on the split). 0: no block fits.
inline int balanced_cols(int Kq, int64_t n) {
  const int pbmax = block_cols(Kq);
  if (pbmax == 0) return 0;
  int64_t nb = (n + pbmax - 1) / pbmax;
  if (nb > 1 && nb % 2 != 0) ++nb;
  const int64_t pb = ((n + nb - 1) / nb + 7) / 8 * 8;
  return pb < pbmax ? (int)pb : pbmax;
}
// Sign-extends n columns (4 bytes each) to int16, 4 columns per step: reads and writes up to 3 columns past n.
inline void widen_cols(const int8_t* src, int n, int16_t* dst) {
  for (int j = 0; j < n; j += 4)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j * 4),
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j * 4))));
}

// GEMV: the 8 rows of packed tile w over all K-quads of one column x (int16 quads, 4 apart).
inline __m256i gemv8(const int16_t* w, const int16_t* x, int Kq) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int q = 0;
  for (; q + 2 <= Kq; q += 2, w += 2 * MRP * 4) {
    const __m256i b0 = bcast4(x + (int64_t)q * 4), b1 = bcast4(x + (int64_t)(q + 1) * 4);
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), b0));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16)), b0));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32)), b1));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 48)), b1));
  }
  if (q < Kq) {
    const __m256i b0 = bcast4(x + (int64_t)q * 4);
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), b0));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16)), b0));
  }
  // a0 + a2: rows 0..3 as [row, k-pair] sums, a1 + a3: rows 4..7; vphaddd + vpermq: the 8 row sums in order.
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(_mm256_add_epi32(a0, a2), _mm256_add_epi32(a1, a3)), 0xD8);
}

// 8 channels' accumulators (channels m0.., one column) through the output stage, stored ldy apart.
inline void store_channels(__m256i acc, int m0, int M, const Int8Out& out, void* y, int64_t ldy) {
  const int valid = M - m0 < 8 ? M - m0 : 8;
  alignas(32) float mt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(mt, out.mult + m0, (size_t)valid * 4);
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_load_ps(mt));
  if (out.f32) {
    if (out.fbias) {
      alignas(32) float bt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(bt, out.fbias + m0, (size_t)valid * 4);
      f = _mm256_add_ps(f, _mm256_load_ps(bt));
    }
    alignas(32) float t[8];
    _mm256_store_ps(t, f);
    float* yf = static_cast<float*>(y);
    for (int i = 0; i < valid; ++i) yf[(int64_t)(m0 + i) * ldy] = t[i];
    return;
  }
  f = _mm256_max_ps(f, _mm256_set1_ps((float)(out.act_min - out.zero_point)));
  f = _mm256_min_ps(f, _mm256_set1_ps((float)(out.act_max - out.zero_point)));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(out.zero_point));
  const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i q8 = _mm_packs_epi16(q16, q16);
  int8_t* yb = static_cast<int8_t*>(y);
  if (ldy == 1 && valid == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(yb + m0), q8);
    return;
  }
  alignas(16) int8_t t[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), q8);
  for (int i = 0; i < valid; ++i) yb[(int64_t)(m0 + i) * ldy] = t[i];
}

// One column: 8 channels per task step; the column's K-quads (Np * 4 bytes apart in X) widened once per task
// into int16 quads, in chunks of kChunkQ quads (partial sums in int32 across chunks: exact).
void gemv(const int8_pack::GemmLayout& l, const uint8_t* base, int M, const int8_t* xp, int64_t Np, int32_t zx,
          const Int8Out& out, void* y, int64_t ldy, const ParallelFor* pf) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int16_t* w0 = reinterpret_cast<const int16_t*>(base + l.w_off);
  constexpr int kChunkQ = 2048;  // 16 KiB of int16 quads on the stack
  parallel_for(pf, l.Mp / MRP, [&](int64_t t0, int64_t t1) {
    alignas(32) int16_t xs[kChunkQ * 4];
    const bool whole = l.Kq <= kChunkQ;
    auto widen = [&](int q0, int nq) {
      for (int q = 0; q < nq; ++q) {
        int32_t v;
        std::memcpy(&v, xp + (int64_t)(q0 + q) * Np * 4, 4);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(xs + q * 4), _mm_cvtepi8_epi16(_mm_cvtsi32_si128(v)));
      }
    };
    if (whole) widen(0, l.Kq);
    for (int64_t t = t0; t < t1; ++t) {
      const int16_t* w = w0 + t * l.Kq * MRP * 4;
      __m256i acc = _mm256_setzero_si256();
      for (int q0 = 0; q0 < l.Kq; q0 += kChunkQ) {
        const int nq = l.Kq - q0 < kChunkQ ? l.Kq - q0 : kChunkQ;
        if (!whole) widen(q0, nq);
        acc = _mm256_add_epi32(acc, gemv8(w + (int64_t)q0 * MRP * 4, xs, nq));
      }
      const int m0 = (int)t * MRP;
      const __m256i comp = _mm256_sub_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + m0)),
          _mm256_mullo_epi32(_mm256_set1_epi32(zx), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wsum + m0))));
      store_channels(_mm256_add_epi32(acc, comp), m0, M, out, y, ldy);
    }
  });
}

}  // namespace

size_t gemm_packed_size(int M, int K) { return int8_pack::gemm_layout<int16_t>(M, K, MRP).bytes; }
void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::gemm_pack<int16_t>(M, K, MRP, w, bias, packed);
}

void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int16_t>(M, K, MRP);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int64_t Np = int8_gemm_cols(N);
  if (N == 1) return gemv(l, base, M, xp, Np, zx, out, y, ldy, pf);
  const size_t esz = out.f32 ? 4 : 1;
  const int pb = balanced_cols(l.Kq, N);
  if (pb == 0) {  // K too long for a block of 8 columns: straight from the int8 layout, 64 columns per task
    parallel_for(pf, (N + 63) / 64, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int n0 = (int)b * 64, cnt = N - n0 < 64 ? N - n0 : 64;
        run_block<false>(l, base, M, xp + (int64_t)n0 * 4, Np * 4, nullptr, cnt, zx, out,
                         static_cast<uint8_t*>(y) + n0 * esz, ldy);
      }
    });
    return;
  }
  parallel_for(pf, (N + pb - 1) / pb, [&](int64_t b0, int64_t b1) {
    alignas(32) int16_t buf[kBufBytes / 2 + 16];  // + 16: widen_cols writes up to 3 columns past the last quad's
    for (int64_t b = b0; b < b1; ++b) {
      const int n0 = (int)b * pb, cnt = N - n0 < pb ? N - n0 : pb;
      for (int q = 0; q < l.Kq; ++q) widen_cols(xp + ((int64_t)q * Np + n0) * 4, cnt, buf + (int64_t)q * pb * 4);
      run_block<false>(l, base, M, buf, (int64_t)pb * 4, nullptr, cnt, zx, out, static_cast<uint8_t*>(y) + n0 * esz,
                       ldy);
    }
  });
}

// Tasks are blocks of pb output pixels in y's order (p = oy * OW + ox, rows of any width packed back to back);
// each K-quad of the block is gathered from the image row by row (widen_cols: the spill past a row's end is
// overwritten by the next row's columns, or lands in the block's next quad row, written after).
void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int16_t>(M, K, MRP);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int64_t P = (int64_t)OH * OW;
  const int pb = balanced_cols(l.Kq, P);
  if (pb == 0) {  // K too long for the block: each output row read in place, 64 columns per task
    const int nt = (OW + 63) / 64;
    parallel_for(pf, (int64_t)OH * nt, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int oy = (int)(t / nt), ox0 = (int)(t % nt) * 64, cnt = OW - ox0 < 64 ? OW - ox0 : 64;
        run_block<true>(l, base, M, img + oy * row_step + (int64_t)ox0 * 4, 0, qoff, cnt, zx, out,
                        y + (int64_t)oy * OW + ox0, P, out.residual ? out.residual + (int64_t)oy * OW + ox0 : nullptr);
      }
    });
  } else {
    parallel_for(pf, (P + pb - 1) / pb, [&](int64_t b0, int64_t b1) {
      alignas(32) int16_t buf[kBufBytes / 2 + 16];
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t p0 = b * pb;
        const int cnt = P - p0 < pb ? (int)(P - p0) : pb;
        const int oy0 = (int)(p0 / OW), ox0 = (int)(p0 % OW);
        for (int q = 0; q < l.Kq; ++q) {
          int16_t* dst = buf + (int64_t)q * pb * 4;
          int done = 0, oy = oy0, ox = ox0;
          while (done < cnt) {
            const int n = OW - ox < cnt - done ? OW - ox : cnt - done;
            widen_cols(img + oy * row_step + (int64_t)ox * 4 + qoff[q], n, dst + (int64_t)done * 4);
            done += n;
            ox = 0;
            ++oy;
          }
        }
        run_block<false>(l, base, M, buf, (int64_t)pb * 4, nullptr, cnt, zx, out, y + p0, P,
                         out.residual ? out.residual + p0 : nullptr);
      }
    });
  }
}

// --- one-input-channel conv ---
namespace {
void dw_fill_plane_avx2(const ConvGeom& g, const int8_pack::DwPlanes& p, const int8_t* x, const int8_t* xend, int32_t zx,
                        int16_t* plane);
constexpr size_t kPlaneBytes = 32768;  // the int16 plane of x - zx on the stack
constexpr int kMaxTaps = 256;
inline bool conv1_fits(const ConvGeom& g) {
  if (g.C != 1 || g.group != 1 || g.kh * g.kw > kMaxTaps) return false;
  return int8_pack::dw_planes(g).channel_elems * 2 <= kPlaneBytes && block_cols((g.kh * g.kw + 3) / 4) > 0;
}
}  // namespace

// The packed buffer: a 64-byte tag block (int32 1: channels-in-lanes layout, 0: the GEMM pack from byte 64).
// Lanes (unit column stride and dilation, so that taps kx, kx+1 are neighbours in a plane row): bias int32
// [Mb * 8], then per block of 8 channels, kernel row and pair of columns (kx = 2j, 2j+1; past kw: 0) the 8
// channels' (w, w') int16 pairs: [Mb][kh][npr][8][2].
namespace {
constexpr size_t kConv1Tag = 64;
inline bool conv1_lanes(const ConvGeom& g) { return g.sw == 1 && g.dw == 1; }
inline int conv1_npr(const ConvGeom& g) { return (g.kw + 1) / 2; }
inline size_t conv1_lanes_w_off(const ConvGeom& g) { return (size_t)((g.M + 7) / 8 * 32 + 63) / 64 * 64; }
}  // namespace

size_t conv1_packed_size(const ConvGeom& g) {
  if (!conv1_fits(g)) return 0;
  if (conv1_lanes(g)) return kConv1Tag + conv1_lanes_w_off(g) + (size_t)((g.M + 7) / 8) * g.kh * conv1_npr(g) * 32;
  return kConv1Tag + gemm_packed_size(g.M, g.kh * g.kw);
}
const char* conv1_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  uint8_t* base = static_cast<uint8_t*>(packed);
  std::memset(base, 0, kConv1Tag);
  if (!conv1_lanes(g)) {
    gemm_pack(g.M, g.kh * g.kw, w, bias, base + kConv1Tag);  // W [M][1][kh][kw] is [M][taps]
    return "avx2";
  }
  const int32_t tag = 1;
  std::memcpy(base, &tag, 4);
  const int Mb = (g.M + 7) / 8, npr = conv1_npr(g), taps = g.kh * g.kw;
  int32_t* b = reinterpret_cast<int32_t*>(base + kConv1Tag);
  for (int m = 0; m < Mb * 8; ++m) b[m] = m < g.M && bias ? bias[m] : 0;
  int16_t* wl = reinterpret_cast<int16_t*>(base + kConv1Tag + conv1_lanes_w_off(g));
  for (int mb = 0; mb < Mb; ++mb)
    for (int ky = 0; ky < g.kh; ++ky)
      for (int j = 0; j < npr; ++j)
        for (int k = 0; k < 8; ++k)
          for (int e = 0; e < 2; ++e) {
            const int m = mb * 8 + k, kx = 2 * j + e;
            wl[(((int64_t)mb * g.kh + ky) * npr + j) * 16 + k * 2 + e] =
                m < g.M && kx < g.kw ? w[(int64_t)m * taps + ky * g.kw + kx] : 0;
          }
  return "avx2";
}

namespace {

// Channels in lanes (conv1_lanes): per output row, 8 pixels x 8 channels at a time: for each kernel row and
// column pair, the pair of plane values of each pixel broadcast (one 32-bit load) and vpmaddwd with the 8
// channels' weight pairs (exact int32). The 64 results are requantized, packed to bytes pixel-major and
// transposed to 8 channel rows of 8 bytes (vpshufb, vpunpck{l,h}dq).
void conv1_run_lanes(const ConvGeom& g, const uint8_t* base, const int16_t* plane, const int8_pack::DwPlanes& p,
                     const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int Mb = (g.M + 7) / 8, npr = conv1_npr(g);
  const int32_t* bias = reinterpret_cast<const int32_t*>(base);
  const int16_t* wl = reinterpret_cast<const int16_t*>(base + conv1_lanes_w_off(g));
  const int64_t P = (int64_t)g.OH * g.OW;
  const __m256 flo = _mm256_set1_ps((float)(out.act_min - out.zero_point));
  const __m256 fhi = _mm256_set1_ps((float)(out.act_max - out.zero_point));
  const __m256i zp16 = _mm256_set1_epi16((short)out.zero_point);
  const __m256i t4 = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6,
                                      10, 14, 3, 7, 11, 15);
  parallel_for(pf, (int64_t)Mb * g.OH, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int mb = (int)(t / g.OH), oy = (int)(t % g.OH);
      const int16_t* wb = wl + (int64_t)mb * g.kh * npr * 16;
      alignas(32) float mt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      const int nm = g.M - mb * 8 < 8 ? g.M - mb * 8 : 8;
      std::memcpy(mt, out.mult + mb * 8, (size_t)nm * 4);
      const __m256 mult = _mm256_load_ps(mt);
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + mb * 8));
      for (int ox0 = 0; ox0 < g.OW; ox0 += 8) {
        __m256i a0 = b0, a1 = b0, a2 = b0, a3 = b0, a4 = b0, a5 = b0, a6 = b0, a7 = b0;
        for (int ky = 0; ky < g.kh; ++ky) {
          const int16_t* r = plane + (int64_t)(oy * g.sh + ky * g.dh) * p.L + ox0;
          const int16_t* wr = wb + (int64_t)ky * npr * 16;
          for (int j = 0; j < npr; ++j, r += 2) {
            // written out: GCC moved each broadcast through a general register and spilled the accumulators
            __m256i wv, t;
            asm("vmovdqu (%[w]), %[wv]\n\t"
                "vpbroadcastd (%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a0], %[a0]\n\t"
                "vpbroadcastd 2(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a1], %[a1]\n\t"
                "vpbroadcastd 4(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a2], %[a2]\n\t"
                "vpbroadcastd 6(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a3], %[a3]\n\t"
                "vpbroadcastd 8(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a4], %[a4]\n\t"
                "vpbroadcastd 10(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a5], %[a5]\n\t"
                "vpbroadcastd 12(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a6], %[a6]\n\t"
                "vpbroadcastd 14(%[r]), %[t]\n\t"
                "vpmaddwd %[wv], %[t], %[t]\n\t"
                "vpaddd %[t], %[a7], %[a7]\n\t"
                : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4), [a5] "+x"(a5),
                  [a6] "+x"(a6), [a7] "+x"(a7), [wv] "=&x"(wv), [t] "=&x"(t)
                : [r] "r"(r), [w] "r"(wr + j * 16)
                : "memory");
          }
        }
        auto rq = [&](__m256i a) {
          return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), mult), flo), fhi));
        };
        // int16 [p0 c0-3, p1 c0-3 | p0 c4-7, p1 c4-7] (exact: |v| <= 255), + zp, then bytes
        const __m256i s01 = _mm256_add_epi16(_mm256_packs_epi32(rq(a0), rq(a1)), zp16);
        const __m256i s23 = _mm256_add_epi16(_mm256_packs_epi32(rq(a2), rq(a3)), zp16);
        const __m256i s45 = _mm256_add_epi16(_mm256_packs_epi32(rq(a4), rq(a5)), zp16);
        const __m256i s67 = _mm256_add_epi16(_mm256_packs_epi32(rq(a6), rq(a7)), zp16);
        // lane 0 dword k: channel k of pixels 0-3 (4-7 in the second), lane 1: channel 4 + k
        const __m256i lo4 = _mm256_shuffle_epi8(_mm256_packs_epi16(s01, s23), t4);
        const __m256i hi4 = _mm256_shuffle_epi8(_mm256_packs_epi16(s45, s67), t4);
        const __m256i u0 = _mm256_unpacklo_epi32(lo4, hi4), u1 = _mm256_unpackhi_epi32(lo4, hi4);
        // qwords: u0 = c0 c1 | c4 c5, u1 = c2 c3 | c6 c7
        const __m128i u0l = _mm256_castsi256_si128(u0), u0h = _mm256_extracti128_si256(u0, 1);
        const __m128i u1l = _mm256_castsi256_si128(u1), u1h = _mm256_extracti128_si256(u1, 1);
        const __m128i rows[8] = {u0l, _mm_srli_si128(u0l, 8), u1l, _mm_srli_si128(u1l, 8),
                                 u0h, _mm_srli_si128(u0h, 8), u1h, _mm_srli_si128(u1h, 8)};
        const int valid = g.OW - ox0 < 8 ? g.OW - ox0 : 8;
        int8_t* yo = y + (int64_t)mb * 8 * P + (int64_t)oy * g.OW + ox0;
        for (int k = 0; k < nm; ++k) {
          if (valid == 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(yo + k * P), rows[k]);
          else store_partial(yo + k * P, rows[k], valid);
        }
      }
    }
  });
}

}  // namespace

// The plane (int8_pack::dw_fill_plane: padded rows split in column phases, taps contiguous along ox), then per
// block of output pixels each K-quad of 4 taps: 16 columns of the 4 tap rows interleaved into 16 int16 quads
// (vpunpck{l,h}wd, vpunpck{l,h}dq, vperm2i128), the GEMM loop with zero point 0.
void conv1_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
               const ParallelFor* pf) {
  const int taps = g.kh * g.kw, Kq = (taps + 3) / 4;
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int16_t>(g.M, taps, MRP);
  int32_t tag;
  std::memcpy(&tag, packed, 4);
  const uint8_t* base = static_cast<const uint8_t*>(packed) + kConv1Tag;
  const int8_pack::DwPlanes p = int8_pack::dw_planes(g);
  alignas(32) int16_t plane[kPlaneBytes / 2 + 32];  // + 32: the last row's 16-column reads run past it
  dw_fill_plane_avx2(g, p, x, x + (int64_t)g.H * g.W, zx, plane);
  std::memset(plane + p.channel_elems, 0, 64);
  if (tag == 1) return conv1_run_lanes(g, base, plane, p, out, y, pf);
  int64_t toff[kMaxTaps + 3];
  for (int t = 0; t < Kq * 4; ++t) toff[t] = t < taps ? int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw) : toff[0];
  const int64_t P = (int64_t)g.OH * g.OW, row_step = (int64_t)g.sh * g.sw * p.L;
  const int pb = balanced_cols(Kq, P);
  parallel_for(pf, (P + pb - 1) / pb, [&](int64_t b0, int64_t b1) {
    alignas(32) int16_t buf[kBufBytes / 2 + 64];  // + 64: the last quad row's spill (up to 15 columns)
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t p0 = b * pb;
      const int cnt = P - p0 < pb ? (int)(P - p0) : pb;
      for (int q = 0; q < Kq; ++q) {
        int16_t* dst = buf + (int64_t)q * pb * 4;
        int done = 0, oy = (int)(p0 / g.OW), ox = (int)(p0 % g.OW);
        while (done < cnt) {
          const int n = g.OW - ox < cnt - done ? g.OW - ox : cnt - done;
          const int16_t* rowp = plane + oy * row_step + ox;
          const int16_t *r0 = rowp + toff[4 * q], *r1 = rowp + toff[4 * q + 1], *r2 = rowp + toff[4 * q + 2],
                        *r3 = rowp + toff[4 * q + 3];
          for (int j = 0; j < n; j += 16) {
            const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + j));
            const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + j));
            const __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r2 + j));
            const __m256i v3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r3 + j));
            // pairs (t0, t1) / (t2, t3): lo = columns 0-3 | 8-11, hi = 4-7 | 12-15
            const __m256i l01 = _mm256_unpacklo_epi16(v0, v1), h01 = _mm256_unpackhi_epi16(v0, v1);
            const __m256i l23 = _mm256_unpacklo_epi16(v2, v3), h23 = _mm256_unpackhi_epi16(v2, v3);
            // quads: c0 c1 | c8 c9, c2 c3 | c10 c11, c4 c5 | c12 c13, c6 c7 | c14 c15
            const __m256i q0 = _mm256_unpacklo_epi32(l01, l23), q1 = _mm256_unpackhi_epi32(l01, l23);
            const __m256i q2 = _mm256_unpacklo_epi32(h01, h23), q3 = _mm256_unpackhi_epi32(h01, h23);
            __m256i* d = reinterpret_cast<__m256i*>(dst + (int64_t)(done + j) * 4);
            _mm256_storeu_si256(d, _mm256_permute2x128_si256(q0, q1, 0x20));
            _mm256_storeu_si256(d + 1, _mm256_permute2x128_si256(q2, q3, 0x20));
            _mm256_storeu_si256(d + 2, _mm256_permute2x128_si256(q0, q1, 0x31));
            _mm256_storeu_si256(d + 3, _mm256_permute2x128_si256(q2, q3, 0x31));
          }
          done += n;
          ox = 0;
          ++oy;
        }
      }
      run_block<false>(l, base, g.M, buf, (int64_t)pb * 4, nullptr, cnt, 0, out, y + p0, P);
    }
  });
}

// Depthwise packing: the shared layout (int8_pack.h: bias, per-channel int16 taps), then for the channels-in-lanes
// path of small planes the tap pairs per block of 16 channels: for pair j (taps 2j, 2j+1) two vectors of 8
// (w_2j, w_2j+1) int16 pairs, `lo` for channels 0-3, 8-11 of the block and `hi` for 4-7, 12-15 (the lane
// order vpunpck{l,h}wd leaves), zeros past C and past the last tap.
namespace {
inline int dw_pairs(const ConvGeom& g) { return (g.kh * g.kw + 1) / 2; }
inline int dw_cp16(int C) { return (C + 15) / 16 * 16; }
inline size_t dw_lanes_off(const ConvGeom& g) { return (int8_pack::dw_packed_size(g.C, g.kh * g.kw) + 63) / 64 * 64; }
// Outputs of at most 32x32 per channel take the channels-in-lanes path (mobile 14x14: 6.3 -> 2.9 us against
// the planes; larger planes keep the per-channel planes, whose tile per 16 channels would outgrow L2).
inline bool dw_lanes(const ConvGeom& g) { return (int64_t)g.OH * g.OW <= 1024 && g.kh * g.kw <= 64; }
struct DwLanes {
  int Hn, Wn;
  size_t t_elems, o_bytes;  // per block of 16 channels: int16 input tile, int8 outputs [P][16]
};
inline DwLanes dw_lanes_layout(const ConvGeom& g) {
  DwLanes l;
  l.Hn = (g.OH - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  l.Wn = (g.OW - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  l.t_elems = (size_t)l.Hn * l.Wn * 16;
  l.o_bytes = (size_t)(g.OH * g.OW + 15) / 16 * 16 * 16;  // rows up to a multiple of 16 (the transpose reads them)
  return l;
}
}  // namespace

size_t dw_packed_size(const ConvGeom& g) {
  return dw_lanes_off(g) + (size_t)dw_pairs(g) * dw_cp16(g.C) * 4;
}
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  const int C = g.C, taps = g.kh * g.kw, np = dw_pairs(g);
  int8_pack::dw_pack(C, taps, w, bias, packed);
  int16_t* wl = reinterpret_cast<int16_t*>(static_cast<uint8_t*>(packed) + dw_lanes_off(g));
  for (int cb = 0; cb < dw_cp16(C) / 16; ++cb)
    for (int j = 0; j < np; ++j)
      for (int h = 0; h < 2; ++h)
        for (int lane = 0; lane < 8; ++lane)
          for (int e = 0; e < 2; ++e) {
            const int c = cb * 16 + (lane < 4 ? lane : lane + 4) + 4 * h, t = 2 * j + e;
            wl[(((int64_t)cb * np + j) * 2 + h) * 16 + lane * 2 + e] = c < C && t < taps ? w[(int64_t)c * taps + t] : 0;
          }
  return "avx2";
}
size_t dw_scratch_size(const ConvGeom& g) {
  if (!dw_lanes(g)) return int8_pack::dw_scratch_size(g);
  const DwLanes l = dw_lanes_layout(g);
  return (size_t)(dw_cp16(g.C) / 16) * (l.t_elems * 2 + l.o_bytes);
}

namespace {


// 16x16 bytes: o[j] byte i = a[i] byte j (vpunpck on 8, 16, 32, 64 bits).
inline void transpose16(const __m128i a[16], __m128i o[16]) {
  __m128i t[16], u[16], v[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    t[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // rows 4i..4i+3: columns 0-3, 4-7, 8-11, 12-15
    u[4 * i] = _mm_unpacklo_epi16(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm_unpackhi_epi16(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm_unpacklo_epi16(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm_unpackhi_epi16(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int h = 0; h < 2; ++h)  // rows 8h..8h+7: v[8h + k] holds columns 2k, 2k+1
    for (int k = 0; k < 4; ++k) {
      v[8 * h + 2 * k] = _mm_unpacklo_epi32(u[8 * h + k], u[8 * h + 4 + k]);
      v[8 * h + 2 * k + 1] = _mm_unpackhi_epi32(u[8 * h + k], u[8 * h + 4 + k]);
    }
  for (int k = 0; k < 8; ++k) {
    o[2 * k] = _mm_unpacklo_epi64(v[k], v[8 + k]);
    o[2 * k + 1] = _mm_unpackhi_epi64(v[k], v[8 + k]);
  }
}

// Channels in lanes: per block of 16 channels T[r][col][16] int16 = x - z_x of the padded input window (0
// outside), then per output pixel the taps in pairs: T's two tap vectors interleaved (vpunpck{l,h}wd) and
// vpmaddwd with the packed pair weights (exact int32); the int8 results of the block go to O[pixel][16] and
// are transposed to NCHW at the end. Work is split by channel block.
void dw_run_lanes(const ConvGeom& g, const uint8_t* base, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
                  void* scratch, const ParallelFor* pf) {
  const DwLanes l = dw_lanes_layout(g);
  const int taps = g.kh * g.kw, np = dw_pairs(g), C = g.C;
  const int32_t* bias = reinterpret_cast<const int32_t*>(base);  // zeros up to a multiple of 16 channels
  const int16_t* wl = reinterpret_cast<const int16_t*>(base + dw_lanes_off(g));
  const int P = g.OH * g.OW;
  const int64_t plane = (int64_t)g.H * g.W;
  const int8_t* xend = x + (int64_t)C * plane;
  const __m256 flo = _mm256_set1_ps((float)(out.act_min - out.zero_point));
  const __m256 fhi = _mm256_set1_ps((float)(out.act_max - out.zero_point));
  const __m256i zy = _mm256_set1_epi32(out.zero_point);
  int64_t toff[66];  // tap offsets in T (int16 elements); the odd last tap's partner repeats tap 0
  for (int t = 0; t < 2 * np; ++t) {
    const int tt = t < taps ? t : 0;
    toff[t] = ((int64_t)(tt / g.kw) * g.dh * l.Wn + (int64_t)(tt % g.kw) * g.dw) * 16;
  }
  parallel_for(pf, dw_cp16(C) / 16, [&](int64_t b0, int64_t b1) {
    for (int64_t cb = b0; cb < b1; ++cb) {
      int16_t* T = reinterpret_cast<int16_t*>(static_cast<uint8_t*>(scratch) + (size_t)cb * (l.t_elems * 2 + l.o_bytes));
      int8_t* O = reinterpret_cast<int8_t*>(T + l.t_elems);
      const int c0 = (int)cb * 16, c1 = c0 + 16 < C ? c0 + 16 : C;
      std::memset(T, 0, l.t_elems * 2);
      // The input window: per input row, 16 columns of the 16 channels at a time transposed (transpose16) and
      // widened; channels past C read channel C - 1 (their weights are 0, their outputs not stored). A load that
      // would pass the end of the input takes the element-by-element copy.
      const __m256i z = _mm256_set1_epi16((short)zx);
      const int ncol = g.W < l.Wn - g.pad_l ? g.W : l.Wn - g.pad_l;
      for (int ih = 0; ih < g.H; ++ih) {
        const int r = ih + g.pad_t;
        if (r >= l.Hn) break;
        int16_t* tr = T + ((int64_t)r * l.Wn + g.pad_l) * 16;
        for (int iw0 = 0; iw0 < ncol; iw0 += 16) {
          const int n = ncol - iw0 < 16 ? ncol - iw0 : 16;
          const int8_t* last = x + (int64_t)(c1 - 1) * plane + (int64_t)ih * g.W + iw0;
          if (last + 16 <= xend) {
            __m128i a[16], o[16];
            for (int i = 0; i < 16; ++i) {
              const int c = c0 + i < C ? c0 + i : C - 1;
              a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (int64_t)c * plane + (int64_t)ih * g.W + iw0));
            }
            transpose16(a, o);
            for (int k = 0; k < n; ++k)
              _mm256_storeu_si256(reinterpret_cast<__m256i*>(tr + (int64_t)(iw0 + k) * 16),
                                  _mm256_sub_epi16(_mm256_cvtepi8_epi16(o[k]), z));
          } else {
            for (int c = c0; c < c1; ++c)
              for (int k = 0; k < n; ++k)
                tr[(int64_t)(iw0 + k) * 16 + (c - c0)] = (int16_t)(x[(int64_t)c * plane + (int64_t)ih * g.W + iw0 + k] - zx);
          }
        }
      }
      // bias and multipliers in the lane order of lo (channels 0-3, 8-11) and hi (4-7, 12-15)
      alignas(32) float mt[16] = {0};
      std::memcpy(mt, out.mult + c0, (size_t)(c1 - c0) * 4);
      const __m256 m0 = _mm256_load_ps(mt), m1 = _mm256_load_ps(mt + 8);
      const __m256 mlo = _mm256_permute2f128_ps(m0, m1, 0x20), mhi = _mm256_permute2f128_ps(m0, m1, 0x31);
      const __m256i n0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + c0));
      const __m256i n1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + c0 + 8));
      const __m256i blo = _mm256_permute2x128_si256(n0, n1, 0x20), bhi = _mm256_permute2x128_si256(n0, n1, 0x31);
      const int16_t* wb = wl + (int64_t)cb * np * 32;
      for (int oy = 0; oy < g.OH; ++oy)
        for (int ox = 0; ox < g.OW; ++ox) {
          const int16_t* tp = T + ((int64_t)oy * g.sh * l.Wn + (int64_t)ox * g.sw) * 16;
          __m256i lo = blo, hi = bhi;
          for (int j = 0; j < np; ++j) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tp + toff[2 * j]));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tp + toff[2 * j + 1]));
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b),
                                                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + j * 32))));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b),
                                                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + j * 32 + 16))));
          }
          __m256 fl = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), mlo), flo), fhi);
          __m256 fh = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), mhi), flo), fhi);
          const __m256i q16 = _mm256_packs_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fl), zy),
                                                 _mm256_add_epi32(_mm256_cvtps_epi32(fh), zy));  // channels 0..15
          _mm_storeu_si128(reinterpret_cast<__m128i*>(O + ((int64_t)oy * g.OW + ox) * 16),
                           _mm_packs_epi16(_mm256_castsi256_si128(q16), _mm256_extracti128_si256(q16, 1)));
        }
      // O [pixel][16] to y [channel][pixel], 16 pixels at a time (O has rows up to P rounded up to 16).
      for (int p0 = 0; p0 < P; p0 += 16) {
        __m128i a[16], o[16];
        for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(O + (int64_t)(p0 + i) * 16));
        transpose16(a, o);
        const int n = P - p0 < 16 ? P - p0 : 16;
        for (int c = c0; c < c1; ++c) {
          int8_t* d = y + (int64_t)c * P + p0;
          if (n == 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(d), o[c - c0]);
          else store_partial(d, o[c - c0], n);
        }
      }
    }
  });
}

}  // namespace

namespace {

// int8_pack::dw_fill_plane's bytes, vectorized for column strides 1 and 2: 16 plane values per step, read as
// 16 (32) input bytes while those stay before xend (the end of the input), lanes past the row's last value
// cleared; the rest element by element.
void dw_fill_plane_avx2(const ConvGeom& g, const int8_pack::DwPlanes& p, const int8_t* x, const int8_t* xend, int32_t zx,
                        int16_t* plane) {
  if (g.sw > 2) return int8_pack::dw_fill_plane(g, p, x, zx, plane);
  const __m256i z = _mm256_set1_epi16((short)zx);
  // even bytes of each 128-bit lane to its low 8 bytes
  const __m256i even = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10, 12,
                                        14, -1, -1, -1, -1, -1, -1, -1, -1);
  alignas(32) static const int16_t kKeep[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  for (int r = 0; r < p.Hn; ++r) {
    const int ih = r - g.pad_t;
    for (int ph = 0; ph < g.sw; ++ph) {
      int16_t* row = plane + ((int64_t)r * g.sw + ph) * p.L;
      std::memset(row, 0, (size_t)p.L * 2);
      if (ih < 0 || ih >= g.H) continue;
      const int8_t* xr = x + (int64_t)ih * g.W;
      const int8_pack::DwRowSpan sp = int8_pack::dw_row_span(g, p, ph);  // index i: input column i * sw + c0
      const int c0 = sp.c0, i1 = sp.i1;
      int i = sp.i0;
      // (row + i .. + 16 stays inside the plane row: L >= OW rounded up to 32 >= i1 + 15 is not given, so the
      // 16 values are written only while i + 16 <= L; the lanes past i1 are zeros, as the row already holds.)
      for (; i < i1 && i + 16 <= p.L; i += 16) {
        const int8_t* src = xr + (int64_t)i * g.sw + c0;
        if (src + 16 * g.sw > xend) break;
        __m256i v;
        if (g.sw == 1) {
          v = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
        } else {
          const __m256i b = _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), even);
          v = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(_mm256_permute4x64_epi64(b, 0x08)));  // qwords 0 and 2
        }
        v = _mm256_sub_epi16(v, z);
        if (i1 - i < 16) v = _mm256_and_si256(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kKeep + 16 - (i1 - i))));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + i), v);
      }
      for (; i < i1; ++i) row[i] = (int16_t)(xr[i * g.sw + c0] - zx);
    }
  }
}


}  // namespace

// Depthwise: per channel, the plane of x - zx (int16), then 16 outputs of a row per step with the taps in
// pairs (t, t+1): the two taps' rows interleaved (vpunpck{l,h}wd) and vpmaddwd with (w_t, w_t+1) adds both
// products into int32 (exact). The unpacks leave outputs 0-3, 8-11 in `lo` and 4-7, 12-15 in `hi`, which
// vpackssdw puts back in order. A row's 16 bytes are stored whole (the columns past the row are the next
// rows' first outputs, stored later) while they stay inside the channel's outputs.
void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void* scratch, const ParallelFor* pf) {
  if (dw_lanes(g)) return dw_run_lanes(g, static_cast<const uint8_t*>(packed), x, zx, out, y, scratch, pf);
  const int8_pack::DwPlanes p = int8_pack::dw_planes(g);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int32_t* bias = reinterpret_cast<const int32_t*>(base);
  const int16_t* wall = reinterpret_cast<const int16_t*>(base + int8_pack::dw_w_off(g.C));
  const int taps = g.kh * g.kw, tp = int8_pack::dw_taps_padded(taps);
  const int np = (taps + 1) / 2;  // tap pairs (an odd last tap pairs with weight 0 and any row)
  const __m256 flo = _mm256_set1_ps((float)(out.act_min - out.zero_point));
  const __m256 fhi = _mm256_set1_ps((float)(out.act_max - out.zero_point));
  const __m256i zy = _mm256_set1_epi32(out.zero_point);
  parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
    constexpr int kT = 64;
    int64_t toff[kT + 1];
    const bool fits = taps <= kT;
    if (fits) {
      for (int t = 0; t < taps; ++t) toff[t] = int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw);
      toff[taps] = toff[0];
    }
    auto off = [&](int t) {
      if (fits) return toff[t];
      return t < taps ? int8_pack::dw_tap_offset(g, p, t / g.kw, t % g.kw) : int8_pack::dw_tap_offset(g, p, 0, 0);
    };
    for (int64_t c = c0; c < c1; ++c) {
      int16_t* plane = static_cast<int16_t*>(scratch) + (size_t)c * p.channel_elems;
      dw_fill_plane_avx2(g, p, x + c * g.H * g.W, x + (int64_t)g.C * g.H * g.W, zx, plane);
      const int16_t* w = wall + c * tp;  // padded taps are 0
      const __m256 mult = _mm256_set1_ps(out.mult[c]);
      const __m256i b0 = _mm256_set1_epi32(bias[c]);
      int8_t* yc = y + c * g.OH * g.OW;
      for (int oy = 0; oy < g.OH; ++oy) {
        const int16_t* rowp = plane + (int64_t)oy * g.sh * g.sw * p.L;
        for (int ox = 0; ox < g.OW; ox += 16) {
          __m256i lo = b0, hi = b0;  // the bias once per output: each output sits in one of lo, hi
          for (int j = 0; j < np; ++j) {
            const int t = 2 * j;
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rowp + off(t) + ox));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rowp + off(t + 1) + ox));
            const __m256i wp = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)w[t] | (uint32_t)(uint16_t)w[t + 1] << 16));
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), wp));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), wp));
          }
          __m256 flo_ = _mm256_mul_ps(_mm256_cvtepi32_ps(lo), mult), fhi_ = _mm256_mul_ps(_mm256_cvtepi32_ps(hi), mult);
          flo_ = _mm256_min_ps(_mm256_max_ps(flo_, flo), fhi);
          fhi_ = _mm256_min_ps(_mm256_max_ps(fhi_, flo), fhi);
          const __m256i q16 = _mm256_packs_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(flo_), zy),
                                                 _mm256_add_epi32(_mm256_cvtps_epi32(fhi_), zy));  // o0..o15 in order
          const __m128i q8 = _mm_packs_epi16(_mm256_castsi256_si128(q16), _mm256_extracti128_si256(q16, 1));
          const int valid = g.OW - ox < 16 ? g.OW - ox : 16;
          int8_t* d = yc + (int64_t)oy * g.OW + ox;
          if ((int64_t)oy * g.OW + ox + 16 <= (int64_t)g.OH * g.OW) _mm_storeu_si128(reinterpret_cast<__m128i*>(d), q8);
          else store_partial(d, q8, valid);
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
