// Internal: the AVX2+FMA kernels, one declaration per function of KernelSet (see kernels.h).
// The definitions live in TUs compiled with -mavx2 -mfma; call them only after kernels_avx2() has
// checked the CPU.
#pragma once

#include "../kernel_set_functions.h"

namespace mcrt {
namespace avx2 {

MCRT_DECLARE_GEMM_CONV_FUNCTIONS();
MCRT_DECLARE_ELEMENTWISE_FUNCTIONS();

// Direct depthwise 3x3 convolution, stride 1 or 2, dilation 1 (conv2d_depthwise_3x3_avx2.cpp).
// w: [C, 3, 3] raw weights.
void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf);

}  // namespace avx2
}  // namespace mcrt
