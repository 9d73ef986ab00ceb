// Sparse weights through the runtime: files with BITMASK / CSR constants -> load -> prepare (kernel
// choice by the cost model, forced sparse, forced dense) -> run, compared with the dense path; the
// reasons shown per step; memory after prepare; threads; and the loader's §4.4 rejections.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace {

using mcrt::Attribute;
using mcrt::DType;
using mcrt::ModelWriter;
using mcrt::SparsePolicy;
using mcrt::StatusCode;
namespace fb = mcrt::fb;

std::vector<float> sparse_values(size_t n, double density, uint32_t seed) {
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

enum class Storage { kDense, kBitmask, kCsr };

// Adds w (shape dims, rows = dims[0]) in the given storage.
int add_weight(ModelWriter& mw, const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& w,
               Storage s) {
  if (s == Storage::kDense) return mw.add_weight_f32(name, dims, w);
  std::vector<float> vals;
  if (s == Storage::kBitmask) {
    std::vector<uint8_t> mask((w.size() + 7) / 8, 0);
    for (size_t i = 0; i < w.size(); ++i)
      if (w[i] != 0.f) {
        mask[i / 8] = (uint8_t)(mask[i / 8] | 1u << (i % 8));
        vals.push_back(w[i]);
      }
    return mw.add_sparse_bitmask_weight(name, DType::kF32, dims, mask, vals.data(), vals.size() * 4);
  }
  const size_t rows = (size_t)dims[0], cols = w.size() / rows;
  std::vector<int32_t> rp(rows + 1, 0), ci;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      if (w[r * cols + c] != 0.f) {
        ci.push_back((int32_t)c);
        vals.push_back(w[r * cols + c]);
      }
    rp[r + 1] = (int32_t)ci.size();
  }
  return mw.add_sparse_csr_weight(name, DType::kF32, dims, rp, ci, vals.data(), vals.size() * 4);
}

struct Run {
  std::vector<float> y;
  std::string kernel;
  size_t weight_bytes = 0;
};

Run run(const std::vector<uint8_t>& bytes, SparsePolicy policy, int batch, int threads = 1,
        const mcrt::KernelSet* kernels = nullptr) {
  std::unique_ptr<mcrt::Model> model;
  mcrt::Status st = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model);
  REQUIRE(st.ok());
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = batch;
  po.sparse = policy;
  po.kernels = kernels;
  st = mcrt::Interpreter::prepare(*model, po, &it);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(it->set_threads(threads).ok());
  mcrt::TensorInfo in = it->input(0);
  float* x = static_cast<float*>(in.data);
  for (size_t i = 0; i < in.bytes / 4; ++i) x[i] = std::sin(0.37f * (float)i);
  REQUIRE(it->run().ok());
  Run r;
  const mcrt::TensorInfo out = it->output(0);
  const float* y = static_cast<const float*>(out.data);
  r.y.assign(y, y + out.bytes / 4);
  r.kernel = it->step(0).kernel;
  r.weight_bytes = it->weights_bytes_in_memory();
  return r;
}

// Gemm (transB 0 or 1) + Relu, or MatMul, on x [-1, K] with a constant [N, K] / [K, N] weight.
std::vector<uint8_t> fc_file(int K, int N, double density, Storage s, bool trans_b, bool matmul = false) {
  ModelWriter mw;
  const int x = mw.add_tensor("x", DType::kF32, {-1, K});
  const std::vector<float> w = sparse_values((size_t)K * N, density, 99u + (uint32_t)K);
  const std::vector<int64_t> dims = trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
  const int W = add_weight(mw, "W", dims, w, s);
  const int y = mw.add_tensor("y", DType::kF32, {-1, N});
  if (matmul) {
    mw.add_node(fb::OpType_MatMul, {x, W}, {y}, {}, "mm");
    mw.set_outputs({y});
  } else {
    const int b = mw.add_weight_f32("b", {N}, sparse_values((size_t)N, 1.0, 5u));
    const int h = mw.add_tensor("h", DType::kF32, {-1, N});
    mw.add_node(fb::OpType_Gemm, {x, W, b}, {h}, {Attribute::Int(fb::AttrKey_transB, trans_b ? 1 : 0)}, "fc");
    mw.add_node(fb::OpType_Relu, {h}, {y}, {}, "relu");
    mw.set_outputs({y});
  }
  mw.set_inputs({x});
  std::vector<uint8_t> bytes;
  REQUIRE(mw.finish(&bytes).ok());
  return bytes;
}

std::vector<uint8_t> pointwise_file(int C, int M, int H, int W, double density, Storage s) {
  ModelWriter mw;
  const int x = mw.add_tensor("x", DType::kF32, {-1, C, H, W});
  const int w = add_weight(mw, "W", {M, C, 1, 1}, sparse_values((size_t)M * C, density, 7u), s);
  const int b = mw.add_weight_f32("b", {M}, sparse_values((size_t)M, 1.0, 8u));
  const int y = mw.add_tensor("y", DType::kF32, {-1, M, H, W});
  mw.add_node(fb::OpType_Conv, {x, w, b}, {y}, {}, "pw");
  mw.set_inputs({x});
  mw.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(mw.finish(&bytes).ok());
  return bytes;
}

