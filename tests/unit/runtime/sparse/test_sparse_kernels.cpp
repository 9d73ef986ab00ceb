// Sparse kernel diff tests: every sparse set against the reference on awkward shapes (primes, tails,
// empty rows, all-zero weights, density 0 and 1, batch rows around the 8-row blocks), the sparse
// kernels against the dense ones, CSR packing, and bit-identical results for any thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernels.h"
#include "runtime/thread_pool.h"
#include "sparse_kernels.h"

namespace {

using mcrt::CsrMatrix;
using mcrt::Epilogue;
using mcrt::SparseKernelSet;

struct Aligned {
  void* p = nullptr;
  explicit Aligned(size_t bytes) {
    const size_t n = (bytes + 63) / 64 * 64 + 64;
    p = std::aligned_alloc(64, n);
    std::memset(p, 0xA5, n);  // garbage, not zeros
  }
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

// Random matrix [rows, cols] with the given density; rows listed in `empty_rows` are all zero.
std::vector<float> sparse_matrix(int rows, int cols, double density, uint32_t seed, int empty_every = 0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w((size_t)rows * cols, 0.f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float v = val(rng);
      if (keep(rng) < density && !(empty_every > 0 && r % empty_every == 0)) w[(size_t)r * cols + c] = v;
    }
  return w;
}

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<const SparseKernelSet*> all_sets() {
  std::vector<const SparseKernelSet*> s = {&mcrt::sparse_kernels_reference()};
  for (const SparseKernelSet* k :
       {mcrt::sparse_kernels_avx2(), mcrt::sparse_kernels_avx512(), mcrt::sparse_kernels_neon()})
    if (k) s.push_back(k);
  return s;
}

struct PackedCsr {
  std::unique_ptr<Aligned> block, extra;
  CsrMatrix m;
};

PackedCsr pack(const std::vector<float>& w, int rows, int cols, bool transposed, const SparseKernelSet& ks) {
  PackedCsr p;
  const int64_t nnz = mcrt::count_stored(w.data(), (int64_t)w.size());
  p.block.reset(new Aligned(mcrt::csr_packed_size(rows, nnz)));
  mcrt::csr_pack_dense(rows, cols, w.data(), transposed, p.block->p, &p.m);
  const size_t eb = ks.fc_extra_size(p.m);
  if (eb > 0) {
    p.extra.reset(new Aligned(eb));
    ks.fc_extra_pack(p.m, p.extra->p);
  }
  return p;
}

// |y - ref| <= 1e-5 * mag + 1e-6, mag = sum of |terms| + |bias|.
void check_close(const std::vector<float>& y, const std::vector<float>& ref, const std::vector<float>& mag) {
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("element " << i << ": " << y[i] << " vs " << ref[i]);
    REQUIRE(std::fabs(y[i] - ref[i]) <= 1e-5f * mag[i] + 1e-6f);
  }
}

struct FcCase {
  int M, N, K;
  double density;
  int empty_every;
};

const FcCase kFcCases[] = {
    {1, 1, 1, 1.0, 0},      {1, 13, 7, 0.3, 0},    {1, 31, 97, 0.1, 3},    {3, 17, 33, 0.0, 0},
    {7, 40, 61, 1.0, 0},    {8, 17, 101, 0.25, 2}, {9, 127, 131, 0.05, 5}, {17, 64, 64, 0.5, 0},
    {1, 100, 1031, 0.1, 7}, {2, 33, 300, 0.02, 0}, {16, 5, 8, 0.7, 0},     {1, 257, 64, 0.9, 11},
};

}  // namespace

