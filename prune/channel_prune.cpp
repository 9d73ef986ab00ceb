#include "prune/channel_prune.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/refresh_shapes.h"
#include "prune/prunable_layers.h"

namespace mc::prune {
namespace {

struct Segment {
  int space;      // -1: channels that cannot be removed
  int64_t len;    // channels
  int64_t inner;  // axis-1 positions per channel
};
using Layout = std::vector<Segment>;

int64_t layout_size(const Layout& l) {
  int64_t s = 0;
  for (const auto& seg : l) s += seg.len * seg.inner;
  return s;
}

struct Space {
  size_t producer;   // node index
  int64_t channels;
};

// A slice to apply once the kept channels are known: input `input` of node `node`
// (an initializer) loses positions along `axis`, following `layout`.
struct SliceJob {
  size_t node;
  size_t input;
  size_t axis;
  Layout layout;
};

const std::set<std::string> kPassThrough = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus",
    "Softsign", "Identity", "Dropout", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "Neg", "Abs", "Clip", "Erf", "Celu", "ThresholdedRelu", "Mish", "Floor", "Ceil", "Round", "Sqrt",
    "Exp", "Log", "Reciprocal", "Sign"};
const std::set<std::string> kElementwise = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu"};

class ChannelAnalysis {
 public:
  ChannelAnalysis(const Model& m, const PruneOptions& o) : m_(m), g_(m.graph), opts_(o) {
    for (const auto& n : g_.nodes)
      for (const auto& in : n.inputs) ++uses_[in];
    for (const auto& o2 : g_.outputs) ++uses_[o2.name];
  }

  std::vector<Space> spaces;
  std::vector<int> parent;
  std::vector<std::string> blocked;  // per space; the first reason found
  std::vector<SliceJob> jobs;        // consumer-side slices
  std::vector<std::pair<size_t, Layout>> depthwise;  // node, its input layout
  std::vector<std::string> skipped;

  int find(int s) {
    while (parent[static_cast<size_t>(s)] != s) s = parent[static_cast<size_t>(s)] = parent[static_cast<size_t>(parent[static_cast<size_t>(s)])];
    return s;
  }

  void run() {
    for (size_t i = 0; i < g_.nodes.size(); ++i) visit(i);
    for (const auto& o : g_.outputs) block(o.name, "its channels are a graph output ('" + o.name + "')");
  }

 private:
  const Model& m_;
  const Graph& g_;
  const PruneOptions& opts_;
  std::unordered_map<std::string, int> uses_;
  std::unordered_map<std::string, Layout> layout_;

  const Layout* layout_of(const std::string& v) const {
    auto it = layout_.find(v);
    return it == layout_.end() ? nullptr : &it->second;
  }
  void block(const Layout& l, const std::string& why) {
    for (const auto& s : l)
      if (s.space >= 0 && blocked[static_cast<size_t>(s.space)].empty()) blocked[static_cast<size_t>(s.space)] = why;
  }
  void block(const std::string& v, const std::string& why) {
    if (const Layout* l = layout_of(v)) block(*l, why);
  }
  void block_inputs(const Node& n, size_t idx, const std::string& why) {
    for (const auto& in : n.inputs) block(in, why + " " + describe_node(n, idx));
    for (const auto& in : subgraph_outer_reads(n)) block(in, "read by a subgraph of " + describe_node(n, idx));
  }
  int rank_of(const std::string& v) const {
    const ValueInfo* vi = g_.value(v);
    return vi && vi->has_shape ? static_cast<int>(vi->shape.size()) : -1;
  }
  const Tensor* const_f32(const std::string& v) const {
    const Tensor* t = v.empty() ? nullptr : g_.initializer(v);
    return t && t->dtype == DType::F32 ? t : nullptr;
  }
  void open_space(size_t idx, const Node& n, int64_t channels) {
    if (node_excluded(n, opts_.exclude)) {
      skipped.push_back(describe_node(n, idx) + ": excluded by --exclude");
      return;
    }
    spaces.push_back({idx, channels});
    parent.push_back(static_cast<int>(parent.size()));
    blocked.emplace_back();
    layout_[n.outputs[0]] = {{static_cast<int>(spaces.size()) - 1, channels, 1}};
    if (uses_[n.inputs[1]] > 1) blocked.back() = "its weight '" + n.inputs[1] + "' is shared with another node";
  }

