// Unit tests of the optimize passes on hand-built models. Numerical tests evaluate
// the model before and after with the naive fp32 conv/convtranspose/gemm below.
#include <catch2/catch.hpp>

#include <cmath>

#include "compress/error.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "compress/passes/refresh_shapes.h"
#include "tests/support/ir_builders.h"
#include "tests/support/random_floats.h"

using namespace mc;

namespace {

using test::random_floats;

// Named <op>_<first output> unless a name is given.
Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out, const std::string& name = "") {
  const std::string n = name.empty() ? op + "_" + out[0] : name;
  return test::make_node(op, std::move(in), std::move(out), n);
}

Model base_model(int64_t opset = 13) {
  Model m;
  m.opsets = {{"", opset}};
  m.ir_version = 8;
  m.graph.name = "test";
  return m;
}

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(t.numel());
  std::memcpy(v.data(), t.data.data(), v.size() * 4);
  return v;
}

const Node* find_op(const Model& m, const std::string& op) {
  for (const auto& n : m.graph.nodes)
    if (n.op_type == op) return &n;
  return nullptr;
}

PassReport run(Model& m, const std::string& pass) {
  PassContext ctx;
  return run_passes(m, ctx, {pass})[0];
}

// Naive 2-D conv, NCHW, stride 1, symmetric pad, groups.
std::vector<float> conv2d(const std::vector<float>& x, int N, int C, int H, int W, const std::vector<float>& w, int M,
                          int kh, int kw, int pad, int group, const std::vector<float>* b) {
  const int OH = H + 2 * pad - kh + 1, OW = W + 2 * pad - kw + 1, cg = C / group, mg = M / group;
  std::vector<float> y(static_cast<size_t>(N) * M * OH * OW, 0.f);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          float acc = b ? (*b)[m] : 0.f;
          const int g = m / mg;
          for (int c = 0; c < cg; ++c)
            for (int i = 0; i < kh; ++i)
              for (int j = 0; j < kw; ++j) {
                const int ih = oh + i - pad, iw = ow + j - pad;
                if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                acc += x[((n * C + g * cg + c) * H + ih) * W + iw] * w[((m * cg + c) * kh + i) * kw + j];
              }
          y[((n * M + m) * OH + oh) * OW + ow] = acc;
        }
  return y;
}

// Naive ConvTranspose, stride 1, no pad: W [C, M/group, kh, kw], output H+kh-1.
std::vector<float> conv_transpose2d(const std::vector<float>& x, int N, int C, int H, int W, const std::vector<float>& w,
                                    int M, int kh, int kw, int group, const std::vector<float>* b) {
  const int OH = H + kh - 1, OW = W + kw - 1, cg = C / group, mg = M / group;
  std::vector<float> y(static_cast<size_t>(N) * M * OH * OW, 0.f);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m)
      for (int i = 0; i < OH * OW; ++i) y[(n * M + m) * OH * OW + i] = b ? (*b)[m] : 0.f;
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const int g = c / cg;
      for (int j = 0; j < mg; ++j)
        for (int h = 0; h < H; ++h)
          for (int ww = 0; ww < W; ++ww)
            for (int a = 0; a < kh; ++a)
              for (int bb = 0; bb < kw; ++bb)
                y[((n * M + g * mg + j) * OH + h + a) * OW + ww + bb] +=
                    x[((n * C + c) * H + h) * W + ww] * w[((c * mg + j) * kh + a) * kw + bb];
    }
  return y;
}

// Gemm: alpha * A[M,K] * B' + beta * C[N].
std::vector<float> gemm(const std::vector<float>& a, int M, int K, const std::vector<float>& bm, int N, bool trans_b,
                        float alpha, float beta, const std::vector<float>* c) {
  std::vector<float> y(static_cast<size_t>(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += a[i * K + k] * (trans_b ? bm[j * K + k] : bm[k * N + j]);
      y[i * N + j] = alpha * acc + (c ? beta * (*c)[j] : 0.f);
    }
  return y;
}

// Inference BatchNorm over the channel axis 1 of an [N, C, spatial] array.
std::vector<float> batchnorm(std::vector<float> y, int N, int C, int spatial, const std::vector<float>& gamma,
                             const std::vector<float>& beta, const std::vector<float>& mean,
                             const std::vector<float>& var, float eps) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int s = 0; s < spatial; ++s) {
        float& v = y[(n * C + c) * spatial + s];
        v = (v - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
      }
  return y;
}

