// Pieces of IR graphs for tests that build models in code: a value with a known dtype and
// shape, and a node. Header-only.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::test {

// A value of dtype t with the given shape (Dim::known / Dim::symbol entries).
inline ValueInfo value_info(const std::string& name, std::vector<Dim> shape, DType t = DType::F32) {
  ValueInfo v;
  v.name = name;
  v.dtype = t;
  v.has_shape = true;
  v.shape = std::move(shape);
  return v;
}

// The same with every dim known.
inline ValueInfo known_value_info(const std::string& name, const std::vector<int64_t>& dims, DType t = DType::F32) {
  std::vector<Dim> shape;
  for (int64_t d : dims) shape.push_back(Dim::known(d));
  return value_info(name, std::move(shape), t);
}

inline Node make_node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                      const std::string& name) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

}  // namespace mc::test
