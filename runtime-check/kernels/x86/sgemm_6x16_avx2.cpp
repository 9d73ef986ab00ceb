// SGEMM, fully-connected and im2col/pointwise convolution on AVX2+FMA: the blocked driver of
// gemm_blocked_driver.h around a 6x16 microkernel.
//
// Microkernel: C[6,16] += A[6,kc] * B[kc,16] with 12 ymm accumulators; per k it loads two B vectors,
// broadcasts six A values and issues 12 FMAs (2 FMA ports x 4-cycle latency need >= 8 independent
// accumulators). GEMV (fc at M = 1) walks up to 4 B panels at once: 8 accumulators.
#include <immintrin.h>

#include <cstdint>

#include "avx2_kernels.h"

namespace mcrt {
namespace {

struct TileOut;  // defined in gemm_blocked_driver.h

struct Ukr {
  static constexpr int MR = 6, NR = 16;

  static void run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m,
                  int n, const TileOut& o);
  // Short tiles (m < MR rows, the M remainder) compute only their R rows; narrow ones (n <= 8, the
  // N remainder) only their first NV = 1 vector of columns.
  template <int R, int NV = 2>
  static void run_rows(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int n,
                       const TileOut& o);
  static void store(const __m256 (&acc)[MR][2], float* c, int ldc, int m, int n, const TileOut& o);

  template <int NP>
  static void gemv(int K, const float* x, const float* b, size_t ps, float* out) {
    __m256 acc[NP][2];
    for (int p = 0; p < NP; ++p) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; ++k) {
      const __m256 xk = _mm256_broadcast_ss(x + k);
      for (int p = 0; p < NP; ++p) {
        const float* bp = b + p * ps + size_t(k) * NR;
        acc[p][0] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(bp), acc[p][0]);
        acc[p][1] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(bp + 8), acc[p][1]);
      }
    }
    for (int p = 0; p < NP; ++p) {
      _mm256_storeu_ps(out + p * NR, acc[p][0]);
      _mm256_storeu_ps(out + p * NR + 8, acc[p][1]);
    }
  }
};

}  // namespace
}  // namespace mcrt

#include "../gemm_blocked_driver.h"

