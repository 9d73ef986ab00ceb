// bench_sparse: the same one-layer model prepared twice on the runtime, once with the dense kernels
// (PrepareOptions::sparse = kDense) and once with the sparse ones (kSparse), single thread. The
// weights get unstructured sparsity s (a seeded random mask) and are stored as the exporter would
// (sparse when smaller). Prints the median time of each and dense / sparse (> 1: sparse is faster).
//   bench_sparse [runs]          (MCRT_KERNELS=reference|avx2 caps the kernel sets)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace {

using mcrt::Attribute;
namespace fb = mcrt::fb;

std::vector<float> sparse_weights(size_t n, double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w(n);
  for (float& v : w) v = keep(rng) < sparsity ? 0.f : val(rng);
  return w;
}

// Gemm y[-1, N] = x[-1, K] * W^T + b (transB = 1, W [N, K]) stored as a bitmask constant.
std::vector<uint8_t> fc_model(int K, int N, double sparsity) {
  mcrt::ModelWriter w;
  const int x = w.add_tensor("x", mcrt::DType::kF32, {-1, K});
  const std::vector<float> wv = sparse_weights((size_t)N * K, sparsity, 7);
  std::vector<uint8_t> mask(((size_t)N * K + 7) / 8, 0);
  std::vector<float> vals;
  for (size_t i = 0; i < wv.size(); ++i)
    if (wv[i] != 0.f) {
      mask[i / 8] |= (uint8_t)(1u << (i % 8));
      vals.push_back(wv[i]);
    }
  const int W = w.add_sparse_bitmask_weight("W", mcrt::DType::kF32, {N, K}, mask, vals.data(), vals.size() * 4);
  const int b = w.add_weight_f32("b", {N}, std::vector<float>((size_t)N, 0.1f));
  const int y = w.add_tensor("y", mcrt::DType::kF32, {-1, N});
  w.add_node(fb::OpType_Gemm, {x, W, b}, {y}, {Attribute::Int(fb::AttrKey_transB, 1)}, "fc");
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  if (!w.finish(&bytes).ok()) std::abort();
  return bytes;
}

// 1x1 Conv y[1, M, H, W] = W[M, C, 1, 1] * x[1, C, H, W], dense weights with zeros.
std::vector<uint8_t> pointwise_model(int C, int M, int H, int Wd, double sparsity) {
  mcrt::ModelWriter w;
  const int x = w.add_tensor("x", mcrt::DType::kF32, {1, C, H, Wd});
  const int W = w.add_weight_f32("W", {M, C, 1, 1}, sparse_weights((size_t)M * C, sparsity, 11));
  const int y = w.add_tensor("y", mcrt::DType::kF32, {1, M, H, Wd});
  w.add_node(fb::OpType_Conv, {x, W}, {y}, {}, "pw");
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  if (!w.finish(&bytes).ok()) std::abort();
  return bytes;
}

struct Timing {
  double us = 0;
  std::string kernel;
};

Timing time_model(const std::vector<uint8_t>& bytes, int batch, mcrt::SparsePolicy policy, int runs) {
  std::unique_ptr<mcrt::Model> model;
  std::unique_ptr<mcrt::Interpreter> it;
  if (!mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok()) std::abort();
  mcrt::PrepareOptions po;
  po.batch = batch;
  po.sparse = policy;
  if (!mcrt::Interpreter::prepare(*model, po, &it).ok()) std::abort();
  const mcrt::TensorInfo in = it->input(0);
  float* xp = static_cast<float*>(in.data);
  for (size_t i = 0; i < in.bytes / 4; ++i) xp[i] = (float)((i * 37) % 101) / 101.f - 0.5f;
  for (int r = 0; r < 5; ++r) (void)it->run();
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)it->run();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], it->step(0).kernel};
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  const double sparsities[] = {0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95};
  std::printf("single thread, median of %d runs; ratio = dense / sparse (> 1: sparse is faster)\n\n", runs);
  std::printf("%-34s %8s %8s %11s %11s %7s  %s\n", "layer", "sparsity", "batch", "dense_us", "sparse_us", "ratio",
              "kernels (dense | sparse)");
  for (int batch : {1, 8})
    for (double s : sparsities) {
      const std::vector<uint8_t> m = fc_model(1024, 1024, s);
      const Timing d = time_model(m, batch, mcrt::SparsePolicy::kDense, runs);
      const Timing sp = time_model(m, batch, mcrt::SparsePolicy::kSparse, runs);
      std::printf("%-34s %7.0f%% %8d %11.1f %11.1f %6.2fx  %s | %s\n", "fc 1024x1024", s * 100, batch, d.us, sp.us,
                  d.us / sp.us, d.kernel.c_str(), sp.kernel.c_str());
    }
  struct Pw {
    int C, M, H, W;
  };
  for (const Pw& p : {Pw{256, 256, 14, 14}, Pw{128, 128, 4, 4}})
    for (double s : sparsities) {
      const std::vector<uint8_t> m = pointwise_model(p.C, p.M, p.H, p.W, s);
      const Timing d = time_model(m, 1, mcrt::SparsePolicy::kDense, runs);
      const Timing sp = time_model(m, 1, mcrt::SparsePolicy::kSparse, runs);
      char name[64];
      std::snprintf(name, sizeof name, "conv 1x1 %d->%d, %dx%d", p.C, p.M, p.H, p.W);
      std::printf("%-34s %7.0f%% %8d %11.1f %11.1f %6.2fx  %s | %s\n", name, s * 100, 1, d.us, sp.us, d.us / sp.us,
                  d.kernel.c_str(), sp.kernel.c_str());
    }
  return 0;
}
