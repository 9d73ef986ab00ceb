// Cross-layer equalization keeps the function and equalizes channel ranges; bias
// correction removes (Ŵ − W)·E[x] from the bias, checked against a hand computation.
#include <catch2/catch.hpp>
#include <cmath>

#include "compress/passes/refresh_shapes.h"
#include "quantize/bias_correction.h"
#include "quantize/equalization.h"
#include "quantize/quant_params.h"
#include "quantize/tap_runner.h"
#include "tests/support/ir_builders.h"

using namespace mc;
using namespace mc::quant;

namespace {

// Named <op>_<first output>.
Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
  const std::string name = op + "_" + out[0];
  return test::make_node(op, std::move(in), std::move(out), name);
}

// x[N,2,5,5] -> Conv(W1[3,2,3,3], pads 1) -> Relu -> Conv(W2[4,3,1,1]) -> y
Model conv_pair() {
  Model m;
  m.graph.name = "g";
  m.opsets = {{"", 13}};
  m.graph.inputs = {test::value_info("x", {Dim::symbol("N"), Dim::known(2), Dim::known(5), Dim::known(5)})};
  m.graph.outputs = {test::value_info("y", {Dim::symbol("N"), Dim::known(4), Dim::known(5), Dim::known(5)})};
  std::vector<float> w1(54), w2(12);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = std::sin(static_cast<float>(i)) * (i < 18 ? 10.f : i < 36 ? 0.1f : 1.f);
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = std::cos(static_cast<float>(i)) * ((i % 3) == 0 ? 0.05f : 3.f);
  m.graph.initializers = {Tensor::make_f32("W1", {3, 2, 3, 3}, w1), Tensor::make_f32("B1", {3}, {0.5f, -0.1f, 0.2f}),
                          Tensor::make_f32("W2", {4, 3, 1, 1}, w2)};
  Node c1 = node("Conv", {"x", "W1", "B1"}, {"c"});
  c1.set_attr_ints("pads", {1, 1, 1, 1});
  m.graph.nodes = {c1, node("Relu", {"c"}, {"r"}), node("Conv", {"r", "W2"}, {"y"})};
  refresh_shapes(m);
  return m;
}

std::vector<float> run(const Model& m, const std::vector<float>& x, size_t n) {
  TapRunner t(m, {"y"}, 1, "test");
  std::vector<std::vector<float>> out;
  t.run(x.data(), n, &out);
  return out[0];
}

}  // namespace

TEST_CASE("CLE: same outputs, equal per-channel ranges", "[quantize][cle]") {
  Model m = conv_pair();
  std::vector<float> x(3 * 50);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const auto before = run(m, x, 3);
  const auto pairs = equalize_cross_layer(m);
  REQUIRE(pairs.size() == 1);
  CHECK(pairs[0].first == "Conv_c");
  CHECK(pairs[0].second == "Conv_y");
  const auto after = run(m, x, 3);
  REQUIRE(before.size() == after.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i] == Approx(before[i]).epsilon(1e-4).margin(1e-5));
  const Tensor& w1 = *m.graph.initializer("W1");
  const Tensor& w2 = *m.graph.initializer("W2");
  for (size_t c = 0; c < 3; ++c) {
    float r1 = 0, r2 = 0;
    for (size_t k = 0; k < 18; ++k) r1 = std::max(r1, std::fabs(w1.as<float>()[c * 18 + k]));
    for (size_t o = 0; o < 4; ++o) r2 = std::max(r2, std::fabs(w2.as<float>()[o * 3 + c]));
    CHECK(r1 == Approx(r2).epsilon(1e-5));
  }
}

TEST_CASE("CLE: a Clip (ReLU6) between the convs is not equalized", "[quantize][cle]") {
  Model m = conv_pair();
  m.graph.nodes[1].op_type = "Clip";
  CHECK(equalize_cross_layer(m).empty());
}

TEST_CASE("bias correction: channel means and the corrected bias of a Gemm (hand-computed)", "[quantize][biascorr]") {
  Model m;
  m.graph.name = "g";
  m.opsets = {{"", 13}};
  m.graph.inputs = {test::value_info("x", {Dim::symbol("N"), Dim::known(2)})};
  m.graph.outputs = {test::value_info("y", {Dim::symbol("N"), Dim::known(1)})};
  m.graph.initializers = {Tensor::make_f32("W", {2, 1}, {0.3f, 1.f}), Tensor::make_f32("B", {1}, {0.25f})};
  m.graph.nodes = {node("Gemm", {"x", "W", "B"}, {"y"})};
  refresh_shapes(m);
  const std::vector<float> x = {1.f, 2.f, 3.f, 4.f};
  const auto means = channel_means(m, {"x"}, x.data(), 2, 1);
  REQUIRE(means.size() == 1);
  CHECK(means[0] == std::vector<double>{2.0, 3.0});
  StaticPlan plan;
  LayerPlan lp;
  lp.node = "Gemm_y";
  lp.op_type = "Gemm";
  lp.quantized = true;
  plan.layers = {lp};
  REQUIRE(correct_biases(m, plan, {}, x.data(), 2, 1) == 1);
  // axis 1 (one output column): scale 1/127; 0.3 -> 38 -> 38/127; 1.0 -> 127 -> exact
  const float s = 1.f / 127.f;
  const double d0 = static_cast<double>(38.f * s) - 0.3f, d1 = static_cast<double>(127.f * s) - 1.f;
  const float expect = static_cast<float>(0.25 - (d0 * 2.0 + d1 * 3.0));
  CHECK(m.graph.initializer("B")->as<float>()[0] == expect);
}
