// Prepare functions of every op family (one family per file in ops/). Each one
// validates its node, sets output shapes, picks the kernel, and stores its run function
// in the NodePlan. Registered in runtime/op_registry.cpp.
#pragma once
#include "runtime/plan.h"

namespace mcrt {

Status prepare_conv(PrepareContext& ctx, NodePlan& n);
Status prepare_conv_transpose(PrepareContext& ctx, NodePlan& n);
Status prepare_gemm(PrepareContext& ctx, NodePlan& n);
Status prepare_matmul(PrepareContext& ctx, NodePlan& n);
Status prepare_binary(PrepareContext& ctx, NodePlan& n);   // Add Sub Mul Div Pow
Status prepare_unary(PrepareContext& ctx, NodePlan& n);    // Relu ... Exp, Clip
Status prepare_pool(PrepareContext& ctx, NodePlan& n);     // MaxPool AveragePool GlobalAveragePool
Status prepare_softmax(PrepareContext& ctx, NodePlan& n);
Status prepare_layer_norm(PrepareContext& ctx, NodePlan& n);
Status prepare_reduce(PrepareContext& ctx, NodePlan& n);   // ReduceMean ReduceSum
Status prepare_reshape_like(PrepareContext& ctx, NodePlan& n);  // Reshape Flatten Squeeze Unsqueeze
Status prepare_transpose(PrepareContext& ctx, NodePlan& n);
Status prepare_concat(PrepareContext& ctx, NodePlan& n);
Status prepare_slice(PrepareContext& ctx, NodePlan& n);
Status prepare_gather(PrepareContext& ctx, NodePlan& n);
Status prepare_pad(PrepareContext& ctx, NodePlan& n);
Status prepare_resize(PrepareContext& ctx, NodePlan& n);
Status prepare_cast(PrepareContext& ctx, NodePlan& n);
Status prepare_quantize_linear(PrepareContext& ctx, NodePlan& n);
Status prepare_dequantize_linear(PrepareContext& ctx, NodePlan& n);
// int8 ops (ops/qlinear_*.cpp, docs/quantization.md §4).
Status prepare_qlinear_conv(PrepareContext& ctx, NodePlan& n);
Status prepare_qlinear_matmul(PrepareContext& ctx, NodePlan& n);
Status prepare_dynamic_quantize_matmul(PrepareContext& ctx, NodePlan& n);
Status prepare_qlinear_add(PrepareContext& ctx, NodePlan& n);
Status prepare_qlinear_pool(PrepareContext& ctx, NodePlan& n);  // QLinearAveragePool QLinearGlobalAveragePool
Status prepare_qlinear_concat(PrepareContext& ctx, NodePlan& n);

// Shared helpers for ops.
// Normalises an axis in [-rank, rank) to [0, rank); false when out of range.
bool normalize_axis(int64_t axis, int64_t rank, int64_t* out);
Status fail(const NodePlan& n, StatusCode code, const std::string& msg);
// int8 layout ops (MaxPool, Reshape, Flatten, Squeeze, Unsqueeze, Transpose): the output keeps the
// input's quant. An output declared with other parameters is kInvalidModel (ops/qlinear_common.cpp).
Status carry_quant(PrepareContext& ctx, const NodePlan& n);
// MaxPool on int8 (ops/qlinear_pool.cpp), called by prepare_pool.
Status prepare_maxpool_s8(PrepareContext& ctx, NodePlan& n);

}  // namespace mcrt
