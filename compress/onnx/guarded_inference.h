// ONNX's shape inference, run only where it is safe on a file we do not trust.
//
// libonnx's inference functions trust some attribute/shape combinations that the checker would
// reject. Found by fuzz_onnx_import: a Conv without `kernel_shape` takes its kernel from the
// weight's dims[2:], and convPoolShapeInference / convTransposeShapeInference then index
// `dilations`, `strides` and `pads` (sized by the input X's rank) with the weight's rank — a weight
// of rank 290 read far past those vectors (SEGV). The guard gives every Conv-family node without
// `kernel_shape` one taken from its weight's statically known dims (initializer, declared graph
// input, or through shape-preserving DequantizeLinear/QuantizeLinear/Identity/Cast), so libonnx's
// own check `kernel_shape.size() == rank(X) - 2` fails cleanly instead. Where the weight's dims are
// not known before inference, inference is not run at all (values stay unshaped).
#pragma once
#include <string>

namespace onnx {
class ModelProto;
}

namespace mc {

// Runs onnx::shape_inference::InferShapes (no type check, node errors not fatal, data propagation)
// on `mp` after the guard above. Returns "" when inference ran, else why it did not or failed.
std::string infer_shapes_guarded(onnx::ModelProto& mp);

}  // namespace mc