void add_bn(Model& m, const std::string& in, const std::string& out, int C, float eps, uint32_t seed,
            std::vector<float>* gamma, std::vector<float>* beta, std::vector<float>* mean, std::vector<float>* var) {
  *gamma = random_floats(C, seed, 0.5f, 1.5f);
  *beta = random_floats(C, seed + 1);
  *mean = random_floats(C, seed + 2);
  *var = random_floats(C, seed + 3, 0.1f, 2.f);
  auto& g = m.graph;
  g.initializers.push_back(Tensor::make_f32("bn_gamma", {C}, *gamma));
  g.initializers.push_back(Tensor::make_f32("bn_beta", {C}, *beta));
  g.initializers.push_back(Tensor::make_f32("bn_mean", {C}, *mean));
  g.initializers.push_back(Tensor::make_f32("bn_var", {C}, *var));
  Node bn = node("BatchNormalization", {in, "bn_gamma", "bn_beta", "bn_mean", "bn_var"}, {out});
  bn.set_attr_float("epsilon", eps);
  g.nodes.push_back(bn);
}

void require_close(const std::vector<float>& a, const std::vector<float>& b, float rtol = 1e-5f, float atol = 1e-5f) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    REQUIRE(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]));
  }
}

}  // namespace

TEST_CASE("registry: one table, lookups, unknown pass names the known ones", "[passes]") {
  for (const auto& name : default_optimize_pipeline()) REQUIRE(find_pass(name) != nullptr);
  REQUIRE(find_pass("no_such_pass") == nullptr);
  REQUIRE(all_passes().size() >= 5);
  Model m = base_model();
  PassContext ctx;
  try {
    run_passes(m, ctx, {"no_such_pass"});
    FAIL("expected an error");
  } catch (const Error& e) {
    REQUIRE(e.kind() == ErrorKind::Input);
    REQUIRE(std::string(e.what()).find("fold_constants") != std::string::npos);
  }
}

TEST_CASE("fold_batchnorm_into_conv: Conv+BN equals the folded Conv; shared weight is copied", "[passes]") {
  const int N = 2, C = 3, H = 6, W = 5, M = 4, K = 3;
  Model m = base_model();
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {N, C, H, W}));
  const auto w = random_floats(M * C * K * K, 1), b = random_floats(M, 2);
  g.initializers.push_back(Tensor::make_f32("w", {M, C, K, K}, w));
  g.initializers.push_back(Tensor::make_f32("b", {M}, b));
  Node conv = node("Conv", {"x", "w", "b"}, {"c"});
  conv.set_attr_ints("pads", {1, 1, 1, 1});
  g.nodes.push_back(conv);
  std::vector<float> gamma, beta, mean, var;
  add_bn(m, "c", "y", M, 1e-3f, 10, &gamma, &beta, &mean, &var);
  Node conv2 = node("Conv", {"x", "w"}, {"y2"});  // shares w
  conv2.set_attr_ints("pads", {1, 1, 1, 1});
  g.nodes.push_back(conv2);
  g.outputs = {test::known_value_info("y", {N, M, H, W}), test::known_value_info("y2", {N, M, H, W})};

  const auto x = random_floats(N * C * H * W, 3);
  const auto expect = batchnorm(conv2d(x, N, C, H, W, w, M, K, K, 1, 1, &b), N, M, H * W, gamma, beta, mean, var, 1e-3f);

  PassReport r = run(m, "fold_batchnorm_into_conv");
  REQUIRE(r.counters["folded"] == 1);
  REQUIRE(find_op(m, "BatchNormalization") == nullptr);
  const Node& folded = g.nodes[0];
  REQUIRE(folded.outputs[0] == "y");
  REQUIRE(folded.inputs[1] != "w");
  const auto w2 = floats(*g.initializer(folded.inputs[1])), b2 = floats(*g.initializer(folded.inputs[2]));
  require_close(conv2d(x, N, C, H, W, w2, M, K, K, 1, 1, &b2), expect);
  // The other Conv still reads the original, unchanged weight.
  REQUIRE(g.nodes[1].inputs[1] == "w");
  REQUIRE(floats(*g.initializer("w")) == w);

  // Known numbers: gamma=2, var=3, eps=1 → s=1; mean=1, beta=0.5: b' = b - 0.5.
  Model k = base_model();
  k.graph.inputs.push_back(test::known_value_info("x", {1, 1, 1, 1}));
  k.graph.initializers.push_back(Tensor::make_f32("w", {1, 1, 1, 1}, {3.f}));
  k.graph.initializers.push_back(Tensor::make_f32("b", {1}, {4.f}));
  k.graph.nodes.push_back(node("Conv", {"x", "w", "b"}, {"c"}));
  for (auto [nm, v] : std::vector<std::pair<const char*, float>>{{"g", 2.f}, {"be", .5f}, {"mu", 1.f}, {"va", 3.f}})
    k.graph.initializers.push_back(Tensor::make_f32(nm, {1}, {v}));
  Node bn = node("BatchNormalization", {"c", "g", "be", "mu", "va"}, {"y"});
  bn.set_attr_float("epsilon", 1.f);
  k.graph.nodes.push_back(bn);
  k.graph.outputs = {test::known_value_info("y", {1, 1, 1, 1})};
  run(k, "fold_batchnorm_into_conv");
  REQUIRE(floats(*k.graph.initializer(k.graph.nodes[0].inputs[1]))[0] == 3.f);
  REQUIRE(floats(*k.graph.initializer(k.graph.nodes[0].inputs[2]))[0] == 3.5f);
}

