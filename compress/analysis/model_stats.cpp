// Per-layer and total statistics of a Model (see model_stats.h for definitions).
//
// MAC rules. One MAC = one multiply plus one accumulate. Bias additions,
// activation functions and the alpha/beta scaling of Gemm are not counted.
// Symbolic dims count as 1 (compute_stats substitutes them); unknown dims make the
// count unknown.
//
//   Conv, ConvInteger, QLinearConv     X[N,C,D1..Dk]  W[M,C/group,K1..Kk]  Y[N,M,O1..Ok]
//       MACs = N · M · (O1···Ok) · (C/group) · (K1···Kk)
//     Strides, pads, dilations and auto_pad only act through the output shape O,
//     which is why the rule reads Y (from shape inference) rather than redoing it.
//     Depthwise (group = C, C/group = 1) needs no special case.
//   ConvTranspose                      X[N,C,D1..Dk]  W[C,M/group,K1..Kk]
//       MACs = N · C · (D1···Dk) · (M/group) · (K1···Kk)
//     (every input pixel scatters a kernel-sized patch into M/group channels;
//     output_padding and output_shape add no MACs).
//   Gemm                               A[M,K] (transA: [K,M])  B[K,N] (transB: [N,K])
//       MACs = M · N · K
//   MatMul, MatMulInteger, QLinearMatMul   numpy semantics:
//     A[..., M, K] · B[..., K, N] → Y[batch..., M, N] with the batch dims broadcast;
//     a 1-D A is [1,K] (M = 1), a 1-D B is [K,1] (N = 1).
//       MACs = (broadcast batch product) · M · N · K
//   RNN / GRU / LSTM                   X[T,B,I] (layout 1: [B,T,I]), gates g = 1 / 3 / 4
//       MACs = directions · T · B · g · H · (I + H)
//     (the input and recurrent matrix products per step; the GRU/LSTM element-wise
//     gate arithmetic and peepholes are not counted).
//   Everything else: 0 MACs. Element-wise arithmetic (Add, Mul, Relu, ...),
//   normalization (BatchNormalization, LayerNormalization, ...), pooling, Softmax,
//   data movement. Counting them would mix FLOPs into a MAC figure; their cost is
//   small next to the ops above for the CNNs and MLPs this tool targets.
#include "compress/analysis/model_stats.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "compress/io/checked_math.h"

namespace mc {

namespace {

bool has_unknown(const std::vector<int64_t>& s) {
  return std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 0; });
}

const std::vector<int64_t>* shape_at(const std::vector<std::vector<int64_t>>& v, size_t i) {
  if (i >= v.size() || has_unknown(v[i])) return nullptr;
  return &v[i];
}

// Product of dims [from, to) with overflow checking.
bool product(const std::vector<int64_t>& s, size_t from, size_t to, uint64_t* out) {
  uint64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i)
    if (!checked_mul(p, static_cast<uint64_t>(s[i]), &p)) return false;
  *out = p;
  return true;
}

bool mul_all(std::initializer_list<uint64_t> f, uint64_t* out) {
  uint64_t p = 1;
  for (uint64_t x : f)
    if (!checked_mul(p, x, &p)) return false;
  *out = p;
  return true;
}

// Conv family: weight at input index w_idx, output Y at 0.
bool conv_macs(const std::vector<std::vector<int64_t>>& in, const std::vector<std::vector<int64_t>>& out,
               size_t w_idx, uint64_t* macs) {
  const auto* w = shape_at(in, w_idx);
  const auto* y = shape_at(out, 0);
  if (!w || !y || w->size() < 2 || y->size() != w->size()) return false;
  uint64_t out_elems = 0, kernel = 0;  // N·M·O1···Ok ; (C/group)·K1···Kk
  if (!product(*y, 0, y->size(), &out_elems) || !product(*w, 1, w->size(), &kernel)) return false;
  return mul_all({out_elems, kernel}, macs);
}

bool conv_transpose_macs(const std::vector<std::vector<int64_t>>& in, uint64_t* macs) {
  const auto* x = shape_at(in, 0);
  const auto* w = shape_at(in, 1);
  if (!x || !w || w->size() < 2 || x->size() != w->size()) return false;
  uint64_t in_elems = 0, kernel = 0;  // N·C·D1···Dk ; (M/group)·K1···Kk
  if (!product(*x, 0, x->size(), &in_elems) || !product(*w, 1, w->size(), &kernel)) return false;
  return mul_all({in_elems, kernel}, macs);
}

bool gemm_macs(const Node& n, const std::vector<std::vector<int64_t>>& in, uint64_t* macs) {
  const auto* a = shape_at(in, 0);
  const auto* b = shape_at(in, 1);
  if (!a || !b || a->size() != 2 || b->size() != 2) return false;
  const bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
  const uint64_t M = static_cast<uint64_t>(ta ? (*a)[1] : (*a)[0]);
  const uint64_t K = static_cast<uint64_t>(ta ? (*a)[0] : (*a)[1]);
  const uint64_t N = static_cast<uint64_t>(tb ? (*b)[0] : (*b)[1]);
  return mul_all({M, N, K}, macs);
}

