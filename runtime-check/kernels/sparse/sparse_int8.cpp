// int8 sparse kernels: CSR packing, the scalar reference (the specification of sparse_int8_kernels.h)
// and the set registry. Every output sums (x - zx) · w over its stored entries in increasing j, adds
// the bias and applies int8_requantize_ref (docs/quantization.md §2).
#include <cstdlib>
#include <cstring>

#include "parallel_for.h"
#include "sparse_int8_kernels.h"

namespace mcrt {

#define MCRT_SPARSE_INT8_DECLS(ns)                                                                                \
  namespace ns {                                                                                                  \
  size_t fc_scratch_size(int M, int K);                                                                           \
  void fc_run(int M, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int64_t ldx, int32_t zx,      \
              const Int8Out& out, int8_t* y, int64_t ldy, void* scratch, const ParallelFor* pf);                  \
  void pointwise_run(int P, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int32_t zx,             \
                     const Int8Out& out, int8_t* y, const ParallelFor* pf);                                       \
  }
MCRT_SPARSE_INT8_DECLS(sparse_int8_avx2)
MCRT_SPARSE_INT8_DECLS(sparse_int8_neon)
#undef MCRT_SPARSE_INT8_DECLS

namespace {

size_t round64(size_t b) { return (b + 63) / 64 * 64; }

size_t ref_fc_scratch_size(int, int) { return 0; }

void ref_fc_run(int M, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int64_t ldx, int32_t zx,
                const Int8Out& out, int8_t* y, int64_t ldy, void*, const ParallelFor* pf) {
  parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int m = 0; m < M; ++m) {
        const int8_t* xr = x + (int64_t)m * ldx;
        int32_t acc = bias ? bias[n] : 0;
        for (int32_t j = w.row_ptr[n]; j < w.row_ptr[n + 1]; ++j) acc += (int32_t)w.values[j] * (xr[w.col_idx[j]] - zx);
        y[(int64_t)m * ldy + n] = int8_requantize_ref(acc, out.mult[n], out.zero_point, out.act_min, out.act_max);
      }
  });
}

void ref_pointwise_run(int P, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int32_t zx,
                       const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int p = 0; p < P; ++p) {
        int32_t acc = bias ? bias[r] : 0;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          acc += (int32_t)w.values[j] * (x[(int64_t)w.col_idx[j] * P + p] - zx);
        y[r * P + p] = int8_requantize_ref(acc, out.mult[r], out.zero_point, out.act_min, out.act_max);
      }
  });
}

}  // namespace

int64_t int8_count_nonzero(const int8_t* w, int64_t n) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += w[i] != 0;
  return c;
}

size_t int8_csr_packed_size(int rows, int64_t nnz) {
  return round64(((size_t)rows + 1) * 4) + round64((size_t)nnz * 4) + round64((size_t)nnz) + round64((size_t)rows * 4);
}

void int8_csr_pack_dense(int rows, int cols, const int8_t* w, bool transposed, void* packed, Int8CsrMatrix* out) {
  uint8_t* base = static_cast<uint8_t*>(packed);
  int64_t nnz = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) nnz += (transposed ? w[(int64_t)c * rows + r] : w[(int64_t)r * cols + c]) != 0;
  int32_t* rp = reinterpret_cast<int32_t*>(base);
  int32_t* ci = reinterpret_cast<int32_t*>(base + round64(((size_t)rows + 1) * 4));
  int8_t* vals = reinterpret_cast<int8_t*>(reinterpret_cast<uint8_t*>(ci) + round64((size_t)nnz * 4));
  int32_t* ws = reinterpret_cast<int32_t*>(reinterpret_cast<uint8_t*>(vals) + round64((size_t)nnz));
  int32_t j = 0;
  rp[0] = 0;
  for (int r = 0; r < rows; ++r) {
    int32_t s = 0;
    for (int c = 0; c < cols; ++c) {
      const int8_t v = transposed ? w[(int64_t)c * rows + r] : w[(int64_t)r * cols + c];
      if (v == 0) continue;
      ci[j] = c;
      vals[j] = v;
      s += v;
      ++j;
    }
    rp[r + 1] = j;
    ws[r] = s;
  }
  out->rows = rows;
  out->cols = cols;
  out->row_ptr = rp;
  out->col_idx = ci;
  out->values = vals;
  out->wsum = ws;
}

const Int8SparseKernelSet& int8_sparse_kernels_reference() {
  static const Int8SparseKernelSet set = {"reference", ref_fc_scratch_size, ref_fc_run, ref_pointwise_run};
  return set;
}

#if defined(MCRT_SPARSE_HAVE_X86)
const Int8SparseKernelSet* int8_sparse_kernels_avx2() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  static const Int8SparseKernelSet set = {"avx2", sparse_int8_avx2::fc_scratch_size, sparse_int8_avx2::fc_run,
                                          sparse_int8_avx2::pointwise_run};
  return ok ? &set : nullptr;
}
#else
const Int8SparseKernelSet* int8_sparse_kernels_avx2() { return nullptr; }
#endif
#if defined(MCRT_SPARSE_HAVE_NEON)
const Int8SparseKernelSet* int8_sparse_kernels_neon() {
  static const Int8SparseKernelSet set = {"neon", sparse_int8_neon::fc_scratch_size, sparse_int8_neon::fc_run,
                                          sparse_int8_neon::pointwise_run};
  return &set;
}
#else
const Int8SparseKernelSet* int8_sparse_kernels_neon() { return nullptr; }
#endif

const Int8SparseKernelSet& int8_sparse_kernels_best() {
  static const Int8SparseKernelSet* const best = [] {
    const char* cap = std::getenv("MCRT_KERNELS");
    if (cap != nullptr && std::strcmp(cap, "reference") == 0) return &int8_sparse_kernels_reference();
    if (const Int8SparseKernelSet* s = int8_sparse_kernels_neon()) return s;
    if (const Int8SparseKernelSet* s = int8_sparse_kernels_avx2()) return s;
    return &int8_sparse_kernels_reference();
  }();
  return *best;
}

}  // namespace mcrt
