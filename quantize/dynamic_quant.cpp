#include "quantize/dynamic_quant.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_set>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "quantize/quant_params.h"

namespace mc::quant {
namespace {

bool is_const(const Graph& g, const std::string& v) { return !v.empty() && g.initializer(v) && !g.is_graph_input(v); }

std::string why_not(const Graph& g, const std::unordered_map<std::string, int>& uses, const Node& n) {
  const ValueInfo* a = g.value(n.inputs.at(0));
  if (!a || a->dtype != DType::F32 || is_const(g, n.inputs[0])) return "input A is not a float32 activation";
  if (n.inputs.size() < 2 || !is_const(g, n.inputs[1])) return "B is not a constant";
  const Tensor* b = g.initializer(n.inputs[1]);
  if (b->dtype != DType::F32 || b->dims.size() != 2) return "B is not a float32 2-D weight";
  if (uses.at(n.inputs[1]) != 1) return "weight '" + n.inputs[1] + "' is shared with other nodes";
  if (n.op_type == "Gemm") {
    if (n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f) return "alpha or beta is not 1";
    if (n.attr_int("transA", 0) != 0) return "transA is set";
    const int64_t N = n.attr_int("transB", 0) ? b->dims[0] : b->dims[1];
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const Tensor* c = is_const(g, n.inputs[2]) ? g.initializer(n.inputs[2]) : nullptr;
      if (!c || c->dtype != DType::F32 || c->dims.size() != 1 || c->dims[0] != N) return "bias is not a float32 [N] constant";
    }
  }
  return "";
}

Tensor make(const std::string& name, DType t, std::vector<int64_t> dims, const void* p, size_t bytes) {
  Tensor x;
  x.name = name;
  x.dtype = t;
  x.dims = std::move(dims);
  x.data.resize(bytes);
  if (bytes) std::memcpy(x.data.data(), p, bytes);
  return x;
}

}  // namespace

