// bench_sparse_int8: int8 sparse vs int8 dense kernels, same run, single thread, kernel level (no model):
// the best int8 dense set (int8_kernels_best: gemm_pack + gemm_run, X packed per run as QLinearMatMul
// does) against the best int8 sparse set (int8_sparse_kernels_best: CSR of the same pruned weights,
// fc_run). FC 1024x1024 at batch 1 and 8, and 1x1 conv 256->256 at 14x14 and 128->128 at 4x4, over unstructured
// sparsities (seeded random masks). Prints the median time of each and dense / sparse (> 1: sparse faster).
//   bench_sparse_int8 [runs]      (MCRT_KERNELS=reference caps both to their references)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "int8_kernels.h"
#include "sparse_int8_kernels.h"

namespace {

struct Buf {
  void* p;
  explicit Buf(size_t n) : p(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64)) { std::memset(p, 0, (n + 63) / 64 * 64 + 64); }
  ~Buf() { std::free(p); }
};

std::vector<int8_t> weights(size_t n, double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-127, 127);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<int8_t> w(n);
  for (int8_t& v : w) {
    int q = val(rng);
    if (q == 0) q = 1;
    v = keep(rng) < sparsity ? 0 : (int8_t)q;
  }
  return w;
}

template <class F>
double median_us(int runs, F f) {
  std::vector<double> t;
  f();  // warm-up
  for (int r = 0; r < runs; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 51;
  const mcrt::Int8KernelSet& dk = mcrt::int8_kernels_best();
  const mcrt::Int8SparseKernelSet& sk = mcrt::int8_sparse_kernels_best();
  std::printf("int8 dense set: %s, int8 sparse set: %s, single thread, median of %d runs\n", dk.name, sk.name, runs);
  std::printf("%-28s %8s %12s %12s %14s\n", "shape", "sparsity", "dense_us", "sparse_us", "dense/sparse");
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> xd(-128, 127);
  const std::vector<float> mult(1024, 1.f / 4096.f);
  mcrt::Int8Out out;
  out.mult = mult.data();
  int sink = 0;
  struct Shape { const char* label; bool fc; int rows, Mo, K; };  // fc: rows = batch; pointwise: rows = P
  const Shape shapes[] = {{"fc 1024x1024 batch 1", true, 1, 1024, 1024},
                          {"fc 1024x1024 batch 8", true, 8, 1024, 1024},
                          {"1x1 conv 256->256 14x14", false, 196, 256, 256},
                          {"1x1 conv 128->128 4x4", false, 16, 128, 128}};
  for (const Shape& s : shapes)
    for (double sp : {0.5, 0.7, 0.8, 0.9, 0.95}) {
      const std::vector<int8_t> w = weights((size_t)s.Mo * s.K, sp, 7);
      std::vector<int8_t> x((size_t)s.rows * s.K);
      for (int8_t& v : x) v = (int8_t)xd(rng);
      const std::vector<int32_t> bias((size_t)s.Mo, 17);
      Buf packed(dk.gemm_packed_size(s.Mo, s.K));
      dk.gemm_pack(s.Mo, s.K, w.data(), bias.data(), packed.p);
      Buf xp(mcrt::int8_gemm_x_size(s.K, s.rows));
      std::vector<int8_t> xt((size_t)s.rows * s.K);  // pointwise: X columns as rows [P][C]
      if (!s.fc)
        for (int c = 0; c < s.K; ++c)
          for (int p = 0; p < s.rows; ++p) xt[(size_t)p * s.K + c] = x[(size_t)c * s.rows + p];
      std::vector<int8_t> yd((size_t)s.Mo * s.rows), ys((size_t)s.Mo * s.rows);
      const double td = median_us(runs, [&] {
        mcrt::int8_pack_rows(s.rows, s.K, s.fc ? x.data() : xt.data(), s.K, static_cast<int8_t*>(xp.p));
        dk.gemm_run(s.Mo, s.rows, s.K, packed.p, static_cast<int8_t*>(xp.p), 3, out, yd.data(), s.rows, nullptr);
      });
      Buf csr(mcrt::int8_csr_packed_size(s.Mo, mcrt::int8_count_nonzero(w.data(), (int64_t)w.size())));
      mcrt::Int8CsrMatrix m;
      mcrt::int8_csr_pack_dense(s.Mo, s.K, w.data(), false, csr.p, &m);
      Buf scratch(sk.fc_scratch_size(s.rows, s.K));
      const double ts = median_us(runs, [&] {
        if (s.fc)
          sk.fc_run(s.rows, m, bias.data(), x.data(), s.K, 3, out, ys.data(), s.Mo, scratch.p, nullptr);
        else
          sk.pointwise_run(s.rows, m, bias.data(), x.data(), 3, out, ys.data(), nullptr);
      });
      // Same bytes (dense output is [Mo][rows], fc sparse output is [rows][Mo]).
      for (int r = 0; r < s.rows; ++r)
        for (int o = 0; o < s.Mo; ++o)
          if (yd[(size_t)o * s.rows + r] != (s.fc ? ys[(size_t)r * s.Mo + o] : ys[(size_t)o * s.rows + r])) {
            std::fprintf(stderr, "bench_sparse_int8: sparse and dense outputs differ (%s)\n", s.label);
            return 1;
          }
      sink += yd[0];
      std::printf("%-28s %8.2f %12.1f %12.1f %14.2f\n", s.label, sp, td, ts, td / ts);
    }
  return sink == 12345678 ? 3 : 0;
}
