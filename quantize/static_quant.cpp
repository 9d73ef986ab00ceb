#include "quantize/static_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "quantize/quant_params.h"

namespace mc::quant {
namespace {

const std::set<std::string> kQuantOps = {"Conv", "Gemm", "MatMul", "Add", "AveragePool", "GlobalAveragePool",
                                         "MaxPool", "Concat"};
const std::set<std::string> kShapeOps = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};
const std::set<std::string> kFoldableInto = {"Conv", "Gemm", "MatMul", "Add"};

struct GraphIndex {
  std::unordered_map<std::string, size_t> producer;
  std::unordered_map<std::string, std::vector<size_t>> readers;
  std::unordered_map<std::string, int> uses;
};

GraphIndex index_graph(const Graph& g) {
  GraphIndex ix;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) ix.producer[o] = i;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) ix.readers[in].push_back(i);
  }
  ix.uses = count_value_uses(g);
  return ix;
}

// The id of a layer in plans and reports: the node's name, or "#index" when unnamed.
std::string layer_id(const Node& n, size_t i) { return n.name.empty() ? "#" + std::to_string(i) : n.name; }

bool is_const(const Graph& g, const std::string& v) { return g.initializer(v) && !g.is_graph_input(v); }

bool is_f32_activation(const Graph& g, const std::string& v) {
  if (v.empty() || is_const(g, v)) return false;
  const ValueInfo* vi = g.value(v);
  return vi && vi->dtype == DType::F32 && vi->has_shape;
}

const Tensor* const_f32(const Graph& g, const std::string& v) {
  if (v.empty() || !is_const(g, v)) return nullptr;
  const Tensor* t = g.initializer(v);
  return t->dtype == DType::F32 ? t : nullptr;
}

// Activation inputs a quantized node reads as int8.
std::vector<std::string> activation_inputs(const Node& n) {
  if (n.op_type == "Add" || n.op_type == "Concat") return n.inputs;
  return {n.inputs.at(0)};
}

// Why node n cannot be quantized; empty when it can.
std::string why_not(const Graph& g, const GraphIndex& ix, const Node& n) {
  if (n.outputs.empty() || !is_f32_activation(g, n.outputs[0])) return "output is not a float32 tensor of known shape";
  for (const auto& in : activation_inputs(n)) {
    if (in.empty()) return "an omitted input";
    if (is_const(g, in)) return "input '" + in + "' is a constant (only weights of Conv/Gemm/MatMul are quantized)";
    if (!is_f32_activation(g, in)) return "input '" + in + "' is not a float32 tensor of known shape";
  }
  auto weight_ok = [&](const std::string& w, size_t rank) -> std::string {
    const Tensor* t = const_f32(g, w);
    if (!t) return "weight '" + w + "' is not a float32 constant";
    if (t->dims.size() != rank) return "weight '" + w + "' has rank " + std::to_string(t->dims.size());
    if (ix.uses.at(w) != 1) return "weight '" + w + "' is shared with other nodes";
    return "";
  };
  auto bias_ok = [&](size_t idx, int64_t n_out) -> std::string {
    if (n.inputs.size() <= idx || n.inputs[idx].empty()) return "";
    const Tensor* b = const_f32(g, n.inputs[idx]);
    if (!b) return "bias '" + n.inputs[idx] + "' is not a float32 constant";
    if (b->dims.size() != 1 || b->dims[0] != n_out) return "bias '" + n.inputs[idx] + "' is not 1-D of the output channels";
    if (ix.uses.at(n.inputs[idx]) != 1) return "bias '" + n.inputs[idx] + "' is shared with other nodes";
    return "";
  };
  if (n.op_type == "Conv") {
    if (n.inputs.size() < 2) return "no weight";
    const Tensor* w = const_f32(g, n.inputs[1]);
    if (!w) return "weight '" + n.inputs[1] + "' is not a float32 constant";
    if (w->dims.size() < 3) return "weight rank below 3";
    if (auto r = weight_ok(n.inputs[1], w->dims.size()); !r.empty()) return r;
    return bias_ok(2, w->dims[0]);
  }
  if (n.op_type == "Gemm") {
    if (n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f) return "alpha or beta is not 1";
    if (n.attr_int("transA", 0) != 0) return "transA is set";
    if (auto r = weight_ok(n.inputs.at(1), 2); !r.empty()) return r;
    const Tensor* b = g.initializer(n.inputs[1]);
    return bias_ok(2, n.attr_int("transB", 0) ? b->dims[0] : b->dims[1]);
  }
  if (n.op_type == "MatMul") {
    if (!const_f32(g, n.inputs.at(1))) return "B is not a constant (activation x activation MatMul is not quantized)";
    if (auto r = weight_ok(n.inputs[1], 2); !r.empty()) return r;
    const ValueInfo* a = g.value(n.inputs[0]);
    if (a->shape.size() < 2) return "A has rank below 2";
    return "";
  }
  if (n.op_type == "Add") {
    const ValueInfo* a = g.value(n.inputs.at(0));
    const ValueInfo* b = g.value(n.inputs.at(1));
    if (a->shape.size() != b->shape.size()) return "inputs of different rank";
    return "";
  }
  return "";
}

