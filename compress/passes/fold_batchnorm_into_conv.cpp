// fold_batchnorm_into_conv: BatchNormalization(inference) right after a Conv,
// ConvTranspose or Gemm is an affine map per output channel c,
//     y = (x - mean[c]) * s[c] + beta[c],   s[c] = gamma[c] / sqrt(var[c] + eps),
// so it folds into the producer's weights and bias, in fp32:
//     w'[c, ...] = w[c, ...] * s[c],   b'[c] = (b[c] - mean[c]) * s[c] + beta[c].
// Where the output channel sits in the weight:
//   Conv          W [C_out, C_in/group, k...]            channel = dim 0
//   ConvTranspose W [C_in, C_out/group, k...]            channel = (i / (C_in/group)) * (C_out/group) + j
//   Gemm          B [K, N] (transB=0) or [N, K] (transB=1), channel = column n; bias = beta_gemm * C
// Conditions: the producer's output has no other reader and is not a graph output;
// every BN parameter and the producer's weight and bias are fp32 constants; BN is in
// inference mode with only its first output read. The folded weight and bias are
// new initializers (the originals may be shared by other nodes and are never written);
// eliminate_dead_nodes drops the originals when nothing else reads them.
#include <cmath>
#include <cstring>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"

namespace mc {
namespace {

// An fp32 constant (initializer, not overridable as a graph input), or nullptr.
const Tensor* f32_constant(const Graph& g, const std::string& name) {
  if (name.empty() || g.is_graph_input(name)) return nullptr;
  const Tensor* t = g.initializer(name);
  return t && t->dtype == DType::F32 ? t : nullptr;
}

std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> v(t.numel());
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * 4);
  return v;
}

struct BnParams {
  std::vector<float> scale;  // s[c]
  std::vector<float> mean, beta;
};

bool bn_params(const Model& m, const Node& bn, BnParams* p, std::string* why) {
  const Graph& g = m.graph;
  const int64_t opset = m.opset("");
  if (bn.inputs.size() != 5) return *why = "expects 5 inputs", false;
  if (opset < 7 && bn.attr_int("is_test", 0) == 0) return *why = "training mode (is_test=0)", false;
  if (opset < 9 && bn.attr_int("spatial", 1) == 0) return *why = "spatial=0 is not folded", false;
  if (opset >= 14 && bn.attr_int("training_mode", 0) != 0) return *why = "training_mode=1", false;
  for (size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty() && count_value_uses(g).count(bn.outputs[k]))
      return *why = "a training output is read", false;
  const Tensor* t[4];
  for (int k = 0; k < 4; ++k) {
    t[k] = f32_constant(g, bn.inputs[k + 1]);
    if (!t[k] || t[k]->dims.size() != 1) return *why = "parameters are not 1-D fp32 constants", false;
    if (t[k]->dims[0] != t[0]->dims[0]) return *why = "parameters differ in length", false;
  }
  const float eps = bn.attr_float("epsilon", 1e-5f);
  const auto gamma = floats_of(*t[0]), var = floats_of(*t[3]);
  p->beta = floats_of(*t[1]);
  p->mean = floats_of(*t[2]);
  p->scale.resize(gamma.size());
  for (size_t c = 0; c < gamma.size(); ++c) p->scale[c] = gamma[c] / std::sqrt(var[c] + eps);
  return true;
}

}  // namespace

