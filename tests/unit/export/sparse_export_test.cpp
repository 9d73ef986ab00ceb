// The runtime exporter's sparse rule (docs/runtime-format.md §4.4): Gemm/MatMul/Conv weights are
// written dense, BITMASK or CSR, whichever is smallest on disk; the encoding is lossless (-0.0 kept),
// and the sparse file computes exactly what the dense file computes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "compress/passes/refresh_shapes.h"
#include "export/runtime_export.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

using namespace mc;

namespace {

std::vector<float> weights(size_t n, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w(n);
  for (float& v : w) {
    const float x = val(rng);
    v = keep(rng) < density ? x : 0.f;
  }
  return w;
}

// x[N, K] -> Gemm(transB, W [N_out, K], bias) -> y
Model fc_model(int K, int N, const std::vector<float>& w) {
  Model m;
  m.opsets = {{"", 13}};
  Graph& g = m.graph;
  g.name = "fc";
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::F32;
  x.has_shape = true;
  x.shape = {Dim::symbol("N"), Dim::known(K)};
  g.inputs.push_back(x);
  ValueInfo y = x;
  y.name = "y";
  y.shape = {Dim::symbol("N"), Dim::known(N)};
  g.outputs.push_back(y);
  g.initializers.push_back(Tensor::make_f32("W", {N, K}, w));
  g.initializers.push_back(Tensor::make_f32("b", {N}, weights((size_t)N, 1.0, 3)));
  Node n;
  n.name = "fc";
  n.op_type = "Gemm";
  n.inputs = {"x", "W", "b"};
  n.outputs = {"y"};
  n.set_attr_int("transB", 1);
  g.nodes.push_back(n);
  REQUIRE(refresh_shapes(m).empty());
  return m;
}

const mcrt::fb::Tensor* find_tensor(const mcrt::Model& m, const std::string& name) {
  for (const mcrt::fb::Tensor* t : *m.graph().tensors())
    if (t->name() && t->name()->str() == name) return t;
  return nullptr;
}

std::vector<float> run(const std::vector<uint8_t>& bytes, mcrt::SparsePolicy policy) {
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = 3;
  po.sparse = policy;
  REQUIRE(mcrt::Interpreter::prepare(*model, po, &it).ok());
  mcrt::TensorInfo in = it->input(0);
  for (size_t i = 0; i < in.bytes / 4; ++i) static_cast<float*>(in.data)[i] = std::cos(0.1f * (float)i);
  REQUIRE(it->run().ok());
  const float* y = static_cast<const float*>(it->output(0).data);
  return std::vector<float>(y, y + it->output(0).bytes / 4);
}

}  // namespace

TEST_CASE("sparse export: the smallest of dense, BITMASK and CSR per weight") {
  struct Case {
    int K, N;
    double density;
    int format;  // -1 dense, else mcrt::fb::SparseFormat
  };
  const Case cases[] = {
      {64, 32, 1.0, -1},                              // no zeros: dense
      {64, 32, 0.99, -1},                             // 1/8 + 0.99*4 bytes > 4: dense
      {64, 32, 0.3, mcrt::fb::SparseFormat_BITMASK},  // 0.125 + 1.2 bytes per element
      {512, 64, 0.003, mcrt::fb::SparseFormat_CSR},   // 8 bytes per stored entry + row_ptr < mask
  };
  for (const Case& c : cases) {
    const std::vector<float> w = weights((size_t)c.K * c.N, c.density, 7);
    Model m = fc_model(c.K, c.N, w);
    RuntimeExportReport rep;
    const std::vector<uint8_t> bytes = export_runtime_bytes(m, {}, &rep);
    std::unique_ptr<mcrt::Model> model;
    REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
    const mcrt::fb::Tensor* t = find_tensor(*model, "W");
    REQUIRE(t != nullptr);
    INFO("K=" << c.K << " N=" << c.N << " density " << c.density << ", " << rep.weight_bytes << " weight bytes");
    if (c.format < 0) {
      CHECK(t->sparsity() == nullptr);
    } else {
      REQUIRE(t->sparsity() != nullptr);
      CHECK((int)t->sparsity()->format() == c.format);
      CHECK(rep.weight_bytes < (uint64_t)c.K * c.N * 4);
    }
    CHECK(find_tensor(*model, "b")->sparsity() == nullptr);  // biases are not matrix weights
    // The file computes W x (checked in double), on the dense kernels and on the sparse ones.
    const std::vector<float> ys = run(bytes, mcrt::SparsePolicy::kDense);
    std::vector<float> ref(ys.size());
    for (int r = 0; r < 3; ++r)
      for (int n = 0; n < c.N; ++n) {
        double s = 0;
        for (int k = 0; k < c.K; ++k) s += (double)w[(size_t)n * c.K + k] * std::cos(0.1f * (float)(r * c.K + k));
        ref[(size_t)r * c.N + n] = (float)s;
      }
    const std::vector<float> yq = run(bytes, mcrt::SparsePolicy::kSparse);
    const std::vector<float> bias = weights((size_t)c.N, 1.0, 3);
    for (size_t i = 0; i < ys.size(); ++i) {
      const float want = ref[i] + bias[i % (size_t)c.N];
      REQUIRE(std::fabs(ys[i] - want) <= 1e-4f * (1.f + std::fabs(want)));
      REQUIRE(std::fabs(yq[i] - want) <= 1e-4f * (1.f + std::fabs(want)));
    }
  }
}

TEST_CASE("sparse export is lossless: every non-+0.0 element is stored, -0.0 included") {
  std::vector<float> w = weights(64 * 32, 0.2, 11);
  w[5] = -0.0f;
  w[77] = -0.0f;
  size_t stored = 0;
  for (float v : w) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    stored += bits != 0;
  }
  Model m = fc_model(64, 32, w);
  const std::vector<uint8_t> bytes = export_runtime_bytes(m);
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  const mcrt::fb::Tensor* t = find_tensor(*model, "W");
  REQUIRE(t->sparsity() != nullptr);
  REQUIRE(t->sparsity()->format() == mcrt::fb::SparseFormat_BITMASK);
  const uint8_t* mask = model->buffer_data(t->sparsity()->mask_buffer());
  const float* vals = reinterpret_cast<const float*>(model->buffer_data(t->sparsity()->values_buffer()));
  size_t k = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const bool bit = (mask[i / 8] >> (i % 8)) & 1u;
    uint32_t a, b = 0;
    std::memcpy(&a, &w[i], 4);
    REQUIRE(bit == (a != 0));
    if (bit) {
      std::memcpy(&b, &vals[k++], 4);
      REQUIRE(a == b);
    }
  }
  CHECK(k == stored);
}
