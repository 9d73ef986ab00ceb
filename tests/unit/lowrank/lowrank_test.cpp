// The lowrank pass on small hand-built models, judged by a naive evaluator written
// here (Gemm, MatMul, Conv, Relu): full-rank factorization reproduces the outputs,
// ranks follow the options, the cost rule and --exclude are respected, the
// reported error is the real one, and every bad option is refused.
#include "compress/lowrank/lowrank.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <random>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "compress/onnx/onnx_export.h"
#include "compress/passes/pass.h"
#include "compress/passes/refresh_shapes.h"
#include "tests/support/input_error.h"
#include "tests/support/ir_builders.h"

using namespace mc;

namespace {

struct Value {
  std::vector<int64_t> dims;
  std::vector<float> v;
};

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Value of(const Tensor& t) {
  Value r;
  r.dims = t.dims;
  r.v.assign(t.as<float>(), t.as<float>() + t.numel());
  return r;
}

// --- naive reference evaluator (float accumulation in double) -----------------------

Value gemm(const Value& a, const Value& b, const Value* c, bool ta, bool tb, double alpha, double beta) {
  const int64_t M = ta ? a.dims[1] : a.dims[0], K = ta ? a.dims[0] : a.dims[1];
  const int64_t N = tb ? b.dims[0] : b.dims[1];
  Value y{{M, N}, std::vector<float>(static_cast<size_t>(M * N))};
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double x = ta ? a.v[k * M + i] : a.v[i * K + k];
        const double w = tb ? b.v[j * K + k] : b.v[k * N + j];
        s += x * w;
      }
      s *= alpha;
      if (c) s += beta * (c->v.size() == static_cast<size_t>(N) ? c->v[j] : c->v[i * N + j]);
      y.v[i * N + j] = static_cast<float>(s);
    }
  return y;
}

Value conv2d(const Value& x, const Value& w, const Value* b, const Node& n) {
  const auto strides = n.attr_ints("strides", {1, 1}), pads = n.attr_ints("pads", {0, 0, 0, 0}),
             dil = n.attr_ints("dilations", {1, 1});
  const int64_t B = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  const int64_t N = w.dims[0], kh = w.dims[2], kw = w.dims[3];
  const int64_t Ho = (H + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / strides[0] + 1;
  const int64_t Wo = (W + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / strides[1] + 1;
  Value y{{B, N, Ho, Wo}, std::vector<float>(static_cast<size_t>(B * N * Ho * Wo))};
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t o = 0; o < N; ++o)
      for (int64_t p = 0; p < Ho; ++p)
        for (int64_t q = 0; q < Wo; ++q) {
          double s = b ? b->v[o] : 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t yy = p * strides[0] - pads[0] + u * dil[0], xx = q * strides[1] - pads[1] + v * dil[1];
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                s += static_cast<double>(x.v[((bi * C + c) * H + yy) * W + xx]) * w.v[((o * C + c) * kh + u) * kw + v];
              }
          y.v[((bi * N + o) * Ho + p) * Wo + q] = static_cast<float>(s);
        }
  return y;
}

std::map<std::string, Value> evaluate(const Model& m, const std::map<std::string, Value>& feeds) {
  std::map<std::string, Value> vals = feeds;
  for (const auto& t : m.graph.initializers) vals[t.name] = of(t);
  for (const auto& n : m.graph.nodes) {
    auto in = [&](size_t i) -> const Value* {
      return i < n.inputs.size() && !n.inputs[i].empty() ? &vals.at(n.inputs[i]) : nullptr;
    };
    if (n.op_type == "Gemm")
      vals[n.outputs[0]] = gemm(*in(0), *in(1), in(2), n.attr_int("transA", 0), n.attr_int("transB", 0),
                                n.attr_float("alpha", 1.f), n.attr_float("beta", 1.f));
    else if (n.op_type == "MatMul")
      vals[n.outputs[0]] = gemm(*in(0), *in(1), nullptr, false, false, 1.0, 0.0);
    else if (n.op_type == "Conv")
      vals[n.outputs[0]] = conv2d(*in(0), *in(1), in(2), n);
    else if (n.op_type == "Relu") {
      Value y = *in(0);
      for (auto& x : y.v) x = std::max(x, 0.0f);
      vals[n.outputs[0]] = y;
    } else
      FAIL("evaluator does not know " << n.op_type);
  }
  return vals;
}

