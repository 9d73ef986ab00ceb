#include "compress/ir/graph.h"

#include <algorithm>
#include <unordered_set>

#include "compress/error.h"

namespace mc {

bool ValueInfo::shape_is_static() const {
  if (!has_shape) return false;
  for (const auto& d : shape)
    if (!d.is_known()) return false;
  return true;
}

std::vector<int64_t> ValueInfo::static_shape() const {
  std::vector<int64_t> s;
  s.reserve(shape.size());
  for (const auto& d : shape) s.push_back(d.value);
  return s;
}

const Attribute* Node::attr(const std::string& n) const {
  for (const auto& a : attrs)
    if (a.name == n) return &a;
  return nullptr;
}
Attribute* Node::attr(const std::string& n) {
  for (auto& a : attrs)
    if (a.name == n) return &a;
  return nullptr;
}
int64_t Node::attr_int(const std::string& n, int64_t def) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::Int ? a->i : def;
}
float Node::attr_float(const std::string& n, float def) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::Float ? a->f : def;
}
std::string Node::attr_string(const std::string& n, const std::string& def) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::String ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& n, const std::vector<int64_t>& def) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::Ints ? a->ints : def;
}
Attribute& Node::reset_attr(const std::string& n, AttrType t) {
  Attribute* a = attr(n);
  if (!a) a = &attrs.emplace_back();
  *a = Attribute{};
  a->name = n;
  a->type = t;
  return *a;
}
void Node::set_attr_int(const std::string& n, int64_t v) { reset_attr(n, AttrType::Int).i = v; }
void Node::set_attr_ints(const std::string& n, std::vector<int64_t> v) { reset_attr(n, AttrType::Ints).ints = std::move(v); }
void Node::set_attr_float(const std::string& n, float v) { reset_attr(n, AttrType::Float).f = v; }
void Node::set_attr_floats(const std::string& n, std::vector<float> v) {
  reset_attr(n, AttrType::Floats).floats = std::move(v);
}
void Node::remove_attr(const std::string& n) {
  attrs.erase(std::remove_if(attrs.begin(), attrs.end(), [&](const Attribute& a) { return a.name == n; }), attrs.end());
}

const Tensor* Graph::initializer(const std::string& n) const {
  for (const auto& t : initializers)
    if (t.name == n) return &t;
  return nullptr;
}
Tensor* Graph::initializer(const std::string& n) {
  for (auto& t : initializers)
    if (t.name == n) return &t;
  return nullptr;
}
bool Graph::is_graph_input(const std::string& n) const {
  for (const auto& v : inputs)
    if (v.name == n) return true;
  return false;
}
bool Graph::is_graph_output(const std::string& n) const {
  for (const auto& v : outputs)
    if (v.name == n) return true;
  return false;
}
const ValueInfo* Graph::value(const std::string& n) const {
  for (const auto* list : {&inputs, &outputs, &value_info})
    for (const auto& v : *list)
      if (v.name == n) return &v;
  return nullptr;
}
void Graph::set_value_info(ValueInfo vi) {
  for (auto& v : value_info)
    if (v.name == vi.name) { v = std::move(vi); return; }
  value_info.push_back(std::move(vi));
}
void Graph::remove_initializer(const std::string& n) {
  initializers.erase(std::remove_if(initializers.begin(), initializers.end(),
                                    [&](const Tensor& t) { return t.name == n; }),
                     initializers.end());
  // An initializer listed as graph input (IR < 4 style) goes with it.
  inputs.erase(std::remove_if(inputs.begin(), inputs.end(), [&](const ValueInfo& v) { return v.name == n; }),
               inputs.end());
}
std::vector<const ValueInfo*> Graph::real_inputs() const {
  std::vector<const ValueInfo*> r;
  for (const auto& v : inputs)
    if (!initializer(v.name)) r.push_back(&v);
  return r;
}

int64_t Model::opset(const std::string& d) const {
  for (const auto& o : opsets)
    if (o.domain == d || (d.empty() && o.domain == "ai.onnx") || (d == "ai.onnx" && o.domain.empty())) return o.version;
  return 0;
}

