// After passes have rewritten a graph, the shapes of its intermediate values
// (value_info) may be stale or missing. refresh_shapes recomputes them with ONNX's
// own shape inference, with data propagation (so Shape→Reshape chains resolve).
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace mc {

// Replaces m.graph.value_info with what inference finds, and gives graph outputs
// that have no declared shape the inferred one. When ONNX's inference throws (an
// inconsistent model), m is left unchanged and the message is returned; on success
// the result is empty.
std::string refresh_shapes(Model& m);

}  // namespace mc
