// A one-Gemm IR model for the weight storage tests, passed through ONNX export + import so
// that it carries inferred shapes like any imported model.
#pragma once
#include <random>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"

namespace mc::test {

// x[N, K] -> Gemm(W[M, K] (transB = 1), b[M]) -> y[N, M]
inline Model gemm_model(int64_t k, int64_t m, const std::vector<float>& w, const std::vector<float>& b) {
  Model md;
  md.opsets = {{"", 13}};
  md.ir_version = 8;
  md.graph.name = "storage_test";
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::F32;
  x.has_shape = true;
  x.shape = {Dim::symbol("N"), Dim::known(k)};
  md.graph.inputs.push_back(x);
  ValueInfo y;
  y.name = "y";
  y.dtype = DType::F32;
  md.graph.outputs.push_back(y);
  md.graph.initializers.push_back(Tensor::make_f32("fc.w", {m, k}, w));
  md.graph.initializers.push_back(Tensor::make_f32("fc.b", {m}, b));
  Node n;
  n.op_type = "Gemm";
  n.name = "fc";
  n.inputs = {"x", "fc.w", "fc.b"};
  n.outputs = {"y"};
  n.set_attr_int("transB", 1);
  md.graph.nodes.push_back(n);
  return import_onnx_bytes(export_onnx_bytes(md), ".", "storage-test");
}

// Deterministic values without std:: distributions (their output is implementation-defined).
inline std::vector<float> test_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
  return v;
}

// Bell-shaped values in (-1, 1) (mean of four uniforms), like trained weights: k-means clusters
// are then unevenly filled and their indices entropy-code well.
inline std::vector<float> bell_values(size_t n, uint64_t seed) {
  const std::vector<float> u = test_values(4 * n, seed);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (u[4 * i] + u[4 * i + 1] + u[4 * i + 2] + u[4 * i + 3]) / 4;
  return v;
}

}  // namespace mc::test
