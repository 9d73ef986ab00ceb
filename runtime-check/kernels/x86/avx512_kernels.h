// Internal: the AVX-512F kernels (sgemm_6x32_avx512.cpp). Element-wise and depthwise entries of the
// AVX-512 set reuse the AVX2 kernels (avx2_kernels.h): they are memory- or shuffle-bound at the
// sizes of our models. Call only after kernels_avx512() has checked the CPU.
#pragma once

#include "../kernels.h"

namespace mcrt {
namespace avx512 {

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

}  // namespace avx512
}  // namespace mcrt