TEST_CASE("csr_pack_dense keeps every non-+0 entry in row order, both orientations", "[unit][runtime][sparse]") {
  const float nz = -0.0f;
  const std::vector<float> w = {0.f, 2.f, 0.f, nz, 5.f, 0.f};  // [2, 3]
  Aligned b(mcrt::csr_packed_size(2, 3));
  CsrMatrix m;
  REQUIRE(mcrt::count_stored(w.data(), 6) == 3);
  mcrt::csr_pack_dense(2, 3, w.data(), false, b.p, &m);
  REQUIRE(m.nnz() == 3);
  CHECK(m.row_ptr[0] == 0);
  CHECK(m.row_ptr[1] == 1);
  CHECK(m.row_ptr[2] == 3);
  CHECK(m.col_idx[0] == 1);
  CHECK(m.col_idx[1] == 0);
  CHECK(std::signbit(m.values[1]));
  CHECK(m.col_idx[2] == 1);
  CHECK(m.values[2] == 5.f);
  // Transposed: A = w viewed as [3, 2]^T, i.e. A[r, c] = w[c * 3 + r] with A [3, 2].
  Aligned bt(mcrt::csr_packed_size(3, 3));
  CsrMatrix t;
  mcrt::csr_pack_dense(3, 2, w.data(), true, bt.p, &t);
  CHECK(t.row_ptr[1] == 1);  // A[0, :] = {w[0], w[3]} = {0, -0}
  CHECK(t.col_idx[0] == 1);
  CHECK(t.row_ptr[2] == 3);  // A[1, :] = {w[1], w[4]} = {2, 5}
  CHECK(t.row_ptr[3] == 3);  // A[2, :] = {0, 0}
}

TEST_CASE("sparse fc: every set matches the reference on awkward shapes", "[unit][runtime][sparse]") {
  const SparseKernelSet& ref = mcrt::sparse_kernels_reference();
  for (const FcCase& c : kFcCases)
    for (bool transposed : {false, true}) {
      // W is [N, K] (rows = outputs); `transposed` feeds the packer the same matrix stored [K, N].
      const std::vector<float> w = sparse_matrix(c.N, c.K, c.density, 5u + c.N, c.empty_every);
      std::vector<float> wt((size_t)c.K * c.N);
      for (int n = 0; n < c.N; ++n)
        for (int k = 0; k < c.K; ++k) wt[(size_t)k * c.N + n] = w[(size_t)n * c.K + k];
      const int ldx = c.K + 3, ldy = c.N + 2;
      const std::vector<float> x = random_vec((size_t)c.M * ldx, 17u + c.K);
      const std::vector<float> bias = random_vec((size_t)c.N, 3u);
      Epilogue ep;
      ep.bias = bias.data();
      ep.lo = -0.5f;
      // Magnitudes and the reference.
      std::vector<float> mag((size_t)c.M * ldy, 0.f), yref((size_t)c.M * ldy, 0.f);
      for (int m = 0; m < c.M; ++m)
        for (int n = 0; n < c.N; ++n) {
          float s = std::fabs(bias[n]);
          for (int k = 0; k < c.K; ++k) s += std::fabs(w[(size_t)n * c.K + k] * x[(size_t)m * ldx + k]);
          mag[(size_t)m * ldy + n] = s;
        }
      PackedCsr pr = pack(w, c.N, c.K, false, ref);
      ref.fc_run(c.M, pr.m, nullptr, x.data(), ldx, ep, yref.data(), ldy, nullptr, nullptr);
      // The reference against a plain double-precision product.
      for (int m = 0; m < c.M; ++m)
        for (int n = 0; n < c.N; ++n) {
          double s = bias[n];
          for (int k = 0; k < c.K; ++k) s += (double)w[(size_t)n * c.K + k] * x[(size_t)m * ldx + k];
          s = s < -0.5 ? -0.5 : s;
          INFO("M=" << c.M << " N=" << c.N << " K=" << c.K);
          REQUIRE(std::fabs(yref[(size_t)m * ldy + n] - s) <= 1e-5 * mag[(size_t)m * ldy + n] + 1e-6);
        }
      for (const SparseKernelSet* ks : all_sets()) {
        INFO("set " << ks->name << " M=" << c.M << " N=" << c.N << " K=" << c.K << " density " << c.density
                    << (transposed ? " (from [K, N])" : ""));
        PackedCsr p = transposed ? pack(wt, c.N, c.K, true, *ks) : pack(w, c.N, c.K, false, *ks);
        Aligned scratch(ks->fc_scratch_size(c.M, c.K));
        std::vector<float> y((size_t)c.M * ldy, 0.f);
        ks->fc_run(c.M, p.m, p.extra ? p.extra->p : nullptr, x.data(), ldx, ep, y.data(), ldy, scratch.p, nullptr);
        check_close(y, yref, mag);
        if (c.M < ks->fc_extra_only_below_rows) {  // the CSR arrays may be freed: same result without them
          CsrMatrix bare = p.m;
          bare.row_ptr = bare.col_idx = nullptr;
          bare.values = nullptr;
          std::vector<float> y2((size_t)c.M * ldy, 0.f);
          ks->fc_run(c.M, bare, p.extra->p, x.data(), ldx, ep, y2.data(), ldy, scratch.p, nullptr);
          REQUIRE(std::memcmp(y.data(), y2.data(), y.size() * 4) == 0);
        }
      }
    }
}

