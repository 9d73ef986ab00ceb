// The lowrank pass: truncated-SVD factorization of Gemm, MatMul and Conv weights.
// What is factorized, how the rank is chosen and the cost rule are in lowrank.h.
#include "compress/lowrank/lowrank.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <unordered_set>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "compress/lowrank/svd_jacobi.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/refresh_shapes.h"

namespace mc {
namespace {

enum class LayerKind { Gemm, MatMul, Conv, ConvSpatial, ConvTucker2 };

// Rank of a layer: `out` is the SVD rank (Tucker-2: the output-channel rank), `in` is
// Tucker-2's input-channel rank (0 for every other scheme).
struct Ranks {
  int64_t out = 0, in = 0;
};

// A layer that can be factorized, with its SVD.
struct Candidate {
  size_t node_index = 0;
  LayerKind kind = LayerKind::Gemm;
  std::vector<int64_t> weight_dims;  // original dims of the weight tensor
  SvdResult svd;
  std::vector<double> head;  // head[r] = Σ_{i<r} σ² / Σσ², r = 0..k
  std::vector<double> tail;  // tail[r] = Σ_{i>=r} σ² / Σσ²
  // MACs after at rank r are r·(macs_a + macs_b): the first and the second layer per unit of rank.
  uint64_t macs_a = 0, macs_b = 0;
  size_t report = 0;         // index into LowRankResult::layers
  // Tucker-2 only: the SVD of the mode-1 unfolding W_(1) [C, N·Πk] (input channels),
  // the weight as [N, C, Πk] in double, and MACs per unit of in, in·out and out.
  SvdResult svd_in;
  std::vector<double> head_in;
  std::vector<double> w;
  uint64_t macs_in = 0, macs_core = 0, macs_out = 0;
};

std::string fmt(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

int64_t rank_for_energy(const std::vector<double>& head, double e) {
  const int64_t k = static_cast<int64_t>(head.size()) - 1;
  for (int64_t r = 1; r <= k; ++r)
    if (head[static_cast<size_t>(r)] >= e * (1.0 - 1e-12)) return r;
  return k;
}

int64_t rank_for_ratio(size_t full, double ratio) {
  const int64_t k = static_cast<int64_t>(full);
  const int64_t r = static_cast<int64_t>(std::ceil(ratio * static_cast<double>(k) - 1e-9));
  return std::clamp<int64_t>(r, 1, k);
}

Ranks ranks_for_energy(const Candidate& c, double e) {
  return {rank_for_energy(c.head, e), c.kind == LayerKind::ConvTucker2 ? rank_for_energy(c.head_in, e) : 0};
}

Ranks ranks_for_ratio(const Candidate& c, double ratio) {
  return {rank_for_ratio(c.svd.k, ratio), c.kind == LayerKind::ConvTucker2 ? rank_for_ratio(c.svd_in.k, ratio) : 0};
}

uint64_t factored_params(int64_t rows, int64_t cols, int64_t r) {
  return static_cast<uint64_t>(r) * static_cast<uint64_t>(rows + cols);
}

// Fewer params and (when known) fewer MACs. For Gemm/MatMul and the channel split both
// layers see the same rows or pixels, so the two conditions coincide; the spatial split's
// first layer runs at full input width, so its MACs are checked on their own.
uint64_t params_at(const Candidate& c, const LowRankLayer& l, Ranks r) {
  if (c.kind != LayerKind::ConvTucker2) return factored_params(l.rows, l.cols, r.out);
  const uint64_t N = static_cast<uint64_t>(c.weight_dims[0]), C = static_cast<uint64_t>(c.weight_dims[1]);
  const uint64_t kk = static_cast<uint64_t>(l.cols) / C;
  const uint64_t ro = static_cast<uint64_t>(r.out), ri = static_cast<uint64_t>(r.in);
  return C * ri + ri * ro * kk + ro * N;
}

uint64_t macs_at(const Candidate& c, Ranks r) {
  const uint64_t ro = static_cast<uint64_t>(r.out), ri = static_cast<uint64_t>(r.in);
  if (c.kind != LayerKind::ConvTucker2) return ro * (c.macs_a + c.macs_b);
  return ri * c.macs_in + ri * ro * c.macs_core + ro * c.macs_out;
}

bool cheaper(const Candidate& c, const LowRankLayer& l, Ranks r) {
  if (params_at(c, l, r) >= static_cast<uint64_t>(l.rows) * static_cast<uint64_t>(l.cols)) return false;
  return !l.macs_known || macs_at(c, r) < l.macs_before;
}

// Tucker-2 core [out, in, Πk]: W ×0 U_outᵀ ×1 U_inᵀ with the leading singular vectors.
std::vector<double> tucker_core(const Candidate& c, Ranks r) {
  const size_t N = static_cast<size_t>(c.weight_dims[0]), C = static_cast<size_t>(c.weight_dims[1]);
  const size_t kk = c.w.size() / (N * C), ro = static_cast<size_t>(r.out), ri = static_cast<size_t>(r.in);
  const size_t k0 = c.svd.k, k1 = c.svd_in.k;
  std::vector<double> t(ro * C * kk, 0.0), core(ro * ri * kk, 0.0);
  for (size_t a = 0; a < ro; ++a)
    for (size_t n = 0; n < N; ++n) {
      const double u = c.svd.u[n * k0 + a];
      for (size_t q = 0; q < C * kk; ++q) t[a * C * kk + q] += u * c.w[n * C * kk + q];
    }
  for (size_t a = 0; a < ro; ++a)
    for (size_t b = 0; b < ri; ++b)
      for (size_t ch = 0; ch < C; ++ch) {
        const double u = c.svd_in.u[ch * k1 + b];
        for (size_t q = 0; q < kk; ++q) core[(a * ri + b) * kk + q] += u * t[(a * C + ch) * kk + q];
      }
  return core;
}

// Weight matrix of the layer as double, row-major rows×cols; empty + *why on refusal.
std::vector<double> weight_matrix(const Node& n, LayerKind kind, const Tensor& t, int64_t* rows, int64_t* cols) {
  std::vector<double> w;
  const float* src = t.as<float>();
  if (kind == LayerKind::ConvSpatial) {
    // M[(c,u), (n,v)] = W[n, c, u, v]: rows C·kh, cols N·kw.
    const int64_t N = t.dims[0], C = t.dims[1], kh = t.dims[2], kw = t.dims[3];
    *rows = C * kh;
    *cols = N * kw;
    w.resize(static_cast<size_t>(N * C * kh * kw));
    for (int64_t o = 0; o < N; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t u = 0; u < kh; ++u)
          for (int64_t v = 0; v < kw; ++v)
            w[static_cast<size_t>((c * kh + u) * (N * kw) + o * kw + v)] = src[((o * C + c) * kh + u) * kw + v];
    return w;
  }
  if (kind == LayerKind::Conv || kind == LayerKind::ConvTucker2) {
    *rows = t.dims[0];
    *cols = 1;
    for (size_t d = 1; d < t.dims.size(); ++d) *cols *= t.dims[d];
    w.assign(src, src + t.numel());
    return w;
  }
  const bool trans_b = kind == LayerKind::Gemm && n.attr_int("transB", 0) != 0;
  const int64_t d0 = t.dims[0], d1 = t.dims[1];
  *rows = trans_b ? d1 : d0;  // K
  *cols = trans_b ? d0 : d1;  // N
  w.resize(static_cast<size_t>(d0 * d1));
  for (int64_t i = 0; i < d0; ++i)
    for (int64_t j = 0; j < d1; ++j) {
      const double x = src[i * d1 + j];
      if (trans_b) w[static_cast<size_t>(j * d0 + i)] = x;
      else w[static_cast<size_t>(i * d1 + j)] = x;
    }
  return w;
}

// [B, C, H, W] of a 4-D value, a symbolic batch counting as 1 (as model_stats does);
// empty when the rank or any other dim is unknown.
std::vector<int64_t> spatial_dims(const ValueInfo* v) {
  if (!v || !v->has_shape || v->shape.size() != 4) return {};
  std::vector<int64_t> d;
  for (size_t i = 0; i < 4; ++i) {
    if (v->shape[i].is_known()) d.push_back(v->shape[i].value);
    else if (i == 0) d.push_back(1);
    else return {};
  }
  return d;
}

bool excluded(const Node& n, const std::vector<std::string>& exclude) {
  for (const auto& e : exclude)
    if (e == n.name || e == n.op_type) return true;
  return false;
}

std::string unique_name(const Graph& g, std::unordered_set<std::string>& taken, const std::string& base) {
  std::string name = fresh_value_name(g, base);
  for (int i = 2; taken.count(name); ++i) name = fresh_value_name(g, base + "_" + std::to_string(i));
  taken.insert(name);
  return name;
}

// Builds the two nodes (and two initializers) that replace candidate c at rank r.
std::vector<Node> rewrite(Graph& g, const Node& n, const Candidate& c, int64_t r, int64_t rows, int64_t cols,
                          std::unordered_set<std::string>& taken, std::vector<std::string>* new_tensors,
                          const std::vector<double>* core = nullptr, size_t core_in = 0) {
  const SvdResult& s = c.svd;
  const size_t k = s.k;
  const size_t ur = static_cast<size_t>(r);
  const std::string base = n.name.empty() ? "lowrank_" + std::to_string(c.node_index) : n.name;
  const std::string w_name = n.inputs[1];
  const std::string a_name = unique_name(g, taken, w_name + "_lowrank_a");
  const std::string b_name = unique_name(g, taken, w_name + "_lowrank_b");
  const std::string mid = unique_name(g, taken, n.outputs[0] + "_lowrank");
  Node first, second;
  first.name = base + "/lowrank_a";
  second.name = base + "/lowrank_b";
  first.outputs = {mid};
  second.outputs = {n.outputs[0]};

  if (c.kind == LayerKind::ConvTucker2) {
    // Three Convs: 1×1 C→in (U_inᵀ), the k×k core in→out (original strides, pads,
    // dilations), 1×1 out→N (U_out, and the bias). `r` is out; the core carries in.
    const size_t N = static_cast<size_t>(c.weight_dims[0]), C = static_cast<size_t>(c.weight_dims[1]);
    const size_t ri = core_in, k1 = c.svd_in.k;
    const std::string m_name = unique_name(g, taken, w_name + "_lowrank_core");
    const std::string mid2 = unique_name(g, taken, n.outputs[0] + "_lowrank_core");
    std::vector<float> fin(ri * C), fcore(core->size()), fout(N * ur);
    for (size_t b = 0; b < ri; ++b)
      for (size_t ch = 0; ch < C; ++ch) fin[b * C + ch] = static_cast<float>(c.svd_in.u[ch * k1 + b]);
    for (size_t q = 0; q < core->size(); ++q) fcore[q] = static_cast<float>((*core)[q]);
    for (size_t o = 0; o < N; ++o)
      for (size_t a = 0; a < ur; ++a) fout[o * ur + a] = static_cast<float>(s.u[o * k + a]);
    const size_t sd = c.weight_dims.size() - 2;
    std::vector<int64_t> d_in(c.weight_dims.size(), 1), d_core = c.weight_dims, d_out(c.weight_dims.size(), 1);
    d_in[0] = static_cast<int64_t>(ri);
    d_in[1] = static_cast<int64_t>(C);
    d_core[0] = r;
    d_core[1] = static_cast<int64_t>(ri);
    d_out[0] = static_cast<int64_t>(N);
    d_out[1] = r;
    g.initializers.push_back(Tensor::make_f32(a_name, d_in, fin));
    g.initializers.push_back(Tensor::make_f32(m_name, d_core, fcore));
    g.initializers.push_back(Tensor::make_f32(b_name, d_out, fout));
    Node third;
    first.op_type = second.op_type = third.op_type = "Conv";
    first.domain = second.domain = third.domain = n.domain;
    third.name = base + "/lowrank_c";
    first.inputs = {n.inputs[0], a_name};
    first.set_attr_ints("kernel_shape", std::vector<int64_t>(sd, 1));
    second.inputs = {mid, m_name};
    second.outputs = {mid2};
    second.attrs = n.attrs;
    third.inputs = {mid2, b_name};
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) third.inputs.push_back(n.inputs[2]);
    third.outputs = {n.outputs[0]};
    third.set_attr_ints("kernel_shape", std::vector<int64_t>(sd, 1));
    new_tensors->push_back(a_name);
    new_tensors->push_back(m_name);
    new_tensors->push_back(b_name);
    return {first, second, third};
  }
  if (c.kind == LayerKind::ConvSpatial) {
    // M = U S Vᵀ with M[(c,u), (n,v)] = W[n,c,u,v]: a kh×1 Conv C→r with weight
    // √s_j·U[(c,u), j] as [r, C, kh, 1], then a 1×kw Conv r→N with √s_j·V[(n,v), j] as
    // [N, r, 1, kw]. Strides, pads and dilations split by axis.
    const int64_t N = c.weight_dims[0], C = c.weight_dims[1], kh = c.weight_dims[2], kw = c.weight_dims[3];
    std::vector<float> fa(static_cast<size_t>(r * C * kh)), fb(static_cast<size_t>(N * r * kw));
    for (int64_t j = 0; j < r; ++j) {
      const double root = std::sqrt(s.s[static_cast<size_t>(j)]);
      for (int64_t q = 0; q < C * kh; ++q)
        fa[static_cast<size_t>(j * C * kh + q)] = static_cast<float>(root * s.u[static_cast<size_t>(q) * k + static_cast<size_t>(j)]);
      for (int64_t o = 0; o < N; ++o)
        for (int64_t v = 0; v < kw; ++v)
          fb[static_cast<size_t>((o * r + j) * kw + v)] =
              static_cast<float>(root * s.v[static_cast<size_t>(o * kw + v) * k + static_cast<size_t>(j)]);
    }
    g.initializers.push_back(Tensor::make_f32(a_name, {r, C, kh, 1}, fa));
    g.initializers.push_back(Tensor::make_f32(b_name, {N, r, 1, kw}, fb));
    const auto st = n.attr_ints("strides", {1, 1}), dl = n.attr_ints("dilations", {1, 1});
    const auto pd = n.attr_ints("pads", {0, 0, 0, 0});
    first.op_type = second.op_type = "Conv";
    first.inputs = {n.inputs[0], a_name};
    first.set_attr_ints("kernel_shape", {kh, 1});
    first.set_attr_ints("strides", {st[0], 1});
    first.set_attr_ints("dilations", {dl[0], 1});
    first.set_attr_ints("pads", {pd[0], 0, pd[2], 0});
    second.inputs = {mid, b_name};
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) second.inputs.push_back(n.inputs[2]);
    second.set_attr_ints("kernel_shape", {1, kw});
    second.set_attr_ints("strides", {1, st[1]});
    second.set_attr_ints("dilations", {1, dl[1]});
    second.set_attr_ints("pads", {0, pd[1], 0, pd[3]});
  } else if (c.kind == LayerKind::Conv) {
    // W [N, C·Πk] = U S Vᵀ: first Conv weight S_r V_rᵀ as [r, C, k...], second U_r as [N, r, 1...].
    std::vector<float> fa(ur * static_cast<size_t>(cols)), fb(static_cast<size_t>(rows) * ur);
    for (size_t j = 0; j < ur; ++j)
      for (size_t q = 0; q < static_cast<size_t>(cols); ++q) fa[j * static_cast<size_t>(cols) + q] =
          static_cast<float>(s.s[j] * s.v[q * k + j]);
    for (size_t i = 0; i < static_cast<size_t>(rows); ++i)
      for (size_t j = 0; j < ur; ++j) fb[i * ur + j] = static_cast<float>(s.u[i * k + j]);
    std::vector<int64_t> da = c.weight_dims;
    da[0] = r;
    std::vector<int64_t> db(c.weight_dims.size(), 1);
    db[0] = rows;
    db[1] = r;
    g.initializers.push_back(Tensor::make_f32(a_name, da, fa));
    g.initializers.push_back(Tensor::make_f32(b_name, db, fb));
    first.op_type = "Conv";
    first.inputs = {n.inputs[0], a_name};
    first.attrs = n.attrs;  // kernel_shape, strides, pads, dilations, auto_pad, group=1
    second.op_type = "Conv";
    second.inputs = {mid, b_name};
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) second.inputs.push_back(n.inputs[2]);
    second.set_attr_ints("kernel_shape", std::vector<int64_t>(c.weight_dims.size() - 2, 1));
  } else {
    // W [K, N] = U S Vᵀ: X·U_r, then ·(alpha·S_r V_rᵀ) (+ beta·C).
    const double alpha = c.kind == LayerKind::Gemm ? n.attr_float("alpha", 1.0f) : 1.0;
    std::vector<float> fa(static_cast<size_t>(rows) * ur), fb(ur * static_cast<size_t>(cols));
    for (size_t i = 0; i < static_cast<size_t>(rows); ++i)
      for (size_t j = 0; j < ur; ++j) fa[i * ur + j] = static_cast<float>(s.u[i * k + j]);
    for (size_t j = 0; j < ur; ++j)
      for (size_t q = 0; q < static_cast<size_t>(cols); ++q)
        fb[j * static_cast<size_t>(cols) + q] = static_cast<float>(alpha * s.s[j] * s.v[q * k + j]);
    g.initializers.push_back(Tensor::make_f32(a_name, {rows, r}, fa));
    g.initializers.push_back(Tensor::make_f32(b_name, {r, cols}, fb));
    const bool trans_a = c.kind == LayerKind::Gemm && n.attr_int("transA", 0) != 0;
    first.op_type = trans_a ? "Gemm" : "MatMul";
    first.inputs = {n.inputs[0], a_name};
    if (trans_a) first.set_attr_int("transA", 1);
    const bool has_c = c.kind == LayerKind::Gemm && n.inputs.size() > 2 && !n.inputs[2].empty();
    second.op_type = has_c ? "Gemm" : "MatMul";
    second.inputs = {mid, b_name};
    if (has_c) {
      second.inputs.push_back(n.inputs[2]);
      const float beta = n.attr_float("beta", 1.0f);
      if (beta != 1.0f) second.set_attr_float("beta", beta);
    }
  }
  first.domain = second.domain = n.domain;
  new_tensors->push_back(a_name);
  new_tensors->push_back(b_name);
  return {first, second};
}

