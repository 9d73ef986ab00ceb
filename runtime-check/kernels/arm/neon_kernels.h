// Internal: the AArch64 NEON kernels, one declaration per function of KernelSet (see kernels.h).
#pragma once

#include "../kernels.h"

namespace mcrt {
namespace neon {

size_t conv2d_packed_size(const ConvGeom& g);
void conv2d_pack(const ConvGeom& g, const float* w, void* packed);
size_t conv2d_scratch_size(const ConvGeom& g);
void conv2d_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y, void* scratch,
                const ParallelFor* pf);
size_t fc_packed_size(int K, int N);
void fc_pack(int K, int N, const float* w, bool w_is_nk, void* packed);
void fc_run(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y, int ldy,
            const ParallelFor* pf);
void sgemm(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,
           bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf);
size_t sgemm_scratch_size(int M, int N, int K);
void binary(BinaryOp op, int64_t n, const float* a, int a_stride, const float* b, int b_stride, float* y);
void unary(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta);

// Direct depthwise 3x3 convolution, stride 1 or 2, dilation 1 (conv2d_depthwise_3x3_neon.cpp).
// w: [C, 3, 3] raw weights.
void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf);

}  // namespace neon
}  // namespace mcrt