TEST_CASE("fold_batchnorm_into_conv: Gemm+BN with transB 0 and 1, beta, and no C", "[passes]") {
  const int M = 3, K = 5, N = 4;
  for (int trans_b : {0, 1})
    for (int with_c : {0, 1}) {
      Model m = base_model();
      auto& g = m.graph;
      g.inputs.push_back(test::known_value_info("a", {M, K}));
      const auto bm = random_floats(K * N, 7 + trans_b), c = random_floats(N, 8);
      g.initializers.push_back(Tensor::make_f32("B", trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, bm));
      Node gm = node("Gemm", {"a", "B"}, {"h"});
      if (with_c) {
        g.initializers.push_back(Tensor::make_f32("C", {N}, c));
        gm.inputs.push_back("C");
      }
      gm.set_attr_int("transB", trans_b);
      gm.set_attr_float("alpha", 0.75f);
      gm.set_attr_float("beta", 0.5f);
      g.nodes.push_back(gm);
      std::vector<float> gamma, beta, mean, var;
      add_bn(m, "h", "y", N, 1e-5f, 20, &gamma, &beta, &mean, &var);
      g.outputs = {test::known_value_info("y", {M, N})};
      const auto a = random_floats(M * K, 9);
      const auto expect =
          batchnorm(gemm(a, M, K, bm, N, trans_b, 0.75f, 0.5f, with_c ? &c : nullptr), M, N, 1, gamma, beta, mean, var, 1e-5f);
      PassReport r = run(m, "fold_batchnorm_into_conv");
      REQUIRE(r.counters["folded"] == 1);
      REQUIRE(g.nodes.size() == 1);
      const Node& n = g.nodes[0];
      REQUIRE(n.outputs[0] == "y");
      const auto b2 = floats(*g.initializer(n.inputs[1])), c2 = floats(*g.initializer(n.inputs[2]));
      require_close(gemm(a, M, K, b2, N, trans_b, n.attr_float("alpha", 1.f), n.attr_float("beta", 1.f), &c2), expect);
    }
}