StaticPlan apply_dynamic(Model& m, const StaticQuantOptions& o) {
  if (m.opset() < 11)
    throw Error(ErrorKind::Input, "quantize: the model's opset is " + std::to_string(m.opset()) +
                                      "; DynamicQuantizeLinear needs opset 11 or later");
  Graph& g = m.graph;
  const auto uses = count_value_uses(g);
  StaticPlan plan;
  std::set<std::string> matched;
  std::unordered_set<std::string> names;
  for (const auto& n : g.nodes)
    for (const auto& v : n.outputs) names.insert(v);
  for (const auto& t : g.initializers) names.insert(t.name);
  for (const auto& v : g.inputs) names.insert(v.name);
  auto fresh = [&](const std::string& base) {
    std::string s = base;
    for (int k = 1; names.count(s); ++k) s = base + "_" + std::to_string(k);
    names.insert(s);
    return s;
  };
  std::vector<Node> out;
  std::vector<std::string> dead;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node n = g.nodes[i];
    for (const auto& e : o.exclude)
      if (e == n.name || e == n.op_type) matched.insert(e);
    if (!n.is_default_domain() || (n.op_type != "Gemm" && n.op_type != "MatMul")) {
      out.push_back(n);
      continue;
    }
    LayerPlan lp;
    lp.node = n.name.empty() ? "#" + std::to_string(i) : n.name;
    lp.op_type = n.op_type;
    lp.output = n.outputs.at(0);
    const bool excluded = std::any_of(o.exclude.begin(), o.exclude.end(),
                                      [&](const std::string& e) { return e == n.name || e == n.op_type; });
    lp.reason = excluded ? "excluded by --exclude" : why_not(g, uses, n);
    lp.quantized = lp.reason.empty();
    plan.layers.push_back(lp);
    if (!lp.quantized) {
      out.push_back(n);
      continue;
    }
    // Weight as [K, N] float.
    const Tensor b = *g.initializer(n.inputs[1]);
    const bool trans = n.op_type == "Gemm" && n.attr_int("transB", 0);
    const int64_t K = trans ? b.dims[1] : b.dims[0], N = trans ? b.dims[0] : b.dims[1];
    std::vector<float> w(static_cast<size_t>(K * N));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < N; ++c)
        w[static_cast<size_t>(k * N + c)] = b.as<float>()[trans ? c * K + k : k * N + c];
    const std::vector<float> ws = weight_scales(w.data(), {K, N}, 1, o.per_channel, n.inputs[1]);
    const std::vector<int8_t> wq = quantize_weights(w.data(), {K, N}, 1, ws);
    const std::string wq_name = fresh(n.inputs[1] + "_quantized"), ws_name = fresh(n.inputs[1] + "_scale");
    g.initializers.push_back(make(wq_name, DType::I8, {K, N}, wq.data(), wq.size()));
    g.initializers.push_back(make(ws_name, DType::F32, ws.size() > 1 ? std::vector<int64_t>{N} : std::vector<int64_t>{},
                                  ws.data(), ws.size() * 4));
    dead.push_back(n.inputs[1]);
    const std::string& x = n.inputs[0];
    const std::string xq = fresh(x + "_quantized"), xs = fresh(x + "_scale"), xz = fresh(x + "_zero_point");
    const std::string acc = fresh(lp.output + "_int32"), accf = fresh(lp.output + "_float"),
                      sc = fresh(lp.output + "_scale");
    const bool bias = n.op_type == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty();
    const std::string y0 = bias ? fresh(lp.output + "_nobias") : lp.output;
    auto node = [](const std::string& op, std::vector<std::string> in, std::vector<std::string> outs) {
      Node k;
      k.op_type = op;
      k.inputs = std::move(in);
      k.outputs = std::move(outs);
      return k;
    };
    out.push_back(node("DynamicQuantizeLinear", {x}, {xq, xs, xz}));
    Node mi = node("MatMulInteger", {xq, wq_name, xz}, {acc});
    mi.name = n.name;
    out.push_back(mi);
    Node cast = node("Cast", {acc}, {accf});
    cast.set_attr_int("to", static_cast<int64_t>(DType::F32));
    out.push_back(cast);
    out.push_back(node("Mul", {xs, ws_name}, {sc}));
    out.push_back(node("Mul", {accf, sc}, {y0}));
    if (bias) out.push_back(node("Add", {y0, n.inputs[2]}, {lp.output}));
    // Types of the new values (shapes are refreshed by the caller's shape inference).
    const ValueInfo* xv = g.value(x);
    const ValueInfo* yv = g.value(lp.output);
    auto vi = [&](const std::string& name, DType t, const ValueInfo* like) {
      ValueInfo v = like ? *like : ValueInfo{};
      v.name = name;
      v.dtype = t;
      if (!like) v.has_shape = true;
      g.set_value_info(v);
    };
    vi(xq, DType::U8, xv);
    vi(xs, DType::F32, nullptr);
    vi(xz, DType::U8, nullptr);
    vi(acc, DType::I32, yv);
    vi(accf, DType::F32, yv);
    ValueInfo scv;
    scv.name = sc;
    scv.dtype = DType::F32;
    scv.has_shape = true;
    if (ws.size() > 1) scv.shape = {Dim::known(N)};
    g.set_value_info(scv);
    if (bias) vi(y0, DType::F32, yv);
    lp.dq_output = lp.output;
  }
  g.nodes = std::move(out);
  const auto u2 = count_value_uses(g);
  for (const auto& w : dead) {
    auto it = u2.find(w);
    if ((it == u2.end() || it->second == 0) && !g.is_graph_input(w)) g.remove_initializer(w);
  }
  for (const auto& e : o.exclude)
    if (!matched.count(e)) plan.unmatched_exclude.push_back(e);
  return plan;
}

}  // namespace mc::quant
