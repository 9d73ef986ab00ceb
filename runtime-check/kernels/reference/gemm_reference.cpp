// Reference fully-connected layer and SGEMM: the triple loop of the definition.
// fc "packing" stores the weights as [K, N] (transposing an [N, K] input); no scratch is used.
#include <algorithm>
#include <cstring>

#include "reference_kernels.h"

namespace mcrt {
namespace ref {

size_t fc_packed_size(int K, int N) { return sizeof(float) * size_t(K) * size_t(N); }

void fc_pack(int K, int N, const float* w, bool w_is_nk, void* packed) {
  float* p = static_cast<float*>(packed);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) p[size_t(k) * N + n] = w_is_nk ? w[size_t(n) * K + k] : w[size_t(k) * N + n];
}

void fc_run(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y, int ldy,
            const ParallelFor*) {
  const float* w = static_cast<const float*>(packed);
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += x[size_t(m) * ldx + k] * w[size_t(k) * N + n];
      if (ep.bias) acc += ep.bias[n];
      if (ep.residual) acc += ep.residual[size_t(m) * ldy + n];
      y[size_t(m) * ldy + n] = std::min(std::max(acc, ep.lo), ep.hi);
    }
  }
}

void sgemm(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,
           bool transB, float beta, float* C, int ldc, void*, const ParallelFor*) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) {
        const float a = transA ? A[size_t(k) * lda + i] : A[size_t(i) * lda + k];
        const float b = transB ? B[size_t(j) * ldb + k] : B[size_t(k) * ldb + j];
        acc += a * b;
      }
      float& c = C[size_t(i) * ldc + j];
      c = beta == 0.0f ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

size_t sgemm_scratch_size(int, int, int) { return 0; }

}  // namespace ref
}  // namespace mcrt
