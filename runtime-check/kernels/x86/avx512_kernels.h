// Internal: the AVX-512F kernels (sgemm_6x32_avx512.cpp). Element-wise and depthwise entries of the
// AVX-512 set reuse the AVX2 kernels (avx2_kernels.h): they are memory- or shuffle-bound at the
// sizes of our models. Call only after kernels_avx512() has checked the CPU.
#pragma once

#include "../kernel_set_functions.h"

namespace mcrt {
namespace avx512 {

MCRT_DECLARE_GEMM_CONV_FUNCTIONS();

}  // namespace avx512
}  // namespace mcrt
