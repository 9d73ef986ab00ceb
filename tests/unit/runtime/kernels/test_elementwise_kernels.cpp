// Element-wise: every optimised set against the reference for every op, run length (SIMD tails) and
// broadcast pattern. Lane-exact ops must match bit for bit; transcendental ones within
// |y - ref| <= 1e-5 |ref| + 1e-6.
#include <catch2/catch.hpp>

#include "kernel_test_support.h"

using namespace mcrt;
using namespace mcrt_test;

namespace {

const int64_t kLengths[] = {1, 7, 8, 13, 17, 31, 127, 1000};

bool bits_equal(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("binary: optimised sets match the reference", "[elementwise]") {
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                          BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min};
  for (const KernelSet* ks : optimised_sets()) {
    for (BinaryOp op : ops) {
      for (int64_t n : kLengths) {
        for (int pattern = 0; pattern < 3; ++pattern) {  // both runs, scalar a, scalar b
          const int as = pattern == 1 ? 0 : 1, bs = pattern == 2 ? 0 : 1;
          const bool pos = op == BinaryOp::Pow;
          auto a = random_vec(size_t(n), uint32_t(n * 3 + pattern), pos ? 0.1f : -4.0f, 4.0f);
          auto b = random_vec(size_t(n), uint32_t(n * 5 + pattern), pos ? -3.0f : 0.5f, 3.0f);
          std::vector<float> ref(static_cast<size_t>(n)), y(static_cast<size_t>(n), std::nanf(""));
          kernels_reference().binary(op, n, a.data(), as, b.data(), bs, ref.data());
          ks->binary(op, n, a.data(), as, b.data(), bs, y.data());
          for (int64_t i = 0; i < n; ++i) {
            INFO(ks->name << " op " << int(op) << " n " << n << " pattern " << pattern << " i " << i);
            if (op == BinaryOp::Pow) CHECK(std::fabs(y[i] - ref[i]) <= 1e-5f * std::fabs(ref[i]) + 1e-6f);
            else CHECK(bits_equal(y[i], ref[i]));
          }
          // In place (y aliases a) gives the same result.
          if (as == 1) {
            ks->binary(op, n, a.data(), as, b.data(), bs, a.data());
            CHECK(std::memcmp(a.data(), y.data(), size_t(n) * sizeof(float)) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("unary: optimised sets match the reference", "[elementwise]") {
  struct U {
    UnaryOp op;
    float lo, hi, alpha, beta;
    bool exact;
  };
  const U ops[] = {
      {UnaryOp::Relu, -3, 3, 0, 0, true},         {UnaryOp::LeakyRelu, -3, 3, 0.01f, 0, true},
      {UnaryOp::Clip, -8, 8, -1.5f, 6.0f, true},  {UnaryOp::Sigmoid, -30, 30, 0, 0, false},
      {UnaryOp::HardSigmoid, -6, 6, 0.2f, 0.5f, false}, {UnaryOp::HardSwish, -8, 8, 0, 0, false},
      {UnaryOp::Tanh, -10, 10, 0, 0, false},      {UnaryOp::Tanh, -0.7f, 0.7f, 0, 0, false},
      {UnaryOp::Erf, -4, 4, 0, 0, false},         {UnaryOp::Gelu, -6, 6, 0, 0, false},
      {UnaryOp::Sqrt, 0, 100, 0, 0, true},        {UnaryOp::Exp, -80, 80, 0, 0, false},
      {UnaryOp::Exp, -1, 1, 0, 0, false},         {UnaryOp::Neg, -5, 5, 0, 0, true},
      {UnaryOp::Abs, -5, 5, 0, 0, true},
  };
  for (const KernelSet* ks : optimised_sets()) {
    for (const U& u : ops) {
      for (int64_t n : kLengths) {
        const auto x = random_vec(size_t(n), uint32_t(n * 7), u.lo, u.hi);
        std::vector<float> ref(static_cast<size_t>(n)), y(static_cast<size_t>(n), std::nanf(""));
        kernels_reference().unary(u.op, n, x.data(), ref.data(), u.alpha, u.beta);
        ks->unary(u.op, n, x.data(), y.data(), u.alpha, u.beta);
        for (int64_t i = 0; i < n; ++i) {
          INFO(ks->name << " op " << int(u.op) << " n " << n << " x " << x[i] << " got " << y[i] << " want "
                        << ref[i]);
          if (u.exact) CHECK(bits_equal(y[i], ref[i]));
          else CHECK(std::fabs(double(y[i]) - double(ref[i])) <= 1e-5 * std::fabs(double(ref[i])) + 1e-6);
        }
      }
    }
    // Overflow / underflow edges of exp and sigmoid.
    const float edge[] = {-200.0f, -100.0f, -87.0f, 0.0f, 88.0f, 88.7f, 89.0f, 200.0f};
    float ye[8], re[8];
    ks->unary(UnaryOp::Exp, 8, edge, ye, 0, 0);
    kernels_reference().unary(UnaryOp::Exp, 8, edge, re, 0, 0);
    for (int i = 0; i < 8; ++i) {
      INFO(ks->name << " exp(" << edge[i] << ") got " << ye[i] << " want " << re[i]);
      if (std::isinf(re[i])) CHECK(std::isinf(ye[i]));
      else CHECK(std::fabs(ye[i] - re[i]) <= 1e-5f * re[i] + 1e-30f);
    }
    ks->unary(UnaryOp::Sigmoid, 8, edge, ye, 0, 0);
    kernels_reference().unary(UnaryOp::Sigmoid, 8, edge, re, 0, 0);
    for (int i = 0; i < 8; ++i) CHECK(std::fabs(ye[i] - re[i]) <= 1e-6f);
  }
}
