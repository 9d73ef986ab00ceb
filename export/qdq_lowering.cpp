// QDQ patterns -> runtime int8 ops (see qdq_lowering.h). Matching reads only initializers for the
// quantization parameters (scalar scale, int8 zero point), so anything computed at run time, uint8
// activations, or weights outside [-127, 127] leave the pattern in its QDQ form.
#include "export/qdq_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "compress/error.h"

namespace mc {
namespace {

namespace fb = mcrt::fb;

bool is(const Node& n, const char* op) { return n.is_default_domain() && n.op_type == op; }

struct Index {
  std::unordered_map<std::string, size_t> producer;
  std::unordered_map<std::string, std::vector<size_t>> consumers;
};

Index build_index(const Graph& g) {
  Index ix;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) ix.producer[o] = i;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) ix.consumers[in].push_back(i);
  }
  return ix;
}

const Node* producer(const Graph& g, const Index& ix, const std::string& v) {
  auto it = ix.producer.find(v);
  return it == ix.producer.end() ? nullptr : &g.nodes[it->second];
}

// The one node that reads v (v is not a graph output), or nullptr.
const Node* only_reader(const Graph& g, const Index& ix, const std::string& v, size_t* idx = nullptr) {
  if (g.is_graph_output(v)) return nullptr;
  auto it = ix.consumers.find(v);
  if (it == ix.consumers.end() || it->second.size() != 1) return nullptr;
  if (idx) *idx = it->second[0];
  return &g.nodes[it->second[0]];
}

bool scalar_scale(const Graph& g, const std::string& name, float* v) {
  const Tensor* t = g.initializer(name);
  if (!t || t->dtype != DType::F32 || t->numel() != 1) return false;
  std::memcpy(v, t->data.data(), 4);
  return std::isfinite(*v) && *v > 0.f;
}

bool scalar_zp_i8(const Graph& g, const std::string& name, int32_t* v) {
  const Tensor* t = g.initializer(name);
  if (!t || t->dtype != DType::I8 || t->numel() != 1) return false;
  *v = static_cast<int8_t>(t->data[0]);
  return true;
}

struct ActQ {
  std::string q;  // the int8 value
  float s = 1.f;
  int32_t z = 0;
  size_t node = 0;
};

// value = DequantizeLinear(x int8, scalar scale, [int8 zero point]).
bool dq_act(const Graph& g, const Index& ix, const std::string& value, ActQ* a) {
  auto it = ix.producer.find(value);
  if (it == ix.producer.end()) return false;
  const Node& n = g.nodes[it->second];
  if (!is(n, "DequantizeLinear") || n.inputs.size() < 2) return false;
  const ValueInfo* xv = g.value(n.inputs[0]);
  if (g.initializer(n.inputs[0]) || !xv || xv->dtype != DType::I8) return false;
  if (!scalar_scale(g, n.inputs[1], &a->s)) return false;
  a->z = 0;
  if (n.inputs.size() > 2 && !n.inputs[2].empty() && !scalar_zp_i8(g, n.inputs[2], &a->z)) return false;
  a->q = n.inputs[0];
  a->node = it->second;
  return true;
}

// v's only reader is QuantizeLinear(v, scalar scale, int8 zero point): its output is the int8 value.
bool q_only_reader(const Graph& g, const Index& ix, const std::string& v, ActQ* y) {
  size_t qi;
  const Node* q = only_reader(g, ix, v, &qi);
  if (!q || !is(*q, "QuantizeLinear") || q->inputs.size() < 3 || q->inputs[0] != v) return false;
  if (!scalar_scale(g, q->inputs[1], &y->s) || !scalar_zp_i8(g, q->inputs[2], &y->z)) return false;
  if (q->attr_int("saturate", 1) != 1) return false;
  y->q = q->outputs[0];
  y->node = qi;
  return true;
}

struct WeightQ {
  const Tensor* t = nullptr;
  std::vector<float> scales;  // one per channel (repeated when per tensor)
  size_t node = 0;
};

