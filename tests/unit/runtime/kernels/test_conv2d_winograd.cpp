// Winograd 3x3 convolution (runtime-check/kernels/conv2d_winograd_3x3.h): every optimised set against
// the reference on shapes that take the Winograd path (3x3, stride 1, dilation 1, group 1, C and
// M >= 8), in both variants, with prime channel counts, odd and tiny planes, asymmetric and zero
// padding, batch 2, K past one GEMM K block and M past one M block.
//
// Checked per shape and set: the usual tolerance |y - ref| <= 1e-5 * mag + 1e-6 (mag = the same
// convolution on |x|, |w|, |bias|); bit-identical results for 1 and 3 threads and for two chunk
// sizes; and the same result when the scratch starts as NaN bytes (garbage must not leak into y).
// The worst |y - ref| / mag seen is printed per variant. Measured on AVX-512 (the AMD EPYC bench machine) with data
// uniform in [-1, 1): 1.8e-7 for F(2x2) and 2.2e-6 for F(4x4) (the tolerance is 1e-5); the NEON set
// under qemu: 1.3e-6 and 2.2e-6.
#include <catch2/catch.hpp>

#include <cstdio>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

struct WinoCase {
  ConvGeom g;
  int variant;  // the tile size conv2d_winograd_3x3.h chooses for g (2 or 4), for the error report
};

// Runs g on every optimised set; returns the worst |y - ref| / mag.
double check_winograd(const ConvGeom& g, uint32_t seed) {
  INFO(geom_str(g));
  REQUIRE(conv2d_geom_valid(g));
  const auto x = random_vec(size_t(g.N) * g.C * g.H * g.W, seed);
  const auto w = random_vec(size_t(g.M) * g.C * 9, seed + 1);
  const auto bias = random_vec(size_t(g.M), seed + 2);
  Epilogue ep;
  if (seed % 3 != 0) ep.bias = bias.data();
  if (seed % 2 == 0) ep.lo = 0.0f;
  if (seed % 4 == 0) ep.hi = 0.5f;
  const auto ref = run_conv(kernels_reference(), g, x, w, ep, nullptr);
  const auto absbias = abs_vec(bias);
  Epilogue ep_mag;
  if (ep.bias) ep_mag.bias = absbias.data();
  const auto mag = run_conv(kernels_reference(), g, abs_vec(x), abs_vec(w), ep_mag, nullptr);
  double worst = 0.0;
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_conv(*ks, g, x, w, ep, nullptr);
    const int64_t bad = first_mismatch(y.data(), ref.data(), mag.data(), y.size());
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad] << " mag " << mag[bad]);
    for (size_t i = 0; i < y.size(); ++i)
      if (mag[i] > 0.0f) worst = std::max(worst, std::fabs(double(y[i]) - double(ref[i])) / double(mag[i]));
    TestPool pool3;
    const ParallelFor pf3 = pool3.hook();
    CHECK(std::memcmp(run_conv(*ks, g, x, w, ep, &pf3).data(), y.data(), y.size() * sizeof(float)) == 0);
    TestPool pool2;
    pool2.threads = 2;
    pool2.chunk = 5;
    const ParallelFor pf2 = pool2.hook();
    CHECK(std::memcmp(run_conv(*ks, g, x, w, ep, &pf2).data(), y.data(), y.size() * sizeof(float)) == 0);
    const auto y_nan_scratch = run_conv(*ks, g, x, w, ep, nullptr, 0xFF);  // 0xFFFFFFFF is a NaN
    CHECK(std::memcmp(y_nan_scratch.data(), y.data(), y.size() * sizeof(float)) == 0);
  }
  return worst;
}

ConvGeom wino(int N, int C, int H, int W, int M, int pt, int pl, int pb, int pr) {
  return conv_geom(N, C, H, W, M, 3, 3, 1, 1, 1, 1, pt, pl, pb, pr, 1);
}

}  // namespace

