// Folds DequantizeLinear nodes whose inputs are all constants (the int8 weights and int32
// biases of a QDQ model) into float32 initializers: (q - zp) · scale per tensor or per
// axis, float32, exactly as DequantizeLinear computes. The result computes what ONNX
// Runtime computes for the QDQ model (fp32 ops on dequantized weights, activations still
// rounded by their Q/DQ pairs), and runs on the bundled runtime before any int8 lowering:
// calibration-free error measurement (layer_error) uses it. Not a compression step.
#pragma once
#include "compress/ir/graph.h"

namespace mc::quant {

// Returns the number of nodes folded.
size_t fold_constant_dequantize(Model& m);

}  // namespace mc::quant
