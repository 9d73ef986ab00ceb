// Hand-computed goldens for the reference kernels (the specification itself), plus cross-checks that
// every optimised set reproduces them.
#include <catch2/catch.hpp>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

// x = 1..16 as a 4x4 image (one channel).
std::vector<float> x4x4() {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = float(i + 1);
  return x;
}

std::vector<float> conv(const KernelSet& ks, ConvGeom g, const std::vector<float>& x, const std::vector<float>& w,
                        const Epilogue& ep) {
  conv2d_geom_finish(g);
  Buffer packed(ks.conv2d_packed_size(g)), scratch(ks.conv2d_scratch_size(g));
  ks.conv2d_pack(g, w.data(), packed.get());
  std::vector<float> y(size_t(g.N) * g.M * g.OH * g.OW);
  ks.conv2d_run(g, packed.get(), ep, x.data(), y.data(), scratch.get(), nullptr);
  return y;
}

std::vector<const KernelSet*> all_sets() {
  auto s = optimised_sets();
  s.insert(s.begin(), &kernels_reference());
  return s;
}

}  // namespace

TEST_CASE("goldens: 3x3 conv on a 4x4 input", "[golden][conv2d]") {
  for (const KernelSet* ks : all_sets()) {
    INFO(ks->name);
    // All-ones 3x3, no padding: the four 3x3 window sums of 1..16, plus bias 1.
    const float b1 = 1.0f;
    Epilogue ep;
    ep.bias = &b1;
    auto y = conv(*ks, {1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0}, x4x4(), std::vector<float>(9, 1.0f), ep);
    CHECK(y == std::vector<float>({55, 64, 91, 100}));
    // Pad 1, stride 2, w = [1 0 0; 0 0 0; 0 0 2]: y(oy,ox) = x(2oy-1, 2ox-1) + 2 x(2oy+1, 2ox+1).
    const std::vector<float> w2 = {1, 0, 0, 0, 0, 0, 0, 0, 2};
    y = conv(*ks, {1, 1, 4, 4, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0}, x4x4(), w2, Epilogue{});
    CHECK(y == std::vector<float>({12, 16, 28, 38}));
    // Same with bias -20 and a Relu6 clamp.
    const float bm20 = -20.0f;
    Epilogue relu6;
    relu6.bias = &bm20;
    relu6.lo = 0.0f;
    relu6.hi = 6.0f;
    y = conv(*ks, {1, 1, 4, 4, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0}, x4x4(), w2, relu6);
    CHECK(y == std::vector<float>({0, 0, 6, 6}));
    // 2x2 kernel, dilation 2: y(oy,ox) = x(oy,ox) + 10 x(oy,ox+2) + 100 x(oy+2,ox) + 1000 x(oy+2,ox+2).
    y = conv(*ks, {1, 1, 4, 4, 1, 2, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 0, 0}, x4x4(), {1, 10, 100, 1000}, Epilogue{});
    CHECK(y == std::vector<float>({11931, 13042, 16375, 17486}));
    // Two groups of 1x1: channel 0 times 2, channel 1 times 3.
    std::vector<float> x2 = x4x4();
    for (int i = 0; i < 16; ++i) x2.push_back(float(-i));
    y = conv(*ks, {1, 2, 4, 4, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0}, x2, {2, 3}, Epilogue{});
    for (int i = 0; i < 16; ++i) {
      CHECK(y[i] == 2.0f * float(i + 1));
      CHECK(y[16 + i] == -3.0f * float(i));
    }
  }
}