void require_close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    REQUIRE(std::fabs(a[i] - b[i]) <= tol * (1.f + std::fabs(b[i])));
  }
}

}  // namespace

TEST_CASE("sparse Gemm/MatMul files: sparse kernels match the dense path", "[unit][runtime][sparse]") {
  for (Storage s : {Storage::kDense, Storage::kBitmask, Storage::kCsr})
    for (bool tb : {false, true})
      for (int batch : {1, 3, 8, 11}) {
        const std::vector<uint8_t> f = fc_file(97, 41, 0.2, s, tb);
        const Run d = run(f, SparsePolicy::kDense, batch);
        const Run sp = run(f, SparsePolicy::kSparse, batch);
        INFO("storage " << (int)s << " transB " << tb << " batch " << batch << ": " << sp.kernel);
        CHECK(d.kernel.find("fc_") == 0);
        CHECK(d.kernel.find("sparse") == std::string::npos);
        CHECK(sp.kernel.find("fc_sparse_csr_") == 0);
        CHECK(sp.kernel.find("+relu") != std::string::npos);
        require_close(sp.y, d.y, 1e-4f);
      }
  const std::vector<uint8_t> mm = fc_file(64, 30, 0.1, Storage::kCsr, false, true);
  const Run d = run(mm, SparsePolicy::kDense, 2);
  const Run sp = run(mm, SparsePolicy::kSparse, 2);
  CHECK(sp.kernel.find("fc_sparse_csr_") == 0);
  require_close(sp.y, d.y, 1e-4f);
}

TEST_CASE("sparse 1x1 Conv files: sparse kernel matches the dense path", "[unit][runtime][sparse]") {
  for (Storage s : {Storage::kBitmask, Storage::kCsr})
    for (int batch : {1, 2}) {
      const std::vector<uint8_t> f = pointwise_file(37, 19, 5, 7, 0.15, s);
      const Run d = run(f, SparsePolicy::kDense, batch);
      const Run sp = run(f, SparsePolicy::kSparse, batch);
      INFO(sp.kernel);
      CHECK(sp.kernel.find("conv2d_1x1_sparse_csr_") == 0);
      require_close(sp.y, d.y, 1e-4f);
    }
}

TEST_CASE("the cost model picks sparse only below the threshold and says why", "[unit][runtime][sparse]") {
  const Run low = run(fc_file(256, 128, 0.03, Storage::kBitmask, true), SparsePolicy::kCostModel, 1);
  INFO(low.kernel);
  CHECK(low.kernel.find("fc_sparse_csr_") == 0);
  CHECK(low.kernel.find("(density 0.03 < ") != std::string::npos);
  const Run high = run(fc_file(256, 128, 0.9, Storage::kDense, true), SparsePolicy::kCostModel, 1);
  INFO(high.kernel);
  CHECK(high.kernel.find("fc_sparse") == std::string::npos);
  CHECK(high.kernel.find(": dense is faster)") != std::string::npos);
  const Run full = run(fc_file(64, 16, 1.0, Storage::kDense, true), SparsePolicy::kCostModel, 1);
  CHECK(full.kernel.find("density") == std::string::npos);  // nothing to decide
  const Run forced = run(fc_file(64, 16, 0.9, Storage::kDense, true), SparsePolicy::kSparse, 1);
  CHECK(forced.kernel.find("sparse forced") != std::string::npos);
}

TEST_CASE("a sparse weight kept sparse uses less memory than dense after prepare", "[unit][runtime][sparse]") {
  const std::vector<uint8_t> f = fc_file(512, 256, 0.05, Storage::kCsr, true);
  const Run d = run(f, SparsePolicy::kDense, 1);
  const Run sp = run(f, SparsePolicy::kSparse, 1);
  CHECK(d.weight_bytes >= 512u * 256u * 4u);
  CHECK(sp.weight_bytes < d.weight_bytes / 3);  // the densified copy is freed after packing
}

