// The op registration table: one row per op type (docs/runtime-format.md §5, §6.3).
#include "runtime/op_registry.h"

#include "ops/ops.h"

namespace mcrt {
namespace {

constexpr uint64_t A(fb::AttrKey k) { return 1ull << (int)k; }
constexpr uint32_t In(int k) { return 1u << k; }
using K = fb::AttrKey;

constexpr uint64_t kConvAttrs = A(K::AttrKey_auto_pad) | A(K::AttrKey_dilations) | A(K::AttrKey_group) |
                                A(K::AttrKey_kernel_shape) | A(K::AttrKey_pads) | A(K::AttrKey_strides);
constexpr uint64_t kPoolAttrs = A(K::AttrKey_auto_pad) | A(K::AttrKey_ceil_mode) | A(K::AttrKey_dilations) |
                                A(K::AttrKey_kernel_shape) | A(K::AttrKey_pads) | A(K::AttrKey_strides);
constexpr uint64_t kActAttrs = A(K::AttrKey_act_min) | A(K::AttrKey_act_max);
constexpr uint64_t kReduceAttrs = A(K::AttrKey_axes) | A(K::AttrKey_keepdims) | A(K::AttrKey_noop_with_empty_axes);

const OpDef kOps[] = {
    // type, name, min_in, max_in, optional_inputs, const_inputs, min_out, max_out, attrs, prepare
    {fb::OpType_Conv, "Conv", 2, 3, In(2), In(1) | In(2), 1, 1, kConvAttrs, prepare_conv},
    {fb::OpType_ConvTranspose, "ConvTranspose", 2, 3, In(2), In(1) | In(2), 1, 1,
     kConvAttrs | A(K::AttrKey_output_padding) | A(K::AttrKey_output_shape), prepare_conv_transpose},
    {fb::OpType_Gemm, "Gemm", 2, 3, In(2), 0, 1, 1,
     A(K::AttrKey_alpha) | A(K::AttrKey_beta) | A(K::AttrKey_transA) | A(K::AttrKey_transB), prepare_gemm},
    {fb::OpType_MatMul, "MatMul", 2, 2, 0, 0, 1, 1, 0, prepare_matmul},
    {fb::OpType_Add, "Add", 2, 2, 0, 0, 1, 1, 0, prepare_binary},
    {fb::OpType_Sub, "Sub", 2, 2, 0, 0, 1, 1, 0, prepare_binary},
    {fb::OpType_Mul, "Mul", 2, 2, 0, 0, 1, 1, 0, prepare_binary},
    {fb::OpType_Div, "Div", 2, 2, 0, 0, 1, 1, 0, prepare_binary},
    {fb::OpType_Pow, "Pow", 2, 2, 0, 0, 1, 1, 0, prepare_binary},
    {fb::OpType_Relu, "Relu", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_LeakyRelu, "LeakyRelu", 1, 1, 0, 0, 1, 1, A(K::AttrKey_alpha), prepare_unary},
    {fb::OpType_Clip, "Clip", 1, 3, In(1) | In(2), In(1) | In(2), 1, 1, A(K::AttrKey_min) | A(K::AttrKey_max),
     prepare_unary},
    {fb::OpType_Sigmoid, "Sigmoid", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_HardSigmoid, "HardSigmoid", 1, 1, 0, 0, 1, 1, A(K::AttrKey_alpha) | A(K::AttrKey_beta),
     prepare_unary},
    {fb::OpType_HardSwish, "HardSwish", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_Tanh, "Tanh", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_Erf, "Erf", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_Gelu, "Gelu", 1, 1, 0, 0, 1, 1, A(K::AttrKey_approximate), prepare_unary},
    {fb::OpType_Sqrt, "Sqrt", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_Exp, "Exp", 1, 1, 0, 0, 1, 1, 0, prepare_unary},
    {fb::OpType_MaxPool, "MaxPool", 1, 1, 0, 0, 1, 2, kPoolAttrs | A(K::AttrKey_storage_order), prepare_pool},
    {fb::OpType_AveragePool, "AveragePool", 1, 1, 0, 0, 1, 1, kPoolAttrs | A(K::AttrKey_count_include_pad),
     prepare_pool},
    {fb::OpType_GlobalAveragePool, "GlobalAveragePool", 1, 1, 0, 0, 1, 1, 0, prepare_pool},
    {fb::OpType_Softmax, "Softmax", 1, 1, 0, 0, 1, 1, A(K::AttrKey_axis) | A(K::AttrKey_softmax_legacy_2d),
     prepare_softmax},
    {fb::OpType_LayerNormalization, "LayerNormalization", 2, 3, In(2), 0, 1, 3,
     A(K::AttrKey_axis) | A(K::AttrKey_epsilon) | A(K::AttrKey_stash_type), prepare_layer_norm},
    {fb::OpType_ReduceMean, "ReduceMean", 1, 2, In(1), In(1), 1, 1, kReduceAttrs, prepare_reduce},
    {fb::OpType_ReduceSum, "ReduceSum", 1, 2, In(1), In(1), 1, 1, kReduceAttrs, prepare_reduce},
    {fb::OpType_Reshape, "Reshape", 2, 2, 0, In(1), 1, 1, A(K::AttrKey_allowzero), prepare_reshape_like},
    {fb::OpType_Flatten, "Flatten", 1, 1, 0, 0, 1, 1, A(K::AttrKey_axis), prepare_reshape_like},
    {fb::OpType_Transpose, "Transpose", 1, 1, 0, 0, 1, 1, A(K::AttrKey_perm), prepare_transpose},
    {fb::OpType_Concat, "Concat", 1, 4096, 0, 0, 1, 1, A(K::AttrKey_axis), prepare_concat},
    {fb::OpType_Slice, "Slice", 3, 5, In(3) | In(4), In(1) | In(2) | In(3) | In(4), 1, 1, 0, prepare_slice},
    {fb::OpType_Squeeze, "Squeeze", 1, 2, In(1), In(1), 1, 1, A(K::AttrKey_axes), prepare_reshape_like},
    {fb::OpType_Unsqueeze, "Unsqueeze", 1, 2, In(1), In(1), 1, 1, A(K::AttrKey_axes), prepare_reshape_like},
    {fb::OpType_Gather, "Gather", 2, 2, 0, 0, 1, 1, A(K::AttrKey_axis), prepare_gather},
    {fb::OpType_Pad, "Pad", 2, 4, In(2) | In(3), In(1) | In(2) | In(3), 1, 1, A(K::AttrKey_mode), prepare_pad},
    {fb::OpType_Resize, "Resize", 1, 4, In(1) | In(2) | In(3), In(1) | In(2) | In(3), 1, 1,
     A(K::AttrKey_mode) | A(K::AttrKey_coordinate_transformation_mode) | A(K::AttrKey_nearest_mode) |
         A(K::AttrKey_cubic_coeff_a) | A(K::AttrKey_exclude_outside) | A(K::AttrKey_extrapolation_value) |
         A(K::AttrKey_axes),
     prepare_resize},
    {fb::OpType_Cast, "Cast", 1, 1, 0, 0, 1, 1, A(K::AttrKey_to) | A(K::AttrKey_saturate), prepare_cast},
    {fb::OpType_QuantizeLinear, "QuantizeLinear", 2, 3, In(2), In(1) | In(2), 1, 1,
     A(K::AttrKey_axis) | A(K::AttrKey_saturate), prepare_quantize_linear},
    {fb::OpType_DequantizeLinear, "DequantizeLinear", 2, 3, In(2), In(1) | In(2), 1, 1, A(K::AttrKey_axis),
     prepare_dequantize_linear},
    // int8 ops (docs/quantization.md §4): quantization parameters come from the tensors' quant.
    {fb::OpType_QLinearConv, "QLinearConv", 2, 3, In(2), In(1) | In(2), 1, 1, kConvAttrs | kActAttrs,
     prepare_qlinear_conv},
    {fb::OpType_QLinearMatMul, "QLinearMatMul", 2, 3, In(2), In(1) | In(2), 1, 1, kActAttrs, prepare_qlinear_matmul},
    {fb::OpType_QLinearAdd, "QLinearAdd", 2, 2, 0, 0, 1, 1, kActAttrs, prepare_qlinear_add},
    {fb::OpType_QLinearAveragePool, "QLinearAveragePool", 1, 1, 0, 0, 1, 1, kPoolAttrs | A(K::AttrKey_count_include_pad),
     prepare_qlinear_pool},
    {fb::OpType_QLinearGlobalAveragePool, "QLinearGlobalAveragePool", 1, 1, 0, 0, 1, 1, 0, prepare_qlinear_pool},
    {fb::OpType_QLinearConcat, "QLinearConcat", 1, 4096, 0, 0, 1, 1, A(K::AttrKey_axis), prepare_qlinear_concat},
    {fb::OpType_DynamicQuantizeMatMul, "DynamicQuantizeMatMul", 2, 3, In(2), In(1) | In(2), 1, 1, 0,
     prepare_dynamic_quantize_matmul},
};

}  // namespace

const OpDef* find_op(fb::OpType type) {
  for (const OpDef& d : kOps)
    if (d.type == type) return &d;
  return nullptr;
}

fb::AttrKind attr_kind(fb::AttrKey key) {
  switch (key) {
    case K::AttrKey_alpha:
    case K::AttrKey_beta:
    case K::AttrKey_epsilon:
    case K::AttrKey_cubic_coeff_a:
    case K::AttrKey_extrapolation_value:
    case K::AttrKey_min:
    case K::AttrKey_max:
      return fb::AttrKind_FLOAT;
    case K::AttrKey_axes:
    case K::AttrKey_kernel_shape:
    case K::AttrKey_strides:
    case K::AttrKey_pads:
    case K::AttrKey_dilations:
    case K::AttrKey_output_padding:
    case K::AttrKey_output_shape:
    case K::AttrKey_perm:
      return fb::AttrKind_INTS;
    case K::AttrKey_auto_pad:
    case K::AttrKey_mode:
    case K::AttrKey_coordinate_transformation_mode:
    case K::AttrKey_nearest_mode:
    case K::AttrKey_approximate:
      return fb::AttrKind_STRING;
    default:
      return fb::AttrKind_INT;
  }
}

}  // namespace mcrt
