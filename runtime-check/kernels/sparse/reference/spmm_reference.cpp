// Reference sparse kernels: the specification of sparse_kernels.h, one scalar loop each.
// Every output accumulates its stored terms in increasing j from 0, then gets bias and clamp.
#include "../sparse_kernel_sets.h"
#include "parallel_for.h"

namespace mcrt {
namespace sparse_ref {

size_t fc_extra_size(const CsrMatrix&) { return 0; }
void fc_extra_pack(const CsrMatrix&, void*) {}
size_t fc_scratch_size(int, int) { return 0; }

void fc_run(int M, const CsrMatrix& w, const void*, const float* x, int ldx, const Epilogue& ep, float* y, int ldy,
            void*, const ParallelFor* pf) {
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int m = 0; m < M; ++m) {
        const float* xr = x + (int64_t)m * ldx;
        float acc = 0.f;
        for (int32_t j = w.row_ptr[n]; j < w.row_ptr[n + 1]; ++j) acc += w.values[j] * xr[w.col_idx[j]];
        y[(int64_t)m * ldy + n] = sparse_epilogue(acc, ep, (int)n);
      }
  });
}

void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf) {
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int p = 0; p < P; ++p) {
        float acc = 0.f;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j) acc += w.values[j] * x[(int64_t)w.col_idx[j] * P + p];
        y[r * P + p] = sparse_epilogue(acc, ep, (int)r);
      }
  });
}

}  // namespace sparse_ref
}  // namespace mcrt
