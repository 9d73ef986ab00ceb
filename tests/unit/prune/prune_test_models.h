// Small IR models for the prune tests, built in code and passed through ONNX import
// so that they carry inferred shapes like any imported model.
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/ir_builders.h"
#include "tests/support/random_floats.h"

namespace mc::test {

inline Model empty_model(const std::string& input, std::vector<int64_t> in_shape, const std::string& output) {
  Model m;
  m.opsets = {{"", 13}};
  m.ir_version = 8;
  m.graph.name = "prune_test";
  ValueInfo x;
  x.name = input;
  x.dtype = DType::F32;
  x.has_shape = true;
  for (int64_t d : in_shape) x.shape.push_back(Dim::known(d));
  m.graph.inputs.push_back(x);
  ValueInfo y;
  y.name = output;
  y.dtype = DType::F32;
  m.graph.outputs.push_back(y);
  return m;
}

// Export + import: gives the model its inferred value_info, as the CLI would see it.
inline Model reimport(const Model& m) { return import_onnx_bytes(export_onnx_bytes(m), ".", "test-model"); }

inline std::vector<float> floats_of(const Tensor& t) {
  return std::vector<float>(t.as<float>(), t.as<float>() + t.numel());
}

}  // namespace mc::test
