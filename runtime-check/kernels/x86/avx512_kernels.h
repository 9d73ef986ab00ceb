// Internal: the AVX-512F kernels (sgemm_6x32_avx512.cpp, conv2d_depthwise_3x3_avx512.cpp). Element-wise
// entries of the AVX-512 set reuse the AVX2 kernels (avx2_kernels.h): they are memory-bound at the
// sizes of our models. Call only after kernels_avx512() has checked the CPU.
#pragma once

#include "../kernel_set_functions.h"

namespace mcrt {
namespace avx512 {

MCRT_DECLARE_GEMM_CONV_FUNCTIONS();

// Direct depthwise 3x3 convolution, stride 1 or 2, dilation 1 (conv2d_depthwise_3x3_avx512.cpp);
// planes up to 8 wide go to avx2::conv2d_depthwise_3x3.
void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf);

}  // namespace avx512
}  // namespace mcrt
