// Where the size and the compute of a model go: per-layer and total parameter
// counts, MACs, weight bytes and sparsity. Used by `inspect` and by the
// before/after line of every command that writes a model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc {

struct LayerStats {
  std::string name;        // node name (or "<op>_<index>" when the node has none)
  std::string op_type;
  std::string domain;
  std::vector<std::string> input_shapes;   // e.g. "1x3x224x224", "Nx784", "?" when unknown
  std::vector<std::string> output_shapes;
  uint64_t params = 0;        // elements of the constant (initializer) inputs this node reads
  uint64_t macs = 0;          // multiply-accumulates for one inference at the model's batch (symbolic dims count as 1)
  bool macs_known = true;     // false when a shape the count needs is unknown
  uint64_t weight_bytes = 0;  // bytes of those initializers
  std::string weight_dtype;   // dtype of the largest weight ("" when none)
  double sparsity = 0.0;      // fraction of exact zeros among the weight elements
  bool known_op = true;       // false for ops outside the ONNX default-domain schema registry
};

struct ModelStats {
  std::vector<LayerStats> layers;  // in graph order
  uint64_t params = 0;             // elements of all initializers (each counted once)
  uint64_t macs = 0;
  uint64_t weight_bytes = 0;       // bytes of all initializers
  uint64_t nodes = 0;
  std::vector<std::string> unknown_ops;
};

ModelStats compute_stats(const Model& m);

// MAC count of a single node given static input/output shapes (exposed for tests).
// Returns false when the op has no MAC rule or a needed shape is missing.
bool node_macs(const Node& n, const std::vector<std::vector<int64_t>>& input_shapes,
               const std::vector<std::vector<int64_t>>& output_shapes, uint64_t* macs);

}  // namespace mc