double parse_fraction(const std::string& key, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || errno != 0 || !end || *end != '\0')
    throw Error(ErrorKind::Input, "option " + key + "=" + s + ": expected a number");
  return v;
}

}  // namespace

int LowRankResult::factorized() const {
  int n = 0;
  for (const auto& l : layers) n += l.factorized ? 1 : 0;
  return n;
}

void validate_lowrank_options(const LowRankOptions& o) {
  const int set = (o.rank_ratio ? 1 : 0) + (o.energy ? 1 : 0) + (o.target_params ? 1 : 0);
  if (set == 0) throw Error(ErrorKind::Input, "lowrank: give one of --rank-ratio, --energy or --target-params");
  if (set > 1)
    throw Error(ErrorKind::Input, "lowrank: --rank-ratio, --energy and --target-params exclude each other; give one");
  if (o.rank_ratio && !(*o.rank_ratio > 0.0 && *o.rank_ratio <= 1.0))
    throw Error(ErrorKind::Input, "lowrank: --rank-ratio " + fmt(*o.rank_ratio) + " is outside (0, 1]");
  if (o.energy && !(*o.energy > 0.0 && *o.energy <= 1.0))
    throw Error(ErrorKind::Input, "lowrank: --energy " + fmt(*o.energy) + " is outside (0, 1]");
  if (o.target_params && *o.target_params == 0)
    throw Error(ErrorKind::Input, "lowrank: --target-params must be a positive number of parameters");
}

