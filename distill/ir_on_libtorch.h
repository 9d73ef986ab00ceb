// Torch-free entry to the LibTorch executor of the IR (distill/ir_executor.h), for
// tests and tools that compare it with other engines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::distill {

// Runs m (one float input, one float output) on `input` of `shape` with LibTorch.
std::vector<float> run_ir_on_libtorch(const Model& m, const std::vector<int64_t>& shape,
                                      const std::vector<float>& input, std::vector<int64_t>* out_shape);

}  // namespace mc::distill
