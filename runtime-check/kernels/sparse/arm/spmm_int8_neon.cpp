// AArch64 NEON int8 sparse kernels (sparse_int8_kernels.h). Integer sums are exact, so the bytes equal
// the reference's.
//   fc:        no gathers on NEON: per output, four scalar int32 accumulators over the stored entries
//              (x - zx widened once per run to int32 rows in scratch).
//   pointwise: 16-column tiles: Σ x·w per column with smlal (int8 -> int16 x, int16 value, int32 sums),
//              acc = bias + Σx·w − zx·Σw, requantized 4 lanes at a time (fmul, clamp, fcvtns).
#include <arm_neon.h>

#include "../sparse_int8_kernels.h"
#include "parallel_for.h"

namespace mcrt {
namespace sparse_int8_neon {
namespace {

inline int16x4_t requant4(int32x4_t acc, float mult, const Int8Out& out) {
  const float32x4_t lo = vdupq_n_f32((float)(out.act_min - out.zero_point));
  const float32x4_t hi = vdupq_n_f32((float)(out.act_max - out.zero_point));
  float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc), vdupq_n_f32(mult));
  f = vminq_f32(vmaxq_f32(f, lo), hi);
  return vmovn_s32(vaddq_s32(vcvtnq_s32_f32(f), vdupq_n_s32(out.zero_point)));
}

}  // namespace

size_t fc_scratch_size(int M, int K) { return (size_t)M * (size_t)K * 4; }

void fc_run(int M, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int64_t ldx, int32_t zx,
            const Int8Out& out, int8_t* y, int64_t ldy, void* scratch, const ParallelFor* pf) {
  const int K = w.cols;
  int32_t* xs = static_cast<int32_t*>(scratch);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) xs[(int64_t)m * K + k] = x[(int64_t)m * ldx + k] - zx;
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int32_t j0 = w.row_ptr[n], j1 = w.row_ptr[n + 1];
      for (int m = 0; m < M; ++m) {
        const int32_t* xr = xs + (int64_t)m * K;
        int32_t a0 = bias ? bias[n] : 0, a1 = 0, a2 = 0, a3 = 0;
        int32_t j = j0;
        for (; j + 4 <= j1; j += 4) {
          a0 += (int32_t)w.values[j] * xr[w.col_idx[j]];
          a1 += (int32_t)w.values[j + 1] * xr[w.col_idx[j + 1]];
          a2 += (int32_t)w.values[j + 2] * xr[w.col_idx[j + 2]];
          a3 += (int32_t)w.values[j + 3] * xr[w.col_idx[j + 3]];
        }
        for (; j < j1; ++j) a0 += (int32_t)w.values[j] * xr[w.col_idx[j]];
        y[(int64_t)m * ldy + n] =
            int8_requantize_ref(a0 + a1 + a2 + a3, out.mult[n], out.zero_point, out.act_min, out.act_max);
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
        int32x4_t a0 = vdupq_n_s32(base), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = j0; j < j1; ++j) {
          const int8x16_t xv = vld1q_s8(x + (int64_t)w.col_idx[j] * P + p);
          const int16x8_t lo = vmovl_s8(vget_low_s8(xv)), hi = vmovl_s8(vget_high_s8(xv));
          const int16x4_t v = vdup_n_s16(w.values[j]);
          a0 = vmlal_s16(a0, vget_low_s16(lo), v);
          a1 = vmlal_s16(a1, vget_high_s16(lo), v);
          a2 = vmlal_s16(a2, vget_low_s16(hi), v);
          a3 = vmlal_s16(a3, vget_high_s16(hi), v);
        }
        const int16x8_t q0 = vcombine_s16(requant4(a0, mult, out), requant4(a1, mult, out));
        const int16x8_t q1 = vcombine_s16(requant4(a2, mult, out), requant4(a3, mult, out));
        vst1q_s8(yr + p, vcombine_s8(vmovn_s16(q0), vmovn_s16(q1)));
      }
      for (; p < P; ++p) {
        int32_t acc = base;
        for (int32_t j = j0; j < j1; ++j) acc += (int32_t)w.values[j] * x[(int64_t)w.col_idx[j] * P + p];
        yr[p] = int8_requantize_ref(acc, mult, out.zero_point, out.act_min, out.act_max);
      }
    }
  });
}

}  // namespace sparse_int8_neon
}  // namespace mcrt
