// Internal, for the -mavx2 -mfma (and AVX-512) sparse TUs: the fc batch-block path shared by both.
// Rows of x are taken 8 at a time and transposed into scratch as [K, 8] blocks; each stored weight is
// then one broadcast FMA over 8 batch rows (4 accumulators over j mod 4, summed in a fixed order).
#pragma once
#include <immintrin.h>

#include "../sparse_kernel_sets.h"

namespace mcrt {
namespace {

constexpr int kBlockRows = 8;

inline __m256 epilogue8(__m256 acc, const Epilogue& ep, int channel) {
  if (ep.bias) acc = _mm256_add_ps(acc, _mm256_set1_ps(ep.bias[channel]));
  acc = _mm256_max_ps(acc, _mm256_set1_ps(ep.lo));
  return _mm256_min_ps(acc, _mm256_set1_ps(ep.hi));
}

// xt[bk][k][i] = x[bk*8 + i][k] for the M / 8 full blocks.
inline void fc_transpose_blocks8(int M, int K, const float* x, int ldx, float* xt) {
  for (int bk = 0; bk < M / kBlockRows; ++bk)
    for (int i = 0; i < kBlockRows; ++i) {
      const float* xr = x + (int64_t)(bk * kBlockRows + i) * ldx;
      float* d = xt + (int64_t)bk * K * kBlockRows + i;
      for (int k = 0; k < K; ++k) d[(int64_t)k * kBlockRows] = xr[k];
    }
}

// Output n for every full block of 8 rows.
inline void fc_row_blocks8(int64_t n, int M, const CsrMatrix& w, const float* xt, const Epilogue& ep, float* y,
                           int ldy) {
  const int K = w.cols;
  const int32_t b = w.row_ptr[n], e = w.row_ptr[n + 1];
  for (int bk = 0; bk < M / kBlockRows; ++bk) {
    const float* xb = xt + (int64_t)bk * K * kBlockRows;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int32_t j = b;
    for (; j + 4 <= e; j += 4) {
      a0 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j]), _mm256_loadu_ps(xb + (int64_t)w.col_idx[j] * 8), a0);
      a1 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j + 1]), _mm256_loadu_ps(xb + (int64_t)w.col_idx[j + 1] * 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j + 2]), _mm256_loadu_ps(xb + (int64_t)w.col_idx[j + 2] * 8), a2);
      a3 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j + 3]), _mm256_loadu_ps(xb + (int64_t)w.col_idx[j + 3] * 8), a3);
    }
    for (; j < e; ++j)
      a0 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j]), _mm256_loadu_ps(xb + (int64_t)w.col_idx[j] * 8), a0);
    alignas(32) float out[kBlockRows];
    _mm256_store_ps(out, epilogue8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), ep, (int)n));
    for (int i = 0; i < kBlockRows; ++i) y[(int64_t)(bk * kBlockRows + i) * ldy + n] = out[i];
  }
}

}  // namespace
}  // namespace mcrt