  void visit(size_t idx) {
    const Node& n = g_.nodes[idx];
    const Layout* in0 = n.inputs.empty() ? nullptr : layout_of(n.inputs[0]);
    bool any_layout = false;
    for (const auto& in : n.inputs) any_layout = any_layout || layout_of(in);
    if (!n.is_default_domain() || !subgraph_outer_reads(n).empty()) {
      block_inputs(n, idx, "read by");
      return;
    }
    const std::string& op = n.op_type;
    if (op == "Conv") return visit_conv(idx, n, in0);
    if (op == "Gemm") return visit_gemm(idx, n, in0);
    if (!any_layout) return;
    // From here on the node reads pruned channels.
    for (size_t k = 1; k < n.inputs.size(); ++k)
      if (layout_of(n.inputs[k]) && !kElementwise.count(op) && op != "Concat" && op != "Sum") {
        block_inputs(n, idx, "read (not as data) by");
        return;
      }
    if (op == "MatMul") {
      const Tensor* b = const_f32(n.inputs[1]);
      if (in0 && b && b->dims.size() == 2 && rank_of(n.inputs[0]) == 2 && b->dims[0] == layout_size(*in0)) {
        jobs.push_back({idx, 1, 0, *in0});
        return;
      }
      return block_inputs(n, idx, "read by");
    }
    if (op == "BatchNormalization") {
      if (!in0 || n.outputs.size() != 1) return block_inputs(n, idx, "read by");
      for (size_t k = 1; k < 5 && k < n.inputs.size(); ++k) {
        const Tensor* t = g_.initializer(n.inputs[k]);
        if (!t || t->dims.size() != 1 || t->dims[0] != layout_size(*in0))
          return block_inputs(n, idx, "per-channel parameter of");
      }
      for (size_t k = 1; k < 5 && k < n.inputs.size(); ++k) jobs.push_back({idx, k, 0, *in0});
      layout_[n.outputs[0]] = *in0;
      return;
    }
    if (kPassThrough.count(op)) {
      if (!in0) return block_inputs(n, idx, "read by");
      for (size_t k = 1; k < n.outputs.size(); ++k)
        if (!n.outputs[k].empty()) return block_inputs(n, idx, "second output of");
      if (op == "Clip")
        for (size_t k = 1; k < n.inputs.size(); ++k) {
          const Tensor* t = n.inputs[k].empty() ? nullptr : g_.initializer(n.inputs[k]);
          if (!n.inputs[k].empty() && (!t || t->numel() != 1)) return block_inputs(n, idx, "non-scalar bound of");
        }
      layout_[n.outputs[0]] = *in0;
      return;
    }
    if (kElementwise.count(op)) return visit_elementwise(idx, n);
    if (op == "Flatten") {
      const ValueInfo* vi = g_.value(n.inputs[0]);
      int64_t axis = n.attr_int("axis", 1);
      if (!in0 || !vi || !vi->has_shape || (axis != 1 && axis != 1 - static_cast<int64_t>(vi->shape.size())))
        return block_inputs(n, idx, "read by");
      int64_t hw = 1;
      for (size_t d = 2; d < vi->shape.size(); ++d) {
        if (!vi->shape[d].is_known()) return block_inputs(n, idx, "unknown spatial size at");
        hw *= vi->shape[d].value;
      }
      Layout out = *in0;
      for (auto& s : out) s.inner *= hw;
      layout_[n.outputs[0]] = out;
      return;
    }
    if (op == "Concat") {
      const int r = rank_of(n.outputs[0]);
      int64_t axis = n.attr_int("axis", 0);
      if (r > 0 && axis < 0) axis += r;
      if (axis != 1) return block_inputs(n, idx, "Concat on an axis other than 1,");
      Layout out;
      for (const auto& in : n.inputs) {
        if (const Layout* l = layout_of(in)) {
          out.insert(out.end(), l->begin(), l->end());
          continue;
        }
        const ValueInfo* vi = g_.value(in);
        if (!vi || !vi->has_shape || vi->shape.size() < 2 || !vi->shape[1].is_known())
          return block_inputs(n, idx, "unknown channel count at");
        out.push_back({-1, vi->shape[1].value, 1});
      }
      layout_[n.outputs[0]] = out;
      return;
    }
    block_inputs(n, idx, "read by");
  }