// max |a − b| / max |a|
double rel_diff(const Value& a, const Value& b) {
  REQUIRE(a.dims == b.dims);
  double d = 0, s = 0;
  for (size_t i = 0; i < a.v.size(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a.v[i] - b.v[i])));
    s = std::max(s, static_cast<double>(std::fabs(a.v[i])));
  }
  return d / s;
}

// --- models --------------------------------------------------------------------------

void add_weight(Model& m, const std::string& name, std::vector<int64_t> dims, uint64_t seed) {
  size_t n = 1;
  for (auto d : dims) n *= static_cast<size_t>(d);
  m.graph.initializers.push_back(Tensor::make_f32(name, dims, random_floats(n, seed)));
}

// X[4,12] → Gemm(transB, alpha, beta, bias) → Relu → MatMul → Gemm(transA, no C) → Y
Model dense_model() {
  Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "dense";
  m.graph.inputs = {test::known_value_info("X", {4, 12})};
  m.graph.outputs = {test::known_value_info("Y", {7, 5})};
  add_weight(m, "W1", {10, 12}, 1);  // transB: [N, K]
  add_weight(m, "B1", {10}, 2);
  add_weight(m, "W2", {10, 7}, 3);
  add_weight(m, "W3", {4, 5}, 4);    // transA: input [4, 7] read as [7, 4]
  Node g1 = test::make_node("Gemm", {"X", "W1", "B1"}, {"h1"}, "g1");
  g1.set_attr_int("transB", 1);
  g1.set_attr_float("alpha", 0.7f);
  g1.set_attr_float("beta", 1.3f);
  Node g3 = test::make_node("Gemm", {"h3", "W3"}, {"Y"}, "g3");
  g3.set_attr_int("transA", 1);
  m.graph.nodes = {g1, test::make_node("Relu", {"h1"}, {"h2"}, "r1"), test::make_node("MatMul", {"h2", "W2"}, {"h3"}, "mm"), g3};
  return m;
}

// X[2,3,9,9] → Conv 3x3 s2 p1 (+bias) → Relu → Conv 3x3 dilation 2 (no bias) → Y
Model conv_model() {
  Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "conv";
  m.graph.inputs = {test::known_value_info("X", {2, 3, 9, 9})};
  m.graph.outputs = {test::known_value_info("Y", {2, 4, 1, 1})};
  add_weight(m, "C1", {5, 3, 3, 3}, 5);
  add_weight(m, "CB1", {5}, 6);
  add_weight(m, "C2", {4, 5, 3, 3}, 7);
  Node c1 = test::make_node("Conv", {"X", "C1", "CB1"}, {"h1"}, "c1");
  c1.set_attr_ints("kernel_shape", {3, 3});
  c1.set_attr_ints("strides", {2, 2});
  c1.set_attr_ints("pads", {1, 1, 1, 1});
  Node c2 = test::make_node("Conv", {"h2", "C2"}, {"Y"}, "c2");
  c2.set_attr_ints("kernel_shape", {3, 3});
  c2.set_attr_ints("dilations", {2, 2});
  m.graph.nodes = {c1, test::make_node("Relu", {"h1"}, {"h2"}, "r1"), c2};
  return m;
}

// A bigger Gemm where low rank pays off: X[3,64] · W[64,48], W of known rank-decaying spectrum.
Model wide_gemm_model() {
  Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "wide";
  m.graph.inputs = {test::known_value_info("X", {3, 64})};
  m.graph.outputs = {test::known_value_info("Y", {3, 48})};
  // W = Σ_l 2^-l · a_l b_lᵀ: energy concentrated in the first few components.
  std::vector<float> w(64 * 48, 0.0f);
  for (int l = 0; l < 48; ++l) {
    const auto a = random_floats(64, 100 + l), b = random_floats(48, 200 + l);
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 48; ++j) w[i * 48 + j] += std::ldexp(1.0f, -l / 2) * a[i] * b[j];
  }
  m.graph.initializers.push_back(Tensor::make_f32("W", {64, 48}, w));
  add_weight(m, "B", {48}, 9);
  m.graph.nodes = {test::make_node("Gemm", {"X", "W", "B"}, {"Y"}, "fc")};
  return m;
}

