// IR → ONNX. Tensors are written as raw_data (byte-identical to what was read),
// or to one external-data file when asked. Output files are written atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace onnx { class ModelProto; }

namespace mc {

struct ExportOptions {
  // When non-empty: tensors of at least external_threshold bytes go to this file,
  // a plain name created next to the model file (never appended to; replaced atomically).
  std::string external_data_file;
  uint64_t external_threshold = 1024;
  bool run_checker = true;  // onnx::checker on the result; failure is an internal error
};

void model_to_proto(const Model& m, onnx::ModelProto* out);
std::string export_onnx_bytes(const Model& m);  // external data not supported here
// Writes the model (and its external-data file) atomically; refuses to overwrite any of `inputs`.
void export_onnx_file(const Model& m, const std::string& path, const ExportOptions& opts = {},
                      const std::vector<std::string>& inputs = {});

}  // namespace mc
