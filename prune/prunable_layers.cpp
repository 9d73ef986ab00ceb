#include "prune/prunable_layers.h"

#include <algorithm>
#include <set>

#include "compress/error.h"

namespace mc::prune {

std::string layer_name(const Node& n, size_t index) {
  return n.name.empty() ? n.op_type + "_" + std::to_string(index) : n.name;
}

bool node_excluded(const Node& n, const std::vector<std::string>& exclude) {
  return std::any_of(exclude.begin(), exclude.end(),
                     [&](const std::string& e) { return e == n.name || e == n.op_type; });
}

void check_exclude_matches(const Graph& g, const std::vector<std::string>& exclude) {
  for (const auto& e : exclude) {
    const bool hit = std::any_of(g.nodes.begin(), g.nodes.end(),
                                 [&](const Node& n) { return e == n.name || e == n.op_type; });
    if (!hit) throw Error(ErrorKind::Input, "--exclude: '" + e + "' matches no node name and no op type");
  }
}

std::vector<PrunableWeight> find_prunable_weights(const Model& m, const std::vector<std::string>& exclude,
                                                  std::vector<std::string>* skipped) {
  const Graph& g = m.graph;
  std::vector<PrunableWeight> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.is_default_domain() || (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul")) continue;
    const std::string name = layer_name(n, i);
    auto skip = [&](const std::string& why) {
      if (skipped) skipped->push_back(name + " (" + n.op_type + "): " + why);
    };
    if (node_excluded(n, exclude)) { skip("excluded by --exclude"); continue; }
    if (n.inputs.size() < 2) { skip("no weight input"); continue; }
    const Tensor* w = g.initializer(n.inputs[1]);
    if (!w) { skip("weight '" + n.inputs[1] + "' is not a constant"); continue; }
    if (w->dtype != DType::F32) { skip(std::string("weight dtype ") + dtype_name(w->dtype) + " (only float is pruned)"); continue; }
    int64_t axis = 1;
    if (n.op_type == "Conv") {
      if (w->dims.size() < 3) { skip("weight rank < 3"); continue; }
    } else if (n.op_type == "Gemm") {
      if (w->dims.size() != 2) { skip("weight is not 2-D"); continue; }
      axis = n.attr_int("transB", 0) ? 1 : 0;
    } else {
      if (w->dims.size() < 2) { skip("weight rank < 2"); continue; }
      axis = static_cast<int64_t>(w->dims.size()) - 2;
    }
    if (!seen.insert(w->name).second) { skip("weight '" + w->name + "' shared with an earlier layer, pruned there"); continue; }
    out.push_back({i, name, n.op_type, w->name, axis});
  }
  return out;
}

}  // namespace mc::prune
