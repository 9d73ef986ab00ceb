// AVX2+FMA twins of the sparse kernels (compiled with -mavx2 -mfma; handed out only after cpuid).
//   fc, rows of x taken 8 at a time: fc_blocks_avx2.h.
//   fc, the remaining M % 8 rows (batch 1 included): per output, 8-lane gathers of x at col_idx
//     (2 accumulators over 16 terms, then a fixed horizontal sum; scalar tail).
//   pointwise: per output channel, 32-wide tiles of P, one broadcast FMA per stored weight;
//     tiles of P outside, channels inside, so an x tile stays in cache.
// Orders depend on the row lengths only, never on the thread split.
#include <immintrin.h>

#include <cmath>

#include "fc_blocks_avx2.h"
#include "parallel_for.h"

namespace mcrt {
namespace sparse_avx2 {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float dot_gather(const float* xr, const int32_t* ci, const float* v, int32_t b, int32_t e) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int32_t j = b;
  for (; j + 16 <= e; j += 16) {
    const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci + j));
    const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci + j + 8));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + j), _mm256_i32gather_ps(xr, i0, 4), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + j + 8), _mm256_i32gather_ps(xr, i1, 4), a1);
  }
  if (j + 8 <= e) {
    const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci + j));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + j), _mm256_i32gather_ps(xr, i0, 4), a0);
    j += 8;
  }
  float acc = hsum(_mm256_add_ps(a0, a1));
  for (; j < e; ++j) acc = std::fma(v[j], xr[ci[j]], acc);
  return acc;
}

}  // namespace

size_t fc_extra_size(const CsrMatrix&) { return 0; }
void fc_extra_pack(const CsrMatrix&, void*) {}
size_t fc_scratch_size(int M, int K) { return (size_t)(M / kBlockRows) * kBlockRows * (size_t)K * 4; }

void fc_run(int M, const CsrMatrix& w, const void*, const float* x, int ldx, const Epilogue& ep, float* y, int ldy,
            void* scratch, const ParallelFor* pf) {
  fc_transpose_blocks8(M, w.cols, x, ldx, static_cast<float*>(scratch));
  const float* xt = static_cast<const float*>(scratch);
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      fc_row_blocks8(n, M, w, xt, ep, y, ldy);
      const int32_t b = w.row_ptr[n], e = w.row_ptr[n + 1];
      for (int m = M / kBlockRows * kBlockRows; m < M; ++m)
        y[(int64_t)m * ldy + n] =
            sparse_epilogue(dot_gather(x + (int64_t)m * ldx, w.col_idx, w.values, b, e), ep, (int)n);
    }
  });
}

void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf) {
  constexpr int kTile = 32;
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    int p = 0;
    for (; p + kTile <= P; p += kTile)
      for (int64_t r = r0; r < r1; ++r) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j) {
          const __m256 v = _mm256_set1_ps(w.values[j]);
          const float* xr = x + (int64_t)w.col_idx[j] * P + p;
          a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr), a0);
          a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 8), a1);
          a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 16), a2);
          a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 24), a3);
        }
        float* yr = y + r * P + p;
        _mm256_storeu_ps(yr, epilogue8(a0, ep, (int)r));
        _mm256_storeu_ps(yr + 8, epilogue8(a1, ep, (int)r));
        _mm256_storeu_ps(yr + 16, epilogue8(a2, ep, (int)r));
        _mm256_storeu_ps(yr + 24, epilogue8(a3, ep, (int)r));
      }
    for (; p + 8 <= P; p += 8)
      for (int64_t r = r0; r < r1; ++r) {
        __m256 a0 = _mm256_setzero_ps();
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          a0 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j]), _mm256_loadu_ps(x + (int64_t)w.col_idx[j] * P + p), a0);
        _mm256_storeu_ps(y + r * P + p, epilogue8(a0, ep, (int)r));
      }
    for (; p < P; ++p)
      for (int64_t r = r0; r < r1; ++r) {
        float acc = 0.f;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          acc = std::fma(w.values[j], x[(int64_t)w.col_idx[j] * P + p], acc);
        y[r * P + p] = sparse_epilogue(acc, ep, (int)r);
      }
  });
}

}  // namespace sparse_avx2

}  // namespace mcrt
