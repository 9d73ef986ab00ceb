// constant_to_initializer: a Constant node of the main graph becomes an initializer
// with the node's output name, so later passes see one kind of constant.
// Handled attributes: value, value_float, value_floats, value_int, value_ints,
// value_string, value_strings. sparse_value stays a Constant node (the IR keeps
// sparse tensors opaque) and is reported. A Constant whose output is a graph output
// also stays: an initializer that is a graph output confuses some runtimes.
#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"

namespace mc {
namespace {

// The tensor a Constant node holds, or false (with *why) when it cannot be converted.
bool constant_value(const Node& n, Tensor* out, std::string* why) {
  const Attribute* a = nullptr;
  int count = 0;
  for (const auto& at : n.attrs)
    if (at.name.rfind("value", 0) == 0 || at.name == "sparse_value") {
      a = &at;
      ++count;
    }
  if (count != 1) {
    *why = "expects exactly one value attribute, has " + std::to_string(count);
    return false;
  }
  const std::string& k = a->name;
  if (k == "sparse_value") {
    *why = "sparse_value is kept as a Constant node";
    return false;
  }
  if (k == "value" && a->type == AttrType::Tensor && a->tensors.size() == 1) {
    *out = a->tensors[0];
  } else if (k == "value_float" && a->type == AttrType::Float) {
    *out = Tensor::make_f32("", {}, {a->f});
  } else if (k == "value_floats" && a->type == AttrType::Floats) {
    *out = Tensor::make_f32("", {static_cast<int64_t>(a->floats.size())}, a->floats);
  } else if (k == "value_int" && a->type == AttrType::Int) {
    *out = Tensor::make_i64("", {}, {a->i});
  } else if (k == "value_ints" && a->type == AttrType::Ints) {
    *out = Tensor::make_i64("", {static_cast<int64_t>(a->ints.size())}, a->ints);
  } else if (k == "value_string" && a->type == AttrType::String) {
    *out = Tensor{};
    out->dtype = DType::String;
    out->strings = {a->s};
  } else if (k == "value_strings" && a->type == AttrType::Strings) {
    *out = Tensor{};
    out->dtype = DType::String;
    out->dims = {static_cast<int64_t>(a->strings.size())};
    out->strings = a->strings;
  } else {
    *why = "attribute '" + k + "' has an unexpected type";
    return false;
  }
  return true;
}

}  // namespace

PassReport constant_to_initializer(Model& m, PassContext&) {
  PassReport r;
  Graph& g = m.graph;
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  int64_t converted = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.op_type != "Constant" || !n.is_default_domain()) {
      kept.push_back(std::move(n));
      continue;
    }
    Tensor t;
    std::string why;
    if (n.outputs.size() != 1 || n.outputs[0].empty()) why = "expects one output";
    else if (g.is_graph_output(n.outputs[0])) why = "its output is a graph output";
    if (!why.empty() || !constant_value(n, &t, &why)) {
      r.left_alone.push_back(describe_node(n, i) + ": " + why);
      kept.push_back(std::move(n));
      continue;
    }
    t.name = n.outputs[0];
    r.changes.push_back(describe_node(n, i) + " → initializer '" + t.name + "' (" + dtype_name(t.dtype) + ", " +
                        std::to_string(t.strings.empty() ? t.numel() : t.strings.size()) + " elements)");
    if (m.ir_version < 4) {  // before IR 4 every initializer must also be a graph input
      ValueInfo vi;
      vi.name = t.name;
      vi.dtype = t.dtype;
      vi.has_shape = true;
      for (int64_t d : t.dims) vi.shape.push_back(Dim::known(d));
      g.inputs.push_back(std::move(vi));
    }
    g.initializers.push_back(std::move(t));
    ++converted;
  }
  g.nodes = std::move(kept);
  r.counters["converted"] = converted;
  r.counters["kept"] = static_cast<int64_t>(r.left_alone.size());
  r.summary = std::to_string(converted) + " Constant node(s) became initializers";
  if (!r.left_alone.empty()) r.summary += ", " + std::to_string(r.left_alone.size()) + " kept";
  return r;
}

}  // namespace mc