// value = DequantizeLinear(W int8 initializer in [-127, 127], scale (1 or `channels` along ch_axis), zp 0).
bool dq_weight(const Graph& g, const Index& ix, const std::string& value, int ch_axis, WeightQ* w) {
  auto it = ix.producer.find(value);
  if (it == ix.producer.end()) return false;
  const Node& n = g.nodes[it->second];
  if (!is(n, "DequantizeLinear") || n.inputs.size() < 2) return false;
  const Tensor* t = g.initializer(n.inputs[0]);
  const Tensor* s = g.initializer(n.inputs[1]);
  if (!t || t->dtype != DType::I8 || !s || s->dtype != DType::F32 || (int)t->dims.size() <= ch_axis) return false;
  const int64_t channels = t->dims[(size_t)ch_axis];
  const uint64_t ns = s->numel();
  if (ns != 1) {
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += (int64_t)t->dims.size();
    if (axis != ch_axis || (int64_t)ns != channels) return false;
  }
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* z = g.initializer(n.inputs[2]);
    if (!z || z->dtype != DType::I8) return false;
    for (uint8_t b : z->data)
      if (b != 0) return false;
  }
  for (uint8_t b : t->data)
    if (static_cast<int8_t>(b) == -128) return false;  // the runtime's weights are in [-127, 127]
  w->scales.assign((size_t)channels, 0.f);
  for (int64_t c = 0; c < channels; ++c) {
    float v;
    std::memcpy(&v, s->data.data() + 4 * (ns == 1 ? 0 : c), 4);
    if (!std::isfinite(v) || !(v > 0.f)) return false;
    w->scales[(size_t)c] = v;
  }
  w->t = t;
  w->node = it->second;
  return true;
}

int32_t sat_i32(double v) {
  if (!(v == v)) return 0;
  if (v >= 2147483647.0) return std::numeric_limits<int32_t>::max();
  if (v <= -2147483648.0) return std::numeric_limits<int32_t>::min();
  return (int32_t)v;
}

// Bias as int32 with scale s_x * s_w[c] (float32 product): DQ(int32 initializer) kept as is when its
// scales are exactly those, requantized otherwise; an fp32 initializer is quantized by the §1 rule.
bool bias_q(const Graph& g, const Index& ix, const std::string& value, float sx, const std::vector<float>& sw,
            std::vector<int32_t>* out, size_t* dq_node) {
  const size_t M = sw.size();
  *dq_node = SIZE_MAX;
  out->assign(M, 0);
  if (value.empty()) return true;
  if (const Tensor* b = g.initializer(value)) {
    if (b->dtype != DType::F32 || b->numel() != M) return false;
    for (size_t c = 0; c < M; ++c) {
      float v;
      std::memcpy(&v, b->data.data() + 4 * c, 4);
      const float bs = sx * sw[c];
      (*out)[c] = sat_i32((double)std::nearbyint(v / bs));
    }
    return true;
  }
  auto it = ix.producer.find(value);
  if (it == ix.producer.end()) return false;
  const Node& n = g.nodes[it->second];
  if (!is(n, "DequantizeLinear") || n.inputs.size() < 2) return false;
  const Tensor* t = g.initializer(n.inputs[0]);
  const Tensor* s = g.initializer(n.inputs[1]);
  if (!t || t->dtype != DType::I32 || t->numel() != M || !s || s->dtype != DType::F32) return false;
  if (s->numel() != 1 && s->numel() != M) return false;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* z = g.initializer(n.inputs[2]);
    if (!z) return false;
    for (uint8_t b : z->data)
      if (b != 0) return false;
  }
  for (size_t c = 0; c < M; ++c) {
    int32_t q;
    float sc;
    std::memcpy(&q, t->data.data() + 4 * c, 4);
    std::memcpy(&sc, s->data.data() + 4 * (s->numel() == 1 ? 0 : c), 4);
    const float want = sx * sw[c];
    (*out)[c] = sc == want ? q : sat_i32((double)std::nearbyint(((float)q * sc) / want));
  }
  *dq_node = it->second;
  return true;
}