// The value a quantized tensor takes its parameters from, and, when its producer is a
// shape op or MaxPool over a quantized tensor, that producer.
struct QTensor {
  std::string name, src;
  long via = -1;        // node index of the shape op to run on int8 (Reshape/Flatten/...), or -1
  bool graph_input = false;
};

std::vector<QTensor> collect_tensors(const Graph& g, const StaticPlan& plan) {
  const GraphIndex ix = index_graph(g);
  std::unordered_set<std::string> needed;
  std::unordered_map<std::string, size_t> layer_of_node;
  for (size_t k = 0; k < plan.layers.size(); ++k) layer_of_node[plan.layers[k].node] = k;
  std::vector<std::string> order;  // values in production order
  auto add = [&](const std::string& v) {
    if (needed.insert(v).second) order.push_back(v);
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    auto it = layer_of_node.find(layer_id(n, i));
    if (it == layer_of_node.end() || !plan.layers[it->second].quantized) continue;
    for (const auto& in : activation_inputs(n)) add(in);
    add(plan.layers[it->second].output);
  }
  // Sort by production (graph inputs first), so that sources are resolved before use.
  auto pos = [&](const std::string& v) -> long {
    auto p = ix.producer.find(v);
    return p == ix.producer.end() ? -1 : static_cast<long>(p->second);
  };
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) { return pos(a) < pos(b); });
  std::unordered_map<std::string, std::string> src;
  std::vector<QTensor> out;
  for (const auto& v : order) {
    QTensor q;
    q.name = v;
    q.src = v;
    const long p = pos(v);
    q.graph_input = p < 0;
    if (p >= 0) {
      const Node& n = g.nodes[static_cast<size_t>(p)];
      const std::string& in0 = n.inputs.empty() ? std::string() : n.inputs[0];
      if (!in0.empty() && needed.count(in0) && src.count(in0)) {
        if (n.op_type == "MaxPool") {
          auto it = layer_of_node.find(layer_id(n, static_cast<size_t>(p)));
          if (it != layer_of_node.end() && plan.layers[it->second].quantized) q.src = src[in0];
        } else if (kShapeOps.count(n.op_type) && n.outputs.size() == 1) {
          q.src = src[in0];
          q.via = p;
        }
      }
    }
    src[v] = q.src;
    out.push_back(q);
  }
  return out;
}

Tensor make_tensor(const std::string& name, DType t, std::vector<int64_t> dims, const void* data, size_t bytes) {
  Tensor x;
  x.name = name;
  x.dtype = t;
  x.dims = std::move(dims);
  x.data.resize(bytes);
  if (bytes) std::memcpy(x.data.data(), data, bytes);
  return x;
}

class Namer {
 public:
  explicit Namer(const Graph& g) {
    for (const auto& n : g.nodes)
      for (const auto& o : n.outputs) used_.insert(o);
    for (const auto& t : g.initializers) used_.insert(t.name);
    for (const auto& v : g.inputs) used_.insert(v.name);
    for (const auto& v : g.outputs) used_.insert(v.name);
    for (const auto& v : g.value_info) used_.insert(v.name);
  }
  std::string operator()(const std::string& base) {
    std::string n = base;
    for (int k = 1; used_.count(n); ++k) n = base + "_" + std::to_string(k);
    used_.insert(n);
    return n;
  }

