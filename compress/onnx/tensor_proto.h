// onnx.TensorProto → mc::Tensor: the one conversion, with every check that import
// makes (security.md): known dtype, no negative dims, overflow-checked sizes, raw_data
// or typed data exactly as long as the shape needs, external data read through
// read_external_data (inside the model's folder only). Used by the importer for
// initializers and tensor attributes, and by tools that read the node suite's
// test_data_set_*/*.pb files.
#pragma once
#include <string>
#include <vector>

#include "compress/ir/tensor.h"

namespace onnx { class TensorProto; }

namespace mc {

struct TensorProtoSource {
  std::string file;       // names the model (or .pb file) in error messages
  std::string model_dir;  // where external data is looked up (tensor_from_proto_bytes: empty = refused)
  std::vector<std::string>* external_files = nullptr;  // external-data files read are appended (optional)
};

// Throws Error(Input) "<file>: tensor 'name' ..." on any inconsistency.
Tensor tensor_from_proto(const onnx::TensorProto& tp, const TensorProtoSource& src,
                         const std::string& fallback_name);

// Parses serialized TensorProto bytes (e.g. a node-suite input_0.pb) and converts them.
Tensor tensor_from_proto_bytes(const std::string& bytes, const TensorProtoSource& src);

}  // namespace mc
