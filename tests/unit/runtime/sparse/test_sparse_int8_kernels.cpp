// int8 sparse kernel tests: every int8 sparse set (reference, and AVX2 or NEON where available)
// against the DENSE int8 reference kernel (int8_kernels_reference gemm_run) on the same pruned
// weights, byte for byte: fc and pointwise, awkward shapes (primes, tails below and across the SIMD
// widths, empty rows), densities 0, 1 and in between, zx != 0, bias, a clamped activation range,
// 1 vs 3 threads; and the CSR packing (row sums, sizes).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "int8_kernels.h"
#include "runtime/thread_pool.h"
#include "sparse_int8_kernels.h"

namespace {

using mcrt::Int8CsrMatrix;
using mcrt::Int8Out;
using mcrt::Int8SparseKernelSet;

struct Buf {
  void* p = nullptr;
  explicit Buf(size_t bytes) {
    const size_t n = (bytes + 63) / 64 * 64 + 64;
    p = std::aligned_alloc(64, n);
    std::memset(p, 0xA5, n);  // garbage, not zeros
  }
  ~Buf() { std::free(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

// Weights in [-127, 127] with the given density (nonzeros); every `empty_every`-th row all zero.
std::vector<int8_t> sparse_w(int rows, int cols, double density, uint32_t seed, int empty_every = 0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-127, 127);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<int8_t> w((size_t)rows * cols, 0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      int v = val(rng);
      if (v == 0) v = 1;
      if (keep(rng) < density && !(empty_every > 0 && r % empty_every == 0)) w[(size_t)r * cols + c] = (int8_t)v;
    }
  return w;
}

std::vector<int8_t> random_x(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = (int8_t)d(rng);
  return v;
}

std::vector<int32_t> random_bias(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-20000, 20000);
  std::vector<int32_t> b((size_t)n);
  for (int32_t& v : b) v = d(rng);
  return b;
}

// Multipliers that spread the accumulators over the int8 range (and past it: saturation is exercised).
std::vector<float> mults(int n, int K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.5f, 2.f);
  std::vector<float> m((size_t)n);
  for (float& v : m) v = d(rng) / (float)(K > 0 ? 40 * K : 1);
  return m;
}

std::vector<const Int8SparseKernelSet*> all_sets() {
  std::vector<const Int8SparseKernelSet*> s = {&mcrt::int8_sparse_kernels_reference()};
  for (const Int8SparseKernelSet* k : {mcrt::int8_sparse_kernels_avx2(), mcrt::int8_sparse_kernels_neon()})
    if (k) s.push_back(k);
  return s;
}

struct Packed {
  std::unique_ptr<Buf> buf;
  Int8CsrMatrix m;
};

Packed pack(const std::vector<int8_t>& w, int rows, int cols) {
  Packed p;
  const size_t bytes = mcrt::int8_csr_packed_size(rows, mcrt::int8_count_nonzero(w.data(), (int64_t)w.size()));
  p.buf = std::make_unique<Buf>(bytes);
  mcrt::int8_csr_pack_dense(rows, cols, w.data(), false, p.buf->p, &p.m);
  return p;
}

// Dense int8 reference: Y[n, col] for W [rows_out, K] and X columns given as rows xr[col][K].
std::vector<int8_t> dense_ref(int Mo, int K, const std::vector<int8_t>& w, const int32_t* bias, int ncols,
                              const std::vector<int8_t>& xrows, int32_t zx, const Int8Out& out) {
  const mcrt::Int8KernelSet& ks = mcrt::int8_kernels_reference();
  Buf packed(ks.gemm_packed_size(Mo, K));
  ks.gemm_pack(Mo, K, w.data(), bias, packed.p);
  Buf xp(mcrt::int8_gemm_x_size(K, ncols));
  mcrt::int8_pack_rows(ncols, K, xrows.data(), K, static_cast<int8_t*>(xp.p));
  std::vector<int8_t> y((size_t)Mo * ncols);
  ks.gemm_run(Mo, ncols, K, packed.p, static_cast<int8_t*>(xp.p), zx, out, y.data(), ncols, nullptr);
  return y;  // [Mo][ncols]
}

Int8Out make_out(const std::vector<float>& m, int32_t zp, int32_t lo, int32_t hi) {
  Int8Out o;
  o.mult = m.data();
  o.zero_point = zp;
  o.act_min = lo;
  o.act_max = hi;
  return o;
}

}  // namespace

