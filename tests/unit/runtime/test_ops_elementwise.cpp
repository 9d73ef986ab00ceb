// Binary ops with NumPy broadcasting and the unary activations.
#include <cmath>
#include <functional>
#include <random>

#include "runtime_test_support.h"

using namespace mcrt_test;
using A = Attribute;

TEST_CASE("binary ops broadcast like NumPy", "[unit][runtime][ops]") {
  // a [2,3,1] and b [1,4] -> [2,3,4]: y[i,j,k] = a[i,j] op b[k].
  const auto a = iota_f(6, 1.f), b = iota_f(4, 1.f, 0.5f);
  struct Op {
    fb::OpType op;
    float (*f)(float, float);
  };
  const Op ops[] = {{fb::OpType_Add, [](float x, float y) { return x + y; }},
                    {fb::OpType_Sub, [](float x, float y) { return x - y; }},
                    {fb::OpType_Mul, [](float x, float y) { return x * y; }},
                    {fb::OpType_Div, [](float x, float y) { return x / y; }},
                    {fb::OpType_Pow, [](float x, float y) { return std::pow(x, y); }}};
  for (const Op& o : ops) {
    std::vector<float> want;
    for (int i = 0; i < 6; ++i)
      for (int k = 0; k < 4; ++k) want.push_back(o.f(a[(size_t)i], b[(size_t)k]));
    auto r = run_ok_op(o.op, {act<float>({2, 3, 1}, a), act<float>({1, 4}, b)}, {}, DType::kF32, {2, 3, 4});
    INFO(fb::EnumNameOpType(o.op));
    require_close(r.as<float>(), want, 1e-6f);
    // Swapped roles (b first) and a constant scalar operand.
    auto s = run_ok_op(o.op, {cst<float>({}, {2.f}), act<float>({2, 3, 1}, a)}, {}, DType::kF32, {2, 3, 1});
    std::vector<float> want_s;
    for (float v : a) want_s.push_back(o.f(2.f, v));
    require_close(s.as<float>(), want_s, 1e-6f);
  }
  // Middle-dim broadcast: [2,1,3] + [1,4,1] -> [2,4,3]; and equal shapes.
  auto m = run_ok_op(fb::OpType_Add, {act<float>({2, 1, 3}, iota_f(6)), act<float>({1, 4, 1}, iota_f(4, 0.f, 10.f))}, {},
                     DType::kF32, {2, 4, 3});
  std::vector<float> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) want.push_back((float)(i * 3 + k) + 10.f * (float)j);
  CHECK(m.as<float>() == want);
  auto bad = run_op(fb::OpType_Add, {act<float>({2, 3}, iota_f(6)), act<float>({2}, {1, 2})}, {}, DType::kF32, {2, 3});
  CHECK(bad.status.code() == mcrt::StatusCode::kInvalidModel);
  auto ints = run_op(fb::OpType_Add, {act<int64_t>({2}, {1, 2}), act<int64_t>({2}, {1, 2})}, {}, DType::kI64, {2});
  CHECK(ints.status.code() == mcrt::StatusCode::kUnsupported);
}

