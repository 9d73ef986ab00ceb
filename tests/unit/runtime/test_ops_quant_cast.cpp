// QuantizeLinear / DequantizeLinear (per tensor, per axis, int8 and uint8) and Cast.
#include <cmath>

#include "runtime_test_support.h"

using namespace mcrt_test;
using A = Attribute;

TEST_CASE("QuantizeLinear: round half to even, saturation, default uint8", "[unit][runtime][ops]") {
  const std::vector<float> x = {0, 1, 2.5f, 3.5f, -1, 300, -300};
  auto u = run_ok_op(fb::OpType_QuantizeLinear, {act<float>({7}, x), cst<float>({}, {1.f}), cst<uint8_t>({}, {10})}, {},
                     DType::kU8, {7});
  CHECK(u.as<uint8_t>() == std::vector<uint8_t>{10, 11, 12, 14, 9, 255, 0});
  auto d = run_ok_op(fb::OpType_QuantizeLinear, {act<float>({7}, x), cst<float>({}, {1.f})}, {}, DType::kU8, {7});
  CHECK(d.as<uint8_t>() == std::vector<uint8_t>{0, 1, 2, 4, 0, 255, 0});
  auto s = run_ok_op(fb::OpType_QuantizeLinear, {act<float>({7}, x), cst<float>({}, {2.f}), cst<int8_t>({}, {-1})}, {},
                     DType::kI8, {7});
  CHECK(s.as<int8_t>() == std::vector<int8_t>{-1, -1, 0, 1, -1, 127, -128});  // -0.5 rounds to -0
  // Per axis (axis 1 by default): scales per column.
  auto pa = run_ok_op(fb::OpType_QuantizeLinear,
                      {act<float>({2, 2}, {1, 1, 4, 4}), cst<float>({2}, {1.f, 4.f}), cst<int8_t>({2}, {0, 1})}, {},
                      DType::kI8, {2, 2});
  CHECK(pa.as<int8_t>() == std::vector<int8_t>{1, 1, 4, 2});
}

TEST_CASE("DequantizeLinear: per tensor and per axis, int8 and uint8", "[unit][runtime][ops]") {
  auto u = run_ok_op(fb::OpType_DequantizeLinear,
                     {act<uint8_t>({3}, {0, 10, 255}), cst<float>({}, {0.5f}), cst<uint8_t>({}, {10})}, {}, DType::kF32, {3});
  CHECK(u.as<float>() == std::vector<float>{-5, 0, 122.5f});
  auto pa = run_ok_op(fb::OpType_DequantizeLinear,
                      {cst<int8_t>({2, 2}, {1, 2, 3, 4}), cst<float>({2}, {0.5f, 2.f}), cst<int8_t>({2}, {0, 1})},
                      {A::Int(fb::AttrKey_axis, 0)}, DType::kF32, {2, 2});
  // a constant-only graph still runs: the DQ reads int8 weights (the QDQ export form).
  CHECK(pa.as<float>() == std::vector<float>{0.5f, 1, 4, 6});
  auto bad = run_op(fb::OpType_DequantizeLinear,
                    {act<int8_t>({2, 3}, {1, 2, 3, 4, 5, 6}), cst<float>({2}, {0.5f, 2.f})}, {A::Int(fb::AttrKey_axis, 1)},
                    DType::kF32, {2, 3});
  CHECK(bad.status.code() == mcrt::StatusCode::kInvalidModel);
}

TEST_CASE("Q then DQ round-trips within half a step", "[unit][runtime][ops]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {5});
  const int sc = w.add_weight_f32("s", {}, {0.1f});
  const int8_t z0 = 3;
  const int zp = w.add_weight("z", DType::kI8, {}, &z0, 1);
  const int q = w.add_tensor("q", DType::kI8, {5});
  const int y = w.add_tensor("y", DType::kF32, {5});
  w.add_node(fb::OpType_QuantizeLinear, {x, sc, zp}, {q});
  w.add_node(fb::OpType_DequantizeLinear, {q, sc, zp}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  Loaded l = build(w);
  const std::vector<float> in = {-1.234f, 0.f, 0.05f, 3.33f, 13.f};
  set_input(*l.it, 0, in);
  run_ok(*l.it);
  const auto out = get_output<float>(*l.it, 0);
  for (size_t i = 0; i < 4; ++i) CHECK(std::fabs(out[i] - in[i]) <= 0.05f + 1e-6f);
  CHECK(out[4] == Approx(12.4f));  // saturates at (127 - 3) * 0.1
}

TEST_CASE("Cast between float, integers and bool", "[unit][runtime][ops]") {
  auto fi = run_ok_op(fb::OpType_Cast, {act<float>({5}, {1.9f, -1.9f, 3e10f, NAN, 0.f})}, {A::Int(fb::AttrKey_to, 6)},
                      DType::kI32, {5});
  CHECK(fi.as<int32_t>() == std::vector<int32_t>{1, -1, 2147483647, 0, 0});
  auto lf = run_ok_op(fb::OpType_Cast, {act<int64_t>({3}, {-5, 0, 1ll << 40})}, {A::Int(fb::AttrKey_to, 1)}, DType::kF32, {3});
  CHECK(lf.as<float>() == std::vector<float>{-5, 0, 1099511627776.f});
  auto fb_ = run_ok_op(fb::OpType_Cast, {act<float>({3}, {0.f, -0.5f, 2.f})}, {A::Int(fb::AttrKey_to, 9)}, DType::kBool, {3});
  CHECK(fb_.as<uint8_t>() == std::vector<uint8_t>{0, 1, 1});
  auto uf = run_ok_op(fb::OpType_Cast, {act<uint8_t>({2}, {0, 255})}, {A::Int(fb::AttrKey_to, 1)}, DType::kF32, {2});
  CHECK(uf.as<float>() == std::vector<float>{0, 255});
  auto fu = run_ok_op(fb::OpType_Cast, {act<float>({3}, {-3.f, 100.7f, 999.f})}, {A::Int(fb::AttrKey_to, 2)}, DType::kU8, {3});
  CHECK(fu.as<uint8_t>() == std::vector<uint8_t>{0, 100, 255});
  auto li = run_ok_op(fb::OpType_Cast, {act<int64_t>({2}, {7, -2})}, {A::Int(fb::AttrKey_to, 3)}, DType::kI8, {2});
  CHECK(li.as<int8_t>() == std::vector<int8_t>{7, -2});
  auto f16 = run_op(fb::OpType_Cast, {act<float>({1}, {1.f})}, {A::Int(fb::AttrKey_to, 10)}, DType::kF16, {1});
  CHECK(f16.status.code() == mcrt::StatusCode::kUnsupported);
}
