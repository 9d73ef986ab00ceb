// Internal: the declarations every kernel set provides, written once. Each per-ISA
// header opens its namespace (ref, avx2, avx512, neon) and expands these, so a KernelSet
// entry added to kernels.h is declared for every set in one place.
#pragma once

#include "kernels.h"

// Convolution, fully connected and SGEMM entries of KernelSet (see kernels.h for the contract).
#define MCRT_DECLARE_GEMM_CONV_FUNCTIONS()                                                                      \
  size_t conv2d_packed_size(const ConvGeom& g);                                                                 \
  void conv2d_pack(const ConvGeom& g, const float* w, void* packed);                                            \
  size_t conv2d_scratch_size(const ConvGeom& g);                                                                \
  void conv2d_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y,          \
                  void* scratch, const ParallelFor* pf);                                                        \
  size_t fc_packed_size(int K, int N);                                                                          \
  void fc_pack(int K, int N, const float* w, bool w_is_nk, void* packed);                                       \
  void fc_run(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y,   \
              int ldy, const ParallelFor* pf);                                                                  \
  void sgemm(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,   \
             bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf);                 \
  size_t sgemm_scratch_size(int M, int N, int K)

// Element-wise entries of KernelSet.
#define MCRT_DECLARE_ELEMENTWISE_FUNCTIONS()                                                                    \
  void binary(BinaryOp op, int64_t n, const float* a, int a_stride, const float* b, int b_stride, float* y);    \
  void unary(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta)
