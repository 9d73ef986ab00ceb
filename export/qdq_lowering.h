// QDQ lowering for the runtime file: the IR's QDQ patterns (docs/quantization.md §3) become the
// runtime's int8 ops (§4, docs/runtime-format.md §5). Called by export/runtime_export.cpp.
//
// lower_qdq rewrites the graph in place. Each matched pattern becomes one node of the private domain
// "mcompress.int8" whose inputs are the int8 data values (x_q, W_q, bias_q ...) and whose attributes
// carry the quantization parameters (x_scale, x_zero_point, w_scales, y_scale, y_zero_point,
// act_min, act_max, ...) next to the original op's attributes. Matched:
//   DQ(x) + DQ(W int8 const) + [DQ(bias int32 const) | fp32 bias const] -> Conv | Gemm | MatMul
//       -> [Relu | Clip] -> Q                                  => QLinearConv | QLinearMatMul
//   DQ(a), DQ(b) -> Add -> [Relu] -> Q                         => QLinearAdd
//   DQ -> AveragePool | GlobalAveragePool -> Q                  => QLinearAveragePool | QLinearGlobalAveragePool
//   DQ -> MaxPool | Reshape | Flatten | Squeeze | Unsqueeze | Transpose -> Q with the same (s, z)
//                                                               => the op itself on int8
//   DQ(each) -> Concat -> Q                                     => QLinearConcat
//   DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(s_x * s_w) -> [Add bias]
//                                                               => DynamicQuantizeMatMul
// Activations must be int8 (signed) with per-tensor parameters, weights int8 in [-127, 127] with zero
// point 0 (per tensor or per output channel). Anything else stays as it was: QuantizeLinear /
// DequantizeLinear around fp32 ops, which the runtime computes correctly in fp32.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"
#include "format/writer.h"

namespace mc {

inline constexpr const char* kInt8Domain = "mcompress.int8";

struct QdqLoweringReport {
  int lowered = 0;                  // int8 ops created
  std::vector<std::string> notes;   // one line per lowered pattern
};

// Rewrites g (topological order kept). Patterns that do not match keep their QDQ form; of those, a
// DequantizeLinear of constants read by a static-QDQ node (Conv/Gemm weight, bias) is folded to its
// fp32 value so the fp32 kernels can take it. int8_ops = false does only that folding (the whole
// graph computes in fp32 with Q/DQ ops: a reference for the int8 result).
QdqLoweringReport lower_qdq(Graph& g, bool int8_ops = true);

// True when the graph holds QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear nodes.
bool has_qdq(const Graph& g);

// What the runtime exporter writes for one "mcompress.int8" node.
struct Int8NodeSpec {
  mcrt::fb::OpType op = mcrt::fb::OpType_QLinearConv;
  std::vector<std::string> inputs;  // value names; "" = absent optional input
  std::vector<mcrt::Attribute> attrs;
  std::vector<std::pair<std::string, mcrt::QuantParams>> quant;  // §4.3 quant of these values' tensors
};
bool is_int8_node(const Node& n);
// Throws mc::Error(Input) naming the node when its attributes are inconsistent.
Int8NodeSpec describe_int8_node(const Node& n);

}  // namespace mc