TEST_CASE("fold_batchnorm_into_conv: ConvTranspose+BN with groups", "[passes]") {
  const int N = 1, C = 4, H = 3, W = 4, group = 2, mg = 3, M = mg * group, K = 2;
  Model m = base_model();
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {N, C, H, W}));
  const auto w = random_floats(C * mg * K * K, 31), b = random_floats(M, 32);
  g.initializers.push_back(Tensor::make_f32("w", {C, mg, K, K}, w));
  g.initializers.push_back(Tensor::make_f32("b", {M}, b));
  Node ct = node("ConvTranspose", {"x", "w", "b"}, {"c"});
  ct.set_attr_int("group", group);
  g.nodes.push_back(ct);
  std::vector<float> gamma, beta, mean, var;
  add_bn(m, "c", "y", M, 1e-5f, 40, &gamma, &beta, &mean, &var);
  g.outputs = {test::known_value_info("y", {N, M, H + K - 1, W + K - 1})};
  const auto x = random_floats(N * C * H * W, 33);
  const auto expect = batchnorm(conv_transpose2d(x, N, C, H, W, w, M, K, K, group, &b), N, M,
                                (H + K - 1) * (W + K - 1), gamma, beta, mean, var, 1e-5f);
  PassReport r = run(m, "fold_batchnorm_into_conv");
  REQUIRE(r.counters["folded"] == 1);
  const Node& n = g.nodes[0];
  const auto w2 = floats(*g.initializer(n.inputs[1])), b2 = floats(*g.initializer(n.inputs[2]));
  require_close(conv_transpose2d(x, N, C, H, W, w2, M, K, K, group, &b2), expect);
}

TEST_CASE("fold_batchnorm_into_conv: a Conv output with another reader is left alone", "[passes]") {
  Model m = base_model();
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1, 1, 2, 2}));
  g.initializers.push_back(Tensor::make_f32("w", {1, 1, 1, 1}, {2.f}));
  g.nodes.push_back(node("Conv", {"x", "w"}, {"c"}));
  std::vector<float> gamma, beta, mean, var;
  add_bn(m, "c", "y", 1, 1e-5f, 50, &gamma, &beta, &mean, &var);
  g.nodes.push_back(node("Relu", {"c"}, {"z"}));
  g.outputs = {test::known_value_info("y", {1, 1, 2, 2}), test::known_value_info("z", {1, 1, 2, 2})};
  PassReport r = run(m, "fold_batchnorm_into_conv");
  REQUIRE(r.counters["folded"] == 0);
  REQUIRE(r.left_alone.size() == 1);
  REQUIRE(find_op(m, "BatchNormalization") != nullptr);
}

TEST_CASE("fold_constants: Shape→Gather→Unsqueeze→Concat→Reshape becomes a constant shape", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {2, 3, 4, 4}));
  g.initializers.push_back(Tensor::make_i64("zero", {}, {0}));
  g.initializers.push_back(Tensor::make_i64("axes0", {1}, {0}));
  g.nodes.push_back(node("Shape", {"x"}, {"s"}));
  g.nodes.push_back(node("Gather", {"s", "zero"}, {"n"}));
  g.nodes.push_back(node("Unsqueeze", {"n", "axes0"}, {"n1"}));
  Node k = node("Constant", {}, {"minus1"});
  k.set_attr_ints("value_ints", {-1});
  g.nodes.push_back(k);
  Node cat = node("Concat", {"n1", "minus1"}, {"shape"});
  cat.set_attr_int("axis", 0);
  g.nodes.push_back(cat);
  g.nodes.push_back(node("Reshape", {"x", "shape"}, {"y"}));
  g.outputs = {test::known_value_info("y", {2, 48})};

  PassContext ctx;
  auto reports = run_passes(m, ctx, {"constant_to_initializer", "fold_constants", "eliminate_dead_nodes"});
  REQUIRE(reports[1].counters["folded"] == 4);
  REQUIRE(g.nodes.size() == 1);
  REQUIRE(g.nodes[0].op_type == "Reshape");
  const Tensor* shape = g.initializer(g.nodes[0].inputs[1]);
  REQUIRE(shape != nullptr);
  REQUIRE(shape->dtype == DType::I64);
  REQUIRE(shape->dims == std::vector<int64_t>{2});
  REQUIRE(shape->get_i64(0) == 2);
  REQUIRE(shape->get_i64(1) == -1);
  // Only the Reshape's inputs remain: the helpers (zero, axes0, minus1) are gone.
  REQUIRE(g.initializers.size() == 1);
  REQUIRE(refresh_shapes(m).empty());
  REQUIRE(g.value("y")->static_shape() == std::vector<int64_t>{2, 48});
}

