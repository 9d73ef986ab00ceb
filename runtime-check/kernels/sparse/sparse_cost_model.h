// When the sparse kernels beat the dense ones: a density threshold per kernel set and shape class,
// calibrated with bench/sparse (bench_sparse; table and command in docs/benchmarks.md, "Sparse
// kernels"). Prepare uses the sparse kernel for a weight of density d (stored entries / all entries)
// when d < the threshold, and records "density d < t" or "density d: dense is faster" in the step's
// kernel name (shown by `mcrun --kernels` and `mcompress check -v`).
//
// Shape classes: fc with fewer than 8 batch rows (batch 1: the sliced-ELL path on AVX2 and AVX-512,
// lane fills on NEON), fc with >= 8 rows (8-row blocks), pointwise 1x1 Conv with P = H*W < 64 or >= 64.
// Each threshold is the measured break-even density (dense / sparse = 1) of its class lowered to the
// next 0.05 or so, so that a wrong guess costs little. The table lives in sparse_cost_model.cpp.
#pragma once

namespace mcrt {

// When prepare uses the sparse kernels (PrepareOptions::sparse): by this cost model, never
// (kDense), or whenever the op has a sparse kernel (kSparse: tests and benchmarks).
enum class SparsePolicy { kCostModel, kDense, kSparse };

// Highest density at which sparse set `set_name` runs y[M, N] = x[M, K] * W (Gemm/MatMul, constant W).
double sparse_fc_max_density(const char* set_name, int M, int N, int K);
// Highest density at which sparse set `set_name` runs y[Mo, P] = W[Mo, C] * x[C, P] (1x1 Conv).
double sparse_pointwise_max_density(const char* set_name, int P, int Mo, int C);

// int8 (QLinearMatMul with constant B, 1x1 QLinearConv): the highest density at which the int8 sparse
// set beats the dense int8 set `dense_int8_set` (Int8KernelSet::name) that prepare would use otherwise.
// Measured with bench_sparse_int8 (bench/sparse); table in sparse_cost_model.cpp. 0 = never sparse.
double sparse_int8_fc_max_density(const char* dense_int8_set, int M, int N, int K);
double sparse_int8_pointwise_max_density(const char* dense_int8_set, int P, int Mo, int C);

}  // namespace mcrt
