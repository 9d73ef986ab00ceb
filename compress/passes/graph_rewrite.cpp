#include "compress/passes/graph_rewrite.h"

#include <onnx/defs/schema.h>

#include <utility>

#include "compress/error.h"

namespace mc {
namespace {

// Calls visit(sub, shadowed) for every subgraph reachable from g's nodes, where
// `shadowed` tells whether a given name is defined inside the chain of subgraphs
// between g and sub (so that a read of it in sub does not refer to g's value).
struct ScopedGraph {
  Graph* g;
  std::unordered_set<std::string> defined;  // names defined in this subgraph or its enclosing subgraphs
};

std::unordered_set<std::string> names_defined_in(const Graph& g) {
  std::unordered_set<std::string> d;
  for (const auto& v : g.inputs) d.insert(v.name);
  for (const auto& t : g.initializers) d.insert(t.name);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) d.insert(o);
  return d;
}

template <typename Visit>
void for_each_subgraph(Graph& g, Visit visit) {
  std::vector<ScopedGraph> stack;
  for (auto& n : g.nodes)
    for (auto& a : n.attrs)
      for (auto& sg : a.graphs)
        if (sg) stack.push_back({sg.get(), {}});
  while (!stack.empty()) {
    ScopedGraph cur = std::move(stack.back());
    stack.pop_back();
    for (const auto& name : names_defined_in(*cur.g)) cur.defined.insert(name);
    visit(*cur.g, cur.defined);
    for (auto& n : cur.g->nodes)
      for (auto& a : n.attrs)
        for (auto& sg : a.graphs)
          if (sg) stack.push_back({sg.get(), cur.defined});
  }
}

}  // namespace

std::vector<std::string> subgraph_outer_reads(const Node& n) {
  std::vector<std::string> out;
  std::vector<ScopedGraph> stack;
  for (const auto& a : n.attrs)
    for (const auto& sg : a.graphs)
      if (sg) stack.push_back({sg.get(), {}});
  while (!stack.empty()) {
    ScopedGraph cur = std::move(stack.back());
    stack.pop_back();
    for (const auto& name : names_defined_in(*cur.g)) cur.defined.insert(name);
    for (const auto& nd : cur.g->nodes) {
      for (const auto& i : nd.inputs)
        if (!i.empty() && !cur.defined.count(i)) out.push_back(i);
      for (const auto& a : nd.attrs)
        for (const auto& sg : a.graphs)
          if (sg) stack.push_back({sg.get(), cur.defined});
    }
    for (const auto& o : cur.g->outputs)
      if (!cur.defined.count(o.name)) out.push_back(o.name);
  }
  return out;
}

std::unordered_map<std::string, int> count_value_uses(const Graph& g) {
  std::unordered_map<std::string, int> uses;
  for (const auto& n : g.nodes) {
    for (const auto& i : n.inputs)
      if (!i.empty()) ++uses[i];
    for (const auto& i : subgraph_outer_reads(n)) ++uses[i];
  }
  for (const auto& o : g.outputs) ++uses[o.name];
  return uses;
}

void rename_value_uses(Graph& g, const std::string& from, const std::string& to) {
  for (auto& n : g.nodes)
    for (auto& i : n.inputs)
      if (i == from) i = to;
  for_each_subgraph(g, [&](Graph& sub, const std::unordered_set<std::string>& defined) {
    if (defined.count(from)) return;
    for (auto& n : sub.nodes)
      for (auto& i : n.inputs)
        if (i == from) i = to;
    for (auto& o : sub.outputs)
      if (o.name == from) o.name = to;
  });
}

std::string fresh_value_name(const Graph& g, const std::string& base) {
  std::unordered_set<std::string> used = names_defined_in(g);
  for (const auto& v : g.outputs) used.insert(v.name);
  for (const auto& v : g.value_info) used.insert(v.name);
  for (const auto& n : g.nodes)
    for (const auto& i : n.inputs) used.insert(i);
  if (!used.count(base)) return base;
  for (uint64_t k = 1;; ++k) {
    std::string c = base + "_" + std::to_string(k);
    if (!used.count(c)) return c;
  }
}

const onnx::OpSchema* find_op_schema(const Model& m, const Node& n) {
  const std::string domain = n.is_default_domain() ? std::string() : n.domain;
  const int64_t opset = m.opset(domain);
  if (opset <= 0) return nullptr;
  return onnx::OpSchemaRegistry::Schema(n.op_type, static_cast<int>(opset), domain);
}

void require_known_op(const Model& m, const Node& n, const std::string& pass, const std::string& why) {
  if (find_op_schema(m, n)) return;
  const std::string domain = n.is_default_domain() ? std::string() : n.domain;
  throw Error(ErrorKind::Input, pass + ": " + (n.name.empty() ? std::string("a node") : "node '" + n.name + "'") +
                                    " has op '" + n.op_type + "' (domain '" +
                                    (domain.empty() ? "ai.onnx" : domain) + "', opset " +
                                    std::to_string(m.opset(domain)) +
                                    "), which ONNX's schema registry does not know; " + why);
}

void require_known_default_domain_ops(const Model& m, const std::string& who) {
  for (const auto& n : m.graph.nodes)
    if (n.is_default_domain())
      require_known_op(m, n, who, "the result would not be a valid ONNX model");
}

std::string describe_node(const Node& n, size_t index) {
  return (n.name.empty() ? "#" + std::to_string(index) : "'" + n.name + "'") + " (" + n.op_type + ")";
}

}  // namespace mc
