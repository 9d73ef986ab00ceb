// The fused residual of the Epilogue (kernels.h: y = clamp(acc + bias + residual)) on every conv
// algorithm of the GEMM driver (Winograd F(2x2)/F(4x4), pointwise with and without a tail panel,
// shifted window, im2col with groups and dilation, direct depthwise 3x3 stride 1/2, reference
// depthwise) and on the fc path (M = 1 GEMV, M > 1 tiles, K past one K block), in every optimised
// set compiled for this machine (AVX2 / AVX-512 natively, NEON under qemu).
//
// Checked per case and set:
//  * the reference with a residual equals, bit for bit, the unfused computation it replaces
//    (reference conv/fc without clamp, then + residual, then clamp);
//  * the optimised set is within the usual tolerance of the reference (mag includes |residual|);
//  * bit-identical results for 1, 2 and 3 threads;
//  * the residual is really read: changing it changes y (a test that can fail).
#include <catch2/catch.hpp>

#include <cstring>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

struct Clamp {
  float lo, hi;
};

std::vector<float> unfused(const std::vector<float>& acc, const std::vector<float>& r, Clamp c) {
  std::vector<float> y(acc.size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = std::min(std::max(acc[i] + r[i], c.lo), c.hi);
  return y;
}

void check_conv_residual(const ConvGeom& g, uint32_t seed) {
  INFO(geom_str(g));
  REQUIRE(conv2d_geom_valid(g));
  const auto x = random_vec(size_t(g.N) * g.C * g.H * g.W, seed);
  const auto w = random_vec(size_t(g.M) * (g.C / g.group) * g.kh * g.kw, seed + 1);
  const auto bias = random_vec(size_t(g.M), seed + 2);
  const size_t ny = size_t(g.N) * g.M * g.OH * g.OW;
  const auto res = random_vec(ny, seed + 3, -2.0f, 2.0f);
  const Clamp c = seed % 3 == 0 ? Clamp{-INFINITY, INFINITY} : seed % 3 == 1 ? Clamp{0.0f, INFINITY} : Clamp{0.0f, 0.75f};
  Epilogue ep;
  if (seed % 2 == 0) ep.bias = bias.data();
  ep.lo = c.lo;
  ep.hi = c.hi;
  ep.residual = res.data();
  const auto ref = run_conv(kernels_reference(), g, x, w, ep, nullptr);
  Epilogue plain = ep;
  plain.lo = -INFINITY, plain.hi = INFINITY, plain.residual = nullptr;
  const auto ref_unfused = unfused(run_conv(kernels_reference(), g, x, w, plain, nullptr), res, c);
  CHECK(std::memcmp(ref.data(), ref_unfused.data(), ny * sizeof(float)) == 0);
  const auto absbias = abs_vec(bias), absres = abs_vec(res);
  Epilogue ep_mag;
  if (ep.bias) ep_mag.bias = absbias.data();
  ep_mag.residual = absres.data();
  const auto mag = run_conv(kernels_reference(), g, abs_vec(x), abs_vec(w), ep_mag, nullptr);
  auto res2 = res;
  for (float& v : res2) v += 3.0f;  // moves every unclamped output (hi = 0.75 clamps some)
  Epilogue ep2 = ep;
  ep2.residual = res2.data();
  ep2.hi = INFINITY;
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_conv(*ks, g, x, w, ep, nullptr);
    const int64_t bad = first_mismatch(y.data(), ref.data(), mag.data(), ny);
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad] << " mag " << mag[bad]);
    TestPool pool3;
    const ParallelFor pf3 = pool3.hook();
    CHECK(std::memcmp(run_conv(*ks, g, x, w, ep, &pf3).data(), y.data(), ny * sizeof(float)) == 0);
    TestPool pool2;
    pool2.threads = 2;
    pool2.chunk = 3;
    const ParallelFor pf2 = pool2.hook();
    CHECK(std::memcmp(run_conv(*ks, g, x, w, ep, &pf2).data(), y.data(), ny * sizeof(float)) == 0);
    const auto y2 = run_conv(*ks, g, x, w, ep2, nullptr);
    size_t moved = 0;
    for (size_t i = 0; i < ny; ++i) moved += y2[i] != y[i];
    CHECK(moved > ny / 2);
  }
}

std::vector<float> run_fc(const KernelSet& ks, int M, int N, int K, const std::vector<float>& x, const std::vector<float>& w,
                          const Epilogue& ep, int ldy, const ParallelFor* pf) {
  Buffer packed(ks.fc_packed_size(K, N));
  ks.fc_pack(K, N, w.data(), true, packed.get());
  std::vector<float> y(size_t(M) * ldy, -7.0f);  // padding columns must stay untouched
  ks.fc_run(M, N, K, x.data(), K, packed.get(), ep, y.data(), ldy, pf);
  return y;
}