TEST_CASE("sparse pointwise: every set matches the reference on awkward shapes", "[unit][runtime][sparse]") {
  struct PwCase {
    int P, Mo, C;
    double density;
    int empty_every;
  };
  const PwCase cases[] = {{1, 3, 5, 1.0, 0},     {7, 13, 17, 0.3, 2}, {31, 16, 37, 0.1, 0}, {64, 8, 9, 0.0, 0},
                          {97, 5, 129, 0.05, 3}, {200, 3, 2, 0.5, 0}, {16, 11, 64, 1.0, 0}, {33, 7, 19, 0.2, 4}};
  const SparseKernelSet& ref = mcrt::sparse_kernels_reference();
  for (const PwCase& c : cases) {
    const std::vector<float> w = sparse_matrix(c.Mo, c.C, c.density, 9u + c.C, c.empty_every);
    const std::vector<float> x = random_vec((size_t)c.C * c.P, 23u + c.P);
    const std::vector<float> bias = random_vec((size_t)c.Mo, 4u);
    Epilogue ep;
    ep.bias = bias.data();
    ep.hi = 0.75f;
    std::vector<float> mag((size_t)c.Mo * c.P), yref((size_t)c.Mo * c.P);
    for (int r = 0; r < c.Mo; ++r)
      for (int p = 0; p < c.P; ++p) {
        float s = std::fabs(bias[r]);
        double d = bias[r];
        for (int k = 0; k < c.C; ++k) {
          s += std::fabs(w[(size_t)r * c.C + k] * x[(size_t)k * c.P + p]);
          d += (double)w[(size_t)r * c.C + k] * x[(size_t)k * c.P + p];
        }
        mag[(size_t)r * c.P + p] = s;
        yref[(size_t)r * c.P + p] = (float)(d > 0.75 ? 0.75 : d);
      }
    for (const SparseKernelSet* ks : all_sets()) {
      INFO("set " << ks->name << " P=" << c.P << " M=" << c.Mo << " C=" << c.C << " density " << c.density);
      PackedCsr p = pack(w, c.Mo, c.C, false, *ks);
      std::vector<float> y((size_t)c.Mo * c.P, 0.f);
      ks->pointwise_run(c.P, p.m, x.data(), ep, y.data(), nullptr);
      check_close(y, yref, mag);
    }
    (void)ref;
  }
}

TEST_CASE("sparse kernels agree with the dense kernels within tolerance", "[unit][runtime][sparse]") {
  const mcrt::KernelSet& dense = mcrt::kernels_best();
  const SparseKernelSet& sparse = mcrt::sparse_kernels_best();
  for (const FcCase& c : kFcCases) {
    const std::vector<float> w = sparse_matrix(c.N, c.K, c.density, 31u + c.K, c.empty_every);  // [N, K]
    const std::vector<float> x = random_vec((size_t)c.M * c.K, 41u);
    Epilogue ep;
    Aligned dp(dense.fc_packed_size(c.K, c.N));
    dense.fc_pack(c.K, c.N, w.data(), true, dp.p);
    std::vector<float> yd((size_t)c.M * c.N), ys((size_t)c.M * c.N), mag((size_t)c.M * c.N);
    dense.fc_run(c.M, c.N, c.K, x.data(), c.K, dp.p, ep, yd.data(), c.N, nullptr);
    PackedCsr p = pack(w, c.N, c.K, false, sparse);
    Aligned scratch(sparse.fc_scratch_size(c.M, c.K));
    sparse.fc_run(c.M, p.m, p.extra ? p.extra->p : nullptr, x.data(), c.K, ep, ys.data(), c.N, scratch.p, nullptr);
    for (int m = 0; m < c.M; ++m)
      for (int n = 0; n < c.N; ++n) {
        float s = 0.f;
        for (int k = 0; k < c.K; ++k) s += std::fabs(w[(size_t)n * c.K + k] * x[(size_t)m * c.K + k]);
        mag[(size_t)m * c.N + n] = s;
      }
    INFO(dense.name << " vs " << sparse.name << " M=" << c.M << " N=" << c.N << " K=" << c.K);
    check_close(ys, yd, mag);
  }
}