namespace {
// Names a node reads from enclosing scopes through its subgraphs (implicit inputs).
void collect_subgraph_outer_refs(const Node& n, std::vector<std::string>* out) {
  std::vector<const Graph*> stack;
  for (const auto& a : n.attrs)
    for (const auto& g : a.graphs)
      if (g) stack.push_back(g.get());
  // A name is "outer" when no node/initializer/input inside the subgraph tree defines it.
  // Conservative: collect all inputs of subgraph nodes not defined in the same subgraph.
  while (!stack.empty()) {
    const Graph* g = stack.back();
    stack.pop_back();
    std::unordered_set<std::string> defined;
    for (const auto& v : g->inputs) defined.insert(v.name);
    for (const auto& t : g->initializers) defined.insert(t.name);
    for (const auto& nd : g->nodes)
      for (const auto& o : nd.outputs) defined.insert(o);
    for (const auto& nd : g->nodes) {
      for (const auto& i : nd.inputs)
        if (!i.empty() && !defined.count(i)) out->push_back(i);
      for (const auto& a : nd.attrs)
        for (const auto& sg : a.graphs)
          if (sg) stack.push_back(sg.get());
    }
    for (const auto& o : g->outputs)
      if (!defined.count(o.name)) out->push_back(o.name);
  }
}
}  // namespace

std::vector<size_t> topological_order(const Graph& g, const std::vector<std::string>& extra_known) {
  const size_t n = g.nodes.size();
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < n; ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
  std::unordered_set<std::string> available(extra_known.begin(), extra_known.end());
  for (const auto& v : g.inputs) available.insert(v.name);
  for (const auto& t : g.initializers) available.insert(t.name);

  // Kahn's algorithm over node dependencies, stable in original order.
  std::vector<std::vector<size_t>> users(n);
  std::vector<size_t> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> deps = g.nodes[i].inputs;
    collect_subgraph_outer_refs(g.nodes[i], &deps);
    std::unordered_set<size_t> seen;
    for (const auto& in : deps) {
      if (in.empty()) continue;
      auto it = producer.find(in);
      if (it != producer.end() && !available.count(in)) {
        if (seen.insert(it->second).second) {
          users[it->second].push_back(i);
          ++pending[i];
        }
      } else if (it == producer.end() && !available.count(in)) {
        // Inputs of subgraph nodes may come from further out; only direct inputs must resolve here.
        if (std::find(g.nodes[i].inputs.begin(), g.nodes[i].inputs.end(), in) != g.nodes[i].inputs.end())
          throw Error(ErrorKind::Input, "node '" + g.nodes[i].name + "' (" + g.nodes[i].op_type + ") reads '" + in +
                                            "', which no node, input or initializer defines");
      }
    }
  }
  std::vector<size_t> order;
  order.reserve(n);
  std::vector<size_t> ready;
  for (size_t i = n; i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(i);
    // keep original order among ready nodes: push in reverse index order
    std::vector<size_t> now;
    for (size_t u : users[i])
      if (--pending[u] == 0) now.push_back(u);
    std::sort(now.rbegin(), now.rend());
    for (size_t u : now) ready.push_back(u);
  }
  if (order.size() != n) throw Error(ErrorKind::Input, "the graph has a cycle");
  return order;
}

int subgraph_depth(const Graph& root) {
  int deepest = 0;
  std::vector<std::pair<const Graph*, int>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [g, d] = stack.back();
    stack.pop_back();
    deepest = std::max(deepest, d);
    for (const auto& nd : g->nodes)
      for (const auto& a : nd.attrs)
        for (const auto& sg : a.graphs)
          if (sg) stack.push_back({sg.get(), d + 1});
  }
  return deepest;
}

uint64_t total_node_count(const Graph& root) {
  uint64_t total = 0;
  std::vector<const Graph*> stack{&root};
  while (!stack.empty()) {
    const Graph* g = stack.back();
    stack.pop_back();
    total += g->nodes.size();
    for (const auto& nd : g->nodes)
      for (const auto& a : nd.attrs)
        for (const auto& sg : a.graphs)
          if (sg) stack.push_back(sg.get());
  }
  return total;
}

}  // namespace mc