TEST_CASE("fold_constants: opset-15 Shape start/end, Slice, Range, Cast, arithmetic, Transpose, Where", "[passes]") {
  Model m = base_model(15);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {2, 3, 5, 7}));
  Node sh = node("Shape", {"x"}, {"s"});
  sh.set_attr_int("start", 1);
  sh.set_attr_int("end", -1);
  g.nodes.push_back(sh);  // [3, 5]
  g.initializers.push_back(Tensor::make_i64("st", {1}, {-1}));
  g.initializers.push_back(Tensor::make_i64("en", {1}, {INT64_MIN}));
  g.initializers.push_back(Tensor::make_i64("ax", {1}, {0}));
  g.initializers.push_back(Tensor::make_i64("sp", {1}, {-1}));
  g.nodes.push_back(node("Slice", {"s", "st", "en", "ax", "sp"}, {"rev"}));  // [5, 3]
  g.initializers.push_back(Tensor::make_i64("r0", {}, {10}));
  g.initializers.push_back(Tensor::make_i64("r1", {}, {1}));
  g.initializers.push_back(Tensor::make_i64("rd", {}, {-3}));
  g.nodes.push_back(node("Range", {"r0", "r1", "rd"}, {"rng"}));  // [10, 7, 4]
  Node cast = node("Cast", {"rng"}, {"rngf"});
  cast.set_attr_int("to", static_cast<int64_t>(DType::F32));
  g.nodes.push_back(cast);
  g.initializers.push_back(Tensor::make_f32("half", {1}, {0.5f}));
  g.nodes.push_back(node("Mul", {"rngf", "half"}, {"prod"}));  // [5, 3.5, 2]
  g.initializers.push_back(Tensor::make_f32("m23", {2, 3}, {1, 2, 3, 4, 5, 6}));
  g.nodes.push_back(node("Transpose", {"m23"}, {"t32"}));  // [[1,4],[2,5],[3,6]]
  g.initializers.push_back(Tensor::make_i64("seven", {}, {7}));
  g.nodes.push_back(node("Equal", {"rng", "seven"}, {"eq"}));  // [F, T, F]
  g.nodes.push_back(node("Where", {"eq", "prod", "half"}, {"wh"}));  // [0.5, 3.5, 0.5]
  g.nodes.push_back(node("Add", {"x", "half"}, {"y"}));  // not constant: stays
  for (const char* o : {"rev", "t32", "wh"}) {
    g.nodes.push_back(node("Identity", {o}, {std::string(o) + "_out"}));
    g.outputs.push_back(test::known_value_info(std::string(o) + "_out", {}));
  }
  g.outputs.push_back(test::known_value_info("y", {2, 3, 5, 7}));

  PassReport r = run(m, "fold_constants");
  REQUIRE(g.initializer("rev")->get_i64(0) == 5);
  REQUIRE(g.initializer("rev")->get_i64(1) == 3);
  REQUIRE(g.initializer("rng")->numel() == 3);
  REQUIRE(g.initializer("rng")->get_i64(2) == 4);
  REQUIRE(g.initializer("prod")->get_f64(1) == 3.5);
  REQUIRE(g.initializer("t32")->dims == std::vector<int64_t>{3, 2});
  REQUIRE(g.initializer("t32")->get_f64(1) == 4.0);
  REQUIRE(g.initializer("t32")->get_f64(4) == 3.0);
  REQUIRE(g.initializer("wh")->get_f64(0) == 0.5);
  REQUIRE(g.initializer("wh")->get_f64(1) == 3.5);
  REQUIRE(find_op(m, "Add") != nullptr);
  // Identity nodes feeding graph outputs are not folded (outputs stay node-produced).
  REQUIRE(r.counters["folded"] == 8);
}