// compute output v -> [Relu | Clip(const)] -> Q: the int8 output and the fused range.
bool act_then_q(const Graph& g, const Index& ix, const std::string& v, ActQ* y, int32_t* lo, int32_t* hi,
                std::vector<size_t>* nodes, bool allow_clip) {
  size_t ai;
  const Node* a = only_reader(g, ix, v, &ai);
  if (!a) return false;
  float flo = -INFINITY, fhi = INFINITY;
  std::string qin = v;
  if (is(*a, "Relu") || (allow_clip && is(*a, "Clip"))) {
    if (is(*a, "Relu")) {
      flo = 0.f;
    } else {
      flo = a->attr_float("min", -INFINITY);
      fhi = a->attr_float("max", INFINITY);
      for (size_t k = 1; k < 3 && k < a->inputs.size(); ++k) {
        if (a->inputs[k].empty()) continue;
        const Tensor* t = g.initializer(a->inputs[k]);
        if (!t || t->dtype != DType::F32 || t->numel() != 1) return false;
        std::memcpy(k == 1 ? &flo : &fhi, t->data.data(), 4);
      }
    }
    nodes->push_back(ai);
    qin = a->outputs[0];
  }
  if (!q_only_reader(g, ix, qin, y)) return false;
  nodes->push_back(y->node);
  auto q = [&](float f) -> int32_t {
    if (std::isinf(f)) return f < 0 ? -128 : 127;
    const double r = (double)std::nearbyint(f / y->s) + y->z;
    return (int32_t)std::min(127.0, std::max(-128.0, r));
  };
  *lo = q(flo);
  *hi = q(fhi);
  return *lo <= *hi;
}

struct Lowering {
  Graph& g;
  Index ix;
  std::set<size_t> removed;                       // nodes replaced (their outputs disappear)
  std::unordered_map<size_t, Node> replacement;   // at this index, this node instead
  std::set<size_t> maybe_dead;                    // DQ / DynamicQuantizeLinear nodes that may be unused now
  QdqLoweringReport rep;

  explicit Lowering(Graph& gr) : g(gr), ix(build_index(gr)) {}

  bool taken(size_t i) const { return removed.count(i) || replacement.count(i); }
  bool any_taken(const std::vector<size_t>& v) const {
    for (size_t i : v)
      if (taken(i)) return true;
    return false;
  }
  std::string unique_initializer_name(const std::string& base) {
    std::string s = base;
    for (int k = 1; g.initializer(s) || g.value(s); ++k) s = base + "_" + std::to_string(k);
    return s;
  }
  // Replaces `nodes` (the last one is the anchor: the new node goes there) by `nl`.
  void commit(std::vector<size_t> nodes, Node nl, std::vector<size_t> dqs, const std::string& what) {
    const size_t anchor = *std::max_element(nodes.begin(), nodes.end());
    for (size_t i : nodes)
      if (i != anchor) removed.insert(i);
    for (size_t d : dqs)
      if (d != SIZE_MAX) maybe_dead.insert(d);
    rep.notes.push_back(what);
    if (nl.domain == kInt8Domain) ++rep.lowered;
    replacement[anchor] = std::move(nl);
  }