  void visit_conv(size_t idx, const Node& n, const Layout* in0) {
    const Tensor* w = n.inputs.size() > 1 ? const_f32(n.inputs[1]) : nullptr;
    const bool bias_ok = n.inputs.size() < 3 || n.inputs[2].empty() || const_f32(n.inputs[2]);
    const int64_t group = n.attr_int("group", 1);
    if (!w || w->dims.size() < 3 || !bias_ok || n.outputs.size() != 1) {
      if (!w && n.inputs.size() > 1) block(n.inputs[1], "used as a Conv weight by " + describe_node(n, idx));
      return block_inputs(n, idx, "read by");
    }
    for (size_t k = 1; k < n.inputs.size(); ++k)
      if (layout_of(n.inputs[k])) return block_inputs(n, idx, "read (not as data) by");
    const int64_t cout = w->dims[0];
    if (group == 1) {
      if (in0) {
        if (layout_size(*in0) != w->dims[1]) return block_inputs(n, idx, "channel count mismatch at");
        jobs.push_back({idx, 1, 1, *in0});
      }
      open_space(idx, n, cout);
      return;
    }
    // Depthwise (one filter per input channel): channels pass through.
    if (in0 && group == cout && w->dims[1] == 1 && layout_size(*in0) == group) {
      depthwise.emplace_back(idx, *in0);
      layout_[n.outputs[0]] = *in0;
      return;
    }
    if (in0) block(*in0, "read by grouped " + describe_node(n, idx) + " (group " + std::to_string(group) + ")");
  }

  void visit_gemm(size_t idx, const Node& n, const Layout* in0) {
    const Tensor* b = n.inputs.size() > 1 ? const_f32(n.inputs[1]) : nullptr;
    const bool trans_b = n.attr_int("transB", 0) != 0;
    if (!b || b->dims.size() != 2 || n.attr_int("transA", 0) != 0 || n.outputs.size() != 1)
      return block_inputs(n, idx, "read by");
    for (size_t k = 1; k < n.inputs.size(); ++k)
      if (layout_of(n.inputs[k])) return block_inputs(n, idx, "read (not as data) by");
    const int64_t k_dim = trans_b ? b->dims[1] : b->dims[0];
    const int64_t cout = trans_b ? b->dims[0] : b->dims[1];
    if (in0) {
      if (layout_size(*in0) != k_dim) return block_inputs(n, idx, "channel count mismatch at");
      jobs.push_back({idx, 1, trans_b ? size_t{1} : size_t{0}, *in0});
    }
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const Tensor* c = const_f32(n.inputs[2]);
      const bool per_out = c && !c->dims.empty() && c->dims.back() == cout && c->numel() == static_cast<uint64_t>(cout);
      const bool scalar = c && c->numel() == 1;
      if (!per_out && !(scalar && cout != 1)) {
        skipped.push_back(describe_node(n, idx) + ": its C input is not a per-output constant; outputs kept");
        return;
      }
    }
    open_space(idx, n, cout);
  }

