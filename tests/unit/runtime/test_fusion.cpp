// Residual fusion (interpreter.cpp, step 3a): Conv/Gemm -> Add(., r) [-> Relu/Clip] runs as one step
// with the residual in the kernel epilogue. Checked: the fused plan equals the unfused one
// (fuse_activations = false) within the kernel tolerance on a ResNet-style block, for the best and
// the reference kernel sets; 1 and 2 threads give identical bytes; the residual tensor stays alive in
// the arena through the fused step; and the cases that must not fuse (broadcasting Add, a residual
// produced after the Conv, a Conv output read twice) keep their Add.
#include <random>

#include "kernels/kernels.h"
#include "runtime_test_support.h"

using namespace mcrt_test;
using A = mcrt::Attribute;

namespace {

std::vector<float> rnd(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(g);
  return v;
}

// x [1,C,H,W] -> a = Relu(Conv3x3(x)) -> c = Conv3x3(a) -> s = Add(c, sc) -> y = Relu(s), with the
// shortcut sc = Conv1x1(x) (projection) or x itself (identity).
ModelWriter resnet_block(int C, int H, int W, bool projection, bool residual_first) {
  ModelWriter w;
  const std::vector<int64_t> shp = {1, C, H, W};
  const int x = w.add_tensor("x", DType::kF32, shp);
  const int w1 = w.add_weight_f32("w1", {C, C, 3, 3}, rnd(size_t(C) * C * 9, 1));
  const int b1 = w.add_weight_f32("b1", {C}, rnd(size_t(C), 2));
  const int w2 = w.add_weight_f32("w2", {C, C, 3, 3}, rnd(size_t(C) * C * 9, 3));
  const int b2 = w.add_weight_f32("b2", {C}, rnd(size_t(C), 4));
  const int c1 = w.add_tensor("c1", DType::kF32, shp);
  const int a = w.add_tensor("a", DType::kF32, shp);
  const int c2 = w.add_tensor("c2", DType::kF32, shp);
  const int s = w.add_tensor("s", DType::kF32, shp);
  const int y = w.add_tensor("y", DType::kF32, shp);
  const std::vector<A> pad1 = {A::Ints(fb::AttrKey_pads, {1, 1, 1, 1})};
  int sc = x;
  if (projection) {
    const int ws = w.add_weight_f32("ws", {C, C, 1, 1}, rnd(size_t(C) * C, 5));
    sc = w.add_tensor("sc", DType::kF32, shp);
    w.add_node(fb::OpType_Conv, {x, ws}, {sc});
  }
  w.add_node(fb::OpType_Conv, {x, w1, b1}, {c1}, pad1);
  w.add_node(fb::OpType_Relu, {c1}, {a});
  w.add_node(fb::OpType_Conv, {a, w2, b2}, {c2}, pad1);
  if (residual_first) w.add_node(fb::OpType_Add, {sc, c2}, {s});
  else w.add_node(fb::OpType_Add, {c2, sc}, {s});
  w.add_node(fb::OpType_Relu, {s}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  return w;
}

std::vector<float> run_model(const ModelWriter& w, mcrt::PrepareOptions opt, const std::vector<float>& x,
                             size_t* steps = nullptr, std::string* last_kernel = nullptr) {
  Loaded l = build(w, opt);
  if (steps) *steps = l.it->num_steps();
  if (last_kernel) *last_kernel = l.it->step(l.it->num_steps() - 1).kernel;
  set_input(*l.it, 0, x);
  run_ok(*l.it);
  return get_output<float>(*l.it, 0);
}

}  // namespace

TEST_CASE("residual fusion: fused plan equals the unfused plan on a ResNet block", "[unit][runtime][fusion]") {
  struct Case {
    int C, H, W;
    bool projection, residual_first;
  };
  // 16x8x8 takes Winograd; 5 channels the im2col GEMM; 7x7 odd planes.
  for (const Case& c : {Case{16, 8, 8, false, false}, Case{16, 7, 7, true, true}, Case{5, 6, 9, true, false},
                        Case{8, 1, 1, false, true}}) {
    INFO("C" << c.C << " H" << c.H << " W" << c.W << " projection " << c.projection);
    const ModelWriter w = resnet_block(c.C, c.H, c.W, c.projection, c.residual_first);
    const auto x = rnd(size_t(c.C) * c.H * c.W, 9);
    for (const mcrt::KernelSet* ks : {&mcrt::kernels_reference(), &mcrt::kernels_best()}) {
      INFO("kernels " << ks->name);
      mcrt::PrepareOptions fused, unfused;
      fused.kernels = unfused.kernels = ks;
      unfused.fuse_activations = false;
      size_t nf = 0, nu = 0;
      std::string kf;
      const auto yf = run_model(w, fused, x, &nf, &kf);
      const auto yu = run_model(w, unfused, x, &nu);
      CHECK(nf == (c.projection ? 3u : 2u));  // [1x1,] conv+relu, conv+add+relu
      CHECK(nu == nf + 3);
      CHECK(kf.find("+add+relu") != std::string::npos);
      require_close(yf, yu, 1e-5f);
      // Not vacuous: the residual changes the output.
      size_t pos = 0;
      for (float v : yf) pos += v > 0.f;
      CHECK(pos > 0);
      // 1 vs 2 threads: identical bytes.
      mcrt::PrepareOptions two = fused;
      two.threads = 2;
      const auto y2 = run_model(w, two, x);
      CHECK(std::memcmp(y2.data(), yf.data(), yf.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("residual fusion: the residual stays alive in the arena through the fused step", "[unit][runtime][fusion]") {
  // r = Sigmoid(x) is read only by the Add; once fused it is an input of the Conv step.
  ModelWriter w;
  const std::vector<int64_t> shp = {1, 8, 5, 5};
  const int x = w.add_tensor("x", DType::kF32, shp);
  const int r = w.add_tensor("r", DType::kF32, shp);
  const int wt = w.add_weight_f32("w", {8, 8, 3, 3}, rnd(8 * 8 * 9, 11));
  const int c = w.add_tensor("c", DType::kF32, shp);
  const int y = w.add_tensor("y", DType::kF32, shp);
  w.add_node(fb::OpType_Sigmoid, {x}, {r});
  w.add_node(fb::OpType_Conv, {x, wt}, {c}, {A::Ints(fb::AttrKey_pads, {1, 1, 1, 1})});
  w.add_node(fb::OpType_Add, {c, r}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  Loaded l = build(w);
  REQUIRE(l.it->num_steps() == 2);
  CHECK(l.it->step(1).kernel.find("+add") != std::string::npos);
  bool found = false;
  for (const mcrt::ArenaBufferInfo& b : l.it->arena_buffers())
    if (b.tensor == r) {
      found = true;
      CHECK(b.first == 0);
      CHECK(b.last >= 1);
    }
  CHECK(found);
  const auto xv = rnd(200, 12);
  mcrt::PrepareOptions unfused;
  unfused.fuse_activations = false;
  set_input(*l.it, 0, xv);
  run_ok(*l.it);
  require_close(get_output<float>(*l.it, 0), run_model(w, unfused, xv), 1e-5f);
}

TEST_CASE("residual fusion: Gemm fc and sgemm paths", "[unit][runtime][fusion]") {
  for (bool const_b : {true, false}) {
    INFO("constant B " << const_b);
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kF32, {2, 3});
    const int r = w.add_tensor("r", DType::kF32, {2, 2});
    const int b = const_b ? w.add_weight_f32("b", {3, 2}, {1, 0, 0, 1, 1, 1}) : w.add_tensor("b", DType::kF32, {3, 2});
    const int c = w.add_weight_f32("c", {2}, {0.5f, -0.5f});
    const int g = w.add_tensor("g", DType::kF32, {2, 2});
    const int s = w.add_tensor("s", DType::kF32, {2, 2});
    const int y = w.add_tensor("y", DType::kF32, {2, 2});
    w.add_node(fb::OpType_Gemm, {x, b, c}, {g});
    w.add_node(fb::OpType_Add, {r, g}, {s});
    w.add_node(fb::OpType_Relu, {s}, {y});
    std::vector<int> ins = {x, r};
    if (!const_b) ins.push_back(b);
    w.set_inputs(ins);
    w.set_outputs({y});
    Loaded l = build(w);
    REQUIRE(l.it->num_steps() == 1);
    CHECK(l.it->step(0).kernel.find("+add+relu") != std::string::npos);
    set_input(*l.it, 0, std::vector<float>{1, 2, 3, -4, 5, -6});
    set_input(*l.it, 1, std::vector<float>{10, -10, 0.25f, 1});
    if (!const_b) set_input(*l.it, 2, std::vector<float>{1, 0, 0, 1, 1, 1});
    run_ok(*l.it);
    // x*b = [[4, 5], [-10, -1]]; + c = [[4.5, 4.5], [-9.5, -1.5]]; + r = [[14.5, -5.5], [-9.25, -0.5]].
    CHECK(get_output<float>(*l.it, 0) == std::vector<float>{14.5f, 0, 0, 0});
  }
}

TEST_CASE("residual fusion: broadcasting, late residuals and shared outputs are not fused", "[unit][runtime][fusion]") {
  const std::vector<int64_t> shp = {1, 4, 3, 3};
  auto base = [&](ModelWriter& w, int* x, int* c) {
    *x = w.add_tensor("x", DType::kF32, shp);
    const int wt = w.add_weight_f32("w", {4, 4, 1, 1}, rnd(16, 21));
    *c = w.add_tensor("c", DType::kF32, shp);
    w.add_node(fb::OpType_Conv, {*x, wt}, {*c});
  };
  {  // broadcasting Add: [1,4,1,1] residual
    ModelWriter w;
    int x, c;
    base(w, &x, &c);
    const int r = w.add_weight_f32("r", {1, 4, 1, 1}, {1, 2, 3, 4});
    const int y = w.add_tensor("y", DType::kF32, shp);
    w.add_node(fb::OpType_Add, {c, r}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    CHECK(build(w).it->num_steps() == 2);
  }
  {  // residual produced after the Conv
    ModelWriter w;
    int x, c;
    base(w, &x, &c);
    const int r = w.add_tensor("r", DType::kF32, shp);
    const int y = w.add_tensor("y", DType::kF32, shp);
    w.add_node(fb::OpType_Sigmoid, {x}, {r});
    w.add_node(fb::OpType_Add, {c, r}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    Loaded l = build(w);
    CHECK(l.it->num_steps() == 3);
    const auto xv = rnd(36, 22);
    set_input(*l.it, 0, xv);
    run_ok(*l.it);
    mcrt::PrepareOptions unfused;
    unfused.fuse_activations = false;
    require_close(get_output<float>(*l.it, 0), run_model(w, unfused, xv));
  }
  {  // Conv output read twice
    ModelWriter w;
    int x, c;
    base(w, &x, &c);
    const int s = w.add_tensor("s", DType::kF32, shp);
    const int y = w.add_tensor("y", DType::kF32, shp);
    w.add_node(fb::OpType_Add, {c, x}, {s});
    w.add_node(fb::OpType_Mul, {s, c}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    CHECK(build(w).it->num_steps() == 3);
  }
}