// a_idx/b_idx: positions of the two matrix operands (QLinearMatMul has them at 0 and 3).
bool matmul_macs(const std::vector<std::vector<int64_t>>& in, size_t a_idx, size_t b_idx, uint64_t* macs) {
  const auto* a = shape_at(in, a_idx);
  const auto* b = shape_at(in, b_idx);
  if (!a || !b || a->empty() || b->empty()) return false;
  const uint64_t K = static_cast<uint64_t>(a->back());
  const uint64_t M = a->size() >= 2 ? static_cast<uint64_t>((*a)[a->size() - 2]) : 1;
  const uint64_t N = b->size() >= 2 ? static_cast<uint64_t>(b->back()) : 1;
  // Broadcast the batch dims (all but the last two), aligned from the right.
  const size_t ra = a->size() >= 2 ? a->size() - 2 : 0, rb = b->size() >= 2 ? b->size() - 2 : 0;
  const size_t r = std::max(ra, rb);
  uint64_t batch = 1;
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ra ? 1 : (*a)[i - (r - ra)];
    const int64_t db = i < r - rb ? 1 : (*b)[i - (r - rb)];
    if (da != db && da != 1 && db != 1) return false;  // not broadcastable
    if (!checked_mul(batch, static_cast<uint64_t>(std::max(da, db)), &batch)) return false;
  }
  return mul_all({batch, M, N, K}, macs);
}

bool rnn_macs(const Node& n, const std::vector<std::vector<int64_t>>& in, uint64_t gates, uint64_t* macs) {
  const auto* x = shape_at(in, 0);
  const auto* w = shape_at(in, 1);  // [directions, gates·H, I]
  if (!x || !w || x->size() != 3 || w->size() != 3) return false;
  const bool batch_first = n.attr_int("layout", 0) != 0;
  const uint64_t T = static_cast<uint64_t>(batch_first ? (*x)[1] : (*x)[0]);
  const uint64_t B = static_cast<uint64_t>(batch_first ? (*x)[0] : (*x)[1]);
  const uint64_t I = static_cast<uint64_t>((*x)[2]);
  const uint64_t dirs = static_cast<uint64_t>((*w)[0]);
  int64_t H = n.attr_int("hidden_size", -1);
  if (H < 0) H = (*w)[1] / static_cast<int64_t>(gates);
  uint64_t ih = 0;
  if (!checked_add(I, static_cast<uint64_t>(H), &ih)) return false;
  return mul_all({dirs, T, B, gates, static_cast<uint64_t>(H), ih}, macs);
}

std::string dim_string(const Dim& d) {
  if (d.is_known()) return std::to_string(d.value);
  return d.param.empty() ? "?" : d.param;
}

// Static shape for the MAC rules: symbolic dims → 1, unknown → {-1}.
std::vector<int64_t> static_shape_for_macs(const ValueInfo* v, const Tensor* init) {
  if (init) return init->dims;
  if (!v || !v->has_shape) return {-1};
  std::vector<int64_t> s;
  for (const auto& d : v->shape) {
    if (d.is_known()) s.push_back(d.value);
    else if (!d.param.empty()) s.push_back(1);
    else return {-1};
  }
  return s;
}

}  // namespace

bool node_macs(const Node& n, const std::vector<std::vector<int64_t>>& in,
               const std::vector<std::vector<int64_t>>& out, uint64_t* macs) {
  *macs = 0;
  if (!n.is_default_domain()) return true;
  const std::string& op = n.op_type;
  if (op == "Conv" || op == "ConvInteger") return conv_macs(in, out, 1, macs);
  if (op == "QLinearConv") return conv_macs(in, out, 3, macs);  // x, x_scale, x_zp, w, ...
  if (op == "ConvTranspose") return conv_transpose_macs(in, macs);
  if (op == "Gemm") return gemm_macs(n, in, macs);
  if (op == "MatMul" || op == "MatMulInteger") return matmul_macs(in, 0, 1, macs);
  if (op == "QLinearMatMul") return matmul_macs(in, 0, 3, macs);
  if (op == "RNN") return rnn_macs(n, in, 1, macs);
  if (op == "GRU") return rnn_macs(n, in, 3, macs);
  if (op == "LSTM") return rnn_macs(n, in, 4, macs);
  return true;  // FLOP-free by definition (see the rules above)
}

bool op_is_known(const std::string& op, const std::string& domain, int64_t opset_version) {
  if (opset_version <= 0 || opset_version > INT32_MAX) return false;
  const std::string d = domain == "ai.onnx" ? "" : domain;
  const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opset_version), d);
  return s != nullptr && !s->Deprecated();
}

std::string shape_string(const ValueInfo* v) {
  if (!v || !v->has_shape) return "?";
  if (v->shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < v->shape.size(); ++i) s += (i ? "x" : "") + dim_string(v->shape[i]);
  return s;
}

