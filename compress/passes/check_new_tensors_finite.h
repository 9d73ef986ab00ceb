// Tensors that passes created (PassReport::new_tensors) must be finite: a NaN or Inf
// made at optimize time from finite inputs is silent corruption (security.md,
// "Accuracy is a safety property too"). Values that were already non-finite in the
// input model (e.g. a -inf attention mask) are carried, not created, and not checked.
#pragma once
#include <vector>

#include "compress/ir/graph.h"
#include "compress/passes/pass.h"

namespace mc {

// Throws Error(Gate) naming the pass, the tensor and the element.
void check_new_tensors_finite(const Model& m, const std::vector<PassReport>& reports);

}  // namespace mc
