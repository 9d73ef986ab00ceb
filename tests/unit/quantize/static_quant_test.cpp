// Static QDQ insertion on a small hand-built model: what is quantized, the node
// sequence of docs/quantization.md §3, the int8/int32 initializers and their scales,
// the Relu folded into the output range (zp -128), Flatten moved onto int8, and what
// stays fp32 with its reason.
#include <catch2/catch.hpp>
#include <cmath>

#include "compress/error.h"
#include "compress/passes/refresh_shapes.h"
#include "quantize/quant_params.h"
#include "quantize/dynamic_quant.h"
#include "quantize/static_quant.h"
#include "tests/support/ir_builders.h"

using namespace mc;
using namespace mc::quant;

namespace {

// x[N,1,4,4] -> Conv(W[2,1,3,3], B[2]) -> Relu -> Flatten -> Gemm(Wg[3,8] transB, Bg[3]) -> y
//                                                    \-> Exp (stays fp32, not a quantizable op)
Model small_model(bool zero_channel) {
  Model m;
  m.opsets = {{"", 13}};
  Graph& g = m.graph;
  g.inputs = {test::value_info("x", {Dim::symbol("N"), Dim::known(1), Dim::known(4), Dim::known(4)})};
  g.outputs = {test::value_info("y", {Dim::symbol("N"), Dim::known(3)}), test::value_info("e", {Dim::symbol("N"), Dim::known(8)})};
  std::vector<float> w(18);
  for (size_t i = 0; i < w.size(); ++i) w[i] = (i < 9 && zero_channel) ? 0.f : static_cast<float>(i) / 10.f - 0.9f;
  g.initializers.push_back(Tensor::make_f32("W", {2, 1, 3, 3}, w));
  g.initializers.push_back(Tensor::make_f32("B", {2}, {0.1f, -0.2f}));
  std::vector<float> wg(24);
  for (size_t i = 0; i < wg.size(); ++i) wg[i] = std::sin(static_cast<float>(i));
  g.initializers.push_back(Tensor::make_f32("Wg", {3, 8}, wg));
  g.initializers.push_back(Tensor::make_f32("Bg", {3}, {0.5f, 0.f, -0.5f}));
  g.nodes.push_back(test::make_node("Conv", {"x", "W", "B"}, {"c"}, "conv"));
  g.nodes.push_back(test::make_node("Relu", {"c"}, {"r"}, "relu"));
  g.nodes.push_back(test::make_node("Flatten", {"r"}, {"f"}, "flat"));
  Node gemm = test::make_node("Gemm", {"f", "Wg", "Bg"}, {"y"}, "fc");
  gemm.set_attr_int("transB", 1);
  g.nodes.push_back(gemm);
  g.nodes.push_back(test::make_node("Exp", {"f"}, {"e"}, "exp"));
  refresh_shapes(m);
  return m;
}

std::vector<std::string> ops(const Graph& g) {
  std::vector<std::string> v;
  for (const auto& n : g.nodes) v.push_back(n.op_type);
  return v;
}

const Node* producer(const Graph& g, const std::string& v) {
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (o == v) return &n;
  return nullptr;
}

}  // namespace

TEST_CASE("plan: Conv+Relu and Gemm quantized, values to observe", "[quantize][static]") {
  Model m = small_model(false);
  StaticPlan p = plan_static(m, {});
  REQUIRE(p.layers.size() == 2);
  CHECK(p.layers[0].node == "conv");
  CHECK(p.layers[0].quantized);
  CHECK(p.layers[0].folded == "Relu");
  CHECK(p.layers[0].output == "r");
  CHECK(p.layers[1].node == "fc");
  CHECK(p.layers[1].quantized);
  // f (Flatten of r) takes r's parameters: not observed on its own
  CHECK(p.observe == std::vector<std::string>{"x", "r", "y"});
}

TEST_CASE("plan: --exclude by name and by op type; unmatched names are reported", "[quantize][static]") {
  Model m = small_model(false);
  StaticQuantOptions o;
  o.exclude = {"fc", "Conv", "nothing"};
  StaticPlan p = plan_static(m, o);
  CHECK_FALSE(p.layers[0].quantized);
  CHECK(p.layers[0].reason == "excluded by --exclude");
  CHECK_FALSE(p.layers[1].quantized);
  CHECK(p.unmatched_exclude == std::vector<std::string>{"nothing"});
  CHECK(p.observe.empty());
}