LowRankResult factorize_low_rank(Model& m, const LowRankOptions& o) {
  validate_lowrank_options(o);
  Graph& g = m.graph;
  for (const auto& e : o.exclude) {
    const bool hit = std::any_of(g.nodes.begin(), g.nodes.end(),
                                 [&](const Node& n) { return n.name == e || n.op_type == e; });
    if (!hit) throw Error(ErrorKind::Input, "lowrank: --exclude '" + e + "' matches no node name or op type");
  }

  const ModelStats before = compute_stats(m);
  LowRankResult res;
  std::vector<Candidate> cands;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.is_default_domain()) continue;
    LayerKind kind;
    if (n.op_type == "Gemm") kind = LayerKind::Gemm;
    else if (n.op_type == "MatMul") kind = LayerKind::MatMul;
    else if (n.op_type == "Conv")
      kind = o.conv == ConvScheme::Spatial   ? LayerKind::ConvSpatial
             : o.conv == ConvScheme::Tucker2 ? LayerKind::ConvTucker2
                                             : LayerKind::Conv;
    else continue;
    LowRankLayer rep;
    rep.node = n.name.empty() ? describe_node(n, i) : n.name;
    rep.op_type = n.op_type;
    rep.weight = n.inputs.size() > 1 ? n.inputs[1] : "";
    auto skip = [&](const std::string& why) {
      rep.reason = why;
      res.layers.push_back(rep);
    };
    if (excluded(n, o.exclude)) { skip("excluded (--exclude)"); continue; }
    const Tensor* t = rep.weight.empty() ? nullptr : g.initializer(rep.weight);
    if (!t) { skip("the weight is not a constant initializer"); continue; }
    if (g.is_graph_input(rep.weight)) { skip("the weight is also a graph input (it can be replaced at run time)"); continue; }
    if (t->dtype != DType::F32) { skip(std::string("weight dtype ") + dtype_name(t->dtype) + " (only float is factorized)"); continue; }
    const ValueInfo* xin = g.value(n.inputs[0]);
    const ValueInfo* yout = g.value(n.outputs[0]);
    // A 1×1 or 1-D kernel has nothing to split spatially: it is a matrix, so the channel split serves it.
    // Tucker-2 of a 1×1 kernel is the channel split with one more layer: use the channel split.
    if ((kind == LayerKind::ConvSpatial || kind == LayerKind::ConvTucker2) &&
        (t->dims.size() != 4 || t->dims[2] < 2 || t->dims[3] < 2))
      kind = LayerKind::Conv;
    rep.scheme = kind == LayerKind::ConvSpatial   ? "spatial"
                 : kind == LayerKind::ConvTucker2 ? "tucker2"
                 : kind == LayerKind::Conv        ? "channel"
                                                  : "svd";
    if (kind == LayerKind::ConvSpatial) {
      if (n.attr_string("auto_pad", "NOTSET") != "NOTSET") { skip("the spatial split needs explicit pads (auto_pad is set)"); continue; }
    }
    if ((kind == LayerKind::ConvSpatial || kind == LayerKind::ConvTucker2) &&
        (spatial_dims(xin).empty() || spatial_dims(yout).empty())) {
      skip("the " + rep.scheme + " split needs known channel and spatial dims of its input and output to count MACs");
      continue;
    }
    if (kind == LayerKind::Conv || kind == LayerKind::ConvSpatial || kind == LayerKind::ConvTucker2) {
      if (n.attr_int("group", 1) != 1) { skip("grouped Conv (group=" + std::to_string(n.attr_int("group", 1)) + ")"); continue; }
      if (t->dims.size() < 3) { skip("Conv weight of rank " + std::to_string(t->dims.size())); continue; }
    } else if (t->dims.size() != 2) {
      skip("the weight is not 2-D");
      continue;
    }
    if (kind == LayerKind::Gemm && n.attr_int("transA", 0) != 0 && m.opset() < 11) {
      skip("transA=1 needs Gemm without C, which opset " + std::to_string(m.opset()) + " < 11 lacks");
      continue;
    }
    if (t->numel() == 0) { skip("empty weight"); continue; }
    const uint64_t n_el = t->numel();
    bool finite = true;
    for (uint64_t q = 0; q < n_el && finite; ++q) finite = std::isfinite(t->as<float>()[q]);
    if (!finite) { skip("the weight holds NaN or Inf"); continue; }

    Candidate c;
    c.node_index = i;
    c.kind = kind;
    c.weight_dims = t->dims;
    int64_t rows = 0, cols = 0;
    const std::vector<double> w = weight_matrix(n, kind, *t, &rows, &cols);
    rep.rows = rows;
    rep.cols = cols;
    rep.full_rank = std::min(rows, cols);
    uint64_t bias = 0;
    if (n.inputs.size() > 2 && !n.inputs[2].empty())
      if (const Tensor* b = g.initializer(n.inputs[2])) bias = b->numel();
    rep.params_before = n_el + bias;
    const LayerStats& ls = before.layers[i];
    if (kind == LayerKind::ConvSpatial) {
      // First layer: output [B, r, Ho, W] at C·kh MACs each; second: [B, N, Ho, Wo] at r·kw each.
      const auto xs = spatial_dims(xin), ys = spatial_dims(yout);
      rep.macs_known = true;
      rep.macs_before = static_cast<uint64_t>(ys[0] * ys[1] * ys[2] * ys[3] * t->dims[1] * t->dims[2] * t->dims[3]);
      c.macs_a = static_cast<uint64_t>(ys[0] * ys[2] * xs[3] * t->dims[1] * t->dims[2]);
      c.macs_b = static_cast<uint64_t>(ys[0] * ys[2] * ys[3] * ys[1] * t->dims[3]);
    } else if (kind == LayerKind::ConvTucker2) {
      // 1×1 C→in at the input's pixels, k×k in→out and 1×1 out→N at the output's.
      const auto xs = spatial_dims(xin), ys = spatial_dims(yout);
      rep.macs_known = true;
      rep.macs_before = static_cast<uint64_t>(ys[0] * ys[1] * ys[2] * ys[3] * t->dims[1] * t->dims[2] * t->dims[3]);
      c.macs_in = static_cast<uint64_t>(xs[0] * xs[2] * xs[3] * t->dims[1]);
      c.macs_core = static_cast<uint64_t>(ys[0] * ys[2] * ys[3] * t->dims[2] * t->dims[3]);
      c.macs_out = static_cast<uint64_t>(ys[0] * ys[2] * ys[3] * ys[1]);
    } else if (ls.macs_known && ls.macs > 0 && ls.macs % n_el == 0) {
      rep.macs_known = true;
      rep.macs_before = ls.macs;
      const uint64_t unit = ls.macs / n_el;  // rows of X, or output pixels
      c.macs_a = unit * static_cast<uint64_t>(rows);
      c.macs_b = unit * static_cast<uint64_t>(cols);
    }
    c.svd = svd_jacobi(w, static_cast<size_t>(rows), static_cast<size_t>(cols));
    const size_t k = c.svd.k;
    double total = 0.0;
    for (double sv : c.svd.s) total += sv * sv;
    if (total == 0.0) { skip("the weight is all zeros"); continue; }
    c.head.assign(k + 1, 0.0);
    c.tail.assign(k + 1, 0.0);
    for (size_t r = 0; r < k; ++r) c.head[r + 1] = c.head[r] + c.svd.s[r] * c.svd.s[r] / total;
    for (size_t r = k; r-- > 0;) c.tail[r] = c.tail[r + 1] + c.svd.s[r] * c.svd.s[r] / total;
    if (kind == LayerKind::ConvTucker2) {
      // Mode-1 unfolding W_(1)[c, (n, s)] = W[n, c, s].
      const size_t N = static_cast<size_t>(t->dims[0]), C = static_cast<size_t>(t->dims[1]);
      const size_t kk = static_cast<size_t>(n_el) / (N * C);
      std::vector<double> w1(static_cast<size_t>(n_el));
      for (size_t o2 = 0; o2 < N; ++o2)
        for (size_t ch = 0; ch < C; ++ch)
          for (size_t q = 0; q < kk; ++q) w1[ch * N * kk + o2 * kk + q] = w[(o2 * C + ch) * kk + q];
      c.svd_in = svd_jacobi(w1, C, N * kk);
      c.head_in.assign(c.svd_in.k + 1, 0.0);
      for (size_t r = 0; r < c.svd_in.k; ++r)
        c.head_in[r + 1] = c.head_in[r] + c.svd_in.s[r] * c.svd_in.s[r] / total;
      c.w = w;
      rep.full_rank_in = static_cast<int64_t>(c.svd_in.k);
    }
    c.report = res.layers.size();
    res.layers.push_back(rep);
    cands.push_back(std::move(c));
  }

  // Rank per candidate.
  auto layer_params = [&](const Candidate& c, Ranks r) {
    const LowRankLayer& l = res.layers[c.report];
    const bool take = !o.only_if_cheaper || cheaper(c, l, r);
    return take ? params_at(c, l, r) : static_cast<uint64_t>(l.rows * l.cols);
  };
  std::vector<Ranks> ranks(cands.size());
  if (o.rank_ratio) {
    res.mode = "rank_ratio=" + fmt(*o.rank_ratio);
    for (size_t i = 0; i < cands.size(); ++i) ranks[i] = ranks_for_ratio(cands[i], *o.rank_ratio);
  } else if (o.energy) {
    res.mode = "energy=" + fmt(*o.energy);
    res.chosen_energy = *o.energy;
    for (size_t i = 0; i < cands.size(); ++i) ranks[i] = ranks_for_energy(cands[i], *o.energy);
  } else {
    // The model's params are monotone in a common energy threshold E; try every
    // threshold at which some layer's rank changes and keep the largest that fits.
    uint64_t fixed = before.params;
    for (const auto& c : cands) fixed -= static_cast<uint64_t>(res.layers[c.report].rows * res.layers[c.report].cols);
    std::vector<double> energies;
    for (const auto& c : cands)
    {
      for (size_t r = 1; r < c.head.size(); ++r) energies.push_back(c.head[r]);
      for (size_t r = 1; r < c.head_in.size(); ++r) energies.push_back(c.head_in[r]);
    }
    std::sort(energies.begin(), energies.end());
    energies.erase(std::unique(energies.begin(), energies.end()), energies.end());
    auto total_at = [&](double e) {
      uint64_t p = fixed;
      for (const auto& c : cands) p += layer_params(c, ranks_for_energy(c, e));
      return p;
    };
    bool found = false;
    for (size_t i = energies.size(); i-- > 0;)
      if (total_at(energies[i]) <= *o.target_params) {
        res.chosen_energy = energies[i];
        found = true;
        break;
      }
    if (!found) {
      const uint64_t least = energies.empty() ? before.params : total_at(0.0);
      throw Error(ErrorKind::Input, "lowrank: --target-params " + std::to_string(*o.target_params) +
                                        " cannot be reached: rank 1 in every factorizable layer leaves " +
                                        std::to_string(least) + " params");
    }
    res.mode = "target_params=" + std::to_string(*o.target_params) + " (energy=" + fmt(res.chosen_energy) + ")";
    for (size_t i = 0; i < cands.size(); ++i) ranks[i] = ranks_for_energy(cands[i], res.chosen_energy);
  }

  // Rewrite.
  std::vector<std::vector<Node>> replacement(g.nodes.size());
  std::vector<bool> replaced(g.nodes.size(), false);
  std::unordered_set<std::string> taken;
  std::vector<std::string> old_weights;
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    LowRankLayer& l = res.layers[c.report];
    const Ranks rk = ranks[i];
    const int64_t r = rk.out;
    l.rank = r;
    l.rank_in = rk.in;
    l.energy = c.head[static_cast<size_t>(r)];
    l.rel_error = std::sqrt(std::max(0.0, c.tail[static_cast<size_t>(r)]));
    std::vector<double> core;
    if (c.kind == LayerKind::ConvTucker2) {
      // W_r = W ×0 P_out ×1 P_in is an orthogonal projection of W, so
      // ‖W − W_r‖² = ‖W‖² − ‖core‖².
      core = tucker_core(c, rk);
      double wn = 0, cn = 0;
      for (double x : c.w) wn += x * x;
      for (double x : core) cn += x * x;
      l.energy = std::min(1.0, cn / wn);
      l.rel_error = std::sqrt(std::max(0.0, 1.0 - cn / wn));
    }
    const uint64_t bias = l.params_before - static_cast<uint64_t>(l.rows * l.cols);
    if (o.only_if_cheaper && !cheaper(c, l, rk)) {
      l.params_after = l.params_before;
      l.macs_after = l.macs_before;
      l.reason = "rank " + std::to_string(r) + " of " + std::to_string(l.full_rank) +
                 (rk.in ? " (input rank " + std::to_string(rk.in) + " of " + std::to_string(l.full_rank_in) + ")" : "") +
                 " would not reduce MACs and params: " + std::to_string(params_at(c, l, rk)) + " params vs " +
                 std::to_string(l.rows * l.cols);
      if (l.macs_known)
        l.reason += ", " + std::to_string(macs_at(c, rk)) + " MACs vs " + std::to_string(l.macs_before);
      continue;
    }
    const Node& n = g.nodes[c.node_index];
    replacement[c.node_index] =
        rewrite(g, n, c, r, l.rows, l.cols, taken, &res.new_tensors, &core, static_cast<size_t>(rk.in));
    replaced[c.node_index] = true;
    old_weights.push_back(n.inputs[1]);
    l.factorized = true;
    l.params_after = params_at(c, l, rk) + bias;
    if (l.macs_known) l.macs_after = macs_at(c, rk);
  }
  if (old_weights.empty()) return res;
  // The factors of a finite matrix are finite; check anyway before anything is written
  // (security.md: silent collapse).
  for (const auto& name : res.new_tensors) {
    const Tensor* t = g.initializer(name);
    for (uint64_t q = 0; t && q < t->numel(); ++q)
      if (!std::isfinite(t->as<float>()[q]))
        throw Error(ErrorKind::Gate, "lowrank produced a non-finite value in tensor '" + name + "'; nothing was written");
  }
  std::vector<Node> nodes;
  nodes.reserve(g.nodes.size() + old_weights.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!replaced[i]) nodes.push_back(std::move(g.nodes[i]));
    else for (auto& nn : replacement[i]) nodes.push_back(std::move(nn));
  }
  g.nodes = std::move(nodes);
  const auto uses = count_value_uses(g);
  for (const auto& w : old_weights)
    if (!uses.count(w) && g.initializer(w)) g.remove_initializer(w);
  const std::string shape_error = refresh_shapes(m);
  if (!shape_error.empty())
    throw Error(ErrorKind::Internal, "lowrank: shape inference failed on the factorized model: " + shape_error);
  return res;
}