PassReport fold_batchnorm_into_conv(Model& m, PassContext&) {
  PassReport r;
  Graph& g = m.graph;
  int64_t folded = 0;
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& bn = g.nodes[i];
    if (!bn.is_default_domain() || bn.op_type != "BatchNormalization" || bn.inputs.empty()) continue;
    auto leave = [&](const std::string& why) { r.left_alone.push_back(describe_node(bn, i) + ": " + why); };
    const std::string x = bn.inputs[0];
    size_t pi = g.nodes.size();
    for (size_t p = 0; p < i; ++p)
      if (!remove[p] && !g.nodes[p].outputs.empty() && g.nodes[p].outputs[0] == x) pi = p;
    if (pi == g.nodes.size()) { leave("input is not produced by a node"); continue; }
    Node& p = g.nodes[pi];
    const std::string op = p.op_type;
    if (!p.is_default_domain() || (op != "Conv" && op != "ConvTranspose" && op != "Gemm")) {
      leave("input comes from " + p.op_type + ", not Conv, ConvTranspose or Gemm");
      continue;
    }
    if (g.is_graph_output(x) || count_value_uses(g)[x] != 1) {
      leave("the " + op + " output has other readers or is a graph output");
      continue;
    }
    std::string why;
    BnParams bp;
    if (!bn_params(m, bn, &bp, &why)) { leave(why); continue; }
    const int64_t C = static_cast<int64_t>(bp.scale.size());
    const Tensor* w = p.inputs.size() > 1 ? f32_constant(g, p.inputs[1]) : nullptr;
    if (!w) { leave(op + " weight is not an fp32 constant"); continue; }
    const bool has_bias = p.inputs.size() > 2 && !p.inputs[2].empty();
    const Tensor* b = has_bias ? f32_constant(g, p.inputs[2]) : nullptr;
    if (has_bias && !b) { leave(op + " bias is not an fp32 constant"); continue; }

    // channel_of(k) maps weight element k to its output channel.
    const uint64_t wn = w->numel();
    std::vector<float> wv = floats_of(*w);
    std::vector<float> bias(C, 0.f);
    std::vector<int64_t> ch_of(wn);
    if (op == "Conv") {
      if (w->dims.size() < 3 || w->dims[0] != C) { leave("Conv weight does not have " + std::to_string(C) + " output channels"); continue; }
      const uint64_t per = wn / C;
      for (uint64_t k = 0; k < wn; ++k) ch_of[k] = static_cast<int64_t>(k / per);
    } else if (op == "ConvTranspose") {
      const int64_t group = p.attr_int("group", 1);
      if (w->dims.size() < 3 || group <= 0 || w->dims[0] % group || w->dims[1] * group != C) {
        leave("ConvTranspose weight does not have " + std::to_string(C) + " output channels");
        continue;
      }
      const int64_t cin_g = w->dims[0] / group, cout_g = w->dims[1];
      uint64_t spatial = 1;
      for (size_t d = 2; d < w->dims.size(); ++d) spatial *= static_cast<uint64_t>(w->dims[d]);
      for (uint64_t k = 0; k < wn; ++k) {
        const int64_t ci = static_cast<int64_t>(k / (cout_g * spatial));
        const int64_t j = static_cast<int64_t>((k / spatial) % cout_g);
        ch_of[k] = (ci / cin_g) * cout_g + j;
      }
    } else {  // Gemm
      if (m.opset("") < 7) { leave("Gemm before opset 7 is not folded"); continue; }
      const bool trans_b = p.attr_int("transB", 0) != 0;
      if (w->dims.size() != 2 || w->dims[trans_b ? 0 : 1] != C) {
        leave("Gemm B does not have " + std::to_string(C) + " output columns");
        continue;
      }
      const int64_t cols = w->dims[1];
      for (uint64_t k = 0; k < wn; ++k)
        ch_of[k] = trans_b ? static_cast<int64_t>(k) / cols : static_cast<int64_t>(k) % cols;
    }
    if (b) {
      const float beta_gemm = op == "Gemm" ? p.attr_float("beta", 1.f) : 1.f;
      const auto bv = floats_of(*b);
      const auto& bd = b->dims;
      const bool per_channel = (bd.size() == 1 && bd[0] == C) || (bd.size() == 2 && bd[0] == 1 && bd[1] == C);
      const bool scalar = b->numel() == 1 && bd.size() <= (op == "Gemm" ? 2u : 1u);
      if (op != "Gemm" && !(bd.size() == 1 && bd[0] == C)) { leave(op + " bias is not [C]"); continue; }
      if (!per_channel && !scalar) { leave("Gemm C is not broadcast per column"); continue; }
      for (int64_t c = 0; c < C; ++c) bias[c] = beta_gemm * bv[per_channel ? c : 0];
    }
    for (uint64_t k = 0; k < wn; ++k) wv[k] = wv[k] * bp.scale[ch_of[k]];
    for (int64_t c = 0; c < C; ++c) bias[c] = (bias[c] - bp.mean[c]) * bp.scale[c] + bp.beta[c];

    Tensor nw = Tensor::make_f32(fresh_value_name(g, w->name + "_bnfolded"), w->dims, wv);
    const std::string bn_out = bn.outputs[0];
    const std::string bias_base = (b ? b->name : (p.name.empty() ? bn_out : p.name) + "_bias") + "_bnfolded";
    Tensor nb = Tensor::make_f32(fresh_value_name(g, bias_base), {C}, bias);
    const std::string wname = nw.name, bname = nb.name;
    g.initializers.push_back(std::move(nw));
    g.initializers.push_back(std::move(nb));
    Node& prod = g.nodes[pi];  // re-fetch: nothing above reallocates nodes, but be explicit
    if (prod.inputs.size() < 3) prod.inputs.resize(3);
    prod.inputs[1] = wname;
    prod.inputs[2] = bname;
    if (op == "Gemm") prod.set_attr_float("beta", 1.f);
    prod.outputs[0] = bn_out;
    r.new_tensors.push_back(wname);
    r.new_tensors.push_back(bname);
    r.changes.push_back("folded " + describe_node(g.nodes[i], i) + " into " + describe_node(prod, pi) + " (" +
                        std::to_string(C) + " channels)");
    remove[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!remove[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  r.counters["folded"] = folded;
  r.counters["left_alone"] = static_cast<int64_t>(r.left_alone.size());
  r.summary = "folded " + std::to_string(folded) + " BatchNormalization node(s) into the preceding layer";
  if (!r.left_alone.empty()) r.summary += ", " + std::to_string(r.left_alone.size()) + " kept";
  return r;
}

}  // namespace mc