 private:
  std::unordered_set<std::string> used_;
};

}  // namespace

StaticPlan plan_static(const Model& m, const StaticQuantOptions& o) {
  if (m.opset() < 13)
    throw Error(ErrorKind::Input, "quantize: the model's opset is " + std::to_string(m.opset()) +
                                      "; QDQ with per-axis scales needs opset 13 or later");
  const Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  StaticPlan plan;
  std::set<std::string> matched;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    for (const auto& e : o.exclude)
      if (e == n.name || e == n.op_type) matched.insert(e);
    if (!n.is_default_domain() || !kQuantOps.count(n.op_type)) continue;
    LayerPlan lp;
    lp.node = layer_id(n, i);
    lp.op_type = n.op_type;
    lp.output = n.outputs.empty() ? std::string() : n.outputs[0];
    const bool excluded = std::any_of(o.exclude.begin(), o.exclude.end(),
                                      [&](const std::string& e) { return e == n.name || e == n.op_type; });
    lp.reason = excluded ? "excluded by --exclude" : why_not(g, ix, n);
    if (lp.reason.empty() && o.keep_fp32.count(lp.node)) lp.reason = o.keep_fp32.at(lp.node);
    lp.quantized = lp.reason.empty();
    if (lp.quantized && kFoldableInto.count(n.op_type) && !g.is_graph_output(lp.output) && ix.uses.at(lp.output) == 1) {
      const size_t r = ix.readers.at(lp.output).at(0);
      const Node& act = g.nodes[r];
      const bool clip_const = act.op_type == "Clip" &&
                              (act.inputs.size() < 2 || act.inputs[1].empty() || is_const(g, act.inputs[1])) &&
                              (act.inputs.size() < 3 || act.inputs[2].empty() || is_const(g, act.inputs[2]));
      if (act.is_default_domain() && (act.op_type == "Relu" || clip_const) && is_f32_activation(g, act.outputs[0])) {
        lp.folded = act.op_type;
        lp.output = act.outputs[0];
      }
    }
    plan.layers.push_back(lp);
  }
  for (const auto& e : o.exclude)
    if (!matched.count(e)) plan.unmatched_exclude.push_back(e);
  for (const auto& q : collect_tensors(g, plan))
    if (q.src == q.name) plan.observe.push_back(q.name);
  return plan;
}