  void try_gemm_like(size_t i) {
    const Node& n = g.nodes[i];
    const bool conv = is(n, "Conv"), gemm = is(n, "Gemm"), mm = is(n, "MatMul");
    if (!conv && !gemm && !mm) return;
    if (n.inputs.size() < 2) return;
    ActQ x;
    if (!dq_act(g, ix, n.inputs[0], &x)) return;
    bool transB = false;
    if (gemm) {
      if (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f) return;
      if (n.inputs.size() > 2 && !n.inputs[2].empty() && n.attr_float("beta", 1.f) != 1.f) return;
      transB = n.attr_int("transB", 0) != 0;
      const ValueInfo* xv = g.value(x.q);
      if (!xv || !xv->has_shape || xv->shape.size() != 2) return;
    }
    WeightQ w;
    const int ch_axis = conv ? 0 : (transB ? 0 : 1);
    if (!dq_weight(g, ix, n.inputs[1], ch_axis, &w)) return;
    if (!conv && w.t->dims.size() != 2) return;
    std::vector<int32_t> bias;
    size_t bias_dq = SIZE_MAX;
    const std::string bias_name = (!mm && n.inputs.size() > 2) ? n.inputs[2] : std::string();
    if (!bias_q(g, ix, bias_name, x.s, w.scales, &bias, &bias_dq)) return;
    ActQ y;
    int32_t lo, hi;
    std::vector<size_t> nodes = {i};
    if (!act_then_q(g, ix, n.outputs[0], &y, &lo, &hi, &nodes, true)) return;
    if (any_taken(nodes)) return;
    Node nl;
    nl.name = n.name;
    nl.domain = kInt8Domain;
    nl.op_type = conv ? "QLinearConv" : "QLinearMatMul";
    std::string wname = n.inputs.size() > 1 ? g.nodes[w.node].inputs[0] : std::string();
    if (transB) {  // B^T stored [K, N], scales along axis 1
      Tensor t = *w.t;
      const int64_t N = w.t->dims[0], K = w.t->dims[1];
      t.dims = {K, N};
      t.name = unique_initializer_name(wname + "_kn");
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < N; ++c) t.data[(size_t)(k * N + c)] = w.t->data[(size_t)(c * K + k)];
      wname = t.name;
      g.initializers.push_back(std::move(t));  // (w.t is not used after this point)
    }
    std::string bname;
    if (!bias_name.empty()) {
      Tensor b = Tensor::zeros(unique_initializer_name(n.name + "_bias_q"), DType::I32, {(int64_t)bias.size()});
      std::memcpy(b.data.data(), bias.data(), bias.size() * 4);
      bname = b.name;
      g.initializers.push_back(std::move(b));
    }
    nl.inputs = {x.q, wname, bname};
    if (bname.empty()) nl.inputs.pop_back();
    nl.outputs = {y.q};
    if (conv)
      for (const auto& a : n.attrs) nl.attrs.push_back(a);
    nl.set_attr_float("x_scale", x.s);
    nl.set_attr_int("x_zero_point", x.z);
    nl.set_attr_floats("w_scales", w.scales);
    nl.set_attr_float("y_scale", y.s);
    nl.set_attr_int("y_zero_point", y.z);
    nl.set_attr_int("act_min", lo);
    nl.set_attr_int("act_max", hi);
    const std::string what = nl.op_type + " '" + n.name + "'";
    commit(nodes, std::move(nl), {x.node, w.node, bias_dq}, what);
  }

  void try_add(size_t i) {
    const Node& n = g.nodes[i];
    if (!is(n, "Add") || n.inputs.size() != 2) return;
    ActQ a, b, y;
    if (!dq_act(g, ix, n.inputs[0], &a) || !dq_act(g, ix, n.inputs[1], &b)) return;
    int32_t lo, hi;
    std::vector<size_t> nodes = {i};
    if (!act_then_q(g, ix, n.outputs[0], &y, &lo, &hi, &nodes, false)) return;
    if (any_taken(nodes)) return;
    Node nl;
    nl.name = n.name;
    nl.domain = kInt8Domain;
    nl.op_type = "QLinearAdd";
    nl.inputs = {a.q, b.q};
    nl.outputs = {y.q};
    nl.set_attr_float("a_scale", a.s);
    nl.set_attr_int("a_zero_point", a.z);
    nl.set_attr_float("b_scale", b.s);
    nl.set_attr_int("b_zero_point", b.z);
    nl.set_attr_float("y_scale", y.s);
    nl.set_attr_int("y_zero_point", y.z);
    nl.set_attr_int("act_min", lo);
    nl.set_attr_int("act_max", hi);
    commit(nodes, std::move(nl), {a.node, b.node}, "QLinearAdd '" + n.name + "'");
  }

  void try_single_input(size_t i) {
    const Node& n = g.nodes[i];
    const bool avg = is(n, "AveragePool"), gap = is(n, "GlobalAveragePool");
    const bool layout = is(n, "MaxPool") || is(n, "Reshape") || is(n, "Flatten") || is(n, "Squeeze") ||
                        is(n, "Unsqueeze") || is(n, "Transpose");
    if (!avg && !gap && !layout) return;
    if (n.inputs.empty() || n.outputs.size() != 1) return;
    ActQ x, y;
    if (!dq_act(g, ix, n.inputs[0], &x)) return;
    if (!q_only_reader(g, ix, n.outputs[0], &y)) return;
    std::vector<size_t> nodes = {i, y.node};
    if (any_taken(nodes)) return;
    Node nl = n;
    nl.inputs[0] = x.q;
    nl.outputs = {y.q};
    if (layout) {
      if (x.s != y.s || x.z != y.z) return;  // a layout op keeps the parameters
      commit(nodes, std::move(nl), {x.node}, n.op_type + " '" + n.name + "' on int8");
      return;
    }
    nl.domain = kInt8Domain;
    nl.op_type = avg ? "QLinearAveragePool" : "QLinearGlobalAveragePool";
    nl.set_attr_float("x_scale", x.s);
    nl.set_attr_int("x_zero_point", x.z);
    nl.set_attr_float("y_scale", y.s);
    nl.set_attr_int("y_zero_point", y.z);
    const std::string what = nl.op_type + " '" + n.name + "'";
    commit(nodes, std::move(nl), {x.node}, what);
  }

  void try_concat(size_t i) {
    const Node& n = g.nodes[i];
    if (!is(n, "Concat") || n.inputs.empty()) return;
    std::vector<ActQ> xs(n.inputs.size());
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (!dq_act(g, ix, n.inputs[k], &xs[k])) return;
    ActQ y;
    if (!q_only_reader(g, ix, n.outputs[0], &y)) return;
    std::vector<size_t> nodes = {i, y.node};
    if (any_taken(nodes)) return;
    Node nl;
    nl.name = n.name;
    nl.domain = kInt8Domain;
    nl.op_type = "QLinearConcat";
    nl.outputs = {y.q};
    std::vector<float> ss;
    std::vector<int64_t> zs;
    std::vector<size_t> dqs;
    for (const ActQ& x : xs) {
      nl.inputs.push_back(x.q);
      ss.push_back(x.s);
      zs.push_back(x.z);
      dqs.push_back(x.node);
    }
    nl.attrs.push_back(*n.attr("axis"));
    nl.set_attr_floats("in_scales", ss);
    nl.set_attr_ints("in_zero_points", zs);
    nl.set_attr_float("y_scale", y.s);
    nl.set_attr_int("y_zero_point", y.z);
    commit(nodes, std::move(nl), dqs, "QLinearConcat '" + n.name + "'");
  }

  // DynamicQuantizeLinear -> MatMulInteger -> Cast(float) -> Mul(., Mul(s_x, s_w)) -> [Add(bias)].
  void try_dynamic(size_t i) {
    const Node& mi = g.nodes[i];
    if (!is(mi, "MatMulInteger") || mi.inputs.size() < 3) return;
    const Node* d = producer(g, ix, mi.inputs[0]);
    if (!d || !is(*d, "DynamicQuantizeLinear") || d->outputs.size() != 3 || mi.inputs[2] != d->outputs[2]) return;
    const Tensor* w = g.initializer(mi.inputs[1]);
    if (!w || w->dtype != DType::I8 || w->dims.size() != 2) return;
    for (uint8_t b : w->data)
      if (static_cast<int8_t>(b) == -128) return;
    if (mi.inputs.size() > 3 && !mi.inputs[3].empty()) {
      const Tensor* z = g.initializer(mi.inputs[3]);
      if (!z) return;
      for (uint8_t b : z->data)
        if (b != 0) return;
    }
    const int64_t N = w->dims[1];
    size_t ci, mi1, ai = SIZE_MAX;
    const Node* cast = only_reader(g, ix, mi.outputs[0], &ci);
    if (!cast || !is(*cast, "Cast") || cast->attr_int("to", 0) != 1) return;
    const Node* mul = only_reader(g, ix, cast->outputs[0], &mi1);
    if (!mul || !is(*mul, "Mul") || mul->inputs.size() != 2) return;
    const std::string s_name = mul->inputs[0] == cast->outputs[0] ? mul->inputs[1] : mul->inputs[0];
    size_t si;
    const Node* smul = producer(g, ix, s_name);
    if (!smul || !is(*smul, "Mul") || smul->inputs.size() != 2) return;
    si = ix.producer.at(s_name);
    const std::string ws_name = smul->inputs[0] == d->outputs[1] ? smul->inputs[1]
                                : smul->inputs[1] == d->outputs[1] ? smul->inputs[0] : std::string();
    const Tensor* ws = ws_name.empty() ? nullptr : g.initializer(ws_name);
    if (!ws || ws->dtype != DType::F32 || (ws->numel() != 1 && ws->numel() != (uint64_t)N)) return;
    std::vector<float> scales((size_t)N);
    for (int64_t c = 0; c < N; ++c) {
      std::memcpy(&scales[(size_t)c], ws->data.data() + 4 * (ws->numel() == 1 ? 0 : c), 4);
      if (!std::isfinite(scales[(size_t)c]) || !(scales[(size_t)c] > 0.f)) return;
    }
    std::string out = mul->outputs[0], bias;
    std::vector<size_t> nodes = {i, ci, mi1};
    size_t add_i_;
    const Node* add = only_reader(g, ix, out, &add_i_);
    if (add && is(*add, "Add") && add->inputs.size() == 2) {
      const std::string other = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
      const Tensor* b = g.initializer(other);
      if (b && b->dtype == DType::F32 && b->numel() == (uint64_t)N) {
        bias = other;
        out = add->outputs[0];
        ai = add_i_;
        nodes.push_back(ai);
      }
    }
    if (any_taken(nodes)) return;
    Node nl;
    nl.name = mi.name;
    nl.domain = kInt8Domain;
    nl.op_type = "DynamicQuantizeMatMul";
    nl.inputs = {d->inputs[0], mi.inputs[1]};
    if (!bias.empty()) nl.inputs.push_back(bias);
    nl.outputs = {out};
    nl.set_attr_floats("w_scales", scales);
    commit(nodes, std::move(nl), {ix.producer.at(mi.inputs[0]), si}, "DynamicQuantizeMatMul '" + mi.name + "'");
  }

  void finish() {
    std::vector<Node> nodes;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (removed.count(i)) continue;
      auto r = replacement.find(i);
      nodes.push_back(r != replacement.end() ? std::move(r->second) : std::move(g.nodes[i]));
    }
    g.nodes = std::move(nodes);
    // Remove the DequantizeLinear / scale-Mul / DynamicQuantizeLinear nodes nobody reads any more.
    for (bool changed = true; changed;) {
      changed = false;
      std::unordered_map<std::string, int> uses;
      for (const Node& n : g.nodes)
        for (const auto& in : n.inputs) ++uses[in];
      for (const auto& o : g.outputs) ++uses[o.name];
      for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const bool kind = is(n, "DequantizeLinear") || is(n, "DynamicQuantizeLinear") || is(n, "Mul");
        if (!kind) continue;
        bool used = false;
        for (const auto& o : n.outputs) used = used || (!o.empty() && uses[o] > 0);
        if (used) continue;
        bool ours = false;  // only nodes a lowered pattern read
        for (const auto& o : n.outputs) ours = ours || dead_candidates.count(o);
        if (!ours) continue;
        g.nodes.erase(g.nodes.begin() + (long)i);
        changed = true;
        break;
      }
    }
  }
  std::set<std::string> dead_candidates;

  // Unmatched static QDQ: a DequantizeLinear of constants (weight, bias) read by a node that also reads
  // an activation DequantizeLinear becomes its fp32 value, (q - zp) * scale in float32 as the runtime's
  // DequantizeLinear computes it, so Conv/Gemm weights are constants the fp32 kernels can pack.
  // (Weight-only chains, whose readers take fp32 activations, are left to the weight storage export.)
  void fold_constant_dq() {
    const Index cur = build_index(g);
    auto activation_dq = [&](const std::string& v) {
      const Node* p = producer(g, cur, v);
      return p && is(*p, "DequantizeLinear") && !p->inputs.empty() && !g.initializer(p->inputs[0]);
    };
    std::set<size_t> drop;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (!is(n, "DequantizeLinear") || n.inputs.size() < 2 || n.outputs.size() != 1) continue;
      const Tensor* x = g.initializer(n.inputs[0]);
      const Tensor* sc = g.initializer(n.inputs[1]);
      const Tensor* zp = n.inputs.size() > 2 && !n.inputs[2].empty() ? g.initializer(n.inputs[2]) : nullptr;
      if (!x || !sc || sc->dtype != DType::F32 || (n.inputs.size() > 2 && !n.inputs[2].empty() && !zp)) continue;
      if (x->dtype != DType::I8 && x->dtype != DType::U8 && x->dtype != DType::I32) continue;
      if (g.is_graph_output(n.outputs[0]) || !cur.consumers.count(n.outputs[0])) continue;
      bool static_qdq = false;
      for (size_t r : cur.consumers.at(n.outputs[0]))
        for (const auto& in : g.nodes[r].inputs) static_qdq = static_qdq || (in != n.outputs[0] && activation_dq(in));
      if (!static_qdq) continue;
      const int64_t rank = (int64_t)x->dims.size();
      int64_t axis = n.attr_int("axis", 1);
      if (axis < 0) axis += rank;
      const uint64_t ns = sc->numel();
      if (ns != 1 && (axis < 0 || axis >= rank || ns != (uint64_t)x->dims[(size_t)axis])) continue;
      if (zp && zp->numel() != ns) continue;
      uint64_t inner = 1;
      for (int64_t d = axis + 1; d < rank; ++d) inner *= (uint64_t)x->dims[(size_t)d];
      Tensor f = Tensor::zeros(n.outputs[0], DType::F32, x->dims);
      float* out = f.as_mut<float>();
      for (uint64_t e = 0; e < x->numel(); ++e) {
        const uint64_t c = ns == 1 ? 0 : (e / inner) % ns;
        const int32_t q = (int32_t)x->get_i64(e), z = zp ? (int32_t)zp->get_i64(c) : 0;
        out[e] = (float)(q - z) * sc->as<float>()[c];
      }
      g.initializers.push_back(std::move(f));
      drop.insert(i);
      rep.notes.push_back("DequantizeLinear '" + n.name + "' of constants folded to fp32 (its reader stays QDQ)");
    }
    std::vector<Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (!drop.count(i)) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
  }

  QdqLoweringReport run(bool int8_ops) {
    for (size_t i = 0; int8_ops && i < g.nodes.size(); ++i) {
      if (taken(i)) continue;
      try_gemm_like(i);
      if (taken(i)) continue;
      try_add(i);
      if (taken(i)) continue;
      try_single_input(i);
      if (taken(i)) continue;
      try_concat(i);
      if (taken(i)) continue;
      try_dynamic(i);
    }
    for (size_t d : maybe_dead)
      for (const auto& o : g.nodes[d].outputs) dead_candidates.insert(o);
    finish();
    fold_constant_dq();
    return rep;
  }
};

}  // namespace

