#include "quantize/equalization.h"

#include <cmath>
#include <unordered_map>

#include "compress/passes/graph_rewrite.h"

namespace mc::quant {
namespace {

struct Pair {
  size_t l1, l2;
};

bool is_const_f32(const Graph& g, const std::string& v) {
  const Tensor* t = v.empty() ? nullptr : g.initializer(v);
  return t && !g.is_graph_input(v) && t->dtype == DType::F32;
}

std::string id(const Node& n, size_t i) { return n.name.empty() ? "#" + std::to_string(i) : n.name; }

}  // namespace

std::vector<EqualizedPair> equalize_cross_layer(Model& m, int iterations) {
  Graph& g = m.graph;
  const auto uses = count_value_uses(g);
  std::unordered_map<std::string, size_t> reader;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) reader[in] = i;
  auto only_reader = [&](const std::string& v) -> long {
    auto u = uses.find(v);
    if (u == uses.end() || u->second != 1 || g.is_graph_output(v)) return -1;
    return static_cast<long>(reader.at(v));
  };
  auto conv_ok = [&](const Node& n) {
    if (!n.is_default_domain() || n.op_type != "Conv" || n.inputs.size() < 2 || !is_const_f32(g, n.inputs[1])) return false;
    if (uses.at(n.inputs[1]) != 1) return false;
    if (n.inputs.size() > 2 && !n.inputs[2].empty() && (!is_const_f32(g, n.inputs[2]) || uses.at(n.inputs[2]) != 1))
      return false;
    return g.initializer(n.inputs[1])->dims.size() >= 3;
  };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& a = g.nodes[i];
    if (!conv_ok(a)) continue;
    std::string v = a.outputs[0];
    long r = only_reader(v);
    if (r < 0) continue;
    if (g.nodes[static_cast<size_t>(r)].op_type == "Relu") {
      v = g.nodes[static_cast<size_t>(r)].outputs[0];
      r = only_reader(v);
    }
    if (r < 0) continue;
    const Node& b = g.nodes[static_cast<size_t>(r)];
    if (!conv_ok(b) || b.inputs[0] != v) continue;
    // L2's input channel count must be L1's output channel count (groups == 1) or depthwise.
    const Tensor* w1 = g.initializer(a.inputs[1]);
    const Tensor* w2 = g.initializer(b.inputs[1]);
    const int64_t groups = b.attr_int("group", 1);
    const bool dw2 = groups > 1 && groups == w1->dims[0] && w2->dims[1] == 1 && w2->dims[0] == groups;
    if (!(groups == 1 && w2->dims[1] == w1->dims[0]) && !dw2) continue;
    pairs.push_back({i, static_cast<size_t>(r)});
  }
  std::vector<EqualizedPair> done;
  for (const auto& p : pairs) done.push_back({id(g.nodes[p.l1], p.l1), id(g.nodes[p.l2], p.l2)});
  for (int it = 0; it < iterations; ++it) {
    for (const auto& p : pairs) {
      const Node& a = g.nodes[p.l1];
      const Node& b = g.nodes[p.l2];
      Tensor& w1 = *g.initializer(a.inputs[1]);
      Tensor& w2 = *g.initializer(b.inputs[1]);
      Tensor* b1 = a.inputs.size() > 2 && !a.inputs[2].empty() ? g.initializer(a.inputs[2]) : nullptr;
      const bool dw2 = b.attr_int("group", 1) > 1;
      const size_t C = static_cast<size_t>(w1.dims[0]);
      const size_t in1 = w1.numel() / C;  // elements per output channel of L1
      const size_t M2 = static_cast<size_t>(w2.dims[0]), C2 = static_cast<size_t>(w2.dims[1]);
      const size_t k2 = w2.numel() / (M2 * C2);
      float* x1 = w1.as_mut<float>();
      float* x2 = w2.as_mut<float>();
      for (size_t c = 0; c < C; ++c) {
        float r1 = 0, r2 = 0;
        for (size_t k = 0; k < in1; ++k) r1 = std::max(r1, std::fabs(x1[c * in1 + k]));
        if (dw2) {
          for (size_t k = 0; k < k2; ++k) r2 = std::max(r2, std::fabs(x2[c * k2 + k]));
        } else {
          for (size_t o = 0; o < M2; ++o)
            for (size_t k = 0; k < k2; ++k) r2 = std::max(r2, std::fabs(x2[(o * C2 + c) * k2 + k]));
        }
        if (!(r1 > 0.f) || !(r2 > 0.f)) continue;
        const float s = std::sqrt(r1 * r2) / r2;
        if (!std::isnormal(s)) continue;
        for (size_t k = 0; k < in1; ++k) x1[c * in1 + k] /= s;
        if (b1) b1->as_mut<float>()[c] /= s;
        if (dw2) {
          for (size_t k = 0; k < k2; ++k) x2[c * k2 + k] *= s;
        } else {
          for (size_t o = 0; o < M2; ++o)
            for (size_t k = 0; k < k2; ++k) x2[(o * C2 + c) * k2 + k] *= s;
        }
      }
    }
  }
  return done;
}

}  // namespace mc::quant