TEST_CASE("plan: Gemm with alpha != 1 stays fp32 with the reason", "[quantize][static]") {
  Model m = small_model(false);
  m.graph.nodes[3].set_attr_float("alpha", 2.f);
  StaticPlan p = plan_static(m, {});
  CHECK_FALSE(p.layers[1].quantized);
  CHECK(p.layers[1].reason == "alpha or beta is not 1");
}

TEST_CASE("plan: opset below 13 is an input error", "[quantize][static]") {
  Model m = small_model(false);
  m.opsets = {{"", 11}};
  CHECK_THROWS_AS(plan_static(m, {}), mc::Error);
}

TEST_CASE("apply: QDQ structure, int8 weights per channel, int32 bias, zp -128 after Relu", "[quantize][static]") {
  Model m = small_model(true);  // conv channel 0 all zero
  StaticQuantOptions o;
  StaticPlan p = plan_static(m, o);
  std::map<std::string, std::pair<float, float>> ranges = {{"x", {-1.f, 2.f}}, {"r", {0.f, 3.f}}, {"y", {-4.f, 4.f}}};
  apply_static(m, p, ranges, o);
  const Graph& g = m.graph;
  CHECK(ops(g) == std::vector<std::string>{"QuantizeLinear", "DequantizeLinear",            // x
                                           "DequantizeLinear", "DequantizeLinear", "Conv",  // W, B, conv
                                           "Relu", "QuantizeLinear", "DequantizeLinear",    // r
                                           "Flatten", "DequantizeLinear",                   // f on int8
                                           "DequantizeLinear", "DequantizeLinear", "Gemm",  // Wg, Bg, fc
                                           "QuantizeLinear", "DequantizeLinear", "Exp"});
  // The graph output keeps its name: the last DequantizeLinear writes y.
  CHECK(producer(g, "y")->op_type == "DequantizeLinear");
  // Flatten reads the int8 value of r
  const Node* flat = nullptr;
  for (const auto& n : g.nodes) if (n.op_type == "Flatten") flat = &n;
  REQUIRE(flat);
  CHECK(producer(g, flat->inputs[0])->op_type == "QuantizeLinear");
  CHECK(g.value(flat->outputs[0])->dtype == DType::I8);
  // Relu output: scale 3/255, zp -128
  const Node* qr = producer(g, flat->inputs[0]);
  CHECK(qr->inputs[0] == "r");
  CHECK(g.initializer(qr->inputs[1])->as<float>()[0] == 3.f / 255.f);
  CHECK(g.initializer(qr->inputs[2])->dtype == DType::I8);
  CHECK(g.initializer(qr->inputs[2])->as<int8_t>()[0] == -128);
  CHECK(g.value("r_quantized")->dtype == DType::I8);
  CHECK(p.layers[0].scale == 3.f / 255.f);  // the plan records what the layer's output got
  CHECK(p.layers[0].zero_point == -128);
  CHECK(p.layers[0].dq_output == "r_dequantized");
  CHECK(p.layers[1].dq_output == "y");
  CHECK(p.layers[1].range == std::pair<float, float>{-4.f, 4.f});
  // Conv weight: int8 [2,1,3,3] per channel (axis 0), channel 0 all zero -> scale 1
  const Node* conv = nullptr;
  for (const auto& n : g.nodes) if (n.op_type == "Conv") conv = &n;
  const Node* wdq = producer(g, conv->inputs[1]);
  REQUIRE(wdq->op_type == "DequantizeLinear");
  CHECK(wdq->attr_int("axis", -1) == 0);
  CHECK(wdq->inputs.size() == 2);  // zero point 0 omitted
  const Tensor* wq = g.initializer(wdq->inputs[0]);
  CHECK(wq->dtype == DType::I8);
  CHECK(wq->dims == std::vector<int64_t>{2, 1, 3, 3});
  const Tensor* ws = g.initializer(wdq->inputs[1]);
  CHECK(ws->as<float>()[0] == 1.f);
  const float w17 = 17.f / 10.f - 0.9f;  // channel 1's largest |w| (the model's own float arithmetic)
  CHECK(ws->as<float>()[1] == w17 / 127.f);
  for (int i = 0; i < 9; ++i) CHECK(wq->as<int8_t>()[i] == 0);
  CHECK(wq->as<int8_t>()[17] == 127);
  // Conv bias: int32, scale s_x * s_w[c], DQ axis 0, no zero point
  const Node* bdq = producer(g, conv->inputs[2]);
  const Tensor* bq = g.initializer(bdq->inputs[0]);
  CHECK(bq->dtype == DType::I32);
  CHECK(bdq->inputs.size() == 2);
  const float s_x = 3.f / 255.f;
  CHECK(g.initializer(bdq->inputs[1])->as<float>()[1] == s_x * (w17 / 127.f));
  CHECK(bq->as<int32_t>()[1] == static_cast<int32_t>(std::nearbyint(-0.2f / (s_x * (w17 / 127.f)))));
  // Gemm with transB: weight per channel along axis 0 ([N, K])
  const Node* gemm = nullptr;
  for (const auto& n : g.nodes) if (n.op_type == "Gemm") gemm = &n;
  CHECK(producer(g, gemm->inputs[1])->attr_int("axis", -1) == 0);
  // Float weights are gone
  CHECK(g.initializer("W") == nullptr);
  CHECK(g.initializer("Wg") == nullptr);
}

