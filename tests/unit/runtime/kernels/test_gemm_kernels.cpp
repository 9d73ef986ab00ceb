// SGEMM and fully-connected: every optimised set against the reference on awkward shapes (primes,
// SIMD tails, M = 1, K and M past one cache block, transposes, strides, alpha/beta), serial and
// threaded (bit-identical).
#include <catch2/catch.hpp>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

struct GemmCase {
  int M, N, K;
  bool ta, tb;
  float alpha, beta;
  int pad;  // extra leading-dimension floats
};

std::vector<float> run_sgemm(const KernelSet& ks, const GemmCase& c, const std::vector<float>& A,
                             const std::vector<float>& B, const std::vector<float>& C0, const ParallelFor* pf) {
  const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  Buffer scratch(ks.sgemm_scratch_size(c.M, c.N, c.K));
  std::vector<float> C = C0;
  ks.sgemm(c.M, c.N, c.K, c.alpha, A.data(), lda, c.ta, B.data(), ldb, c.tb, c.beta, C.data(), ldc, scratch.get(),
           pf);
  (void)ldc;
  return C;
}

void check_sgemm(const GemmCase& c, uint32_t seed) {
  INFO("M" << c.M << " N" << c.N << " K" << c.K << " tA" << c.ta << " tB" << c.tb << " alpha" << c.alpha << " beta"
           << c.beta << " pad" << c.pad);
  const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  const auto A = random_vec(size_t(c.ta ? c.K : c.M) * lda, seed);
  const auto B = random_vec(size_t(c.tb ? c.N : c.K) * ldb, seed + 1);
  auto C0 = random_vec(size_t(c.M) * ldc, seed + 2);
  if (c.beta == 0.0f)
    for (auto& v : C0) v = std::nanf("");  // beta == 0: C must not be read
  const auto ref = run_sgemm(kernels_reference(), c, A, B, C0, nullptr);
  GemmCase cm = c;
  cm.alpha = std::fabs(c.alpha);
  cm.beta = std::fabs(c.beta);
  auto C0abs = abs_vec(C0);
  const auto mag = run_sgemm(kernels_reference(), cm, abs_vec(A), abs_vec(B), C0abs, nullptr);
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_sgemm(*ks, c, A, B, C0, nullptr);
    // Compare the M x N result only; the padding columns of C must be left untouched.
    int64_t bad = -1;
    for (int i = 0; i < c.M && bad < 0; ++i) {
      const int64_t b = first_mismatch(&y[size_t(i) * ldc], &ref[size_t(i) * ldc], &mag[size_t(i) * ldc], c.N);
      if (b >= 0) bad = int64_t(i) * ldc + b;
      for (int j = c.N; j < ldc; ++j)
        if (std::memcmp(&y[size_t(i) * ldc + j], &C0[size_t(i) * ldc + j], sizeof(float)) != 0) bad = i * ldc + j;
    }
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad] << " mag " << mag[bad]);
    TestPool pool;
    const ParallelFor pf = pool.hook();
    const auto yt = run_sgemm(*ks, c, A, B, C0, &pf);
    CHECK(std::memcmp(yt.data(), y.data(), y.size() * sizeof(float)) == 0);
  }
}

std::vector<float> run_fc(const KernelSet& ks, int M, int N, int K, const std::vector<float>& x, int ldx,
                          const std::vector<float>& w, bool nk, const Epilogue& ep, int ldy, const ParallelFor* pf) {
  Buffer packed(ks.fc_packed_size(K, N));
  ks.fc_pack(K, N, w.data(), nk, packed.get());
  std::vector<float> y(size_t(M) * ldy, -7.0f);
  ks.fc_run(M, N, K, x.data(), ldx, packed.get(), ep, y.data(), ldy, pf);
  return y;
}

