// TorchScript (.pt) → IR. No torch header here: cli/ and tests include this.
//
// A TorchScript archive is executable code: torch::jit::load runs the deserializer of
// a file that may come from a stranger, and PyTorch's own SECURITY.md warns that it
// is not safe for untrusted files (fuzzing found heap overflows in it). mcompress
// loads one only when the user names a .pt/.pth file (compress/io/model_loader).
//
// The archive is loaded, frozen (parameters become constants), inlined and
// de-mutated; the aten ops that feed the outputs are mapped to ONNX ops
// (docs/training.md lists them), the result goes through the ONNX importer
// (shape inference and every check). Input shapes: --input-shape NAME=dims, else
// the archive's extra file "input_shapes" (JSON {name: [dims]}, -1 = batch dim).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/onnx/onnx_import.h"

namespace mc::distill {

// Throws mc::Error(Input) naming the file: unreadable or corrupt archive, an aten op
// that has no mapping (named), a shape that is missing or dynamic where it must not be.
Model import_torchscript_file(const std::string& path, const ImportOptions& opts = {});

// Registers import_torchscript_file for ".pt" and ".pth" (compress/io/model_loader).
void register_torchscript_loader();

// Runs the archive's forward() in LibTorch (eval mode) on one float tensor; the
// reference the importer and the exporter are tested against. Returns the output
// (flattened) and its shape.
std::vector<float> run_torchscript_file(const std::string& path, const std::vector<int64_t>& shape,
                                        const std::vector<float>& input, std::vector<int64_t>* out_shape);

}  // namespace mc::distill