TEST_CASE("int8 CSR packing stores the nonzeros, their columns and row sums", "[unit][runtime][sparse][int8]") {
  const std::vector<int8_t> w = {0, 3, 0, -2, /**/ 0, 0, 0, 0, /**/ 127, 0, -127, 1};
  Packed p = pack(w, 3, 4);
  REQUIRE(p.m.nnz() == 5);
  CHECK(std::vector<int32_t>(p.m.row_ptr, p.m.row_ptr + 4) == std::vector<int32_t>{0, 2, 2, 5});
  CHECK(std::vector<int32_t>(p.m.col_idx, p.m.col_idx + 5) == std::vector<int32_t>{1, 3, 0, 2, 3});
  CHECK(std::vector<int8_t>(p.m.values, p.m.values + 5) == std::vector<int8_t>{3, -2, 127, -127, 1});
  CHECK(std::vector<int32_t>(p.m.wsum, p.m.wsum + 3) == std::vector<int32_t>{1, 0, 1});
  // Transposed source gives the same matrix.
  std::vector<int8_t> wt(12);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) wt[(size_t)c * 3 + r] = w[(size_t)r * 4 + c];
  Buf b(mcrt::int8_csr_packed_size(3, 5));
  Int8CsrMatrix m2;
  mcrt::int8_csr_pack_dense(3, 4, wt.data(), true, b.p, &m2);
  CHECK(std::vector<int32_t>(m2.col_idx, m2.col_idx + 5) == std::vector<int32_t>{1, 3, 0, 2, 3});
  CHECK(std::vector<int8_t>(m2.values, m2.values + 5) == std::vector<int8_t>{3, -2, 127, -127, 1});
}

TEST_CASE("int8 sparse fc equals the dense int8 reference byte for byte", "[unit][runtime][sparse][int8]") {
  struct Case { int M, N, K; double density; int32_t zx, zp, lo, hi; bool bias; };
  const Case cases[] = {
      {1, 37, 53, 0.3, 5, -3, -128, 127, true},   {1, 31, 17, 0.0, -7, 2, -128, 127, true},
      {1, 29, 41, 1.0, 0, 0, -128, 127, false},   {3, 61, 97, 0.1, 11, 4, 4, 127, true},
      {7, 17, 23, 0.55, -128, 0, -128, 127, true}, {1, 101, 257, 0.05, 127, -10, -50, 60, true},
      {2, 13, 1, 1.0, 3, 0, -128, 127, true},     {5, 64, 128, 0.9, -2, 1, -128, 127, false},
      {8, 29, 37, 0.2, 9, -1, -128, 127, true},   {19, 23, 71, 0.4, -33, 6, -128, 127, true},
      {16, 11, 5, 0.0, 1, 0, -128, 127, true},
  };
  for (const Case& c : cases)
    for (const Int8SparseKernelSet* ks : all_sets()) {
      INFO(ks->name << " M=" << c.M << " N=" << c.N << " K=" << c.K << " d=" << c.density << " zx=" << c.zx);
      const std::vector<int8_t> w = sparse_w(c.N, c.K, c.density, 100u + (uint32_t)c.K, 7);
      const std::vector<int8_t> x = random_x((size_t)c.M * c.K, 200u + (uint32_t)c.N);
      const std::vector<int32_t> b = random_bias(c.N, 300u);
      const std::vector<float> m = mults(c.N, c.K, 400u);
      const Int8Out out = make_out(m, c.zp, c.lo, c.hi);
      const int32_t* bias = c.bias ? b.data() : nullptr;
      const std::vector<int8_t> yd = dense_ref(c.N, c.K, w, bias, c.M, x, c.zx, out);  // [N][M]
      Packed p = pack(w, c.N, c.K);
      Buf scratch(ks->fc_scratch_size(c.M, c.K));
      std::vector<int8_t> ys((size_t)c.M * c.N);
      ks->fc_run(c.M, p.m, bias, x.data(), c.K, c.zx, out, ys.data(), c.N, scratch.p, nullptr);
      int diff = 0;
      for (int mm = 0; mm < c.M; ++mm)
        for (int n = 0; n < c.N; ++n) diff += ys[(size_t)mm * c.N + n] != yd[(size_t)n * c.M + mm];
      CHECK(diff == 0);
    }
}