std::map<std::string, Value> feeds_for(const Model& m, uint64_t seed) {
  std::map<std::string, Value> f;
  for (const auto& in : m.graph.inputs) {
    Value v;
    v.dims = in.static_shape();
    size_t n = 1;
    for (auto d : v.dims) n *= static_cast<size_t>(d);
    v.v = random_floats(n, seed++);
    f[in.name] = v;
  }
  return f;
}

const LowRankLayer& layer(const LowRankResult& r, const std::string& name) {
  for (const auto& l : r.layers)
    if (l.node == name) return l;
  FAIL("no layer " << name);
  return r.layers.front();
}

size_t count_op(const Model& m, const std::string& op) {
  size_t c = 0;
  for (const auto& n : m.graph.nodes) c += n.op_type == op ? 1 : 0;
  return c;
}

}  // namespace

TEST_CASE("full-rank factorization reproduces Gemm/MatMul outputs within 1e-4", "[lowrank]") {
  const Model orig = dense_model();
  Model m = orig;
  LowRankOptions o;
  o.rank_ratio = 1.0;
  o.only_if_cheaper = false;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 3);
  CHECK(m.graph.nodes.size() == 7);
  CHECK(!m.graph.initializer("W1"));  // the old weights are gone
  CHECK(layer(r, "g1").rank == 10);
  CHECK(layer(r, "g1").rel_error < 1e-7);
  const auto feeds = feeds_for(orig, 77);
  const Value want = evaluate(orig, feeds).at("Y"), got = evaluate(m, feeds).at("Y");
  CHECK(rel_diff(want, got) < 1e-4);
  // ONNX's checker and shape inference accept the result.
  CHECK_NOTHROW(export_onnx_bytes(m));
}

TEST_CASE("full-rank channel decomposition reproduces Conv outputs within 1e-4", "[lowrank]") {
  const Model orig = conv_model();
  Model m = orig;
  LowRankOptions o;
  o.energy = 1.0;
  o.only_if_cheaper = false;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 2);
  CHECK(count_op(m, "Conv") == 4);
  CHECK(layer(r, "c1").full_rank == 5);   // W1 as [5, 27]
  CHECK(layer(r, "c2").full_rank == 4);   // W2 as [4, 45]
  const auto feeds = feeds_for(orig, 78);
  CHECK(rel_diff(evaluate(orig, feeds).at("Y"), evaluate(m, feeds).at("Y")) < 1e-4);
  CHECK_NOTHROW(export_onnx_bytes(m));
}

TEST_CASE("full-rank spatial decomposition reproduces Conv outputs within 1e-4", "[lowrank]") {
  Model orig = conv_model();
  REQUIRE(refresh_shapes(orig).empty());  // the spatial split counts MACs from shapes
  Model m = orig;
  LowRankOptions o;
  o.rank_ratio = 1.0;
  o.conv = ConvScheme::Spatial;
  o.only_if_cheaper = false;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 2);
  CHECK(layer(r, "c1").rows == 3 * 3);  // C·kh
  CHECK(layer(r, "c1").cols == 5 * 3);  // N·kw
  CHECK(layer(r, "c2").full_rank == 12);
  // kh×1 then 1×kw, with the stride/pad/dilation of each axis on its own layer.
  const Node& a = m.graph.nodes[0];
  const Node& b = m.graph.nodes[1];
  CHECK(a.attr_ints("kernel_shape") == std::vector<int64_t>{3, 1});
  CHECK(a.attr_ints("strides") == std::vector<int64_t>{2, 1});
  CHECK(a.attr_ints("pads") == std::vector<int64_t>{1, 0, 1, 0});
  CHECK(b.attr_ints("kernel_shape") == std::vector<int64_t>{1, 3});
  CHECK(b.attr_ints("strides") == std::vector<int64_t>{1, 2});
  CHECK(b.attr_ints("pads") == std::vector<int64_t>{0, 1, 0, 1});
  CHECK(b.inputs.size() == 3);  // the bias moved to the second layer
  const auto feeds = feeds_for(orig, 79);
  CHECK(rel_diff(evaluate(orig, feeds).at("Y"), evaluate(m, feeds).at("Y")) < 1e-4);
  // MACs counted from shapes agree with model_stats on the written graph.
  uint64_t after = 0;
  for (const auto& l : r.layers) after += l.macs_after;
  CHECK(compute_stats(m).macs == after);
  CHECK_NOTHROW(export_onnx_bytes(m));
}

