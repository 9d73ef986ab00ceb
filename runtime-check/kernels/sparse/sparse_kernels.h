// runtime-check/kernels/sparse/sparse_kernels.h -- fp32 sparse-weight kernels (library mcrt_sparse_kernels).
//
// Two products with a constant sparse weight matrix W held in CSR (rows = outputs):
//   * fc:        y[m, n] = clamp(bias[n] + sum_{j in row n} W.values[j] * x[m, W.col_idx[j]])
//                (Gemm / MatMul with a constant B; W is B viewed as [N, K] whatever its storage order)
//   * pointwise: y[r, p] = clamp(bias[r] + sum_{j in row r} W.values[j] * x[W.col_idx[j], p])
//                (1x1 Conv, stride 1, no padding, group 1, one image: x [C, P = H*W], y [M, P])
// clamp and bias are the dense kernels' Epilogue (kernels.h).
//
// Contract (as kernels.h): no allocation, no validation, no exceptions. The CSR matrix must be
// valid (row_ptr[0] = 0, non-decreasing, col_idx in [0, cols)); csr_pack_dense() builds one.
// Every output sums its terms in increasing j; work is split over outputs only, so results are
// bit-identical for any thread count. SIMD twins differ from the reference only by rounding
// (FMA contraction, and the gather path's 8- or 4-way partial sums).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace mcrt {

struct CsrMatrix {
  int rows = 0, cols = 0;
  const int32_t* row_ptr = nullptr;  // rows + 1 entries
  const int32_t* col_idx = nullptr;  // nnz entries, increasing within a row
  const float* values = nullptr;     // nnz entries
  int64_t nnz() const { return rows > 0 ? row_ptr[rows] : 0; }
};

// Entries of w whose bit pattern is not +0.0 (so -0.0 and NaN are kept: packing is lossless).
int64_t count_stored(const float* w, int64_t n);
// Bytes of a packed CSR block for `rows` rows and `nnz` stored entries (64-byte aligned parts).
size_t csr_packed_size(int rows, int64_t nnz);
// Packs A[rows, cols] into `packed` (csr_packed_size(rows, count_stored(w)) bytes, 64-aligned) and
// points *out into it. A[r, c] = w[r * cols + c], or w[c * rows + r] when `transposed`.
void csr_pack_dense(int rows, int cols, const float* w, bool transposed, void* packed, CsrMatrix* out);

struct SparseKernelSet {
  const char* name;  // "reference", "avx2", "avx512", "neon"
  // fc: x rows ldx >= w.cols floats apart, y rows ldy >= w.rows apart. Scratch: fc_scratch_size bytes.
  // A set may keep a second packed form of W (`extra`, fc_extra_size bytes, 64-aligned, filled once by
  // fc_extra_pack in prepare; size 0 = none, extra may then be nullptr), private to that set.
  size_t (*fc_extra_size)(const CsrMatrix& w);
  void (*fc_extra_pack)(const CsrMatrix& w, void* extra);
  // For M < fc_extra_only_below_rows, fc_run reads only w.rows, w.cols and `extra`, never the CSR
  // arrays, so the caller may free them after fc_extra_pack (0: the CSR arrays are always read).
  int fc_extra_only_below_rows;
  size_t (*fc_scratch_size)(int M, int K);
  void (*fc_run)(int M, const CsrMatrix& w, const void* extra, const float* x, int ldx, const Epilogue& ep, float* y,
                 int ldy, void* scratch, const ParallelFor* pf);
  // pointwise: x is [w.cols, P], y is [w.rows, P], both dense.
  void (*pointwise_run)(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf);
};

// The specification: scalar, readable, always available.
const SparseKernelSet& sparse_kernels_reference();
// AVX2+FMA twins (8-lane gathers, 8-row batch blocks); nullptr without AVX2/FMA or on other ISAs.
const SparseKernelSet* sparse_kernels_avx2();
// AVX-512F twins (16-lane gathers for small batches, 64-wide pointwise tiles); nullptr without
// AVX-512F (cpuid, and the OS saving zmm state).
const SparseKernelSet* sparse_kernels_avx512();
// AArch64 NEON twins; nullptr when not built for aarch64.
const SparseKernelSet* sparse_kernels_neon();
// The fastest set this CPU supports, chosen once (neon, else avx512, else avx2, else reference).
// MCRT_KERNELS=reference|avx2 caps the choice, as for kernels_best().
const SparseKernelSet& sparse_kernels_best();

}  // namespace mcrt