TEST_CASE("conv2d winograd 3x3: optimised sets match the reference on awkward shapes", "[conv2d][winograd]") {
  const std::vector<WinoCase> cases = {
      // F(2x2): small channel counts.
      {wino(1, 16, 28, 28, 16, 1, 1, 1, 1), 2},   // example ResNet, 28x28 (junk tile column)
      {wino(1, 32, 14, 14, 32, 1, 1, 1, 1), 2},   // example ResNet, 14x14
      {wino(1, 64, 7, 7, 64, 1, 1, 1, 1), 2},     // example ResNet, 7x7 (no junk column: odd OW, pad_l 1)
      {wino(1, 8, 1, 1, 8, 1, 1, 1, 1), 2},       // 1x1 plane: one tile, three of its outputs dropped
      {wino(1, 11, 13, 17, 13, 1, 1, 1, 1), 2},   // primes, odd planes
      {wino(2, 13, 7, 9, 17, 1, 1, 1, 1), 2},     // batch 2
      {wino(1, 9, 10, 12, 11, 0, 0, 0, 0), 2},    // no padding, even output
      {wino(1, 17, 9, 8, 19, 2, 0, 0, 2), 2},     // asymmetric padding
      {wino(1, 8, 31, 3, 8, 2, 1, 0, 2), 2},      // tall and narrow
      {wino(1, 12, 5, 40, 10, 1, 2, 1, 0), 2},    // wide, pad_l 2 without pad_r
      {wino(1, 300, 6, 5, 9, 1, 1, 1, 1), 2},     // K = 300 > one K block
      {wino(1, 23, 11, 11, 101, 1, 1, 1, 1), 2},  // M = 101 > one M block
      // AVX-512 winograd_gemm: 8-row panels (row tails 4, 6, 7), 32 lanes and the 16-lane narrow tile.
      {wino(1, 16, 28, 28, 12, 1, 1, 1, 1), 2},   // M = 12: row tail 4, 224 lanes
      {wino(1, 40, 7, 7, 14, 1, 1, 1, 1), 2},     // M = 14: row tail 6, 16 lanes (4x4 tiles)
      {wino(2, 24, 5, 6, 15, 1, 1, 1, 1), 2},     // M = 15: row tail 7, batch 2, 16 lanes
      {wino(1, 9, 14, 16, 8, 1, 1, 1, 1), 2},     // 7x9 tiles: 63 -> 64 lanes, one full 8-row panel
      // F(4x4): C + M >= 128 on planes where it fills fewer GEMM lanes.
      {wino(1, 67, 29, 31, 71, 1, 1, 1, 1), 4},   // no junk column
      {wino(1, 64, 28, 28, 64, 1, 1, 1, 1), 4},   // junk tile column
      {wino(2, 61, 19, 23, 67, 0, 2, 1, 0), 4},   // batch 2, asymmetric padding
      {wino(1, 257, 16, 16, 8, 1, 1, 1, 1), 4},   // K = 257 > one K block
  };
  double worst[5] = {0, 0, 0, 0, 0};
  uint32_t seed = 7;
  for (const WinoCase& c : cases) worst[c.variant] = std::max(worst[c.variant], check_winograd(c.g, seed += 13));
  std::printf("winograd 3x3: worst |y - ref| / mag: F(2x2) %.2e, F(4x4) %.2e (tolerance 1e-5)\n", worst[2], worst[4]);
}

TEST_CASE("conv2d winograd 3x3: random shapes on the Winograd path", "[conv2d][winograd]") {
  std::mt19937 rng(777);
  auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + rng() % v.size()); };
  for (int t = 0; t < 40; ++t) {
    const int C = pick({8, 9, 16, 29, 64, 70}), M = pick({8, 13, 31, 64, 67});
    const int H = pick({1, 2, 5, 8, 13, 28}), W = pick({1, 3, 7, 14, 17, 30});
    const int pt = int(rng() % 3), pl = int(rng() % 3), pb = int(rng() % 3), pr = int(rng() % 3);
    const ConvGeom g = wino(pick({1, 1, 2}), C, H, W, M, pt, pl, pb, pr);
    if (!conv2d_geom_valid(g)) continue;
    check_winograd(g, uint32_t(5000 + t * 17));
  }
}
