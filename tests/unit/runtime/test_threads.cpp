// Thread-count determinism: 1, 2 and 3 threads give bit-identical outputs.
#include <random>

#include "runtime_test_support.h"

using namespace mcrt_test;

namespace {

ModelWriter small_cnn() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (float& f : v) f = u(rng);
    return v;
  };
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {-1, 3, 17, 13});
  const int k1 = w.add_weight_f32("k1", {8, 3, 3, 3}, rnd(8 * 27));
  const int b1 = w.add_weight_f32("b1", {8}, rnd(8));
  const int c1 = w.add_tensor("c1", DType::kF32, {-1, 8, 17, 13});
  w.add_node(fb::OpType_Conv, {x, k1, b1}, {c1}, {Attribute::String(fb::AttrKey_auto_pad, "SAME_UPPER")});
  const int r1 = w.add_tensor("r1", DType::kF32, {-1, 8, 17, 13});
  w.add_node(fb::OpType_Relu, {c1}, {r1});
  const int kd = w.add_weight_f32("kd", {8, 1, 3, 3}, rnd(72));
  const int c2 = w.add_tensor("c2", DType::kF32, {-1, 8, 9, 7});
  w.add_node(fb::OpType_Conv, {r1, kd}, {c2},
             {Attribute::Int(fb::AttrKey_group, 8), Attribute::Ints(fb::AttrKey_strides, {2, 2}),
              Attribute::Ints(fb::AttrKey_pads, {1, 1, 1, 1})});
  const int p = w.add_tensor("p", DType::kF32, {-1, 8, 1, 1});
  w.add_node(fb::OpType_GlobalAveragePool, {c2}, {p});
  const int f = w.add_tensor("f", DType::kF32, {-1, 8});
  w.add_node(fb::OpType_Flatten, {p}, {f});
  const int wf = w.add_weight_f32("wf", {5, 8}, rnd(40));
  const int bf = w.add_weight_f32("bf", {5}, rnd(5));
  const int g = w.add_tensor("g", DType::kF32, {-1, 5});
  w.add_node(fb::OpType_Gemm, {f, wf, bf}, {g}, {Attribute::Int(fb::AttrKey_transB, 1)});
  const int y = w.add_tensor("y", DType::kF32, {-1, 5});
  w.add_node(fb::OpType_Softmax, {g}, {y}, {Attribute::Int(fb::AttrKey_axis, 1)});
  // A second branch: batched MatMul of activations.
  const int t = w.add_tensor("t", DType::kF32, {-1, 8, 13, 17});
  w.add_node(fb::OpType_Transpose, {r1}, {t}, {Attribute::Ints(fb::AttrKey_perm, {0, 1, 3, 2})});
  const int mm = w.add_tensor("mm", DType::kF32, {-1, 8, 17, 17});
  w.add_node(fb::OpType_MatMul, {r1, t}, {mm});
  w.set_inputs({x});
  w.set_outputs({y, mm});
  return w;
}

}  // namespace

TEST_CASE("1, 2 and 3 threads give bit-identical outputs", "[unit][runtime][threads]") {
  const ModelWriter w = small_cnn();
  mcrt::PrepareOptions opt;
  opt.batch = 3;
  Loaded l = build(w, opt);
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(3 * 3 * 17 * 13);
  for (float& v : x) v = u(rng);
  set_input(*l.it, 0, x);
  REQUIRE(l.it->threads() == 1);
  run_ok(*l.it);
  const auto y1 = get_output<float>(*l.it, 0), m1 = get_output<float>(*l.it, 1);
  for (int threads : {2, 3}) {
    REQUIRE(l.it->set_threads(threads).ok());
    REQUIRE(l.it->threads() == threads);
    for (int rep = 0; rep < 3; ++rep) {
      run_ok(*l.it);
      const auto y = get_output<float>(*l.it, 0), m = get_output<float>(*l.it, 1);
      REQUIRE(std::memcmp(y.data(), y1.data(), y.size() * 4) == 0);
      REQUIRE(std::memcmp(m.data(), m1.data(), m.size() * 4) == 0);
    }
  }
  // Softmax rows sum to 1.
  for (int b = 0; b < 3; ++b) {
    float s = 0;
    for (int j = 0; j < 5; ++j) s += y1[(size_t)(b * 5 + j)];
    CHECK(s == Approx(1.f).epsilon(1e-5));
  }
  CHECK(l.it->set_threads(0).code() == mcrt::StatusCode::kInvalidArgument);
}