LowRankOptions lowrank_options_from(const PassContext& ctx) {
  LowRankOptions o;
  auto get = [&](const char* key) -> const std::string* {
    auto it = ctx.options.find(std::string("lowrank.") + key);
    return it == ctx.options.end() ? nullptr : &it->second;
  };
  if (const auto* s = get("rank_ratio")) o.rank_ratio = parse_fraction("lowrank.rank_ratio", *s);
  if (const auto* s = get("energy")) o.energy = parse_fraction("lowrank.energy", *s);
  if (get("target_params")) o.target_params = ctx.option_u64("lowrank.target_params", 0);
  if (const auto* s = get("exclude")) {
    std::stringstream ss(*s);
    std::string tok;
    while (std::getline(ss, tok, ','))
      if (!tok.empty()) o.exclude.push_back(tok);
  }
  return o;
}

PassReport lowrank(Model& m, PassContext& ctx) {
  const LowRankResult res = factorize_low_rank(m, lowrank_options_from(ctx));
  PassReport r;
  r.pass = "lowrank";
  uint64_t pb = 0, pa = 0;
  for (const auto& l : res.layers) {
    pb += l.params_before;
    pa += l.factorized ? l.params_after : l.params_before;
    if (l.factorized)
      r.changes.push_back(l.node + " (" + l.op_type + "): rank " + std::to_string(l.rank) + " of " +
                          std::to_string(l.full_rank) + ", energy " + fmt(l.energy) + ", error " +
                          fmt(l.rel_error) + ", params " + std::to_string(l.params_before) + " → " +
                          std::to_string(l.params_after));
    else
      r.left_alone.push_back(l.node + " (" + l.op_type + "): " + l.reason);
  }
  const int f = res.factorized();
  r.summary = "factorized " + std::to_string(f) + " of " + std::to_string(res.layers.size()) + " layers (" +
              res.mode + "), layer params " + std::to_string(pb) + " → " + std::to_string(pa);
  r.counters["factorized"] = f;
  r.counters["left_alone"] = static_cast<int64_t>(res.layers.size()) - f;
  r.new_tensors = res.new_tensors;
  return r;
}

}  // namespace mc