void apply_static(Model& m, StaticPlan& plan, const std::map<std::string, std::pair<float, float>>& ranges,
                  const StaticQuantOptions& o) {
  Graph& g = m.graph;
  const std::vector<QTensor> qts = collect_tensors(g, plan);
  Namer fresh(g);
  std::unordered_map<std::string, ActParams> params;
  std::unordered_map<std::string, const QTensor*> qt_of;
  for (const auto& q : qts) {
    auto r = ranges.find(q.src);
    if (r == ranges.end()) throw Error(ErrorKind::Internal, "quantize: no range for '" + q.src + "'");
    params[q.name] = activation_params(r->second.first, r->second.second, o.symmetric);
    qt_of[q.name] = &q;
  }
  std::unordered_map<std::string, size_t> layer_of_node;
  for (size_t k = 0; k < plan.layers.size(); ++k) layer_of_node[plan.layers[k].node] = k;

  std::vector<Node> out_nodes;
  std::vector<ValueInfo> new_vi;
  std::unordered_map<std::string, std::string> rewire;  // float value -> its dequantized twin
  std::unordered_map<std::string, std::string> qname;   // float value -> its int8 value
  std::vector<std::string> dead_initializers;
  auto shape_of = [&](const std::string& v) {
    const ValueInfo* vi = g.value(v);
    return vi ? *vi : ValueInfo{};
  };
  auto add_vi = [&](const std::string& name, DType t, const ValueInfo& like) {
    ValueInfo vi = like;
    vi.name = name;
    vi.dtype = t;
    vi.doc_string.clear();
    new_vi.push_back(vi);
  };
  auto scale_zp = [&](const std::string& base, const std::vector<float>& s, const std::vector<int8_t>* zp8, bool axis,
                      std::string* s_name, std::string* z_name) {
    std::vector<int64_t> dims = axis ? std::vector<int64_t>{static_cast<int64_t>(s.size())} : std::vector<int64_t>{};
    *s_name = fresh(base + "_scale");
    g.initializers.push_back(make_tensor(*s_name, DType::F32, dims, s.data(), s.size() * 4));
    if (zp8) {
      *z_name = fresh(base + "_zero_point");
      g.initializers.push_back(make_tensor(*z_name, DType::I8, dims, zp8->data(), zp8->size()));
    }
  };
  // Q then DQ of activation v (per tensor), or the int8 shape op + DQ for an alias.
  auto emit_qdq = [&](const std::string& v, const std::string& fp_value) {
    const QTensor& q = *qt_of.at(v);
    const ActParams p = params.at(v);
    const ValueInfo like = shape_of(v);
    std::string s_name, z_name;
    const std::vector<int8_t> zp{static_cast<int8_t>(p.zero_point)};
    scale_zp(v, {p.scale}, &zp, false, &s_name, &z_name);
    std::string v_q = fresh(v + "_quantized");
    if (q.via >= 0) {
      Node s = g.nodes[static_cast<size_t>(q.via)];
      s.name.clear();
      s.inputs[0] = qname.at(s.inputs[0]);
      s.outputs = {v_q};
      out_nodes.push_back(s);
    } else {
      Node qn;
      qn.op_type = "QuantizeLinear";
      qn.inputs = {fp_value, s_name, z_name};
      qn.outputs = {v_q};
      out_nodes.push_back(qn);
    }
    add_vi(v_q, DType::I8, like);
    qname[v] = v_q;
    const bool is_output = g.is_graph_output(v);
    const std::string v_dq = is_output ? v : fresh(v + "_dequantized");
    Node dq;
    dq.op_type = "DequantizeLinear";
    dq.inputs = {v_q, s_name, z_name};
    dq.outputs = {v_dq};
    out_nodes.push_back(dq);
    if (!is_output) {
      add_vi(v_dq, DType::F32, like);
      rewire[v] = v_dq;
    }
    return v_dq;
  };
  // Weight (and bias) of a quantized Conv/Gemm/MatMul: int8/int32 initializers behind a DQ.
  auto emit_weights = [&](Node& n) {
    const std::string w = n.inputs[1];
    const Tensor wt = *g.initializer(w);
    int axis = 0;
    if (n.op_type == "MatMul") axis = 1;
    if (n.op_type == "Gemm") axis = n.attr_int("transB", 0) ? 0 : 1;
    const std::vector<float> ws = weight_scales(wt.as<float>(), wt.dims, axis, o.per_channel, w);
    const std::vector<int8_t> wq = quantize_weights(wt.as<float>(), wt.dims, axis, ws);
    const bool per_axis = ws.size() > 1;
    std::string s_name, z_name;
    scale_zp(w, ws, nullptr, per_axis, &s_name, &z_name);  // zero point 0: omitted (ONNX default)
    const std::string w_q = fresh(w + "_quantized");
    g.initializers.push_back(make_tensor(w_q, DType::I8, wt.dims, wq.data(), wq.size()));
    Node dq;
    dq.op_type = "DequantizeLinear";
    dq.inputs = {w_q, s_name};
    const std::string w_dq = fresh(w + "_dequantized");
    dq.outputs = {w_dq};
    if (per_axis) dq.set_attr_int("axis", axis);
    out_nodes.push_back(dq);
    ValueInfo like;
    like.has_shape = true;
    for (int64_t d : wt.dims) like.shape.push_back(Dim::known(d));
    add_vi(w_dq, DType::F32, like);
    dead_initializers.push_back(w);
    n.inputs[1] = w_dq;
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const std::string b = n.inputs[2];
      const Tensor bt = *g.initializer(b);
      for (uint64_t i = 0; i < bt.numel(); ++i)
        if (!std::isfinite(bt.as<float>()[i])) throw Error(ErrorKind::Input, "bias '" + b + "' holds NaN or Inf");
      std::vector<int32_t> bq;
      std::vector<float> bs;
      if (!quantize_bias(bt.as<float>(), bt.numel(), params.at(n.inputs[0]).scale, ws, &bq, &bs)) return;  // stays fp32
      std::string bs_name, unused;
      scale_zp(b, bs, nullptr, per_axis, &bs_name, &unused);
      const std::string b_q = fresh(b + "_quantized");
      g.initializers.push_back(make_tensor(b_q, DType::I32, bt.dims, bq.data(), bq.size() * 4));
      Node bdq;
      bdq.op_type = "DequantizeLinear";
      bdq.inputs = {b_q, bs_name};
      const std::string b_dq = fresh(b + "_dequantized");
      bdq.outputs = {b_dq};
      if (per_axis) bdq.set_attr_int("axis", 0);
      out_nodes.push_back(bdq);
      ValueInfo bl;
      bl.has_shape = true;
      bl.shape = {Dim::known(bt.dims[0])};
      add_vi(b_dq, DType::F32, bl);
      dead_initializers.push_back(b);
      n.inputs[2] = b_dq;
    }
  };

  // Graph inputs that are quantized come first.
  for (const auto& q : qts)
    if (q.graph_input) emit_qdq(q.name, q.name);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node n = g.nodes[i];
    for (auto& in : n.inputs) {
      auto r = rewire.find(in);
      if (r != rewire.end()) in = r->second;
    }
    auto it = layer_of_node.find(layer_id(g.nodes[i], i));
    const bool quantized = it != layer_of_node.end() && plan.layers[it->second].quantized;
    if (quantized && (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul")) {
      // the bias scale needs the input's scale: the (original) input 0's parameters
      Node orig = g.nodes[i];
      n.inputs[0] = orig.inputs[0];
      emit_weights(n);
      auto r = rewire.find(orig.inputs[0]);
      if (r != rewire.end()) n.inputs[0] = r->second;
    }
    // Outputs that are quantized graph outputs: the node writes a renamed float value.
    std::vector<std::pair<std::string, std::string>> outs;  // (value, float value the Q reads)
    for (auto& o2 : n.outputs) {
      if (o2.empty() || !qt_of.count(o2)) continue;
      if (g.is_graph_output(o2)) {
        const std::string fp = fresh(o2 + "_fp32");
        add_vi(fp, DType::F32, shape_of(o2));
        outs.push_back({o2, fp});
        o2 = fp;
      } else {
        outs.push_back({o2, o2});
      }
    }
    out_nodes.push_back(n);
    for (const auto& [v, fp] : outs) emit_qdq(v, fp);
  }
  for (auto& lp : plan.layers) {
    if (!lp.quantized) continue;
    lp.dq_output = g.is_graph_output(lp.output) ? lp.output : rewire.at(lp.output);
    lp.scale = params.at(lp.output).scale;
    lp.zero_point = params.at(lp.output).zero_point;
    lp.range = ranges.at(qt_of.at(lp.output)->src);
  }

  // Drop nodes left without readers (fp32 shape ops replaced by their int8 twins) and
  // the float weights that were replaced.
  g.nodes = std::move(out_nodes);
  for (const auto& vi : new_vi) g.set_value_info(vi);
  for (bool changed = true; changed;) {
    changed = false;
    const auto uses = count_value_uses(g);
    for (size_t i = g.nodes.size(); i-- > 0;) {
      const Node& n = g.nodes[i];
      const bool unread = std::all_of(n.outputs.begin(), n.outputs.end(), [&](const std::string& v) {
        auto u = uses.find(v);
        return v.empty() || u == uses.end() || u->second == 0;
      });
      if (unread && n.is_default_domain() && kShapeOps.count(n.op_type)) {
        g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        changed = true;
      }
    }
  }
  const auto uses = count_value_uses(g);
  for (const auto& w : dead_initializers) {
    auto u = uses.find(w);
    if ((u == uses.end() || u->second == 0) && !g.is_graph_input(w)) g.remove_initializer(w);
  }
}

}  // namespace mc::quant
