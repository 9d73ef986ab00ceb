// Conv2d: every optimised set against the reference on awkward geometries (prime sizes, SIMD tails,
// padding/stride/dilation/group combinations, depthwise, pointwise, K and M past one cache block),
// serial and threaded (threaded results must be bit-identical to serial).
#include <catch2/catch.hpp>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

void check_conv(const ConvGeom& g, uint32_t seed) {
  INFO(geom_str(g));
  REQUIRE(conv2d_geom_valid(g));
  const auto x = random_vec(size_t(g.N) * g.C * g.H * g.W, seed);
  const auto w = random_vec(size_t(g.M) * (g.C / g.group) * g.kh * g.kw, seed + 1);
  const auto bias = random_vec(size_t(g.M), seed + 2);
  Epilogue ep;
  if (seed % 3 != 0) ep.bias = bias.data();
  if (seed % 2 == 0) ep.lo = 0.0f;  // Relu
  if (seed % 4 == 0) ep.hi = 0.5f;  // Relu6-like clamp that bites on random data
  const auto ref = run_conv(kernels_reference(), g, x, w, ep, nullptr);
  const auto absbias = abs_vec(bias);
  Epilogue ep_mag;
  if (ep.bias) ep_mag.bias = absbias.data();
  const auto mag = run_conv(kernels_reference(), g, abs_vec(x), abs_vec(w), ep_mag, nullptr);
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_conv(*ks, g, x, w, ep, nullptr);
    const int64_t bad = first_mismatch(y.data(), ref.data(), mag.data(), y.size());
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad] << " mag " << mag[bad]);
    TestPool pool;
    const ParallelFor pf = pool.hook();
    const auto yt = run_conv(*ks, g, x, w, ep, &pf);
    CHECK(std::memcmp(yt.data(), y.data(), y.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("conv2d: optimised sets match the reference on chosen geometries", "[conv2d]") {
  const std::vector<ConvGeom> cases = {
      // Example-model shapes: LeNet-5, mobile CNN, small ResNet (28x28 Fashion-MNIST).
      conv_geom(1, 1, 28, 28, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1),
      conv_geom(1, 6, 14, 14, 16, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1),
      conv_geom(1, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16),  // depthwise s1
      conv_geom(1, 16, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16),  // depthwise s2
      conv_geom(1, 16, 14, 14, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),   // pointwise
      conv_geom(1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 32, 14, 14, 64, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1),   // strided 1x1 (ResNet shortcut)
      // Tails and primes.
      conv_geom(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),
      conv_geom(1, 7, 13, 17, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(2, 3, 17, 13, 7, 3, 3, 2, 2, 1, 1, 1, 0, 1, 2, 1),
      conv_geom(1, 5, 31, 7, 17, 2, 3, 3, 1, 2, 1, 2, 1, 0, 3, 1),
      conv_geom(1, 4, 9, 11, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2),      // dilation + groups
      conv_geom(1, 6, 8, 8, 9, 3, 1, 1, 2, 1, 1, 1, 0, 1, 0, 3),
      conv_geom(1, 7, 13, 13, 7, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 7),     // depthwise, no padding
      conv_geom(1, 7, 31, 31, 7, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 7),     // depthwise s2, asymmetric pad
      conv_geom(1, 13, 1, 7, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 13),    // depthwise, 1-row input
      conv_geom(1, 3, 127, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3),
      conv_geom(1, 5, 17, 17, 5, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 5),     // depthwise 5x5 (reference path)
      conv_geom(1, 4, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4),     // depthwise multiplier 2 (GEMM per group)
      conv_geom(1, 7, 13, 13, 7, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 7),     // depthwise dilated (reference path)
      conv_geom(1, 13, 7, 7, 31, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),     // pointwise, 49 pixels (tail panel)
      conv_geom(1, 300, 5, 5, 127, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),   // K > KC, M > MC
      conv_geom(1, 64, 9, 9, 101, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // im2col K = 576 > KC
      conv_geom(2, 2, 40, 40, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),     // N = 1600 pixels: many panels
      // Stride 1 (shifted-window path): dilation, groups, asymmetric padding, K > KC.
      conv_geom(1, 6, 20, 23, 9, 3, 3, 1, 1, 2, 1, 1, 2, 0, 1, 3),
      conv_geom(1, 3, 31, 29, 5, 5, 3, 1, 1, 1, 2, 2, 0, 2, 3, 1),
      conv_geom(2, 40, 13, 17, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 1, 28, 28, 6, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1),
      // Depthwise on small planes (8-channel interleaved path) with channel tails and asymmetric pads.
      conv_geom(2, 16, 7, 7, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16),
      conv_geom(1, 19, 4, 4, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 19),
      conv_geom(1, 8, 8, 5, 8, 3, 3, 2, 2, 1, 1, 0, 2, 1, 0, 8),
      conv_geom(1, 24, 3, 8, 24, 3, 3, 1, 1, 1, 1, 2, 0, 1, 2, 24),
      // Depthwise on planes wider than 8 (AVX-512: 16-output columns with masked loads): widths around
      // 16 and 32, both strides, pads 0..2 and asymmetric, 1-row and 2-row inputs.
      conv_geom(1, 3, 9, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3),
      conv_geom(2, 5, 14, 14, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5),
      conv_geom(1, 4, 11, 15, 4, 3, 3, 1, 1, 1, 1, 0, 2, 2, 0, 4),
      conv_geom(1, 4, 6, 16, 4, 3, 3, 1, 1, 1, 1, 1, 0, 1, 1, 4),
      conv_geom(1, 4, 5, 17, 4, 3, 3, 1, 1, 1, 1, 2, 1, 0, 2, 4),
      conv_geom(1, 3, 7, 31, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3),
      conv_geom(1, 3, 4, 33, 3, 3, 3, 1, 1, 1, 1, 1, 2, 1, 1, 3),
      conv_geom(1, 2, 1, 20, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2),
      conv_geom(1, 2, 2, 47, 2, 3, 3, 1, 1, 1, 1, 1, 0, 1, 0, 2),
      conv_geom(2, 5, 28, 28, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5),
      conv_geom(1, 4, 14, 14, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4),
      conv_geom(1, 4, 9, 15, 4, 3, 3, 2, 2, 1, 1, 0, 2, 2, 0, 4),
      conv_geom(1, 4, 8, 33, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4),
      conv_geom(1, 3, 5, 34, 3, 3, 3, 2, 2, 1, 1, 2, 0, 0, 2, 3),
      conv_geom(1, 3, 3, 65, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3),
      conv_geom(1, 2, 2, 12, 2, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, 2),
      // One input channel, 3x3 (AVX-512: the depthwise kernel per output plane): both strides, batch 2,
      // widths on both sides of 8 and 16, asymmetric pads.
      conv_geom(2, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 1, 9, 7, 5, 3, 3, 1, 1, 1, 1, 0, 1, 2, 0, 1),
      conv_geom(1, 1, 17, 33, 3, 3, 3, 1, 1, 1, 1, 2, 0, 1, 2, 1),
      conv_geom(2, 1, 28, 28, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 1, 13, 19, 5, 3, 3, 2, 2, 1, 1, 1, 0, 1, 2, 1),
      // Stride 2 and 3 with every phase used (polyphase shifted-window path).
      conv_geom(1, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 5, 27, 31, 7, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 1),
      conv_geom(2, 6, 29, 30, 14, 5, 5, 2, 2, 1, 1, 2, 2, 1, 2, 2),
      conv_geom(1, 3, 31, 31, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 4, 33, 34, 6, 3, 3, 2, 2, 3, 3, 3, 2, 3, 2, 1),     // dilation 3: phases 0, 1, 0
      conv_geom(1, 40, 15, 15, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    // K = 360 > KC
      // Stride 2 with M >= 16 (AVX-512: transposed shifted window, pixels x 32 channels per tile):
      // M tails (17, 33, 47), odd and prime planes, asymmetric pads, batch 2, K > KC, dilation 3,
      // pixel panels ending in 1..5 rows.
      conv_geom(1, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
      conv_geom(1, 7, 13, 11, 17, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, 1),
      conv_geom(2, 5, 29, 31, 33, 3, 3, 2, 2, 1, 1, 0, 1, 2, 0, 1),
      conv_geom(1, 40, 15, 15, 47, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),   // K = 360 > KC
      conv_geom(1, 3, 7, 7, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),      // 4x4 output, one pixel panel
      conv_geom(1, 4, 33, 34, 20, 3, 3, 2, 2, 3, 3, 3, 2, 3, 2, 1),    // dilation 3
      conv_geom(2, 6, 29, 30, 48, 5, 5, 2, 2, 1, 1, 2, 2, 1, 2, 1),
      conv_geom(1, 11, 5, 3, 96, 2, 2, 2, 2, 1, 1, 0, 1, 1, 0, 1),     // 2x2 kernel, 3 NR panels
      conv_geom(1, 3, 9, 20, 24, 5, 5, 2, 2, 1, 1, 2, 2, 2, 1, 1),     // pads 2 (register phase split)
      // Stride-1 shifted window with K <= 27 (direct loop, 4 channels per task, no GEMM).
      conv_geom(1, 1, 9, 37, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),      // M = 7: a 3-channel task
      conv_geom(2, 3, 11, 10, 5, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 1),     // K = 27, M = 5: a 1-channel task, batch 2
      conv_geom(1, 2, 6, 5, 2, 1, 7, 1, 1, 1, 2, 0, 6, 0, 6, 1),       // 1x7 dilated, M = 2
      conv_geom(1, 4, 8, 8, 10, 2, 2, 1, 1, 2, 2, 1, 0, 0, 1, 2),      // groups 2, dilation 2, K = 8
      conv_geom(1, 7, 9, 9, 6, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1),       // K = 28: just past it (GEMM)
  };
  uint32_t seed = 1;
  for (const ConvGeom& g : cases) check_conv(g, seed += 7);
}

TEST_CASE("conv2d: optimised sets match the reference on random geometries", "[conv2d]") {
  std::mt19937 rng(12345);
  auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + rng() % v.size()); };
  for (int t = 0; t < 120; ++t) {
    const int group = pick({1, 1, 1, 2, 3});
    const bool dw = rng() % 4 == 0;
    const int C = dw ? pick({1, 3, 8, 13}) : group * pick({1, 2, 3, 5});
    const int M = dw ? C : group * pick({1, 2, 5, 7, 17});
    const int g_ = dw ? C : group;
    const int kh = pick({1, 2, 3, 3, 5}), kw = dw ? kh : pick({1, 3, 3, 4});
    const int sh = pick({1, 1, 2, 3}), sw = dw ? sh : pick({1, 2});
    const int dh = pick({1, 1, 2}), dwd = pick({1, 1, 2});
    const int H = pick({1, 5, 7, 13, 17, 31}), W = pick({1, 6, 13, 17, 29});
    const int pt = int(rng() % 3), pl = int(rng() % 3), pb = int(rng() % 3), pr = int(rng() % 3);
    ConvGeom g = conv_geom(pick({1, 1, 2}), C, H, W, M, kh, kw, sh, sw, dh, dwd, pt, pl, pb, pr, g_);
    if (!conv2d_geom_valid(g)) continue;  // kernel larger than the padded input
    check_conv(g, uint32_t(1000 + t * 11));
  }
}

TEST_CASE("conv2d: the tolerance check catches a wrong result", "[conv2d][negative]") {
  // Guards against a comparison that cannot fail: perturb one output of a real run.
  ConvGeom g = conv_geom(1, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  const auto x = random_vec(3 * 49, 5), w = random_vec(4 * 27, 6);
  Epilogue ep;
  auto ref = run_conv(kernels_reference(), g, x, w, ep, nullptr);
  const auto mag = run_conv(kernels_reference(), g, abs_vec(x), abs_vec(w), ep, nullptr);
  auto y = ref;
  CHECK(first_mismatch(y.data(), ref.data(), mag.data(), y.size()) == -1);
  y[17] += 1e-3f * (mag[17] + 1.0f);
  CHECK(first_mismatch(y.data(), ref.data(), mag.data(), y.size()) == 17);
}