  void visit_elementwise(size_t idx, const Node& n) {
    const int r = rank_of(n.outputs[0]);
    std::vector<const Layout*> ls;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const std::string& in = n.inputs[k];
      if (const Layout* l = layout_of(in)) {
        if (rank_of(in) != r) return block_inputs(n, idx, "broadcast by");
        ls.push_back(l);
        continue;
      }
      const Tensor* t = g_.initializer(in);
      if (!t) return block_inputs(n, idx, "tied to channels that cannot be removed by");
      if (r < 0) return block_inputs(n, idx, "unknown rank at");
      const int64_t ax = 1 - (static_cast<int64_t>(r) - static_cast<int64_t>(t->dims.size()));
      if (ax < 0 || t->dims[static_cast<size_t>(ax)] == 1) continue;  // broadcast along channels
      jobs.push_back({idx, k, static_cast<size_t>(ax), Layout{}});    // layout filled below
    }
    const Layout& first = *ls[0];
    for (size_t k = 1; k < ls.size(); ++k) {
      const Layout& o = *ls[k];
      bool same = o.size() == first.size();
      for (size_t s = 0; same && s < o.size(); ++s)
        same = o[s].len == first[s].len && o[s].inner == first[s].inner && (o[s].space < 0) == (first[s].space < 0);
      if (!same) return block_inputs(n, idx, "channels of different layouts meet at");
    }
    for (auto& j : jobs)
      if (j.node == idx && j.layout.empty()) {
        const Tensor* t = g_.initializer(n.inputs[j.input]);
        if (t->dims[j.axis] != layout_size(first)) {
          jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [&](const SliceJob& x) { return x.node == idx; }), jobs.end());
          return block_inputs(n, idx, "constant operand of unexpected shape at");
        }
        j.layout = first;
      }
    for (size_t k = 1; k < ls.size(); ++k)
      for (size_t s = 0; s < first.size(); ++s)
        if (first[s].space >= 0) {
          const int a = find(first[s].space), b = find((*ls[k])[s].space);
          if (a != b) {
            parent[static_cast<size_t>(b)] = a;
            if (blocked[static_cast<size_t>(a)].empty()) blocked[static_cast<size_t>(a)] = blocked[static_cast<size_t>(b)];
          }
        }
    layout_[n.outputs[0]] = first;
  }
};

// Which axis-1 positions of a value with layout `l` survive.
std::vector<int64_t> kept_positions(const Layout& l, const std::vector<std::vector<int64_t>>& keep_of_space) {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const auto& s : l) {
    std::vector<int64_t> all;
    const std::vector<int64_t>* keep = s.space >= 0 ? &keep_of_space[static_cast<size_t>(s.space)] : nullptr;
    if (!keep || keep->empty()) {
      all.resize(static_cast<size_t>(s.len));
      std::iota(all.begin(), all.end(), int64_t{0});
      keep = &all;
    }
    for (int64_t c : *keep)
      for (int64_t j = 0; j < s.inner; ++j) out.push_back(offset + c * s.inner + j);
    offset += s.len * s.inner;
  }
  return out;
}

// The scale (gamma) of the BatchNormalization that is the only reader of p's output, when
// it is a float constant of C elements; nullptr otherwise.
const Tensor* bn_scale_after(const Graph& g, const Node& p, int64_t C) {
  if (p.outputs.empty() || g.is_graph_output(p.outputs[0])) return nullptr;
  const Node* bn = nullptr;
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs)
      if (in == p.outputs[0]) {
        if (bn) return nullptr;
        bn = &n;
      }
  if (!bn || bn->op_type != "BatchNormalization" || !bn->is_default_domain() || bn->inputs.size() < 2 ||
      bn->inputs[0] != p.outputs[0])
    return nullptr;
  const Tensor* gamma = g.initializer(bn->inputs[1]);
  if (!gamma || gamma->dtype != DType::F32 || gamma->numel() != static_cast<uint64_t>(C)) return nullptr;
  return gamma;
}

// Slices input `input` of node `node_idx` (an initializer) along `axis`, keeping `keep`.
// An initializer read elsewhere too is copied under a fresh name first.
void slice_input(Graph& g, size_t node_idx, size_t input, size_t axis, const std::vector<int64_t>& keep) {
  std::string name = g.nodes[node_idx].inputs[input];
  int uses = 0;
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs) uses += in == name;
  if (g.is_graph_output(name)) ++uses;
  if (uses > 1) {
    Tensor copy = *g.initializer(name);
    copy.name = fresh_value_name(g, name + "_pruned");
    name = copy.name;
    g.initializers.push_back(std::move(copy));
    g.nodes[node_idx].inputs[input] = name;
  }
  Tensor* t = g.initializer(name);
  const uint32_t bits = dtype_info(t->dtype).bits;
  if (bits == 0 || bits % 8 != 0)
    throw Error(ErrorKind::Input, "cannot slice tensor '" + name + "' of dtype " + dtype_name(t->dtype));
  const size_t es = bits / 8;
  uint64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(t->dims[d]);
  for (size_t d = axis + 1; d < t->dims.size(); ++d) inner *= static_cast<uint64_t>(t->dims[d]);
  const uint64_t len = static_cast<uint64_t>(t->dims[axis]);
  std::vector<uint8_t> out(outer * keep.size() * inner * es);
  uint8_t* dst = out.data();
  for (uint64_t o = 0; o < outer; ++o)
    for (int64_t k : keep) {
      std::memcpy(dst, t->data.data() + ((o * len + static_cast<uint64_t>(k)) * inner) * es, inner * es);
      dst += inner * es;
    }
  t->data = std::move(out);
  t->dims[axis] = static_cast<int64_t>(keep.size());
}

