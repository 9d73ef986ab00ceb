// int8 sparse path in the runtime: a static QLinearMatMul whose constant B has zeros runs the int8 sparse
// kernels when the cost model (or PrepareOptions::sparse = kSparse) says so, with exactly the bytes of the
// dense int8 path; the chosen kernel and its reason show in the step's kernel name.
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace {

using mcrt::DType;
using mcrt::ModelWriter;
using mcrt::QuantParams;
using mcrt::SparsePolicy;
namespace fb = mcrt::fb;

// QLinearMatMul x int8 [R, K] (s 0.05, z -3) · B int8 [K, N] (per-column scales, given density) + bias
// -> y int8 [R, N] (s 0.4, z 5).
std::vector<uint8_t> qmatmul_file(int R, int K, int N, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-127, 127);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<int8_t> b((size_t)K * N);
  for (int8_t& v : b) {
    const int q = val(rng);
    v = keep(rng) < density ? (int8_t)(q == 0 ? 1 : q) : 0;
  }
  std::vector<int32_t> bias((size_t)N);
  for (int32_t& v : bias) v = val(rng) * 40;
  std::vector<float> sw((size_t)N);
  for (float& s : sw) s = 0.002f + 0.002f * (float)keep(rng);
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kI8, {R, K});
  w.set_quantization(x, QuantParams{{0.05f}, {-3}, 0});
  const int B = w.add_weight("B", DType::kI8, {K, N}, b.data(), b.size());
  w.set_quantization(B, QuantParams{sw, {}, 1});
  const int bb = w.add_weight("b", DType::kI32, {N}, bias.data(), bias.size() * 4);
  const int y = w.add_tensor("y", DType::kI8, {R, N});
  w.set_quantization(y, QuantParams{{0.4f}, {5}, 0});
  w.add_node(fb::OpType_QLinearMatMul, {x, B, bb}, {y}, {}, "mm");
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(w.finish(&bytes).ok());
  return bytes;
}

// QLinearConv 1x1 x int8 [Nb, C, H, W] (s 0.05, z 7) with W int8 [M, C, 1, 1] (per-channel scales) + bias
// -> y int8 [Nb, M, H, W] (s 0.3, z -2).
std::vector<uint8_t> qconv1x1_file(int Nb, int C, int M, int H, int Wd, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-127, 127);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<int8_t> wv((size_t)M * C);
  for (int8_t& v : wv) {
    const int q = val(rng);
    v = keep(rng) < density ? (int8_t)(q == 0 ? 1 : q) : 0;
  }
  std::vector<int32_t> bias((size_t)M);
  for (int32_t& v : bias) v = val(rng) * 30;
  std::vector<float> sw((size_t)M);
  for (float& s : sw) s = 0.002f + 0.003f * (float)keep(rng);
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kI8, {Nb, C, H, Wd});
  w.set_quantization(x, QuantParams{{0.05f}, {7}, 0});
  const int W = w.add_weight("W", DType::kI8, {M, C, 1, 1}, wv.data(), wv.size());
  w.set_quantization(W, QuantParams{sw, {}, 0});
  const int bb = w.add_weight("b", DType::kI32, {M}, bias.data(), bias.size() * 4);
  const int y = w.add_tensor("y", DType::kI8, {Nb, M, H, Wd});
  w.set_quantization(y, QuantParams{{0.3f}, {-2}, 0});
  w.add_node(fb::OpType_QLinearConv, {x, W, bb}, {y}, {}, "pw");
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(w.finish(&bytes).ok());
  return bytes;
}

struct Run {
  std::vector<int8_t> y;
  std::string kernel;
};

Run run(const std::vector<uint8_t>& bytes, SparsePolicy policy, int threads, bool reference) {
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  mcrt::PrepareOptions po;
  po.sparse = policy;
  if (reference) po.int8_kernels = &mcrt::int8_kernels_reference();
  std::unique_ptr<mcrt::Interpreter> it;
  const mcrt::Status st = mcrt::Interpreter::prepare(*model, po, &it);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(it->set_threads(threads).ok());
  mcrt::TensorInfo in = it->input(0);
  int8_t* x = static_cast<int8_t*>(in.data);
  for (size_t i = 0; i < in.bytes; ++i) x[i] = (int8_t)((int)(i * 73 % 256) - 128);
  REQUIRE(it->run().ok());
  const mcrt::TensorInfo out = it->output(0);
  Run r;
  r.y.assign(static_cast<const int8_t*>(out.data), static_cast<const int8_t*>(out.data) + out.bytes);
  r.kernel = it->step(0).kernel;
  return r;
}

}  // namespace

