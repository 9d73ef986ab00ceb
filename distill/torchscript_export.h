// IR → TorchScript (.pt): a torch::jit::Module whose forward() is TorchScript source
// generated from the graph (Module::define) and whose weights are registered
// parameters, saved with torch::jit::Module::save. LibTorch (torch::jit::load) and
// PyTorch (torch.jit.load) load it and compute what the IR computes. Torch-free header.
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::distill {

// The generated source of forward() (for docs, tests and error messages).
std::string torchscript_source(const Model& m, const std::string& file);

// Writes m as a TorchScript archive, atomically, never over one of `inputs`. The
// archive carries an "input_shapes" extra file so that it imports back without
// --input-shape. Throws mc::Error(Input) naming `file` and the node for an op or
// attribute with no TorchScript mapping (the ops of docs/training.md).
void export_torchscript_file(const Model& m, const std::string& path, const std::vector<std::string>& inputs);

}  // namespace mc::distill
