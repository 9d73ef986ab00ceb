// Static int8 quantization: rewrites the IR into the QDQ form of docs/quantization.md §3.
//
// Two steps, so that calibration sits between them:
//  1. plan_static decides, node by node, what is quantized (Conv incl. depthwise, Gemm,
//     MatMul with a constant 2-D B, Add, AveragePool, GlobalAveragePool, MaxPool, Concat)
//     and why anything else stays fp32, and lists the float values whose ranges are needed.
//     A Relu or Clip (constant bounds) that is the only reader of a Conv/Gemm/MatMul/Add
//     output is folded: the layer's output is the activation's output.
//  2. apply_static inserts QuantizeLinear → DequantizeLinear after every quantized
//     activation (readers see the dequantized value, as they would on an int8 runtime),
//     replaces weights by int8 initializers (per-channel symmetric [-127, 127]) behind a
//     DequantizeLinear, and biases by int32 ones (scale s_x·s_w). MaxPool outputs and
//     Reshape/Flatten/Squeeze/Unsqueeze outputs keep their input's parameters; such shape
//     ops are moved between the Q and the DQ (they run on int8). A graph output that is
//     quantized keeps its name: it is the output of the last DequantizeLinear. Inserted
//     nodes have no names and weight DequantizeLinear nodes no zero point (0 by default):
//     they would only add bytes. Values inserted get value_info entries (for the runtime
//     taps); writers may drop them.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::quant {

struct StaticQuantOptions {
  bool per_channel = true;
  bool symmetric = false;                 // activations: symmetric (zp 0) instead of asymmetric
  std::vector<std::string> exclude;       // node names or op types kept fp32
  // Layers (by their LayerPlan::node id) kept fp32 with the given reason (--max-layer-error).
  std::map<std::string, std::string> keep_fp32;
};

struct LayerPlan {
  std::string node;       // node name (or "#index")
  std::string op_type;
  bool quantized = false;
  std::string reason;     // why it stays fp32 (empty when quantized)
  std::string output;     // the float value that is the layer's output (after a folded Relu/Clip)
  std::string folded;     // "Relu" / "Clip" when an activation was folded
  std::string dq_output;  // after apply_static: the value carrying the dequantized output
  float scale = 0;        // after apply_static: the output's int8 parameters
  int32_t zero_point = 0;
  std::pair<float, float> range{0.f, 0.f};  // the calibrated range they come from
};

struct StaticPlan {
  std::vector<LayerPlan> layers;        // every node of a quantizable op type, in graph order
  std::vector<std::string> observe;     // float values whose ranges apply_static needs
  std::vector<std::string> unmatched_exclude;  // --exclude entries that matched no node name or op type
};

// Error(Input) when the model's default-domain opset is below 13 (per-axis Q/DQ).
StaticPlan plan_static(const Model& m, const StaticQuantOptions& o);

// Rewrites m (the model plan_static looked at) in place; fills layers[i].dq_output.
// `ranges` must hold every value of plan.observe (Error(Internal) otherwise).
void apply_static(Model& m, StaticPlan& plan, const std::map<std::string, std::pair<float, float>>& ranges,
                  const StaticQuantOptions& o);

}  // namespace mc::quant
