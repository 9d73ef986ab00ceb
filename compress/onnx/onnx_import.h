// ONNX → IR. The only place (with onnx_export) that sees protobuf.
// Every field a file controls is validated here before the IR is built
// (security.md): size arithmetic, raw_data/typed-data sizes, external data paths,
// duplicate names, subgraph depth and node counts, topological order and cycles.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc {

struct ImportOptions {
  uint64_t max_file_bytes = (1ull << 31) - 1;  // protobuf's own ceiling for one message
  int max_subgraph_depth = 32;                 // as ONNX Runtime
  uint64_t max_nodes = 1u << 20;
  bool infer_shapes = true;                    // ONNX's shape inference, with data propagation
  bool require_input_shapes = true;            // a tensor graph input without a shape is an error
  // NAME → dims, overriding (or supplying) the shape of a graph input; -1 = dynamic.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

Model import_onnx_file(const std::string& path, const ImportOptions& opts = {});

// bytes: the serialized ModelProto; model_dir: where external data is looked up;
// name: how errors name the model.
Model import_onnx_bytes(const std::string& bytes, const std::string& model_dir, const std::string& name,
                        const ImportOptions& opts = {});

// Default-domain opsets that import and export accept. Passes and the runtime are
// specified and tested for opsets 7 to 18; older models still round-trip.
constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 18;

}  // namespace mc