TEST_CASE("full-rank Tucker-2 reproduces Conv outputs; truncated error is the real one", "[lowrank]") {
  Model orig = conv_model();
  REQUIRE(refresh_shapes(orig).empty());
  Model m = orig;
  LowRankOptions o;
  o.rank_ratio = 1.0;
  o.conv = ConvScheme::Tucker2;
  o.only_if_cheaper = false;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 2);
  CHECK(count_op(m, "Conv") == 6);
  CHECK(layer(r, "c1").rank == 5);     // min(N=5, C·9=27)
  CHECK(layer(r, "c1").rank_in == 3);  // min(C=3, N·9=45)
  CHECK(layer(r, "c1").rel_error < 1e-6);
  const auto feeds = feeds_for(orig, 80);
  CHECK(rel_diff(evaluate(orig, feeds).at("Y"), evaluate(m, feeds).at("Y")) < 1e-4);
  uint64_t after = 0;
  for (const auto& l : r.layers) after += l.macs_after;
  CHECK(compute_stats(m).macs == after);
  CHECK_NOTHROW(export_onnx_bytes(m));

  // Truncated: rank 2 out, 2 in on c2 ([4,5,3,3]); the reported error is ‖W − W_r‖/‖W‖
  // of the three stored factors, recomputed here.
  Model t = orig;
  LowRankOptions o2;
  o2.rank_ratio = 0.5;
  o2.conv = ConvScheme::Tucker2;
  o2.only_if_cheaper = false;
  o2.exclude = {"c1"};
  const LowRankResult r2 = factorize_low_rank(t, o2);
  const LowRankLayer& l = layer(r2, "c2");
  REQUIRE(l.factorized);
  CHECK(l.rank == 2);
  CHECK(l.rank_in == 3);  // ⌈0.5·5⌉
  const Tensor* fin = nullptr;
  const Tensor* fcore = nullptr;
  const Tensor* fout = nullptr;
  for (const auto& x : t.graph.initializers) {
    if (x.name.find("lowrank_a") != std::string::npos) fin = &x;
    if (x.name.find("lowrank_core") != std::string::npos) fcore = &x;
    if (x.name.find("lowrank_b") != std::string::npos) fout = &x;
  }
  REQUIRE(fin);
  REQUIRE(fcore);
  REQUIRE(fout);
  CHECK(fin->dims == std::vector<int64_t>{3, 5, 1, 1});
  CHECK(fcore->dims == std::vector<int64_t>{2, 3, 3, 3});
  CHECK(fout->dims == std::vector<int64_t>{4, 2, 1, 1});
  const Tensor& w = *orig.graph.initializer("C2");
  double err = 0, ref = 0;
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 5; ++c)
      for (int q = 0; q < 9; ++q) {
        double x = 0;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 3; ++b)
            x += double(fout->as<float>()[n * 2 + a]) * fcore->as<float>()[(a * 3 + b) * 9 + q] * fin->as<float>()[b * 5 + c];
        const double d = x - w.as<float>()[(n * 5 + c) * 9 + q];
        err += d * d;
        ref += double(w.as<float>()[(n * 5 + c) * 9 + q]) * w.as<float>()[(n * 5 + c) * 9 + q];
      }
  CHECK(std::sqrt(err / ref) == Approx(l.rel_error).margin(1e-5));
  CHECK(l.energy == Approx(1.0 - l.rel_error * l.rel_error).margin(1e-9));
  CHECK(l.params_after == 5 * 3 + 3 * 2 * 9 + 2 * 4);  // bias-free layer
}