TEST_CASE("fold_constants: amplification guard keeps a huge ConstantOfShape", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.initializers.push_back(Tensor::make_i64("shape", {2}, {1 << 20, 64}));  // 256 MiB of float
  g.nodes.push_back(node("ConstantOfShape", {"shape"}, {"big"}));
  g.inputs.push_back(test::known_value_info("x", {1}));
  g.nodes.push_back(node("Add", {"big", "x"}, {"y"}));
  g.outputs = {test::known_value_info("y", {1 << 20, 64})};
  PassReport r = run(m, "fold_constants");
  REQUIRE(r.counters["folded"] == 0);
  REQUIRE(r.left_alone.size() == 1);
  REQUIRE(r.left_alone[0].find("budget") != std::string::npos);
  REQUIRE(find_op(m, "ConstantOfShape") != nullptr);
  // A small one folds.
  g.initializer("shape")->as_mut<int64_t>()[0] = 2;
  r = run(m, "fold_constants");
  REQUIRE(r.counters["folded"] == 1);
  REQUIRE(g.initializer("big")->numel() == 128);
}

TEST_CASE("remove_identity_and_dropout keeps graph output names", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1, 4}));
  g.nodes.push_back(node("Relu", {"x"}, {"r"}));
  g.nodes.push_back(node("Dropout", {"r"}, {"d"}));
  g.nodes.push_back(node("Sigmoid", {"d"}, {"s"}));
  g.nodes.push_back(node("Identity", {"s"}, {"out"}));
  g.nodes.push_back(node("Dropout", {"r"}, {"d2", "mask"}));  // mask is read: node stays
  g.nodes.push_back(node("Identity", {"x"}, {"xcopy"}));      // reads a graph input, is a graph output: stays
  g.outputs = {test::known_value_info("out", {1, 4}), test::known_value_info("mask", {1, 4}, DType::Bool), test::known_value_info("xcopy", {1, 4})};

  PassReport r = run(m, "remove_identity_and_dropout");
  REQUIRE(r.counters["identity_removed"] == 1);
  REQUIRE(r.counters["dropout_removed"] == 1);
  REQUIRE(g.outputs[0].name == "out");
  REQUIRE(g.outputs[1].name == "mask");
  const Node* sig = find_op(m, "Sigmoid");
  REQUIRE(sig->inputs[0] == "r");
  REQUIRE(sig->outputs[0] == "out");
  REQUIRE(find_op(m, "Dropout") != nullptr);  // the mask producer
  REQUIRE(find_op(m, "Identity") != nullptr);
  REQUIRE(r.left_alone.size() == 1);
  // Still a valid, exportable model.
  REQUIRE_NOTHROW(export_onnx_bytes(m));
}

TEST_CASE("eliminate_dead_nodes removes an unused branch and its initializers", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1, 4}));
  g.initializers.push_back(Tensor::make_f32("w", {4, 2}, std::vector<float>(8, 1.f)));
  g.initializers.push_back(Tensor::make_f32("unused_w", {4, 4}, std::vector<float>(16, 1.f)));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  g.nodes.push_back(node("MatMul", {"x", "unused_w"}, {"dead1"}));
  g.nodes.push_back(node("Relu", {"dead1"}, {"dead2"}));
  g.outputs = {test::known_value_info("y", {1, 2})};
  PassReport r = run(m, "eliminate_dead_nodes");
  REQUIRE(r.counters["nodes_removed"] == 2);
  REQUIRE(r.counters["initializers_removed"] == 1);
  REQUIRE(g.nodes.size() == 1);
  REQUIRE(g.initializer("unused_w") == nullptr);
  REQUIRE(g.initializer("w") != nullptr);
}

TEST_CASE("an unknown op where a pass needs its semantics is an input error naming the op", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1, 4}));
  g.nodes.push_back(node("Relu", {"x"}, {"y"}));
  g.nodes.push_back(node("FancyOp", {"x"}, {"dead"}));
  g.outputs = {test::known_value_info("y", {1, 4})};
  try {
    run(m, "eliminate_dead_nodes");
    FAIL("expected an error");
  } catch (const Error& e) {
    REQUIRE(e.kind() == ErrorKind::Input);
    REQUIRE(std::string(e.what()).find("FancyOp") != std::string::npos);
  }
  // Folding simply skips it.
  g.initializers.push_back(Tensor::make_f32("c", {1}, {1.f}));
  g.nodes[1].inputs = {"c"};
  PassReport r = run(m, "fold_constants");
  REQUIRE(r.counters["folded"] == 0);
  // A custom-domain op is kept and reported, not an error.
  g.nodes[1].domain = "com.example";
  m.opsets.push_back({"com.example", 1});
  r = run(m, "eliminate_dead_nodes");
  REQUIRE(r.left_alone.size() == 1);
  REQUIRE(g.nodes.size() == 2);
}