namespace mcrt {
namespace {

template <int R, int NV>
void Ukr::run_rows(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int n,
                   const TileOut& o) {
  __m256 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const float* bk = koff != nullptr ? b + koff[k] : b + size_t(k) * ldb;
    const __m256 b0 = _mm256_loadu_ps(bk), b1 = NV == 2 ? _mm256_loadu_ps(bk + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      if (NV == 2) acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    a += MR;
  }
  store(acc, c, ldc, R, n, o);
}

void Ukr::run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m, int n,
              const TileOut& o) {
  if (n <= 8) {
    switch (m) {
      case 1: return run_rows<1, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 2: return run_rows<2, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 3: return run_rows<3, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 4: return run_rows<4, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 5: return run_rows<5, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      default: return run_rows<6, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
    }
  }
  switch (m) {
    case 1: return run_rows<1>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 2: return run_rows<2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 3: return run_rows<3>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 4: return run_rows<4>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 5: return run_rows<5>(kc, a, b, ldb, koff, c, ldc, n, o);
    default: break;
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define MCRT_STEP(bk_expr)                                                \
  {                                                                       \
    const float* bk = (bk_expr);                                          \
    const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);  \
    __m256 av = _mm256_broadcast_ss(a + 0);                               \
    c00 = _mm256_fmadd_ps(av, b0, c00);                                   \
    c01 = _mm256_fmadd_ps(av, b1, c01);                                   \
    av = _mm256_broadcast_ss(a + 1);                                      \
    c10 = _mm256_fmadd_ps(av, b0, c10);                                   \
    c11 = _mm256_fmadd_ps(av, b1, c11);                                   \
    av = _mm256_broadcast_ss(a + 2);                                      \
    c20 = _mm256_fmadd_ps(av, b0, c20);                                   \
    c21 = _mm256_fmadd_ps(av, b1, c21);                                   \
    av = _mm256_broadcast_ss(a + 3);                                      \
    c30 = _mm256_fmadd_ps(av, b0, c30);                                   \
    c31 = _mm256_fmadd_ps(av, b1, c31);                                   \
    av = _mm256_broadcast_ss(a + 4);                                      \
    c40 = _mm256_fmadd_ps(av, b0, c40);                                   \
    c41 = _mm256_fmadd_ps(av, b1, c41);                                   \
    av = _mm256_broadcast_ss(a + 5);                                      \
    c50 = _mm256_fmadd_ps(av, b0, c50);                                   \
    c51 = _mm256_fmadd_ps(av, b1, c51);                                   \
    a += MR;                                                              \
  }
  if (koff != nullptr) {  // B row k at b + koff[k] (shifted-window convolution)
#pragma GCC unroll 4
    for (int k = 0; k < kc; ++k) MCRT_STEP(b + koff[k])
  } else {
#pragma GCC unroll 4
    for (int k = 0; k < kc; ++k, b += ldb) MCRT_STEP(b)
  }
#undef MCRT_STEP
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store(acc, c, ldc, m, n, o);
}

void Ukr::store(const __m256 (&acc)[MR][2], float* c, int ldc, int m, int n, const TileOut& o) {
  // Columns j < n only: full tiles use plain loads/stores, narrow ones masked loads/stores (C and a
  // per-column bias have only n valid entries there).
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), iota);
  const bool full = n == NR;
  auto load = [&](const float* p, __m256i mk) { return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mk); };
  auto put = [&](float* p, __m256i mk, __m256 v) {
    if (full) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, mk, v);
  };
  const __m256 alpha = _mm256_set1_ps(o.alpha), beta = _mm256_set1_ps(o.beta);
  const __m256 lo = _mm256_set1_ps(o.lo), hi = _mm256_set1_ps(o.hi);
  const bool scale = o.alpha != 1.0f, use_beta = !o.accumulate && o.beta != 0.0f;
  const bool add_bias = o.last && o.bias != nullptr;
  __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
  if (add_bias && !o.bias_per_row) {
    bias0 = load(o.bias, m0);
    bias1 = load(o.bias + 8, m1);
  }
  for (int i = 0; i < m; ++i) {
    float* ci = c + size_t(i) * ldc;
    if (add_bias && o.bias_per_row) bias0 = bias1 = _mm256_set1_ps(o.bias[i]);
    __m256 r0 = acc[i][0], r1 = acc[i][1];
    if (scale) {
      r0 = _mm256_mul_ps(r0, alpha);
      r1 = _mm256_mul_ps(r1, alpha);
    }
    if (o.accumulate) {
      r0 = _mm256_add_ps(r0, load(ci, m0));
      r1 = _mm256_add_ps(r1, load(ci + 8, m1));
    } else if (use_beta) {
      r0 = _mm256_fmadd_ps(beta, load(ci, m0), r0);
      r1 = _mm256_fmadd_ps(beta, load(ci + 8, m1), r1);
    }
    if (o.last) {
      r0 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r0, bias0), lo), hi);
      r1 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r1, bias1), lo), hi);
    }
    put(ci, m0, r0);
    put(ci + 8, m1, r1);
  }
}

}  // namespace

namespace avx2 {

size_t sgemm_scratch_size(int M, int N, int K) { return sgemm_scratch_size_impl(M, N, K); }
void sgemm(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,
           bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf) {
  sgemm_impl(M, N, K, alpha, A, lda, transA, B, ldb, transB, beta, C, ldc, scratch, pf);
}
size_t fc_packed_size(int K, int N) { return fc_packed_size_impl(K, N); }
void fc_pack(int K, int N, const float* w, bool w_is_nk, void* packed) { fc_pack_impl(K, N, w, w_is_nk, packed); }
void fc_run(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y, int ldy,
            const ParallelFor* pf) {
  fc_run_impl(M, N, K, x, ldx, packed, ep, y, ldy, pf);
}
size_t conv2d_packed_size(const ConvGeom& g) { return conv2d_packed_size_impl(g); }
void conv2d_pack(const ConvGeom& g, const float* w, void* packed) { conv2d_pack_impl(g, w, packed); }
size_t conv2d_scratch_size(const ConvGeom& g) { return conv2d_scratch_size_impl(g); }
void conv2d_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y, void* scratch,
                const ParallelFor* pf) {
  conv2d_run_impl(g, packed, ep, x, y, scratch, pf, conv2d_depthwise_3x3);
}

}  // namespace avx2
}  // namespace mcrt