TEST_CASE("QLinearMatMul with a sparse B: sparse kernels give the dense bytes", "[unit][runtime][sparse][int8]") {
  struct Case { int R, K, N; double density; };
  for (const Case c : {Case{1, 97, 61, 0.1}, Case{11, 64, 37, 0.05}, Case{3, 29, 13, 0.0}, Case{8, 53, 41, 0.6}}) {
    INFO("R=" << c.R << " K=" << c.K << " N=" << c.N << " density=" << c.density);
    const std::vector<uint8_t> file = qmatmul_file(c.R, c.K, c.N, c.density, 5u + (uint32_t)c.K);
    const Run dense = run(file, SparsePolicy::kDense, 1, false);
    if (c.density > 0) CHECK(std::set<int8_t>(dense.y.begin(), dense.y.end()).size() > 8);  // not all saturated
    CHECK(dense.kernel.find("qmatmul_gemm_") != std::string::npos);
    const Run forced = run(file, SparsePolicy::kSparse, 1, false);
    CHECK(forced.kernel.find("qmatmul_sparse_csr_") != std::string::npos);
    CHECK(forced.kernel.find("density") != std::string::npos);  // "< limit" or "sparse forced"
    CHECK(forced.y == dense.y);
    const Run forced2 = run(file, SparsePolicy::kSparse, 2, false);
    CHECK(forced2.y == dense.y);
    const Run ref = run(file, SparsePolicy::kSparse, 1, true);
    CHECK(ref.kernel.find("qmatmul_sparse_csr_reference") != std::string::npos);
    CHECK(ref.y == dense.y);
    // The cost model with the reference dense set: sparse below density 0.50, with the reason.
    const Run model = run(file, SparsePolicy::kCostModel, 1, true);
    UNSCOPED_INFO(forced.kernel << " / " << model.kernel);
    if (c.density < 0.5) CHECK(model.kernel.find("qmatmul_sparse_csr_reference") != std::string::npos);
    if (c.density < 0.5) CHECK(model.kernel.find("< 0.50") != std::string::npos);
    if (c.density >= 0.5) CHECK(model.kernel.find("dense is faster") != std::string::npos);
    CHECK(model.y == dense.y);
  }
}

TEST_CASE("1x1 QLinearConv with a sparse W: sparse kernels give the dense bytes", "[unit][runtime][sparse][int8]") {
  struct Case { int Nb, C, M, H, W; double density; };
  for (const Case c : {Case{1, 37, 29, 7, 9, 0.1}, Case{2, 16, 24, 4, 4, 0.3}, Case{1, 13, 5, 3, 5, 0.0},
                       Case{1, 23, 19, 5, 13, 0.7}}) {
    INFO("Nb=" << c.Nb << " C=" << c.C << " M=" << c.M << " HxW=" << c.H << "x" << c.W << " density=" << c.density);
    const std::vector<uint8_t> file = qconv1x1_file(c.Nb, c.C, c.M, c.H, c.W, c.density, 9u + (uint32_t)c.C);
    const Run dense = run(file, SparsePolicy::kDense, 1, false);
    if (c.density > 0) CHECK(std::set<int8_t>(dense.y.begin(), dense.y.end()).size() > 8);  // not all saturated
    CHECK(dense.kernel.find("qconv2d_1x1_gemm_") != std::string::npos);
    const Run forced = run(file, SparsePolicy::kSparse, 1, false);
    CHECK(forced.kernel.find("qconv2d_1x1_sparse_csr_") != std::string::npos);
    CHECK(forced.y == dense.y);
    const Run forced2 = run(file, SparsePolicy::kSparse, 2, false);
    CHECK(forced2.y == dense.y);
    const Run model = run(file, SparsePolicy::kCostModel, 1, true);
    UNSCOPED_INFO(forced.kernel << " / " << model.kernel);
    if (c.density < 0.5) CHECK(model.kernel.find("qconv2d_1x1_sparse_csr_reference") != std::string::npos);
    if (c.density < 0.5) CHECK(model.kernel.find("< 0.50") != std::string::npos);
    if (c.density >= 0.5) CHECK(model.kernel.find("dense is faster") != std::string::npos);
    CHECK(model.y == dense.y);
  }
}
