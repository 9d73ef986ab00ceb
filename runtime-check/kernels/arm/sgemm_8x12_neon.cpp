// SGEMM, fully-connected and im2col/pointwise convolution on AArch64 NEON: the blocked driver of
// gemm_blocked_driver.h around an 8x12 microkernel.
//
// Microkernel: C[8,12] += A[8,kc] * B[kc,12] in 24 q-register accumulators; per k it loads two A
// vectors and three B vectors and issues 24 fmla-by-lane (29 of the 32 vector registers).
// GEMV (fc at M = 1) walks up to 4 B panels at once: 12 accumulators.
#include <arm_neon.h>

#include <cstdint>

#include "neon_kernels.h"

namespace mcrt {
namespace {

struct TileOut;  // defined in gemm_blocked_driver.h

struct Ukr {
  static constexpr int MR = 8, NR = 12;

  static void run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m,
                  int n, const TileOut& o);
  // Short tiles (m < MR rows, the M remainder) compute only their R rows, and narrow ones (the N
  // remainder) only their first NV vectors of 4 columns.
  template <int R, int NV = 3>
  static void run_rows(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int n,
                       const TileOut& o);
  static void store(const float32x4_t (&acc)[MR][3], float* c, int ldc, int m, int n, const TileOut& o);

  template <int NP>
  static void gemv(int K, const float* x, const float* b, size_t ps, float* out) {
    float32x4_t acc[NP][3];
    for (int p = 0; p < NP; ++p) acc[p][0] = acc[p][1] = acc[p][2] = vdupq_n_f32(0.0f);
    for (int k = 0; k < K; ++k) {
      const float32x4_t xk = vdupq_n_f32(x[k]);
      for (int p = 0; p < NP; ++p) {
        const float* bp = b + p * ps + size_t(k) * NR;
        acc[p][0] = vfmaq_f32(acc[p][0], xk, vld1q_f32(bp));
        acc[p][1] = vfmaq_f32(acc[p][1], xk, vld1q_f32(bp + 4));
        acc[p][2] = vfmaq_f32(acc[p][2], xk, vld1q_f32(bp + 8));
      }
    }
    for (int p = 0; p < NP; ++p)
      for (int v = 0; v < 3; ++v) vst1q_f32(out + p * NR + v * 4, acc[p][v]);
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
  float32x4_t acc[MR][3];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = acc[r][2] = vdupq_n_f32(0.0f);
  for (int k = 0; k < kc; ++k) {
    const float* bk = koff != nullptr ? b + koff[k] : b + size_t(k) * ldb;
    const float32x4_t b0 = vld1q_f32(bk);
    const float32x4_t b1 = NV >= 2 ? vld1q_f32(bk + 4) : vdupq_n_f32(0.0f);
    const float32x4_t b2 = NV >= 3 ? vld1q_f32(bk + 8) : vdupq_n_f32(0.0f);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float32x4_t av = vdupq_n_f32(a[r]);
      acc[r][0] = vfmaq_f32(acc[r][0], b0, av);
      if (NV >= 2) acc[r][1] = vfmaq_f32(acc[r][1], b1, av);
      if (NV >= 3) acc[r][2] = vfmaq_f32(acc[r][2], b2, av);
    }
    a += MR;
  }
  store(acc, c, ldc, R, n, o);
}

void Ukr::run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m, int n,
              const TileOut& o) {
  if (n <= 8) {
#define MCRT_NARROW(NV)                                                                 \
  switch (m) {                                                                          \
    case 1: return run_rows<1, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 2: return run_rows<2, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 3: return run_rows<3, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 4: return run_rows<4, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 5: return run_rows<5, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 6: return run_rows<6, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    case 7: return run_rows<7, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                  \
    default: return run_rows<8, NV>(kc, a, b, ldb, koff, c, ldc, n, o);                 \
  }
    if (n <= 4) MCRT_NARROW(1)
    MCRT_NARROW(2)
#undef MCRT_NARROW
  }
  switch (m) {
    case 1: return run_rows<1>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 2: return run_rows<2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 3: return run_rows<3>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 4: return run_rows<4>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 5: return run_rows<5>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 6: return run_rows<6>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 7: return run_rows<7>(kc, a, b, ldb, koff, c, ldc, n, o);
    default: break;
  }
  float32x4_t c00 = vdupq_n_f32(0), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00,
              c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00,
              c52 = c00, c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
#define MCRT_ROW(i, av, lane)                       \
  c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane); \
  c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane); \
  c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);
#define MCRT_STEP(bk_expr)                                                                    \
  {                                                                                           \
    const float* bk = (bk_expr);                                                              \
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);                               \
    const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8);     \
    MCRT_ROW(0, a0, 0) MCRT_ROW(1, a0, 1) MCRT_ROW(2, a0, 2) MCRT_ROW(3, a0, 3)               \
    MCRT_ROW(4, a1, 0) MCRT_ROW(5, a1, 1) MCRT_ROW(6, a1, 2) MCRT_ROW(7, a1, 3)               \
    a += MR;                                                                                  \
  }
  if (koff != nullptr) {  // B row k at b + koff[k] (shifted-window convolution)
    for (int k = 0; k < kc; ++k) MCRT_STEP(b + koff[k])
  } else {
    for (int k = 0; k < kc; ++k, b += ldb) MCRT_STEP(b)
  }
#undef MCRT_STEP
#undef MCRT_ROW
  const float32x4_t acc[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32},
                                  {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
  store(acc, c, ldc, m, n, o);
}

void Ukr::store(const float32x4_t (&acc)[MR][3], float* c, int ldc, int m, int n, const TileOut& o) {
  if (n == NR) {  // full-width tile (any number of rows): vector output stage
    const float32x4_t alpha = vdupq_n_f32(o.alpha), beta = vdupq_n_f32(o.beta);
    const float32x4_t lo = vdupq_n_f32(o.lo), hi = vdupq_n_f32(o.hi);
    const bool use_beta = o.beta != 0.0f;
    float32x4_t bias[3] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    if (o.last && o.bias && !o.bias_per_row)
      for (int v = 0; v < 3; ++v) bias[v] = vld1q_f32(o.bias + 4 * v);
    for (int i = 0; i < m; ++i) {
      float* ci = c + size_t(i) * ldc;
      if (o.last && o.bias && o.bias_per_row) bias[0] = bias[1] = bias[2] = vdupq_n_f32(o.bias[i]);
      for (int v = 0; v < 3; ++v) {
        float32x4_t r = vmulq_f32(acc[i][v], alpha);
        if (o.accumulate) r = vaddq_f32(r, vld1q_f32(ci + 4 * v));
        else if (use_beta) r = vfmaq_f32(r, beta, vld1q_f32(ci + 4 * v));
        if (o.last) r = vminq_f32(vmaxq_f32(vaddq_f32(r, bias[v]), lo), hi);
        vst1q_f32(ci + 4 * v, r);
      }
    }
    return;
  }
  alignas(16) float tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 3; ++v) vst1q_f32(tile + i * NR + 4 * v, acc[i][v]);
  store_tile_scalar(tile, c, ldc, m, n, o);
}

}  // namespace

namespace neon {

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

}  // namespace neon
}  // namespace mcrt
