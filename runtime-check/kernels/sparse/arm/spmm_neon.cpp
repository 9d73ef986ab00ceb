// AArch64 NEON twins of the sparse kernels (same algorithms as x86/spmm_avx2.cpp):
//   fc, rows of x taken 8 at a time: x transposed into scratch as [K, 8] blocks; each stored weight
//     is two fmla-by-scalar over 8 batch rows (2 accumulator pairs over j mod 2).
//   fc, the remaining M % 8 rows: per output, 4 lanes filled from x at col_idx (NEON has no gather),
//     2 accumulators over 8 terms, a fixed horizontal sum, scalar tail.
//   pointwise: per output channel, 16-wide tiles of P (4 q registers), one fmla per stored weight.
#include <arm_neon.h>

#include <cmath>

#include "../sparse_kernel_sets.h"
#include "parallel_for.h"

namespace mcrt {
namespace sparse_neon {
namespace {

constexpr int kLanes = 8;

inline float32x4_t gather4(const float* xr, const int32_t* ci) {
  float32x4_t v = vdupq_n_f32(xr[ci[0]]);
  v = vsetq_lane_f32(xr[ci[1]], v, 1);
  v = vsetq_lane_f32(xr[ci[2]], v, 2);
  return vsetq_lane_f32(xr[ci[3]], v, 3);
}

inline float dot_gather(const float* xr, const int32_t* ci, const float* v, int32_t b, int32_t e) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0;
  int32_t j = b;
  for (; j + 8 <= e; j += 8) {
    a0 = vfmaq_f32(a0, vld1q_f32(v + j), gather4(xr, ci + j));
    a1 = vfmaq_f32(a1, vld1q_f32(v + j + 4), gather4(xr, ci + j + 4));
  }
  if (j + 4 <= e) {
    a0 = vfmaq_f32(a0, vld1q_f32(v + j), gather4(xr, ci + j));
    j += 4;
  }
  float acc = vaddvq_f32(vaddq_f32(a0, a1));
  for (; j < e; ++j) acc = std::fma(v[j], xr[ci[j]], acc);
  return acc;
}

inline float32x4_t epilogue4(float32x4_t acc, const Epilogue& ep, int channel) {
  if (ep.bias) acc = vaddq_f32(acc, vdupq_n_f32(ep.bias[channel]));
  acc = vmaxq_f32(acc, vdupq_n_f32(ep.lo));
  return vminq_f32(acc, vdupq_n_f32(ep.hi));
}

}  // namespace

size_t fc_extra_size(const CsrMatrix&) { return 0; }
void fc_extra_pack(const CsrMatrix&, void*) {}
size_t fc_scratch_size(int M, int K) { return (size_t)(M / kLanes) * kLanes * (size_t)K * 4; }

void fc_run(int M, const CsrMatrix& w, const void*, const float* x, int ldx, const Epilogue& ep, float* y, int ldy,
            void* scratch, const ParallelFor* pf) {
  const int K = w.cols, nblocks = M / kLanes;
  float* xt = static_cast<float*>(scratch);
  for (int bk = 0; bk < nblocks; ++bk)  // xt[bk][k][i] = x[bk*8 + i][k]
    for (int i = 0; i < kLanes; ++i) {
      const float* xr = x + (int64_t)(bk * kLanes + i) * ldx;
      float* d = xt + (int64_t)bk * K * kLanes + i;
      for (int k = 0; k < K; ++k) d[(int64_t)k * kLanes] = xr[k];
    }
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int32_t b = w.row_ptr[n], e = w.row_ptr[n + 1];
      for (int bk = 0; bk < nblocks; ++bk) {
        const float* xb = xt + (int64_t)bk * K * kLanes;
        float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
        int32_t j = b;
        for (; j + 2 <= e; j += 2) {
          const float* p0 = xb + (int64_t)w.col_idx[j] * kLanes;
          const float* p1 = xb + (int64_t)w.col_idx[j + 1] * kLanes;
          a0 = vfmaq_n_f32(a0, vld1q_f32(p0), w.values[j]);
          a1 = vfmaq_n_f32(a1, vld1q_f32(p0 + 4), w.values[j]);
          a2 = vfmaq_n_f32(a2, vld1q_f32(p1), w.values[j + 1]);
          a3 = vfmaq_n_f32(a3, vld1q_f32(p1 + 4), w.values[j + 1]);
        }
        if (j < e) {
          const float* p0 = xb + (int64_t)w.col_idx[j] * kLanes;
          a0 = vfmaq_n_f32(a0, vld1q_f32(p0), w.values[j]);
          a1 = vfmaq_n_f32(a1, vld1q_f32(p0 + 4), w.values[j]);
        }
        float out[kLanes];
        vst1q_f32(out, epilogue4(vaddq_f32(a0, a2), ep, (int)n));
        vst1q_f32(out + 4, epilogue4(vaddq_f32(a1, a3), ep, (int)n));
        for (int i = 0; i < kLanes; ++i) y[(int64_t)(bk * kLanes + i) * ldy + n] = out[i];
      }
      for (int m = nblocks * kLanes; m < M; ++m)
        y[(int64_t)m * ldy + n] =
            sparse_epilogue(dot_gather(x + (int64_t)m * ldx, w.col_idx, w.values, b, e), ep, (int)n);
    }
  });
}

void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf) {
  constexpr int kTile = 16;
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    int p = 0;
    for (; p + kTile <= P; p += kTile)
      for (int64_t r = r0; r < r1; ++r) {
        float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j) {
          const float v = w.values[j];
          const float* xr = x + (int64_t)w.col_idx[j] * P + p;
          a0 = vfmaq_n_f32(a0, vld1q_f32(xr), v);
          a1 = vfmaq_n_f32(a1, vld1q_f32(xr + 4), v);
          a2 = vfmaq_n_f32(a2, vld1q_f32(xr + 8), v);
          a3 = vfmaq_n_f32(a3, vld1q_f32(xr + 12), v);
        }
        float* yr = y + r * P + p;
        vst1q_f32(yr, epilogue4(a0, ep, (int)r));
        vst1q_f32(yr + 4, epilogue4(a1, ep, (int)r));
        vst1q_f32(yr + 8, epilogue4(a2, ep, (int)r));
        vst1q_f32(yr + 12, epilogue4(a3, ep, (int)r));
      }
    for (; p + 4 <= P; p += 4)
      for (int64_t r = r0; r < r1; ++r) {
        float32x4_t a0 = vdupq_n_f32(0.f);
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          a0 = vfmaq_n_f32(a0, vld1q_f32(x + (int64_t)w.col_idx[j] * P + p), w.values[j]);
        vst1q_f32(y + r * P + p, epilogue4(a0, ep, (int)r));
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

}  // namespace sparse_neon

const SparseKernelSet* sparse_kernels_neon() {
  static const SparseKernelSet set = {"neon",
                                      sparse_neon::fc_extra_size,
                                      sparse_neon::fc_extra_pack,
                                      0,
                                      sparse_neon::fc_scratch_size,
                                      sparse_neon::fc_run,
                                      sparse_neon::pointwise_run};
  return &set;
}

}  // namespace mcrt