TEST_CASE("sparse path is bit-identical for any thread count and kernel-set pairing", "[unit][runtime][sparse]") {
  const std::vector<uint8_t> f = fc_file(301, 257, 0.1, Storage::kBitmask, true);
  for (int batch : {1, 9}) {
    const Run a = run(f, SparsePolicy::kSparse, batch, 1);
    const Run b = run(f, SparsePolicy::kSparse, batch, 3);
    REQUIRE(std::memcmp(a.y.data(), b.y.data(), a.y.size() * 4) == 0);
  }
  const std::vector<uint8_t> p = pointwise_file(64, 48, 9, 9, 0.1, Storage::kCsr);
  const Run a = run(p, SparsePolicy::kSparse, 2, 1);
  const Run b = run(p, SparsePolicy::kSparse, 2, 3);
  REQUIRE(std::memcmp(a.y.data(), b.y.data(), a.y.size() * 4) == 0);
  // The reference dense set goes with the reference sparse set.
  const Run r = run(f, SparsePolicy::kSparse, 1, 1, &mcrt::kernels_reference());
  CHECK(r.kernel.find("fc_sparse_csr_reference") == 0);
  require_close(r.y, run(f, SparsePolicy::kDense, 1).y, 1e-4f);
}

TEST_CASE("all-zero sparse weights give bias only", "[unit][runtime][sparse]") {
  for (Storage s : {Storage::kBitmask, Storage::kCsr}) {
    const std::vector<uint8_t> f = fc_file(33, 17, 0.0, s, true);
    const Run sp = run(f, SparsePolicy::kCostModel, 2);
    const Run d = run(f, SparsePolicy::kDense, 2);
    CHECK(sp.kernel.find("fc_sparse_csr_") == 0);
    require_close(sp.y, d.y, 0.f);
  }
}

// §4.4 rejections not covered by tests/unit/runtime/test_loader_rejects.cpp.
namespace {

mcrt::Status load_csr(std::vector<int64_t> dims, std::vector<int32_t> rp, std::vector<int32_t> ci, size_t nvals) {
  ModelWriter mw;
  const std::vector<float> v(nvals, 1.f);
  const int x = mw.add_tensor("x", DType::kF32, dims);
  const int a = mw.add_sparse_csr_weight("a", DType::kF32, dims, rp, ci, v.data(), v.size() * 4);
  const int y = mw.add_tensor("y", DType::kF32, dims);
  mw.add_node(fb::OpType_Add, {x, a}, {y});
  mw.set_inputs({x});
  mw.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(mw.finish(&bytes).ok());
  std::unique_ptr<mcrt::Model> m;
  return mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
}

mcrt::Status load_bitmask(std::vector<int64_t> dims, std::vector<uint8_t> mask, size_t nvals) {
  ModelWriter mw;
  const std::vector<float> v(nvals, 1.f);
  const int x = mw.add_tensor("x", DType::kF32, dims);
  const int a = mw.add_sparse_bitmask_weight("a", DType::kF32, dims, mask, v.data(), v.size() * 4);
  const int y = mw.add_tensor("y", DType::kF32, dims);
  mw.add_node(fb::OpType_Add, {x, a}, {y});
  mw.set_inputs({x});
  mw.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(mw.finish(&bytes).ok());
  std::unique_ptr<mcrt::Model> m;
  return mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
}

void require_44(const mcrt::Status& s) {
  INFO(s.to_string());
  REQUIRE(s.code() == StatusCode::kInvalidModel);
  REQUIRE(s.message().find("§4.4") != std::string::npos);
}

}  // namespace

TEST_CASE("loader rejects malformed CSR and bitmask weights", "[unit][runtime][loader]") {
  REQUIRE(load_csr({2, 3}, {0, 2, 3}, {0, 2, 1}, 3).ok());            // the valid baseline
  require_44(load_csr({2, 3}, {0, 2, 1}, {0, 2, 1}, 3));              // row_ptr decreases
  require_44(load_csr({2, 3}, {1, 2, 3}, {0, 2, 1}, 3));              // row_ptr[0] != 0
  require_44(load_csr({2, 3}, {0, 2, 3}, {0, 3, 1}, 3));              // col_idx == cols
  require_44(load_csr({2, 3}, {0, 2, 3}, {0, -1, 1}, 3));             // negative col_idx
  require_44(load_csr({2, 3}, {0, 2, 3}, {2, 0, 1}, 3));              // not increasing within a row
  require_44(load_csr({2, 3}, {0, 2, 3}, {0, 0, 1}, 3));              // duplicate column
  require_44(load_csr({2, 3}, {0, 2, 3}, {0, 2, 1}, 2));              // nnz 3, 2 values
  require_44(load_csr({2, 3}, {0, 2, 3}, {0, 2}, 3));                 // nnz 3, 2 column indices
  require_44(load_csr({2, 3}, {0, 2}, {0, 2}, 2));                    // row_ptr too short
  require_44(load_csr({2, 3}, {0, 4, 7}, {0, 1, 2, 0, 0, 1, 2}, 7));  // nnz > numel
  REQUIRE(load_bitmask({2, 5}, {0x21, 0x02}, 3).ok());                // the valid baseline
  require_44(load_bitmask({2, 5}, {0x21, 0x02}, 4));                  // popcount 3, 4 values
  require_44(load_bitmask({2, 5}, {0x21}, 2));                        // mask too short
  require_44(load_bitmask({2, 5}, {0x21, 0x06}, 4));                  // bit 10 past numel
}
