// eliminate_dead_nodes: removes nodes none of whose outputs reaches a graph output,
// then initializers that nothing reads.
//
// One backward sweep over the topologically ordered main graph: a value is live when
// a graph output or a live node reads it (directly or from inside a subgraph); a node
// is live when one of its outputs is live. Removing a dead node assumes it has no
// effect besides its outputs, which holds for every op ONNX defines. So a dead node
// whose op ONNX's schema registry does not know is an error in the default domain
// (the model is not valid ONNX) and is kept, and reported, in other domains.
// Initializers that are also graph inputs (IR >= 4: defaults a caller may override)
// are part of the model's interface and are kept.
#include <algorithm>
#include <unordered_set>

#include "compress/error.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"

namespace mc {

PassReport eliminate_dead_nodes(Model& m, PassContext&) {
  PassReport r;
  Graph& g = m.graph;
  std::unordered_set<std::string> live;
  for (const auto& o : g.outputs) live.insert(o.name);
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    bool is_live = false;
    for (const auto& o : n.outputs)
      if (!o.empty() && live.count(o)) is_live = true;
    if (!is_live) {
      if (!find_op_schema(m, n)) {
        if (n.is_default_domain())
          require_known_op(m, n, "eliminate_dead_nodes", "removing a node needs to know it has no side effects");
        r.left_alone.push_back(describe_node(n, i) + ": unused, but op '" + n.op_type + "' of domain '" + n.domain +
                               "' is unknown to ONNX's schema registry, so it may have side effects");
        is_live = true;
      }
    }
    if (!is_live) continue;
    keep[i] = true;
    for (const auto& in : n.inputs)
      if (!in.empty()) live.insert(in);
    for (const auto& in : subgraph_outer_reads(n)) live.insert(in);
  }
  std::vector<Node> kept;
  int64_t removed_nodes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (keep[i]) {
      kept.push_back(std::move(g.nodes[i]));
    } else {
      r.changes.push_back("removed dead node " + describe_node(g.nodes[i], i));
      ++removed_nodes;
    }
  }
  g.nodes = std::move(kept);

  std::vector<std::string> unused;
  for (const auto& t : g.initializers)
    if (!live.count(t.name) && !(m.ir_version >= 4 && g.is_graph_input(t.name))) unused.push_back(t.name);
  uint64_t freed = 0;
  for (const auto& name : unused) {
    freed += g.initializer(name)->data.size();
    g.remove_initializer(name);
    r.changes.push_back("removed unused initializer '" + name + "'");
  }
  // Shape entries of values that no longer exist.
  std::unordered_set<std::string> defined;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) defined.insert(o);
  g.value_info.erase(std::remove_if(g.value_info.begin(), g.value_info.end(),
                                    [&](const ValueInfo& v) { return !defined.count(v.name); }),
                     g.value_info.end());

  r.counters["nodes_removed"] = removed_nodes;
  r.counters["initializers_removed"] = static_cast<int64_t>(unused.size());
  r.counters["bytes_freed"] = static_cast<int64_t>(freed);
  r.summary = "removed " + std::to_string(removed_nodes) + " dead node(s) and " + std::to_string(unused.size()) +
              " unused initializer(s) (" + std::to_string(freed) + " bytes)";
  if (!r.left_alone.empty()) r.summary += ", kept " + std::to_string(r.left_alone.size()) + " unknown-op node(s)";
  return r;
}

}  // namespace mc
