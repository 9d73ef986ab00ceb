// AVX2 int8 sparse kernels (sparse_int8_kernels.h), compiled with -mavx2 only; the table in
// sparse_int8.cpp checks cpuid. Integer sums are exact, so the bytes equal the reference's.
//   fc:        x - zx widened once per run to int32 in scratch. Blocks of 8 batch rows: k-major [K][8], one
//              8-lane load x multiply per stored entry. Remaining rows: per output, 8-lane gathers by col_idx
//              times the sign-extended values (vpmulld), scalar tail.
//   pointwise: 16-column tiles: Σ x·w per column, two stored entries per vpmaddwd (int16 pairs), then
//              acc = bias + Σx·w − zx·Σw, requantized 8 lanes at a time (float32 multiply, clamp, cvtps2dq).
#include <immintrin.h>

#include "../sparse_int8_kernels.h"
#include "parallel_for.h"

namespace mcrt {
namespace sparse_int8_avx2 {
namespace {

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 8 requantized outputs (one channel's multiplier) as 8 int8 bytes at y.
inline void requant8(__m256i acc, float mult, const Int8Out& out, int8_t* y) {
  const __m256 lo = _mm256_set1_ps((float)(out.act_min - out.zero_point));
  const __m256 hi = _mm256_set1_ps((float)(out.act_max - out.zero_point));
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(mult));
  f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(out.zero_point));
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), _mm_packs_epi16(w16, w16));
}

}  // namespace

size_t fc_scratch_size(int M, int K) { return (size_t)M * (size_t)K * 4; }

// Batch rows in blocks of 8: x - zx of the block's 8 rows stored k-major ([K][8] int32, from `xs` on), so that
// each stored entry is one 8-lane load, multiply and add for all 8 rows (no gathers).
void fc_run(int M, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int64_t ldx, int32_t zx,
            const Int8Out& out, int8_t* y, int64_t ldy, void* scratch, const ParallelFor* pf) {
  const int K = w.cols, Mb = M / 8 * 8;
  int32_t* xs = static_cast<int32_t*>(scratch);
  for (int b = 0; b < Mb; b += 8)
    for (int k = 0; k < K; ++k)
      for (int i = 0; i < 8; ++i) xs[(int64_t)b * K + k * 8 + i] = x[(int64_t)(b + i) * ldx + k] - zx;
  for (int m = Mb; m < M; ++m)
    for (int k = 0; k < K; ++k) xs[(int64_t)m * K + k] = x[(int64_t)m * ldx + k] - zx;
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int32_t j0 = w.row_ptr[n], j1 = w.row_ptr[n + 1];
      for (int b = 0; b < Mb; b += 8) {
        const int32_t* xb = xs + (int64_t)b * K;
        __m256i a0 = _mm256_set1_epi32(bias ? bias[n] : 0), a1 = _mm256_setzero_si256();
        int32_t j = j0;
        for (; j + 2 <= j1; j += 2) {
          a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + (int64_t)w.col_idx[j] * 8)),
                                                       _mm256_set1_epi32(w.values[j])));
          a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + (int64_t)w.col_idx[j + 1] * 8)),
                                                       _mm256_set1_epi32(w.values[j + 1])));
        }
        if (j < j1)
          a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + (int64_t)w.col_idx[j] * 8)),
                                                       _mm256_set1_epi32(w.values[j])));
        alignas(32) int32_t acc[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(acc), _mm256_add_epi32(a0, a1));
        for (int i = 0; i < 8; ++i)
          y[(int64_t)(b + i) * ldy + n] = int8_requantize_ref(acc[i], out.mult[n], out.zero_point, out.act_min, out.act_max);
      }
      for (int m = Mb; m < M; ++m) {
        const int32_t* xr = xs + (int64_t)m * K;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        int32_t j = j0;
        for (; j + 16 <= j1; j += 16) {
          const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col_idx + j));
          const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col_idx + j + 8));
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.values + j));
          a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_i32gather_epi32(xr, i0, 4), _mm256_cvtepi8_epi32(v)));
          a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_i32gather_epi32(xr, i1, 4),
                                                       _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8))));
        }
        if (j + 8 <= j1) {
          const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col_idx + j));
          const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.values + j));
          a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_i32gather_epi32(xr, i0, 4), _mm256_cvtepi8_epi32(v)));
          j += 8;
        }
        int32_t acc = (bias ? bias[n] : 0) + hsum(_mm256_add_epi32(a0, a1));
        for (; j < j1; ++j) acc += (int32_t)w.values[j] * xr[w.col_idx[j]];
        y[(int64_t)m * ldy + n] = int8_requantize_ref(acc, out.mult[n], out.zero_point, out.act_min, out.act_max);
      }
    }
  });
}

void pointwise_run(int P, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int32_t zx,
                   const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t j0 = w.row_ptr[r], j1 = w.row_ptr[r + 1];
      const int32_t base = (bias ? bias[r] : 0) - zx * w.wsum[r];
      const float mult = out.mult[r];
      int8_t* yr = y + r * P;
      int p = 0;
      for (; p + 16 <= P; p += 16) {
        // Two stored entries per step: x rows c1, c2 interleaved as int16 pairs, one vpmaddwd with (v1, v2).
        // lo/hi hold columns {0-3, 8-11} / {4-7, 12-15}; an odd last entry pairs with value 0.
        __m256i lo_acc = _mm256_set1_epi32(base), hi_acc = lo_acc;
        for (int32_t j = j0; j < j1; j += 2) {
          const bool pair = j + 1 < j1;
          const int32_t c1 = w.col_idx[j], c2 = pair ? w.col_idx[j + 1] : c1;
          const int32_t v1 = w.values[j], v2 = pair ? w.values[j + 1] : 0;
          const __m256i xa = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (int64_t)c1 * P + p)));
          const __m256i xb = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (int64_t)c2 * P + p)));
          const __m256i vv = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)(int16_t)v1 | (uint32_t)v2 << 16));
          lo_acc = _mm256_add_epi32(lo_acc, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), vv));
          hi_acc = _mm256_add_epi32(hi_acc, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), vv));
        }
        requant8(_mm256_permute2x128_si256(lo_acc, hi_acc, 0x20), mult, out, yr + p);
        requant8(_mm256_permute2x128_si256(lo_acc, hi_acc, 0x31), mult, out, yr + p + 8);
      }
      for (; p < P; ++p) {
        int32_t acc = base;
        for (int32_t j = j0; j < j1; ++j) acc += (int32_t)w.values[j] * x[(int64_t)w.col_idx[j] * P + p];
        yr[p] = int8_requantize_ref(acc, mult, out.zero_point, out.act_min, out.act_max);
      }
    }
  });
}

}  // namespace sparse_int8_avx2
}  // namespace mcrt
