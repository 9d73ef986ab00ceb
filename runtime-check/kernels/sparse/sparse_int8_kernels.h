// runtime-check/kernels/sparse/sparse_int8_kernels.h -- int8 sparse-weight kernels (library mcrt_sparse_kernels).
//
// The int8 twins of sparse_kernels.h, for QLinearMatMul (constant B) and 1x1 QLinearConv:
//   * fc:        y[m, n] = out(bias[n] + Σ_{j in row n} W.values[j] · (x[m, W.col_idx[j]] - zx))
//   * pointwise: y[r, p] = out(bias[r] + Σ_{j in row r} W.values[j] · (x[W.col_idx[j], p] - zx))
//                (x [C, P = H*W] int8, y [M, P] int8, one image)
// out() is the one requantization rule of docs/quantization.md §2 (Int8Out, int8 output only).
// The sum is an exact int32 (kernels may compute Σ x·w − zx·Σw, the same integer), so every set
// produces exactly the bytes of the dense int8 reference on the same weights.
//
// Contract (as int8_kernels.h): no allocation, no validation, no exceptions; K·255·127 < 2^31 and
// values in [-127, 127] (checked at prepare). Work is split over outputs only: results are
// bit-identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "int8_kernels.h"

namespace mcrt {

struct Int8CsrMatrix {
  int rows = 0, cols = 0;
  const int32_t* row_ptr = nullptr;  // rows + 1 entries
  const int32_t* col_idx = nullptr;  // nnz entries, increasing within a row
  const int8_t* values = nullptr;    // nnz entries (zeros are not stored)
  const int32_t* wsum = nullptr;     // rows entries: Σ of the row's values (for the Σx·w − zx·Σw form)
  int64_t nnz() const { return rows > 0 ? row_ptr[rows] : 0; }
};

// Nonzero entries of w.
int64_t int8_count_nonzero(const int8_t* w, int64_t n);
// Bytes of a packed int8 CSR block (64-byte aligned parts: row_ptr, col_idx, values, wsum).
size_t int8_csr_packed_size(int rows, int64_t nnz);
// Packs A[rows, cols] (A[r, c] = w[r * cols + c], or w[c * rows + r] when `transposed`) into `packed`
// (int8_csr_packed_size(rows, int8_count_nonzero(w)) bytes, 64-aligned) and points *out into it.
void int8_csr_pack_dense(int rows, int cols, const int8_t* w, bool transposed, void* packed, Int8CsrMatrix* out);

struct Int8SparseKernelSet {
  const char* name;  // "reference", "avx2", "avx512", "neon"
  // fc: x rows ldx >= w.cols bytes apart, y rows ldy >= w.rows apart. bias: w.rows int32 or nullptr.
  size_t (*fc_scratch_size)(int M, int K);
  void (*fc_run)(int M, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int64_t ldx, int32_t zx,
                 const Int8Out& out, int8_t* y, int64_t ldy, void* scratch, const ParallelFor* pf);
  // pointwise: x is [w.cols, P], y is [w.rows, P], both dense.
  void (*pointwise_run)(int P, const Int8CsrMatrix& w, const int32_t* bias, const int8_t* x, int32_t zx,
                        const Int8Out& out, int8_t* y, const ParallelFor* pf);
};

// The specification: scalar, readable, always available.
const Int8SparseKernelSet& int8_sparse_kernels_reference();
// AVX2 (8-lane int32 gathers for fc, 16-column tiles for pointwise); nullptr without AVX2.
const Int8SparseKernelSet* int8_sparse_kernels_avx2();
// AArch64 NEON (fc: four scalar accumulators, pointwise: smlal over 16-column tiles); nullptr elsewhere.
const Int8SparseKernelSet* int8_sparse_kernels_neon();
// The fastest available set (neon, else avx2, else reference); MCRT_KERNELS=reference caps it.
const Int8SparseKernelSet& int8_sparse_kernels_best();

}  // namespace mcrt