TEST_CASE("goldens: fully connected and sgemm", "[golden][fc][sgemm]") {
  for (const KernelSet* ks : all_sets()) {
    INFO(ks->name);
    // x = [1 2 3], W[K=3,N=2] = [[1 2],[3 4],[5 6]] -> [22 28]; bias [1 -100], Relu -> [23 0].
    const std::vector<float> x = {1, 2, 3}, w_kn = {1, 2, 3, 4, 5, 6}, w_nk = {1, 3, 5, 2, 4, 6};
    const float bias[2] = {1, -100};
    Epilogue ep;
    ep.bias = bias;
    ep.lo = 0.0f;
    for (bool nk : {false, true}) {
      Buffer packed(ks->fc_packed_size(3, 2));
      ks->fc_pack(3, 2, nk ? w_nk.data() : w_kn.data(), nk, packed.get());
      float y[2];
      ks->fc_run(1, 2, 3, x.data(), 3, packed.get(), ep, y, 2, nullptr);
      CHECK(y[0] == 23.0f);
      CHECK(y[1] == 0.0f);
    }
    // A = [[1 2],[3 4]], B = [[5 6],[7 8]]: AB = [[19 22],[43 50]]; 2AB + C(ones) = [[39 45],[87 101]];
    // A^T B = [[26 30],[38 44]].
    const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    Buffer scratch(ks->sgemm_scratch_size(2, 2, 2));
    float C[4] = {NAN, NAN, NAN, NAN};
    ks->sgemm(2, 2, 2, 1.0f, A, 2, false, B, 2, false, 0.0f, C, 2, scratch.get(), nullptr);
    CHECK(std::vector<float>(C, C + 4) == std::vector<float>({19, 22, 43, 50}));
    float C1[4] = {1, 1, 1, 1};
    ks->sgemm(2, 2, 2, 2.0f, A, 2, false, B, 2, false, 1.0f, C1, 2, scratch.get(), nullptr);
    CHECK(std::vector<float>(C1, C1 + 4) == std::vector<float>({39, 45, 87, 101}));
    ks->sgemm(2, 2, 2, 1.0f, A, 2, true, B, 2, false, 0.0f, C, 2, scratch.get(), nullptr);
    CHECK(std::vector<float>(C, C + 4) == std::vector<float>({26, 30, 38, 44}));
  }
}

TEST_CASE("goldens: element-wise ONNX semantics", "[golden][elementwise]") {
  const KernelSet& r = kernels_reference();
  auto u = [&](UnaryOp op, float x, float a = 0, float b = 0) {
    float y;
    r.unary(op, 1, &x, &y, a, b);
    return y;
  };
  auto bin = [&](BinaryOp op, float a, float b) {
    float y;
    r.binary(op, 1, &a, 1, &b, 1, &y);
    return y;
  };
  CHECK(u(UnaryOp::Relu, -2) == 0.0f);
  CHECK(u(UnaryOp::LeakyRelu, -2, 0.1f) == Approx(-0.2f));
  CHECK(u(UnaryOp::Clip, 7, -1, 6) == 6.0f);
  CHECK(u(UnaryOp::HardSigmoid, 1, 0.2f, 0.5f) == Approx(0.7f));
  CHECK(u(UnaryOp::HardSigmoid, 10, 0.2f, 0.5f) == 1.0f);
  CHECK(u(UnaryOp::HardSwish, 3) == 3.0f);
  CHECK(u(UnaryOp::HardSwish, -3) == 0.0f);
  CHECK(u(UnaryOp::HardSwish, 1) == Approx(2.0f / 3.0f));
  CHECK(u(UnaryOp::Sigmoid, 0) == 0.5f);
  CHECK(u(UnaryOp::Erf, 0.5f) == Approx(0.5204998778f).epsilon(1e-6));
  CHECK(u(UnaryOp::Gelu, 1) == Approx(0.8413447461f).epsilon(1e-6));  // 0.5 (1 + erf(1/sqrt 2))
  CHECK(u(UnaryOp::Gelu, -1) == Approx(-0.1586552539f).epsilon(1e-6));
  CHECK(u(UnaryOp::Tanh, 0.5f) == Approx(0.4621171573f).epsilon(1e-6));
  CHECK(u(UnaryOp::Neg, 2) == -2.0f);
  CHECK(u(UnaryOp::Abs, -2) == 2.0f);
  CHECK(u(UnaryOp::Sqrt, 9) == 3.0f);
  CHECK(u(UnaryOp::Exp, 1) == Approx(2.718281828f).epsilon(1e-6));
  CHECK(bin(BinaryOp::Pow, 2, 3) == 8.0f);
  CHECK(bin(BinaryOp::Div, 1, 4) == 0.25f);
  CHECK(bin(BinaryOp::Max, -1, 2) == 2.0f);
  CHECK(bin(BinaryOp::Min, -1, 2) == -1.0f);
  CHECK(bin(BinaryOp::Sub, 5, 7) == -2.0f);
}

TEST_CASE("kernels_best picks an available set", "[kernels]") {
  const KernelSet& best = kernels_best();
  bool listed = &best == &kernels_reference();
  for (const KernelSet* s : optimised_sets()) listed = listed || s == &best;
  CHECK(listed);
#if defined(__aarch64__)
  CHECK(kernels_neon() != nullptr);
#endif
}