TEST_CASE("a layer is factorized only where that reduces MACs", "[lowrank]") {
  Model m = dense_model();
  LowRankOptions o;
  o.rank_ratio = 1.0;  // full rank never pays off
  const LowRankResult r = factorize_low_rank(m, o);
  CHECK(r.factorized() == 0);
  CHECK(m.graph.nodes.size() == 4);
  for (const auto& l : r.layers) CHECK(l.reason.find("would not reduce MACs") != std::string::npos);

  Model w = wide_gemm_model();
  LowRankOptions o2;
  o2.rank_ratio = 0.25;  // 12·(64+48) = 1344 < 3072
  const LowRankResult r2 = factorize_low_rank(w, o2);
  REQUIRE(r2.factorized() == 1);
  const LowRankLayer& l = r2.layers[0];
  CHECK(l.rank == 12);
  CHECK(l.params_before == 64 * 48 + 48);
  CHECK(l.params_after == 12 * (64 + 48) + 48);
  REQUIRE(l.macs_known);
  CHECK(l.macs_before == 3 * 64 * 48);
  CHECK(l.macs_after == 3 * 12 * (64 + 48));
  CHECK(compute_stats(w).macs == l.macs_after);
}

TEST_CASE("the reported error is the real reconstruction error of the stored factors", "[lowrank]") {
  const Model orig = wide_gemm_model();
  Model m = orig;
  LowRankOptions o;
  o.energy = 0.95;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 1);
  const LowRankLayer& l = r.layers[0];
  CHECK(l.energy >= 0.95);
  CHECK(l.rel_error == Approx(std::sqrt(1.0 - l.energy)).margin(1e-9));
  // The smallest such rank: one less would keep less than 95%.
  Model m2 = orig;
  LowRankOptions o2;
  o2.rank_ratio = static_cast<double>(l.rank - 1) / 48.0;
  const LowRankResult r2 = factorize_low_rank(m2, o2);
  CHECK(r2.layers[0].rank == l.rank - 1);
  CHECK(r2.layers[0].energy < 0.95);
  // W_r from the two initializers the pass wrote.
  const Tensor* a = nullptr;
  const Tensor* b = nullptr;
  for (const auto& t : m.graph.initializers) {
    if (t.name.find("lowrank_a") != std::string::npos) a = &t;
    if (t.name.find("lowrank_b") != std::string::npos) b = &t;
  }
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->dims == std::vector<int64_t>{64, l.rank});
  REQUIRE(b->dims == std::vector<int64_t>{l.rank, 48});
  const Tensor& w = *orig.graph.initializer("W");
  double err = 0, ref = 0;
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 48; ++j) {
      double x = 0;
      for (int64_t k = 0; k < l.rank; ++k) x += double(a->as<float>()[i * l.rank + k]) * b->as<float>()[k * 48 + j];
      const double d = x - w.as<float>()[i * 48 + j];
      err += d * d;
      ref += double(w.as<float>()[i * 48 + j]) * w.as<float>()[i * 48 + j];
    }
  CHECK(std::sqrt(err / ref) == Approx(l.rel_error).margin(1e-5));
}

TEST_CASE("--target-params brings the model to at most the target", "[lowrank]") {
  Model m = wide_gemm_model();
  LowRankOptions o;
  o.target_params = 1500;
  const LowRankResult r = factorize_low_rank(m, o);
  REQUIRE(r.factorized() == 1);
  const uint64_t after = compute_stats(m).params;
  CHECK(after <= 1500);
  // The largest rank that fits: one more would not.
  const int64_t rank = r.layers[0].rank;
  CHECK(static_cast<uint64_t>((rank + 1) * (64 + 48) + 48) > 1500);
  // Unreachable: rank 1 leaves 112 + 48 params.
  Model m2 = wide_gemm_model();
  o.target_params = 100;
  CHECK_THROWS_WITH(factorize_low_rank(m2, o), Catch::Contains("cannot be reached"));
}