TEST_CASE("unary activations match their ONNX formulas", "[unit][runtime][ops]") {
  std::vector<float> x;
  for (int i = -13; i <= 13; ++i) x.push_back(0.37f * (float)i);
  const std::vector<int64_t> shape = {(int64_t)x.size()};
  struct U {
    fb::OpType op;
    std::vector<Attribute> attrs;
    std::function<float(float)> f;
  };
  const float kInvSqrt2 = 0.70710678f;
  const std::vector<U> us = {
      {fb::OpType_Relu, {}, [](float v) { return v > 0 ? v : 0.f; }},
      {fb::OpType_LeakyRelu, {A::Float(fb::AttrKey_alpha, 0.1f)}, [](float v) { return v >= 0 ? v : 0.1f * v; }},
      {fb::OpType_LeakyRelu, {}, [](float v) { return v >= 0 ? v : 0.01f * v; }},
      {fb::OpType_Clip, {A::Float(fb::AttrKey_min, -1.f), A::Float(fb::AttrKey_max, 2.f)},
       [](float v) { return std::min(std::max(v, -1.f), 2.f); }},
      {fb::OpType_Sigmoid, {}, [](float v) { return 1.f / (1.f + std::exp(-v)); }},
      {fb::OpType_HardSigmoid, {}, [](float v) { return std::max(0.f, std::min(1.f, 0.2f * v + 0.5f)); }},
      {fb::OpType_HardSigmoid, {A::Float(fb::AttrKey_alpha, 0.5f), A::Float(fb::AttrKey_beta, 0.1f)},
       [](float v) { return std::max(0.f, std::min(1.f, 0.5f * v + 0.1f)); }},
      {fb::OpType_HardSwish, {}, [](float v) { return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f)); }},
      {fb::OpType_Tanh, {}, [](float v) { return std::tanh(v); }},
      {fb::OpType_Erf, {}, [](float v) { return std::erf(v); }},
      {fb::OpType_Gelu, {}, [=](float v) { return 0.5f * v * (1.f + std::erf(v * kInvSqrt2)); }},
      {fb::OpType_Gelu, {A::String(fb::AttrKey_approximate, "tanh")},
       [](float v) { return 0.5f * v * (1.f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v))); }},
      {fb::OpType_Exp, {}, [](float v) { return std::exp(v); }},
  };
  for (const U& u : us) {
    std::vector<float> want;
    for (float v : x) want.push_back(u.f(v));
    auto r = run_ok_op(u.op, {act<float>(shape, x)}, u.attrs, DType::kF32, shape);
    INFO(fb::EnumNameOpType(u.op) << " via " << r.kernel);
    require_close(r.as<float>(), want, 2e-5f);
  }
  std::vector<float> pos;
  for (float v : x) pos.push_back(std::fabs(v));
  auto sq = run_ok_op(fb::OpType_Sqrt, {act<float>(shape, pos)}, {}, DType::kF32, shape);
  std::vector<float> want;
  for (float v : pos) want.push_back(std::sqrt(v));
  require_close(sq.as<float>(), want, 1e-6f);
  // Clip with min/max as constant inputs (opset >= 11), max absent.
  auto c = run_ok_op(fb::OpType_Clip, {act<float>({4}, {-2, -0.5f, 0.5f, 9}), cst<float>({}, {-1}), none()}, {},
                     DType::kF32, {4});
  CHECK(c.as<float>() == std::vector<float>{-1, -0.5f, 0.5f, 9});
  auto g = run_op(fb::OpType_Gelu, {act<float>({1}, {1})}, {A::String(fb::AttrKey_approximate, "fast")}, DType::kF32, {1});
  CHECK(g.status.code() == mcrt::StatusCode::kUnsupported);
}

TEST_CASE("large element-wise tensors split across threads give identical bytes", "[unit][runtime][ops]") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  std::vector<float> a(3 * 5001), b(5001);
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  auto r1 = run_ok_op(fb::OpType_Mul, {act<float>({3, 5001}, a), act<float>({5001}, b)}, {}, DType::kF32, {3, 5001}, 1);
  auto r2 = run_ok_op(fb::OpType_Mul, {act<float>({3, 5001}, a), act<float>({5001}, b)}, {}, DType::kF32, {3, 5001}, 2);
  CHECK(r1.bytes == r2.bytes);
  auto s1 = run_ok_op(fb::OpType_Sigmoid, {act<float>({3, 5001}, a)}, {}, DType::kF32, {3, 5001}, 1);
  auto s2 = run_ok_op(fb::OpType_Sigmoid, {act<float>({3, 5001}, a)}, {}, DType::kF32, {3, 5001}, 2);
  CHECK(s1.bytes == s2.bytes);
}