TEST_CASE("int8 sparse pointwise equals the dense int8 reference byte for byte", "[unit][runtime][sparse][int8]") {
  struct Case { int Mo, C, P; double density; int32_t zx, zp, lo, hi; bool bias; };
  const Case cases[] = {
      {7, 13, 49, 0.3, 5, -3, -128, 127, true},  {5, 11, 16, 0.0, -9, 1, -128, 127, true},
      {3, 19, 15, 1.0, 0, 0, -128, 127, false},  {23, 37, 196, 0.1, -128, 7, 7, 127, true},
      {17, 64, 33, 0.6, 127, -5, -40, 90, true}, {9, 1, 31, 1.0, 2, 0, -128, 127, true},
  };
  for (const Case& c : cases)
    for (const Int8SparseKernelSet* ks : all_sets()) {
      INFO(ks->name << " Mo=" << c.Mo << " C=" << c.C << " P=" << c.P << " d=" << c.density << " zx=" << c.zx);
      const std::vector<int8_t> w = sparse_w(c.Mo, c.C, c.density, 500u + (uint32_t)c.C, 4);
      const std::vector<int8_t> x = random_x((size_t)c.C * c.P, 600u + (uint32_t)c.P);  // [C][P]
      std::vector<int8_t> xt((size_t)c.P * c.C);                                          // [P][C]
      for (int ch = 0; ch < c.C; ++ch)
        for (int q = 0; q < c.P; ++q) xt[(size_t)q * c.C + ch] = x[(size_t)ch * c.P + q];
      const std::vector<int32_t> b = random_bias(c.Mo, 700u);
      const std::vector<float> m = mults(c.Mo, c.C, 800u);
      const Int8Out out = make_out(m, c.zp, c.lo, c.hi);
      const int32_t* bias = c.bias ? b.data() : nullptr;
      const std::vector<int8_t> yd = dense_ref(c.Mo, c.C, w, bias, c.P, xt, c.zx, out);  // [Mo][P]
      Packed p = pack(w, c.Mo, c.C);
      std::vector<int8_t> ys((size_t)c.Mo * c.P);
      ks->pointwise_run(c.P, p.m, bias, x.data(), c.zx, out, ys.data(), nullptr);
      int diff = 0;
      for (size_t i = 0; i < ys.size(); ++i) diff += ys[i] != yd[i];
      CHECK(diff == 0);
    }
}

TEST_CASE("int8 sparse kernels are bit-identical for 1 and 3 threads", "[unit][runtime][sparse][int8]") {
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(3).ok());
  const mcrt::ParallelFor* pf = pool.hook();
  REQUIRE(pf != nullptr);
  const int N = 203, K = 517, M = 11, P = 67;
  const std::vector<int8_t> w = sparse_w(N, K, 0.12, 77u, 9);
  const std::vector<float> m = mults(N, K, 78u);
  const std::vector<int32_t> b = random_bias(N, 79u);
  const Int8Out out = make_out(m, 3, -128, 127);
  Packed p = pack(w, N, K);
  for (const Int8SparseKernelSet* ks : all_sets()) {
    INFO(ks->name);
    const std::vector<int8_t> x = random_x((size_t)M * K, 80u);
    Buf s1(ks->fc_scratch_size(M, K)), s3(ks->fc_scratch_size(M, K));
    std::vector<int8_t> y1((size_t)M * N), y3((size_t)M * N);
    ks->fc_run(M, p.m, b.data(), x.data(), K, -6, out, y1.data(), N, s1.p, nullptr);
    ks->fc_run(M, p.m, b.data(), x.data(), K, -6, out, y3.data(), N, s3.p, pf);
    CHECK(y1 == y3);
    const std::vector<int8_t> xc = random_x((size_t)K * P, 81u);
    std::vector<int8_t> z1((size_t)N * P), z3((size_t)N * P);
    ks->pointwise_run(P, p.m, b.data(), xc.data(), 9, out, z1.data(), nullptr);
    ks->pointwise_run(P, p.m, b.data(), xc.data(), 9, out, z3.data(), pf);
    CHECK(z1 == z3);
  }
}
