// The number-format rules of docs/quantization.md §1 against hand-computed values.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "compress/error.h"
#include "quantize/quant_params.h"

using namespace mc::quant;

TEST_CASE("activation params: asymmetric, relu range, symmetric, constant", "[quantize][params]") {
  ActParams p = activation_params(-1.f, 3.f, false);
  CHECK(p.scale == 4.f / 255.f);
  CHECK(p.zero_point == static_cast<int32_t>(std::nearbyint(-128.f - (-1.f) / (4.f / 255.f))));  // -64.25 -> -64
  CHECK(p.zero_point == -64);
  ActParams r = activation_params(0.f, 6.f, false);  // after Relu: zp -128
  CHECK(r.zero_point == -128);
  CHECK(r.scale == 6.f / 255.f);
  ActParams w = activation_params(2.f, 5.f, false);  // widened to contain 0
  CHECK(w.scale == 5.f / 255.f);
  CHECK(w.zero_point == -128);
  ActParams s = activation_params(-1.f, 2.54f, true);
  CHECK(s.scale == 2.54f / 127.f);
  CHECK(s.zero_point == 0);
  ActParams c = activation_params(0.f, 0.f, false);  // constant activation
  CHECK(c.scale == 1.f);
  CHECK(c.zero_point == 0);
  ActParams c2 = activation_params(0.f, 0.f, true);
  CHECK(c2.scale == 1.f);
  ActParams tiny = activation_params(0.f, 1e-44f, false);  // scale would be denormal
  CHECK(tiny.scale == 1.f);
  CHECK_THROWS_AS(activation_params(0.f, std::numeric_limits<float>::infinity(), false), mc::Error);
}

TEST_CASE("quantize_value rounds half to even and saturates", "[quantize][params]") {
  CHECK(quantize_value(2.5f, 1.f, 0, -128, 127) == 2);
  CHECK(quantize_value(3.5f, 1.f, 0, -128, 127) == 4);
  CHECK(quantize_value(-2.5f, 1.f, 0, -128, 127) == -2);
  CHECK(quantize_value(1000.f, 1.f, 0, -127, 127) == 127);
  CHECK(quantize_value(-1000.f, 1.f, 0, -127, 127) == -127);
  CHECK(quantize_value(0.f, 0.5f, -128, -128, 127) == -128);
}

TEST_CASE("weight scales per channel and per tensor; all-zero channel gets scale 1", "[quantize][params]") {
  // W [3, 2]: channel 0 max 1.27, channel 1 all zero, channel 2 max 2.54
  const float w[] = {1.27f, -0.5f, 0.f, 0.f, -2.54f, 1.f};
  const std::vector<int64_t> dims{3, 2};
  const auto s = weight_scales(w, dims, 0, true, "w");
  REQUIRE(s.size() == 3);
  CHECK(s[0] == 1.27f / 127.f);
  CHECK(s[1] == 1.f);
  CHECK(s[2] == 2.54f / 127.f);
  const auto q = quantize_weights(w, dims, 0, s);
  CHECK(q == std::vector<int8_t>{127, static_cast<int8_t>(std::nearbyint(-0.5f / (1.27f / 127.f))), 0, 0, -127, 50});
  const auto t = weight_scales(w, dims, 0, false, "w");
  REQUIRE(t.size() == 1);
  CHECK(t[0] == 2.54f / 127.f);
  // axis 1 ([K, N] MatMul weights): two channels
  const auto s1 = weight_scales(w, dims, 1, true, "w");
  REQUIRE(s1.size() == 2);
  CHECK(s1[0] == 2.54f / 127.f);
  CHECK(s1[1] == 1.f / 127.f);
  const float bad[] = {1.f, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_AS(weight_scales(bad, {2}, 0, false, "bad"), mc::Error);
  const float zero[] = {0.f, 0.f};
  CHECK(weight_scales(zero, {2}, 0, false, "z")[0] == 1.f);
}

TEST_CASE("bias quantization: scale s_x*s_w, round half even, saturation, underflow refused", "[quantize][params]") {
  const float b[] = {0.25f, -1.f, 3e9f};
  std::vector<int32_t> q;
  std::vector<float> s;
  REQUIRE(quantize_bias(b, 3, 0.5f, {0.5f, 0.25f, 1.f}, &q, &s));
  CHECK(s == std::vector<float>{0.25f, 0.125f, 0.5f});
  CHECK(q[0] == 1);
  CHECK(q[1] == -8);
  CHECK(q[2] == std::numeric_limits<int32_t>::max());
  const float b2[] = {0.375f};
  REQUIRE(quantize_bias(b2, 1, 0.25f, {1.f}, &q, &s));  // 1.5 -> 2
  CHECK(q[0] == 2);
  CHECK_FALSE(quantize_bias(b2, 1, 1e-30f, {1e-20f}, &q, &s));
}
