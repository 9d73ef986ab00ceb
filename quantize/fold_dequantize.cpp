#include "quantize/fold_dequantize.h"

#include <algorithm>
#include <cstring>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"

namespace mc::quant {

size_t fold_constant_dequantize(Model& m) {
  Graph& g = m.graph;
  auto is_const = [&](const std::string& v) { return v.empty() || (g.initializer(v) && !g.is_graph_input(v)); };
  std::vector<Node> kept;
  size_t folded = 0;
  for (const Node& n : g.nodes) {
    const bool fold = n.is_default_domain() && n.op_type == "DequantizeLinear" && n.outputs.size() == 1 &&
                      !g.is_graph_output(n.outputs[0]) &&
                      std::all_of(n.inputs.begin(), n.inputs.end(), is_const);
    if (!fold) {
      kept.push_back(n);
      continue;
    }
    const Tensor& x = *g.initializer(n.inputs.at(0));
    const Tensor& s = *g.initializer(n.inputs.at(1));
    const Tensor* z = n.inputs.size() > 2 && !n.inputs[2].empty() ? g.initializer(n.inputs[2]) : nullptr;
    if (s.dtype != DType::F32) throw Error(ErrorKind::Internal, "fold_constant_dequantize: scale is not float32");
    const uint64_t count = x.numel(), channels = s.numel();
    uint64_t inner = 1;
    if (channels > 1) {
      int64_t axis = n.attr_int("axis", 1);
      if (axis < 0) axis += static_cast<int64_t>(x.dims.size());
      for (size_t d = static_cast<size_t>(axis) + 1; d < x.dims.size(); ++d) inner *= static_cast<uint64_t>(x.dims[d]);
    }
    std::vector<float> y(count);
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t c = channels > 1 ? (i / inner) % channels : 0;
      const int64_t zp = z ? z->get_i64(c) : 0;
      y[i] = static_cast<float>(static_cast<int32_t>(x.get_i64(i) - zp)) * s.as<float>()[c];
    }
    g.initializers.push_back(Tensor::make_f32(n.outputs[0], x.dims, y));
    ++folded;
  }
  g.nodes = std::move(kept);
  // Drop the int8/int32 initializers nobody reads any more.
  const auto uses = count_value_uses(g);
  std::vector<Tensor> inits;
  for (auto& t : g.initializers) {
    auto u = uses.find(t.name);
    if ((u != uses.end() && u->second > 0) || g.is_graph_input(t.name)) inits.push_back(std::move(t));
  }
  g.initializers = std::move(inits);
  return folded;
}

}  // namespace mc::quant