TEST_CASE("apply: per-tensor weights and a constant (all-zero) activation", "[quantize][static]") {
  Model m = small_model(false);
  StaticQuantOptions o;
  o.per_channel = false;
  StaticPlan p = plan_static(m, o);
  std::map<std::string, std::pair<float, float>> ranges = {{"x", {0.f, 0.f}}, {"r", {0.f, 0.f}}, {"y", {0.f, 0.f}}};
  apply_static(m, p, ranges, o);
  const Graph& g = m.graph;
  for (const auto& n : g.nodes) {
    if (n.op_type != "QuantizeLinear" && n.op_type != "DequantizeLinear") continue;
    CHECK(n.attr(std::string("axis")) == nullptr);  // per tensor everywhere
    const Tensor* s = g.initializer(n.inputs[1]);
    CHECK(s->dims.empty());
    CHECK(s->as<float>()[0] > 0.f);  // never 0 or NaN
    CHECK(std::isfinite(s->as<float>()[0]));
  }
}

TEST_CASE("apply: a range missing for an observed value is an internal error", "[quantize][static]") {
  Model m = small_model(false);
  StaticPlan p = plan_static(m, {});
  CHECK_THROWS_AS(apply_static(m, p, {{"x", {0.f, 1.f}}}, {}), mc::Error);
}

TEST_CASE("dynamic: Gemm becomes DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add", "[quantize][dynamic]") {
  Model m = small_model(false);
  StaticPlan p = apply_dynamic(m, {});
  REQUIRE(p.layers.size() == 1);
  CHECK(p.layers[0].quantized);
  CHECK(ops(m.graph) == std::vector<std::string>{"Conv", "Relu", "Flatten", "DynamicQuantizeLinear", "MatMulInteger",
                                                 "Cast", "Mul", "Mul", "Add", "Exp"});
  const Node* mi = nullptr;
  for (const auto& n : m.graph.nodes) if (n.op_type == "MatMulInteger") mi = &n;
  const Tensor* w = m.graph.initializer(mi->inputs[1]);
  REQUIRE(w);
  CHECK(w->dtype == DType::I8);
  CHECK(w->dims == std::vector<int64_t>{8, 3});  // transB weight [3, 8] transposed to [K, N]
  // column 0 is row 0 of Wg: sin(0..7); its largest |value| maps to +-127
  float amax = 0;
  for (int k = 0; k < 8; ++k) amax = std::max(amax, std::fabs(std::sin(static_cast<float>(k))));
  int8_t wmax = 0;
  for (int k = 0; k < 8; ++k) wmax = std::max<int8_t>(wmax, static_cast<int8_t>(std::abs(w->as<int8_t>()[k * 3])));
  CHECK(wmax == 127);
  CHECK(m.graph.initializer("Wg") == nullptr);
  CHECK(producer(m.graph, "y")->op_type == "Add");
  StaticQuantOptions ex;
  ex.exclude = {"Gemm", "Nope"};
  Model m2 = small_model(false);
  StaticPlan p2 = apply_dynamic(m2, ex);
  CHECK_FALSE(p2.layers[0].quantized);
  CHECK(p2.unmatched_exclude == std::vector<std::string>{"Nope"});
}