TEST_CASE("sparse kernels are bit-identical for any thread count", "[unit][runtime][sparse]") {
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(3).ok());
  const mcrt::ParallelFor* pf = pool.hook();
  REQUIRE(pf != nullptr);
  for (const SparseKernelSet* ks : all_sets()) {
    for (int M : {1, 5, 8, 19}) {
      const int N = 203, K = 517;
      const std::vector<float> w = sparse_matrix(N, K, 0.12, 77u, 9);
      const std::vector<float> x = random_vec((size_t)M * K, 78u);
      PackedCsr p = pack(w, N, K, false, *ks);
      Aligned s1(ks->fc_scratch_size(M, K)), s3(ks->fc_scratch_size(M, K));
      std::vector<float> y1((size_t)M * N), y3((size_t)M * N);
      Epilogue ep;
      const void* extra = p.extra ? p.extra->p : nullptr;
      ks->fc_run(M, p.m, extra, x.data(), K, ep, y1.data(), N, s1.p, nullptr);
      ks->fc_run(M, p.m, extra, x.data(), K, ep, y3.data(), N, s3.p, pf);
      INFO("fc set " << ks->name << " M=" << M);
      REQUIRE(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0);
    }
    const int P = 75, Mo = 67, C = 129;
    const std::vector<float> w = sparse_matrix(Mo, C, 0.2, 79u, 5);
    const std::vector<float> x = random_vec((size_t)C * P, 80u);
    PackedCsr p = pack(w, Mo, C, false, *ks);
    std::vector<float> y1((size_t)Mo * P), y3((size_t)Mo * P);
    ks->pointwise_run(P, p.m, x.data(), Epilogue{}, y1.data(), nullptr);
    ks->pointwise_run(P, p.m, x.data(), Epilogue{}, y3.data(), pf);
    INFO("pointwise set " << ks->name);
    REQUIRE(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0);
  }
}

TEST_CASE("sparse fc: an inf in x reaches only the outputs that store its column", "[unit][runtime][sparse]") {
  // Padding lanes of the packed forms must not turn 0 * inf into NaN.
  const int N = 37, K = 70;
  std::vector<float> w((size_t)N * K, 0.f);
  for (int n = 0; n < N; ++n) w[(size_t)n * K + (n * 7) % K] = 1.f + n;  // one weight per row
  w[(size_t)3 * K + 5] = 2.f;                                            // row 3 also reads column 5
  std::vector<float> x = random_vec((size_t)K, 5u);
  x[5] = INFINITY;
  for (const SparseKernelSet* ks : all_sets()) {
    PackedCsr p = pack(w, N, K, false, *ks);
    Aligned scratch(ks->fc_scratch_size(1, K));
    std::vector<float> y((size_t)N);
    ks->fc_run(1, p.m, p.extra ? p.extra->p : nullptr, x.data(), K, Epilogue{}, y.data(), N, scratch.p, nullptr);
    INFO("set " << ks->name);
    for (int n = 0; n < N; ++n) {
      const bool reads5 = n == 3 || (n * 7) % K == 5;
      INFO("output " << n << " = " << y[(size_t)n]);
      if (reads5)
        REQUIRE(std::isinf(y[(size_t)n]));
      else
        REQUIRE(std::isfinite(y[(size_t)n]));
    }
  }
}
