// Internal: the reference kernels, shared by kernels_reference() and by optimised sets that fall back
// to them for rare shapes (e.g. a 5x5 depthwise conv).
#pragma once

#include "../kernel_set_functions.h"

namespace mcrt {
namespace ref {

MCRT_DECLARE_GEMM_CONV_FUNCTIONS();
MCRT_DECLARE_ELEMENTWISE_FUNCTIONS();

// Scalar definitions of one element, used by the optimised sets for tails and non-vectorised ops.
float binary_one(BinaryOp op, float a, float b);
float unary_one(UnaryOp op, float x, float alpha, float beta);

}  // namespace ref
}  // namespace mcrt
