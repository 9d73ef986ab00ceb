// Dynamic quantization of Gemm/MatMul with constant weights (int8 weights, activations
// quantized per run), in the form ONNX Runtime runs and export/qdq_lowering lowers to
// the runtime's DynamicQuantizeMatMul (docs/quantization.md §4):
//
//   x ─DynamicQuantizeLinear─► x_u8, s_x, z_x
//   MatMulInteger(x_u8, W_q int8 [K, N], z_x) ─Cast(float)─► acc
//   acc · Mul(s_x, s_w) [+ bias] ─► y
//
// W_q is symmetric in [-127, 127] per output column (s_w[N]) or per tensor; a Gemm with
// transB has its weight transposed to [K, N]. Gemm needs alpha = beta = 1, transA = 0 and a
// bias that is absent or 1-D [N]. Other nodes stay fp32, with the reason in the plan.
#pragma once
#include <vector>

#include "compress/ir/graph.h"
#include "quantize/static_quant.h"

namespace mc::quant {

// Uses o.per_channel and o.exclude (node names or op types; unmatched entries are listed
// in the returned plan's unmatched_exclude). Rewrites m in place.
StaticPlan apply_dynamic(Model& m, const StaticQuantOptions& o);

}  // namespace mc::quant
