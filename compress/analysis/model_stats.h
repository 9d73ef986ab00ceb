// Where the size and the compute of a model go: per-layer and total parameter
// counts, MACs, weight bytes and sparsity. Used by `inspect` and by the
// before/after line of every command that writes a model.
//
// Definitions (the same everywhere the numbers are printed):
// - params: elements of initializers. Totals count every initializer of the model
//   once (including initializers of nested subgraphs), even when several nodes
//   share it; a layer counts the initializers among its own inputs. Constant
//   nodes and graph inputs are not parameters. BatchNormalization's running
//   mean/var are initializers and so are counted (PyTorch's numel() does not).
// - MACs: multiply-accumulates of one inference at the model's batch size, by the
//   rules documented in model_stats.cpp (Conv, ConvTranspose, Gemm, MatMul and
//   their integer/quantized variants, RNN/GRU/LSTM). Every other known op counts
//   0 MACs (element-wise, normalization, pooling, reshapes). Symbolic dims count
//   as 1. Only top-level nodes are counted; ops inside If/Loop/Scan bodies are not.
// - sparsity: the fraction of stored elements that are exactly zero (-0.0 is
//   zero; NaN is not), over numeric initializers.
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
  std::vector<std::string> input_shapes;   // e.g. "1x3x224x224", "Nx784", "?" when unknown; "" for an omitted input
  std::vector<std::string> output_shapes;
  uint64_t params = 0;        // elements of the constant (initializer) inputs this node reads
  uint64_t macs = 0;          // multiply-accumulates for one inference at the model's batch (symbolic dims count as 1)
  bool macs_known = true;     // false when a shape the count needs is unknown, or the op is unknown
  uint64_t weight_bytes = 0;  // bytes of those initializers
  std::string weight_dtype;   // dtype of the largest weight ("" when none)
  double sparsity = 0.0;      // fraction of exact zeros among the weight elements
  bool known_op = true;       // false for ops outside the ONNX schema registry for their domain and opset
};

struct ModelStats {
  std::vector<LayerStats> layers;  // in graph order
  uint64_t params = 0;             // elements of all initializers (each counted once)
  uint64_t macs = 0;               // sum over layers whose count is known
  bool macs_complete = true;       // false when some layer has macs_known == false
  uint64_t weight_bytes = 0;       // bytes of all initializers
  uint64_t zero_weights = 0;       // exact zeros among all numeric initializer elements
  double sparsity = 0.0;           // zero_weights / numeric initializer elements
  uint64_t nodes = 0;              // top-level nodes (== layers.size())
  uint64_t nodes_total = 0;        // including nodes of nested subgraphs
  std::vector<std::string> unknown_ops;  // "domain:op" (or "op" for the default domain), each once, in graph order
};

ModelStats compute_stats(const Model& m);

// MAC count of a single node given static input/output shapes (exposed for tests).
// Shapes are indexed like n.inputs / n.outputs; a shape that contains a negative
// dim stands for "unknown" (pass {-1}). Ops with a MAC rule return false when a
// shape they need is unknown or malformed, or the count overflows. Every other op
// returns true with *macs = 0 (it is FLOP-free by this project's definition);
// whether the op exists at all is compute_stats' business, not this function's.
bool node_macs(const Node& n, const std::vector<std::vector<int64_t>>& input_shapes,
               const std::vector<std::vector<int64_t>>& output_shapes, uint64_t* macs);

// True when `op` exists in ONNX's schema registry for `domain` at `opset_version`
// ("" and "ai.onnx" are the default domain) and is not deprecated there.
bool op_is_known(const std::string& op, const std::string& domain, int64_t opset_version);

// "1x3x224x224"; symbolic dims print as their name, unknown dims as "?";
// unknown rank (or nullptr) is "?", rank 0 is "scalar".
std::string shape_string(const ValueInfo* v);
std::string shape_string(const std::vector<int64_t>& dims);

// Exact zeros among the elements of t (0 for String and Undefined tensors).
uint64_t count_zeros(const Tensor& t);

}  // namespace mc