TEST_CASE("--exclude leaves named layers and op types alone", "[lowrank]") {
  Model m = dense_model();
  LowRankOptions o;
  o.rank_ratio = 1.0;
  o.only_if_cheaper = false;
  o.exclude = {"g1", "MatMul"};
  const LowRankResult r = factorize_low_rank(m, o);
  CHECK(r.factorized() == 1);
  CHECK(layer(r, "g1").reason == "excluded (--exclude)");
  CHECK(layer(r, "mm").reason == "excluded (--exclude)");
  CHECK(layer(r, "g3").factorized);
  CHECK(m.graph.initializer("W1"));
}

TEST_CASE("the same model gives the same bytes", "[lowrank]") {
  Model a = wide_gemm_model(), b = wide_gemm_model();
  LowRankOptions o;
  o.energy = 0.9;
  factorize_low_rank(a, o);
  factorize_low_rank(b, o);
  CHECK(export_onnx_bytes(a) == export_onnx_bytes(b));
}

TEST_CASE("bad options are refused with Error(Input)", "[lowrank]") {
  auto refuse = [](LowRankOptions o, const std::string& msg) {
    Model m = dense_model();
    const std::string what = mc::test::input_error([&] { factorize_low_rank(m, o); });
    CHECK_THAT(what, Catch::Contains(msg));
  };
  LowRankOptions o;
  refuse(o, "give one of");
  o.energy = 0.0;
  refuse(o, "--energy 0 is outside (0, 1]");
  o.energy = 1.5;
  refuse(o, "--energy 1.5 is outside (0, 1]");
  o.energy = std::nan("");
  refuse(o, "outside (0, 1]");
  o = {};
  o.rank_ratio = 0.0;
  refuse(o, "--rank-ratio 0 is outside (0, 1]");
  o.rank_ratio = 1.01;
  refuse(o, "--rank-ratio 1.01 is outside (0, 1]");
  o.energy = 0.5;
  refuse(o, "exclude each other");
  o = {};
  o.target_params = 0;
  refuse(o, "--target-params must be a positive");
  o = {};
  o.energy = 0.9;
  o.exclude = {"no_such_layer"};
  refuse(o, "--exclude 'no_such_layer' matches no node");
}

TEST_CASE("factors that overflow float are a gate failure, not a silent Inf", "[lowrank]") {
  // W = 3e38 everywhere (finite in fp32): rank 1 with σ = 6e38, so S·Vᵀ overflows fp32.
  Model m;
  m.opsets = {{"", 13}};
  m.graph.inputs = {test::known_value_info("X", {1, 2})};
  m.graph.outputs = {test::known_value_info("Y", {1, 2})};
  m.graph.initializers.push_back(Tensor::make_f32("W", {2, 2}, {3e38f, 3e38f, 3e38f, 3e38f}));
  m.graph.nodes = {test::make_node("MatMul", {"X", "W"}, {"Y"}, "mm")};
  LowRankOptions o;
  o.rank_ratio = 1.0;
  o.only_if_cheaper = false;
  try {
    factorize_low_rank(m, o);
    FAIL("an Inf factor was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Gate);
    CHECK_THAT(e.what(), Catch::Contains("non-finite"));
  }
}

TEST_CASE("a weight with NaN is left alone and named", "[lowrank]") {
  Model m = wide_gemm_model();
  m.graph.initializer("W")->as_mut<float>()[5] = std::nanf("");
  LowRankOptions o;
  o.energy = 0.5;
  const LowRankResult r = factorize_low_rank(m, o);
  CHECK(r.factorized() == 0);
  CHECK(r.layers[0].reason == "the weight holds NaN or Inf");
}

TEST_CASE("the lowrank pass runs from the table with its options", "[lowrank]") {
  REQUIRE(find_pass("lowrank"));
  Model m = wide_gemm_model();
  PassContext ctx;
  ctx.options["lowrank.rank_ratio"] = "0.25";
  const auto reports = run_passes(m, ctx, {"lowrank"});
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].counters.at("factorized") == 1);
  CHECK(reports[0].new_tensors.size() == 2);
  PassContext bad;
  bad.options["lowrank.energy"] = "lots";
  Model m2 = wide_gemm_model();
  CHECK_THROWS_AS(run_passes(m2, bad, {"lowrank"}), Error);
}