void check_fc_residual(int M, int N, int K, uint32_t seed) {
  INFO("fc M" << M << " N" << N << " K" << K);
  const int ldy = N + 3;
  const auto x = random_vec(size_t(M) * K, seed), w = random_vec(size_t(N) * K, seed + 1);
  const auto bias = random_vec(size_t(N), seed + 2);
  const auto res = random_vec(size_t(M) * ldy, seed + 3, -2.0f, 2.0f);
  Epilogue ep;
  ep.bias = bias.data();
  ep.lo = seed % 2 ? 0.0f : -INFINITY;
  ep.residual = res.data();
  const auto ref = run_fc(kernels_reference(), M, N, K, x, w, ep, ldy, nullptr);
  Epilogue plain = ep;
  plain.lo = -INFINITY, plain.residual = nullptr;
  const auto acc = run_fc(kernels_reference(), M, N, K, x, w, plain, ldy, nullptr);
  const auto absb = abs_vec(bias), absr = abs_vec(res);
  Epilogue ep_mag;
  ep_mag.bias = absb.data();
  ep_mag.residual = absr.data();
  const auto mag = abs_vec(run_fc(kernels_reference(), M, N, K, abs_vec(x), abs_vec(w), ep_mag, ldy, nullptr));  // pad: 7
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < ldy; ++j) {
      const size_t k = size_t(i) * ldy + j;
      const float want = j < N ? std::max(acc[k] + res[k], ep.lo) : -7.0f;
      REQUIRE(std::memcmp(&ref[k], &want, sizeof(float)) == 0);
    }
  for (const KernelSet* ks : optimised_sets()) {
    INFO("kernel set " << ks->name);
    const auto y = run_fc(*ks, M, N, K, x, w, ep, ldy, nullptr);
    const int64_t bad = first_mismatch(y.data(), ref.data(), mag.data(), y.size());
    if (bad >= 0) FAIL_CHECK("index " << bad << ": got " << y[bad] << " want " << ref[bad]);
    TestPool pool;
    pool.threads = 2;
    const ParallelFor pf = pool.hook();
    CHECK(std::memcmp(run_fc(*ks, M, N, K, x, w, ep, ldy, &pf).data(), y.data(), y.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("residual epilogue: every conv algorithm matches the reference", "[conv2d][residual]") {
  const std::vector<ConvGeom> cases = {
      conv_geom(1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // Winograd F(2x2), example ResNet
      conv_geom(1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),      // Winograd, odd plane
      conv_geom(2, 13, 7, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),      // Winograd, batch 2, primes
      conv_geom(1, 96, 30, 30, 72, 3, 3, 1, 1, 1, 1, 0, 1, 2, 0, 1),    // Winograd F(4x4) size, asymmetric pads
      conv_geom(1, 8, 1, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),        // Winograd, 1x1 plane
      conv_geom(1, 16, 28, 28, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),    // pointwise (shortcut 1x1), full panels
      conv_geom(2, 7, 5, 7, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),       // pointwise, tail panel only, batch 2
      conv_geom(1, 300, 3, 11, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),     // pointwise, K past one K block
      conv_geom(1, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    // shifted window, stride 2
      conv_geom(1, 5, 11, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1),       // shifted window, awkward
      conv_geom(2, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // one input channel (AVX-512: dw kernel per plane)
      conv_geom(1, 1, 13, 19, 5, 3, 3, 2, 2, 1, 1, 1, 0, 1, 2, 1),      // one input channel, stride 2, M < 16
      conv_geom(1, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),     // stride-1 stem, K = 9 (direct loop)
      conv_geom(2, 3, 7, 13, 6, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 1),       // direct loop, M = 6 (4 + 2), batch 2
      conv_geom(1, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    // stride 2, M >= 16 (AVX-512 transposed)
      conv_geom(2, 7, 13, 11, 17, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, 1),     // stride 2, M tail, batch 2, primes
      conv_geom(1, 6, 9, 10, 9, 3, 2, 1, 1, 2, 1, 1, 0, 2, 1, 3),       // im2col, groups, dilation
      conv_geom(1, 3, 13, 13, 5, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 1),      // im2col, stride 3
      conv_geom(1, 19, 9, 11, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 19),    // depthwise 3x3, stride 1
      conv_geom(2, 12, 10, 7, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 12),    // depthwise 3x3, stride 2
      conv_geom(1, 6, 8, 8, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 6),        // depthwise 5x5 (reference path)
  };
  uint32_t seed = 100;
  for (const ConvGeom& g : cases) check_conv_residual(g, seed += 7);
  // Each clamp mode on the main algorithms.
  for (uint32_t s = 0; s < 3; ++s) {
    check_conv_residual(conv_geom(1, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 300 + s);
    check_conv_residual(conv_geom(1, 16, 14, 14, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1), 400 + s);
  }
}

TEST_CASE("residual epilogue: fc paths match the reference", "[fc][residual]") {
  check_fc_residual(1, 10, 64, 1);     // GEMV, one partial chunk
  check_fc_residual(1, 200, 300, 2);   // GEMV, several chunks, K past one K block
  check_fc_residual(7, 37, 300, 3);    // tiles, K blocks: the residual joins only at the last one
  check_fc_residual(13, 64, 5, 4);     // two row panels
}
