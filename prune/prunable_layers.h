// Which layers the weight-pruning passes touch, and the --exclude rules.
// A prunable layer is a Conv, Gemm or MatMul of the main graph whose weight (input 1)
// is an fp32 initializer. The reduction (input) axis of its weight is where n:m
// groups run: Conv [O, I/g, k...] axis 1, Gemm B axis 1 with transB=1 and axis 0
// without, MatMul B [..., K, N] axis rank-2.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::prune {

struct PrunableWeight {
  size_t node = 0;           // index in g.nodes
  std::string layer;         // node name (or "<Op>_<index>")
  std::string op_type;
  std::string weight;        // initializer name
  int64_t reduction_axis = 1;
};

// True when n's name or op type is listed.
bool node_excluded(const Node& n, const std::vector<std::string>& exclude);
// Error(Input) naming the first entry that matches no node name and no op type.
void check_exclude_matches(const Graph& g, const std::vector<std::string>& exclude);
// The prunable layers of m, in graph order; a weight shared by several layers is
// listed once (first reader). Layers seen but left alone go to *skipped with why.
std::vector<PrunableWeight> find_prunable_weights(const Model& m, const std::vector<std::string>& exclude,
                                                  std::vector<std::string>* skipped);
// "name" or "<Op>_<index>" when the node has no name.
std::string layer_name(const Node& n, size_t index);

}  // namespace mc::prune
