// remove_identity_and_dropout: Identity, and Dropout in inference mode, pass their
// input through, so readers of their output can read the input instead.
//
// Rewiring keeps graph output names: when the removed node's output Y is a graph
// output, the producer of the input X is renamed to produce Y (and X's other
// readers read Y), unless X is itself a graph input, an initializer or a graph
// output, or its producer has a subgraph that reads X: then the node stays.
//
// Dropout is in inference mode when: opset < 7 and is_test=1 (before 7 the default
// is training), opset 7-11 always, opset 12+ when the training_mode input is omitted
// or an initializer holding false. When its mask output is read, the Dropout node
// stays for the mask (readers of output 0 are still rewired).
#include <algorithm>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"

namespace mc {
namespace {

bool dropout_is_inference(const Model& m, const Node& n, std::string* why) {
  const int64_t opset = m.opset("");
  if (opset < 7) {
    if (n.attr_int("is_test", 0) == 0) return *why = "Dropout in training mode (is_test=0)", false;
    return true;
  }
  if (opset < 12 || n.inputs.size() < 3 || n.inputs[2].empty()) return true;
  const Tensor* t = m.graph.initializer(n.inputs[2]);
  if (!t || m.graph.is_graph_input(t->name) || t->dtype != DType::Bool || t->numel() != 1)
    return *why = "training_mode is not a constant", false;
  if (t->data[0] != 0) return *why = "training_mode is true", false;
  return true;
}

}  // namespace

PassReport remove_identity_and_dropout(Model& m, PassContext&) {
  PassReport r;
  Graph& g = m.graph;
  int64_t identities = 0, dropouts = 0;
  std::vector<bool> remove(g.nodes.size(), false);

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!n.is_default_domain() || (n.op_type != "Identity" && n.op_type != "Dropout")) continue;
    if (n.inputs.empty() || n.inputs[0].empty() || n.outputs.empty()) continue;
    const bool is_dropout = n.op_type == "Dropout";
    std::string why;
    if (is_dropout && !dropout_is_inference(m, n, &why)) {
      r.left_alone.push_back(describe_node(n, i) + ": " + why);
      continue;
    }
    const std::string x = n.inputs[0];
    const std::string y = n.outputs[0];
    const bool mask_used = is_dropout && n.outputs.size() > 1 && !n.outputs[1].empty() &&
                           count_value_uses(g).count(n.outputs[1]);

    if (!y.empty() && g.is_graph_output(y)) {
      // Rename X's producer to produce Y instead.
      size_t producer = g.nodes.size();
      for (size_t p = 0; p < i; ++p)
        for (const auto& o : g.nodes[p].outputs)
          if (o == x && !remove[p]) producer = p;
      bool subgraph_reads_x = false;
      if (producer < g.nodes.size())
        for (const auto& a : g.nodes[producer].attrs)
          if (!a.graphs.empty()) subgraph_reads_x = true;
      if (producer == g.nodes.size() || g.is_graph_output(x) || g.is_graph_input(x) || subgraph_reads_x || mask_used) {
        r.left_alone.push_back(describe_node(n, i) + ": its output '" + y +
                               "' is a graph output and its input cannot be renamed");
        continue;
      }
      for (auto& o : g.nodes[producer].outputs)
        if (o == x) o = y;
      rename_value_uses(g, x, y);
      // The value's shape entry moves with the name.
      g.value_info.erase(std::remove_if(g.value_info.begin(), g.value_info.end(),
                                        [&](const ValueInfo& v) { return v.name == y; }),
                         g.value_info.end());
      for (auto& v : g.value_info)
        if (v.name == x) v.name = y;
      r.changes.push_back("removed " + describe_node(n, i) + "; '" + x + "' renamed to graph output '" + y + "'");
      remove[i] = true;
    } else {
      if (!y.empty()) rename_value_uses(g, y, x);
      if (mask_used) {
        n.inputs[0] = x;  // unchanged; the node stays for the mask
        r.changes.push_back("rewired readers of " + describe_node(n, i) + " output 0 to '" + x +
                            "'; node kept for its mask output");
        continue;
      }
      r.changes.push_back("removed " + describe_node(n, i) + ": readers of '" + y + "' now read '" + x + "'");
      remove[i] = true;
    }
    ++(is_dropout ? dropouts : identities);
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!remove[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  r.counters["identity_removed"] = identities;
  r.counters["dropout_removed"] = dropouts;
  r.counters["kept"] = static_cast<int64_t>(r.left_alone.size());
  r.summary = "removed " + std::to_string(identities) + " Identity and " + std::to_string(dropouts) + " Dropout node(s)";
  if (!r.left_alone.empty()) r.summary += ", " + std::to_string(r.left_alone.size()) + " kept";
  return r;
}

}  // namespace mc