TEST_CASE("constant_to_initializer converts value kinds and keeps sparse_value", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {3}));
  Node a = node("Constant", {}, {"a"});
  a.set_attr_float("value_float", 2.f);
  Node b = node("Constant", {}, {"b"});
  b.attrs.push_back({});
  b.attrs.back().name = "value";
  b.attrs.back().type = AttrType::Tensor;
  b.attrs.back().tensors.push_back(Tensor::make_f32("whatever", {3}, {1, 2, 3}));
  Node s = node("Constant", {}, {"s"});
  s.attrs.push_back({});
  s.attrs.back().name = "sparse_value";
  s.attrs.back().type = AttrType::SparseTensor;
  g.nodes = {a, b, s, node("Mul", {"x", "a"}, {"t"}), node("Add", {"t", "b"}, {"u"}), node("Add", {"u", "s"}, {"y"})};
  g.outputs = {test::known_value_info("y", {3})};
  PassReport r = run(m, "constant_to_initializer");
  REQUIRE(r.counters["converted"] == 2);
  REQUIRE(r.left_alone.size() == 1);
  REQUIRE(r.left_alone[0].find("sparse_value") != std::string::npos);
  REQUIRE(g.initializer("a")->dims.empty());
  REQUIRE(g.initializer("b")->get_f64(2) == 3.0);
  REQUIRE(g.nodes.size() == 4);
}

TEST_CASE("the default pipeline on a round-tripped model stays valid ONNX", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1, 2, 4, 4}));
  g.initializers.push_back(Tensor::make_f32("w", {3, 2, 3, 3}, random_floats(54, 61)));
  Node conv = node("Conv", {"x", "w"}, {"c"});
  conv.set_attr_ints("pads", {1, 1, 1, 1});
  g.nodes.push_back(conv);
  std::vector<float> gamma, beta, mean, var;
  add_bn(m, "c", "bn", 3, 1e-5f, 70, &gamma, &beta, &mean, &var);
  g.nodes.push_back(node("Identity", {"bn"}, {"id"}));
  g.nodes.push_back(node("Relu", {"id"}, {"y"}));
  g.outputs = {test::known_value_info("y", {1, 3, 4, 4})};
  Model r = import_onnx_bytes(export_onnx_bytes(m), ".", "test");
  PassContext ctx;
  run_passes(r, ctx, default_optimize_pipeline());
  REQUIRE(refresh_shapes(r).empty());
  REQUIRE(r.graph.nodes.size() == 2);
  REQUIRE(r.graph.initializers.size() == 2);
  REQUIRE(r.graph.value("bn") != nullptr);
  REQUIRE(r.graph.value("bn")->shape_is_static());
  REQUIRE_NOTHROW(import_onnx_bytes(export_onnx_bytes(r), ".", "optimized"));
}

TEST_CASE("fold_constants lists tensors it made non-finite, not those that already were", "[passes]") {
  Model m = base_model(13);
  auto& g = m.graph;
  g.inputs.push_back(test::known_value_info("x", {1}));
  g.initializers.push_back(Tensor::make_f32("one", {1}, {1.f}));
  g.initializers.push_back(Tensor::make_f32("zero", {1}, {0.f}));
  g.initializers.push_back(Tensor::make_f32("ninf", {1}, {-INFINITY}));
  g.nodes.push_back(node("Div", {"one", "zero"}, {"made_inf"}));
  g.nodes.push_back(node("Mul", {"ninf", "one"}, {"kept_inf"}));
  g.nodes.push_back(node("Add", {"made_inf", "x"}, {"y1"}));
  g.nodes.push_back(node("Add", {"kept_inf", "x"}, {"y2"}));
  g.outputs = {test::known_value_info("y1", {1}), test::known_value_info("y2", {1})};
  PassReport r = run(m, "fold_constants");
  REQUIRE(r.counters["folded"] == 2);
  REQUIRE(r.new_tensors == std::vector<std::string>{"made_inf"});
  REQUIRE(std::isinf(g.initializer("made_inf")->get_f64(0)));
}