void check_fc(int M, int N, int K, bool nk, uint32_t seed) {
  INFO("fc M" << M << " N" << N << " K" << K << " w_is_nk " << nk);
  const int ldx = K + int(seed % 3), ldy = N + int(seed % 2);
  const auto x = random_vec(size_t(M) * ldx, seed), w = random_vec(size_t(K) * N, seed + 1);
  const auto bias = random_vec(size_t(N), seed + 2);
  Epilogue ep;
  if (seed % 3 != 0) ep.bias = bias.data();
  if (seed % 2 == 0) ep.lo = 0.0f;
  const auto ref = run_fc(kernels_reference(), M, N, K, x, ldx, w, nk, ep, ldy, nullptr);
  const auto absbias = abs_vec(bias);
  Epilogue epm;
  if (ep.bias) epm.bias = absbias.data();
  const auto mag = run_fc(kernels_reference(), M, N, K, abs_vec(x), ldx, abs_vec(w), nk, epm, ldy, nullptr);
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_fc(*ks, M, N, K, x, ldx, w, nk, ep, ldy, nullptr);
    int64_t bad = -1;
    for (int i = 0; i < M && bad < 0; ++i) {
      const int64_t b = first_mismatch(&y[size_t(i) * ldy], &ref[size_t(i) * ldy], &mag[size_t(i) * ldy], N);
      if (b >= 0) bad = int64_t(i) * ldy + b;
      for (int j = N; j < ldy; ++j)
        if (y[size_t(i) * ldy + j] != -7.0f) bad = int64_t(i) * ldy + j;  // padding left alone
    }
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad] << " mag " << mag[bad]);
    TestPool pool;
    const ParallelFor pf = pool.hook();
    const auto yt = run_fc(*ks, M, N, K, x, ldx, w, nk, ep, ldy, &pf);
    CHECK(std::memcmp(yt.data(), y.data(), y.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("sgemm: optimised sets match the reference", "[sgemm]") {
  const int sizes[] = {1, 7, 13, 17, 31, 127};
  uint32_t seed = 1;
  for (int M : sizes)
    for (int N : sizes)
      for (int K : {1, 7, 17, 31})
        check_sgemm({M, N, K, (M + N) % 2 == 1, (N + K) % 2 == 1, 1.0f, 0.0f, 0}, seed += 3);
  check_sgemm({300, 257, 513, false, false, 1.0f, 0.0f, 0}, 7);  // K and M past one cache block
  check_sgemm({97, 1100, 33, false, false, 1.0f, 0.0f, 0}, 8);   // N past one task block
  check_sgemm({131, 67, 300, true, true, 0.5f, -1.5f, 5}, 9);
  check_sgemm({13, 17, 301, false, true, -2.0f, 1.0f, 3}, 10);
  check_sgemm({6, 16, 256, false, false, 1.0f, 0.25f, 0}, 11);   // exactly one tile
  check_sgemm({12, 32, 512, true, false, 1.0f, 0.0f, 1}, 12);
  check_sgemm({5, 9, 0, false, false, 1.0f, 0.5f, 0}, 13);       // K = 0: C = beta * C
}

TEST_CASE("fc: optimised sets match the reference", "[fc]") {
  uint32_t seed = 100;
  for (int M : {1, 2, 7, 13})
    for (int N : {1, 7, 10, 13, 17, 31, 100, 127})
      for (int K : {1, 7, 17, 31, 127, 300})
        check_fc(M, N, K, (M + N + K) % 2 == 0, seed += 5);
  check_fc(1, 300, 784, true, 1);   // MLP layers at batch 1
  check_fc(1, 100, 300, false, 2);
  check_fc(32, 300, 784, true, 3);  // batch 32
  check_fc(1, 1000, 1000, false, 4);
}

TEST_CASE("sgemm: the tolerance check catches a wrong result", "[sgemm][negative]") {
  GemmCase c{7, 9, 11, false, false, 1.0f, 0.0f, 0};
  const auto A = random_vec(77, 1), B = random_vec(99, 2);
  std::vector<float> C0(63, 0.0f);
  const auto ref = run_sgemm(kernels_reference(), c, A, B, C0, nullptr);
  const auto mag = run_sgemm(kernels_reference(), c, abs_vec(A), abs_vec(B), C0, nullptr);
  auto y = ref;
  y[40] = std::nextafter(y[40] + 2e-5f * mag[40], INFINITY) + 1e-6f;
  CHECK(first_mismatch(y.data(), ref.data(), mag.data(), y.size()) == 40);
}