TEST_CASE("plan and apply: Add+Relu, Concat and AveragePool read dequantized int8 values", "[quantize][static]") {
  // x -> Conv A -> a ; x -> Conv B -> b ; Add(a, b) -> Relu -> t ; Concat(t, a) -> c ; AveragePool(c) -> y
  Model m;
  m.opsets = {{"", 13}};
  Graph& g = m.graph;
  g.inputs = {test::value_info("x", {Dim::symbol("N"), Dim::known(2), Dim::known(4), Dim::known(4)})};
  g.outputs = {test::value_info("y", {Dim::symbol("N"), Dim::known(4), Dim::known(2), Dim::known(2)})};
  std::vector<float> w(8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 0.3f;
  g.initializers.push_back(Tensor::make_f32("WA", {2, 2, 1, 1}, {w[0], w[1], w[2], w[3]}));
  g.initializers.push_back(Tensor::make_f32("WB", {2, 2, 1, 1}, {w[4], w[5], w[6], w[7]}));
  g.nodes.push_back(test::make_node("Conv", {"x", "WA"}, {"a"}, "ca"));
  g.nodes.push_back(test::make_node("Conv", {"x", "WB"}, {"b"}, "cb"));
  g.nodes.push_back(test::make_node("Add", {"a", "b"}, {"s"}, "add"));
  g.nodes.push_back(test::make_node("Relu", {"s"}, {"t"}, "relu"));
  Node cat = test::make_node("Concat", {"t", "a"}, {"c"}, "cat");
  cat.set_attr_int("axis", 1);
  g.nodes.push_back(cat);
  Node pool = test::make_node("AveragePool", {"c"}, {"y"}, "pool");
  pool.set_attr_ints("kernel_shape", {2, 2});
  pool.set_attr_ints("strides", {2, 2});
  g.nodes.push_back(pool);
  refresh_shapes(m);
  StaticPlan p = plan_static(m, {});
  REQUIRE(p.layers.size() == 5);
  for (const auto& l : p.layers) CHECK(l.quantized);
  CHECK(p.layers[0].folded.empty());  // a has two readers: not folded, nothing to fold
  CHECK(p.layers[2].folded == "Relu");
  CHECK(p.layers[2].output == "t");
  CHECK(p.observe == std::vector<std::string>{"x", "a", "b", "t", "c", "y"});
  std::map<std::string, std::pair<float, float>> ranges;
  for (const auto& v : p.observe) ranges[v] = {-1.f, 1.f};
  ranges["t"] = {0.f, 2.f};
  apply_static(m, p, ranges, {});
  auto reads_dq = [&](const std::string& op) {
    for (const auto& n : g.nodes) {
      if (n.op_type != op) continue;
      for (const auto& in : n.inputs) {
        if (g.initializer(in)) continue;
        const Node* pr = producer(g, in);
        if (!pr || pr->op_type != "DequantizeLinear") return false;
      }
      return true;
    }
    return false;
  };
  CHECK(reads_dq("Add"));
  CHECK(reads_dq("Concat"));
  CHECK(reads_dq("AveragePool"));
  CHECK(producer(g, "y")->op_type == "DequantizeLinear");
  // a is quantized once (one Q), read by Add and Concat through the same DQ
  size_t q_of_a = 0;
  for (const auto& n : g.nodes) q_of_a += n.op_type == "QuantizeLinear" && n.inputs[0] == "a";
  CHECK(q_of_a == 1);
  // t's zero point is -128 (Relu range)
  for (const auto& n : g.nodes)
    if (n.op_type == "QuantizeLinear" && n.inputs[0] == "t") CHECK(g.initializer(n.inputs[2])->as<int8_t>()[0] == -128);
}