std::string shape_string(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  return s;
}

uint64_t count_zeros(const Tensor& t) {
  if (t.dtype == DType::String || t.dtype == DType::Undefined) return 0;
  const uint64_t n = t.numel();
  uint64_t z = 0;
  if (t.dtype == DType::F32) {  // the common case, without the per-element switch
    const float* p = t.as<float>();
    for (uint64_t i = 0; i < n; ++i) z += p[i] == 0.0f;
    return z;
  }
  for (uint64_t i = 0; i < n; ++i) z += t.get_f64(i) == 0.0;
  return z;
}

ModelStats compute_stats(const Model& m) {
  ModelStats st;
  const Graph& g = m.graph;

  // Totals over every initializer of the model, nested subgraphs included (explicit stack).
  uint64_t numeric_elems = 0;
  std::unordered_map<const Tensor*, uint64_t> zeros;  // top-level initializers, reused per layer
  {
    std::vector<const Graph*> stack{&g};
    while (!stack.empty()) {
      const Graph* cur = stack.back();
      stack.pop_back();
      for (const auto& t : cur->initializers) {
        const uint64_t n = t.numel();
        st.params += n;
        st.weight_bytes += t.nbytes();
        if (t.dtype != DType::String && t.dtype != DType::Undefined) {
          const uint64_t z = count_zeros(t);
          numeric_elems += n;
          st.zero_weights += z;
          if (cur == &g) zeros[&t] = z;
        }
      }
      for (const auto& n : cur->nodes)
        for (const auto& a : n.attrs)
          for (const auto& sg : a.graphs) stack.push_back(sg.get());
    }
  }
  st.sparsity = numeric_elems ? static_cast<double>(st.zero_weights) / static_cast<double>(numeric_elems) : 0.0;
  st.nodes = g.nodes.size();
  st.nodes_total = total_node_count(g);

  std::unordered_map<std::string, const Tensor*> inits;
  for (const auto& t : g.initializers) inits.emplace(t.name, &t);
  std::unordered_map<std::string, const ValueInfo*> values;
  for (const auto* list : {&g.value_info, &g.outputs, &g.inputs})  // later lists win: declared I/O over inferred
    for (const auto& v : *list) values[v.name] = &v;
  auto value_of = [&](const std::string& name) -> const ValueInfo* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second;
  };
  auto init_of = [&](const std::string& name) -> const Tensor* {
    auto it = inits.find(name);
    return it == inits.end() ? nullptr : it->second;
  };

  std::unordered_set<std::string> unknown_seen;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    LayerStats L;
    L.name = n.name.empty() ? n.op_type + "_" + std::to_string(i) : n.name;
    L.op_type = n.op_type;
    L.domain = n.domain;
    L.known_op = op_is_known(n.op_type, n.domain, m.opset(n.is_default_domain() ? "" : n.domain));
    if (!L.known_op) {
      const std::string key = n.is_default_domain() ? n.op_type : n.domain + ":" + n.op_type;
      if (unknown_seen.insert(key).second) st.unknown_ops.push_back(key);
    }

    std::vector<std::vector<int64_t>> in_shapes, out_shapes;
    std::unordered_set<const Tensor*> counted;  // a node reading one weight twice counts it once
    uint64_t layer_numeric = 0, layer_zeros = 0, largest = 0;
    for (const auto& name : n.inputs) {
      if (name.empty()) {
        L.input_shapes.emplace_back();
        in_shapes.push_back({-1});
        continue;
      }
      const Tensor* t = init_of(name);
      const ValueInfo* v = value_of(name);
      L.input_shapes.push_back(t ? shape_string(t->dims) : shape_string(v));
      in_shapes.push_back(static_shape_for_macs(v, t));
      if (!t || !counted.insert(t).second) continue;
      L.params += t->numel();
      L.weight_bytes += t->nbytes();
      if (L.weight_dtype.empty() || t->nbytes() > largest) {
        largest = t->nbytes();
        L.weight_dtype = dtype_name(t->dtype);
      }
      auto z = zeros.find(t);
      if (z != zeros.end()) {
        layer_numeric += t->numel();
        layer_zeros += z->second;
      }
    }
    for (const auto& name : n.outputs) {
      const ValueInfo* v = name.empty() ? nullptr : value_of(name);
      L.output_shapes.push_back(name.empty() ? std::string() : shape_string(v));
      out_shapes.push_back(static_shape_for_macs(v, nullptr));
    }
    L.sparsity = layer_numeric ? static_cast<double>(layer_zeros) / static_cast<double>(layer_numeric) : 0.0;

    if (L.known_op) {
      L.macs_known = node_macs(n, in_shapes, out_shapes, &L.macs);
      if (!L.macs_known) L.macs = 0;
    } else {
      L.macs_known = false;
    }
    if (!L.macs_known) st.macs_complete = false;
    if (!checked_add(st.macs, L.macs, &st.macs)) st.macs = UINT64_MAX;
    st.layers.push_back(std::move(L));
  }
  return st;
}

}  // namespace mc
