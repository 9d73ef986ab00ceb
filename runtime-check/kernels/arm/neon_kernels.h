// Internal: the AArch64 NEON kernels, one declaration per function of KernelSet (see kernels.h).
#pragma once

#include "../kernel_set_functions.h"

namespace mcrt {
namespace neon {

MCRT_DECLARE_GEMM_CONV_FUNCTIONS();
MCRT_DECLARE_ELEMENTWISE_FUNCTIONS();

// Direct depthwise 3x3 convolution, stride 1 or 2, dilation 1 (conv2d_depthwise_3x3_neon.cpp).
// w: [C, 3, 3] raw weights.
void conv2d_depthwise_3x3(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                          const ParallelFor* pf);

}  // namespace neon
}  // namespace mcrt