bool has_qdq(const Graph& g) {
  for (const Node& n : g.nodes)
    if (is(n, "QuantizeLinear") || is(n, "DequantizeLinear") || is(n, "DynamicQuantizeLinear")) return true;
  return false;
}

QdqLoweringReport lower_qdq(Graph& g, bool int8_ops) { return Lowering(g).run(int8_ops); }

bool is_int8_node(const Node& n) { return n.domain == kInt8Domain; }

namespace {

[[noreturn]] void bad(const Node& n, const std::string& why) {
  throw Error(ErrorKind::Input, "node '" + n.name + "' (" + n.op_type + "): " + why);
}

float need_f(const Node& n, const char* name) {
  const Attribute* a = n.attr(name);
  if (!a || a->type != AttrType::Float) bad(n, std::string("missing float attribute '") + name + "'");
  return a->f;
}
int64_t need_i(const Node& n, const char* name) {
  const Attribute* a = n.attr(name);
  if (!a || a->type != AttrType::Int) bad(n, std::string("missing int attribute '") + name + "'");
  return a->i;
}
mcrt::QuantParams act(const Node& n, const char* s, const char* z) {
  return mcrt::QuantParams{{need_f(n, s)}, {need_i(n, z)}, 0};
}

}  // namespace

Int8NodeSpec describe_int8_node(const Node& n) {
  Int8NodeSpec sp;
  sp.inputs = n.inputs;
  const std::string& op = n.op_type;
  static const std::set<std::string> quant_attrs = {"x_scale", "x_zero_point", "w_scales", "y_scale", "y_zero_point",
                                                    "a_scale", "a_zero_point", "b_scale", "b_zero_point",
                                                    "in_scales", "in_zero_points"};
  static const std::map<std::string, fb::AttrKey> keys = {
      {"kernel_shape", fb::AttrKey_kernel_shape}, {"strides", fb::AttrKey_strides},
      {"pads", fb::AttrKey_pads},                 {"dilations", fb::AttrKey_dilations},
      {"group", fb::AttrKey_group},               {"auto_pad", fb::AttrKey_auto_pad},
      {"ceil_mode", fb::AttrKey_ceil_mode},       {"count_include_pad", fb::AttrKey_count_include_pad},
      {"axis", fb::AttrKey_axis},                 {"act_min", fb::AttrKey_act_min},
      {"act_max", fb::AttrKey_act_max}};
  for (const Attribute& a : n.attrs) {
    if (quant_attrs.count(a.name)) continue;
    auto k = keys.find(a.name);
    if (k == keys.end()) bad(n, "attribute '" + a.name + "' is not supported by the runtime");
    if (a.type == AttrType::Int) sp.attrs.push_back(mcrt::Attribute::Int(k->second, a.i));
    else if (a.type == AttrType::Ints) sp.attrs.push_back(mcrt::Attribute::Ints(k->second, a.ints));
    else if (a.type == AttrType::String) sp.attrs.push_back(mcrt::Attribute::String(k->second, a.s));
    else bad(n, "attribute '" + a.name + "' has an unexpected type");
  }
  auto weight = [&](int axis) {
    const Attribute* a = n.attr("w_scales");
    if (!a || a->type != AttrType::Floats || a->floats.empty() || n.inputs.size() < 2)
      bad(n, "missing weight scales");
    sp.quant.push_back({n.inputs[1], mcrt::QuantParams{a->floats, {}, axis}});
  };
  if (op == "QLinearConv" || op == "QLinearMatMul") {
    sp.op = op == "QLinearConv" ? fb::OpType_QLinearConv : fb::OpType_QLinearMatMul;
    sp.quant.push_back({n.inputs.at(0), act(n, "x_scale", "x_zero_point")});
    weight(op == "QLinearConv" ? 0 : 1);
    sp.quant.push_back({n.outputs.at(0), act(n, "y_scale", "y_zero_point")});
  } else if (op == "QLinearAdd") {
    sp.op = fb::OpType_QLinearAdd;
    sp.quant.push_back({n.inputs.at(0), act(n, "a_scale", "a_zero_point")});
    sp.quant.push_back({n.inputs.at(1), act(n, "b_scale", "b_zero_point")});
    sp.quant.push_back({n.outputs.at(0), act(n, "y_scale", "y_zero_point")});
  } else if (op == "QLinearAveragePool" || op == "QLinearGlobalAveragePool") {
    sp.op = op == "QLinearAveragePool" ? fb::OpType_QLinearAveragePool : fb::OpType_QLinearGlobalAveragePool;
    sp.quant.push_back({n.inputs.at(0), act(n, "x_scale", "x_zero_point")});
    sp.quant.push_back({n.outputs.at(0), act(n, "y_scale", "y_zero_point")});
  } else if (op == "QLinearConcat") {
    sp.op = fb::OpType_QLinearConcat;
    const Attribute* s = n.attr("in_scales");
    const Attribute* z = n.attr("in_zero_points");
    if (!s || !z || s->floats.size() != n.inputs.size() || z->ints.size() != n.inputs.size())
      bad(n, "one scale and zero point per input expected");
    for (size_t k = 0; k < n.inputs.size(); ++k)
      sp.quant.push_back({n.inputs[k], mcrt::QuantParams{{s->floats[k]}, {z->ints[k]}, 0}});
    sp.quant.push_back({n.outputs.at(0), act(n, "y_scale", "y_zero_point")});
  } else if (op == "DynamicQuantizeMatMul") {
    sp.op = fb::OpType_DynamicQuantizeMatMul;
    weight(1);
  } else {
    bad(n, "unknown int8 op");
  }
  return sp;
}

}  // namespace mc