double filter_norm(const Tensor& w, size_t axis, int64_t c, Criterion crit) {
  uint64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(w.dims[d]);
  for (size_t d = axis + 1; d < w.dims.size(); ++d) inner *= static_cast<uint64_t>(w.dims[d]);
  const uint64_t len = static_cast<uint64_t>(w.dims[axis]);
  const float* p = w.as<float>();
  double s = 0;
  for (uint64_t o = 0; o < outer; ++o)
    for (uint64_t i = 0; i < inner; ++i) {
      const double v = p[(o * len + static_cast<uint64_t>(c)) * inner + i];
      s += crit == Criterion::L2 ? v * v : std::fabs(v);
    }
  return crit == Criterion::L2 ? std::sqrt(s) : s;
}

// Axis of a producer's weight that indexes its output channels.
size_t out_axis(const Node& n) {
  return n.op_type == "Gemm" && n.attr_int("transB", 0) == 0 ? 1 : 0;
}

}  // namespace

PruneResult prune_channels(Model& m, const PruneOptions& opts) {
  validate_ratio(opts.ratio);
  if (opts.scope == Scope::Global)
    throw Error(ErrorKind::Input, "--scope global is not supported with --granularity channel (each group uses --ratio)");
  check_exclude_matches(m.graph, opts.exclude);
  PruneResult r;
  r.report.pass = "prune_channels";
  {
    PassContext ctx;
    run_passes(m, ctx, {"constant_to_initializer", "remove_identity_and_dropout"});
  }
  Graph& g = m.graph;
  ChannelAnalysis a(m, opts);
  a.run();
  r.skipped = a.skipped;

  // Groups: members by root, in producer order.
  std::map<int, std::vector<int>> groups;
  for (size_t s = 0; s < a.spaces.size(); ++s) groups[a.find(static_cast<int>(s))].push_back(static_cast<int>(s));
  std::vector<std::vector<int64_t>> keep(a.spaces.size());
  uint64_t removed_total = 0, channels_total = 0, groups_pruned = 0;
  for (const auto& [root, members] : groups) {
    std::string names, why;
    for (int s : members) {
      const size_t pi = a.spaces[static_cast<size_t>(s)].producer;
      names += (names.empty() ? "" : ", ") + layer_name(g.nodes[pi], pi);
      if (why.empty()) why = a.blocked[static_cast<size_t>(s)];
    }
    const int64_t C = a.spaces[static_cast<size_t>(members[0])].channels;
    if (!why.empty()) {
      r.skipped.push_back("group {" + names + "} (" + std::to_string(C) + " channels): left whole: " + why);
      continue;
    }
    int64_t remove = std::min<int64_t>(C - 1, static_cast<int64_t>(std::floor(opts.ratio * static_cast<double>(C))));
    std::string rounded;
    if (opts.round_to > 1 && (C - remove) % opts.round_to != 0) {
      const int64_t kept_n = std::min<int64_t>(C, (C - remove + opts.round_to - 1) / opts.round_to * opts.round_to);
      rounded = " (" + std::to_string(C - remove) + " kept rounded up to " + std::to_string(kept_n) +
                ", --round-to " + std::to_string(opts.round_to) + ")";
      remove = C - kept_n;
    }
    std::vector<double> score(static_cast<size_t>(C), 0.0);
    std::string note;
    for (int s : members) {
      const Node& p = g.nodes[a.spaces[static_cast<size_t>(s)].producer];
      const Tensor& w = *g.initializer(p.inputs[1]);
      const Tensor* gamma = opts.criterion == Criterion::BN ? bn_scale_after(g, p, C) : nullptr;
      if (opts.criterion == Criterion::BN && !gamma) note = " (bn: no BatchNormalization scale after " + layer_name(p, a.spaces[static_cast<size_t>(s)].producer) + ", l1 used for it)";
      for (int64_t c = 0; c < C; ++c)
        score[static_cast<size_t>(c)] += gamma ? std::fabs(static_cast<double>(gamma->as<float>()[c]))
                                               : filter_norm(w, out_axis(p), c, opts.criterion);
    }
    std::vector<int64_t> order(static_cast<size_t>(C));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t x, int64_t y) { return score[static_cast<size_t>(x)] > score[static_cast<size_t>(y)]; });
    std::vector<int64_t> kept(order.begin(), order.begin() + (C - remove));
    std::sort(kept.begin(), kept.end());
    for (int s : members) keep[static_cast<size_t>(s)] = remove > 0 ? kept : std::vector<int64_t>{};
    LayerPruneResult lr{names, "channels", static_cast<uint64_t>(C), 0, static_cast<uint64_t>(remove),
                        static_cast<double>(remove) / static_cast<double>(C)};
    r.layers.push_back(lr);
    r.report.changes.push_back("group {" + names + "}: removed " + std::to_string(remove) + " of " + std::to_string(C) + " channels" + rounded + note);
    removed_total += static_cast<uint64_t>(remove);
    channels_total += static_cast<uint64_t>(C);
    ++groups_pruned;
  }

  // Surgery: consumers first (they read the layouts), then producers' own filters.
  for (const auto& j : a.jobs) {
    const auto pos = kept_positions(j.layout, keep);
    if (static_cast<int64_t>(pos.size()) != layout_size(j.layout)) slice_input(g, j.node, j.input, j.axis, pos);
  }
  for (const auto& [node, layout] : a.depthwise) {
    const auto pos = kept_positions(layout, keep);
    if (static_cast<int64_t>(pos.size()) == layout_size(layout)) continue;
    slice_input(g, node, 1, 0, pos);
    if (!g.nodes[node].outputs.empty()) r.kept_outputs[g.nodes[node].outputs[0]] = pos;
    if (g.nodes[node].inputs.size() > 2 && !g.nodes[node].inputs[2].empty()) slice_input(g, node, 2, 0, pos);
    g.nodes[node].set_attr_int("group", static_cast<int64_t>(pos.size()));
  }
  for (size_t s = 0; s < a.spaces.size(); ++s) {
    if (keep[s].empty()) continue;
    const size_t pi = a.spaces[s].producer;
    slice_input(g, pi, 1, out_axis(g.nodes[pi]), keep[s]);
    const Node& p = g.nodes[pi];
    if (!p.outputs.empty()) r.kept_outputs[p.outputs[0]] = keep[s];
    if (p.inputs.size() > 2 && !p.inputs[2].empty()) {
      const Tensor* b = g.initializer(p.inputs[2]);
      if (b->numel() > 1) slice_input(g, pi, 2, b->dims.size() - 1, keep[s]);
    }
  }
  {
    PassContext ctx;
    run_passes(m, ctx, {"eliminate_dead_nodes"});
  }
  const std::string shape_error = refresh_shapes(m);
  if (!shape_error.empty())
    throw Error(ErrorKind::Internal, "channel pruning produced a model that fails shape inference: " + shape_error);

  for (const auto& s : r.skipped) r.report.left_alone.push_back(s);
  r.report.counters["groups_pruned"] = static_cast<int64_t>(groups_pruned);
  r.report.counters["groups_left_whole"] = static_cast<int64_t>(groups.size() - groups_pruned);
  r.report.counters["channels_removed"] = static_cast<int64_t>(removed_total);
  r.report.summary = "channels: removed " + std::to_string(removed_total) + " of " + std::to_string(channels_total) +
                     " channels in " + std::to_string(groups_pruned) + " groups, " +
                     std::to_string(groups.size() - groups_pruned) + " groups left whole";
  return r;
}

}  // namespace mc::prune
