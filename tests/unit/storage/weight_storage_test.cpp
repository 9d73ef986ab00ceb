// quantize/weight_storage: k-means goldens and determinism, int4 packing, the weight error
// figures, and the IR each mode leaves (kmeans: shared fp32 values; fp16: fp16-exact values;
// weight-only: DequantizeLinear(int8, scale, axis) with hand-computed int8/int4 values).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <set>

#include "compress/error.h"
#include "quantize/weight_storage.h"
#include "storage_test_models.h"
#include "tests/support/input_error.h"

using namespace mc;
using namespace mc::quant;

TEST_CASE("kmeans_1d: three separated groups", "[unit][storage]") {
  const std::vector<float> v = {101, 1, 12, 2, 100, 3, 10, 102, 11};
  for (uint64_t seed : {1, 2, 3, 42}) {
    const KMeansResult r = kmeans_1d(v, 3, KMeansInit::KMeansPlusPlus, seed, 100);
    REQUIRE(r.centroids == std::vector<float>({2.f, 11.f, 101.f}));
    CHECK(r.assignment == std::vector<uint32_t>({2, 0, 1, 0, 2, 0, 1, 2, 1}));
  }
  // Linear init {1, 51.5, 102}: the middle centroid attracts nothing (midpoints 26.25, 76.75),
  // so the two lower groups share one cluster, {6.5, 101}: the known weakness of linear init
  // on gapped data; the empty cluster is dropped.
  const KMeansResult lin = kmeans_1d(v, 3, KMeansInit::Linear, 0, 100);
  CHECK(lin.centroids == std::vector<float>({6.5f, 101.f}));
  CHECK(lin.assignment == std::vector<uint32_t>({1, 0, 0, 0, 1, 0, 0, 1, 0}));
}

TEST_CASE("kmeans_1d: hand-computed Lloyd steps from linear init", "[unit][storage]") {
  // init {0, 6}; midpoint 3 splits {0, 1} | {5, 6}; means {0.5, 5.5}; then nothing moves.
  const KMeansResult r = kmeans_1d({0, 1, 5, 6}, 2, KMeansInit::Linear, 0, 100);
  CHECK(r.centroids == std::vector<float>({0.5f, 5.5f}));
  CHECK(r.iterations == 2);
  // With one iteration allowed the first step is taken and then it stops.
  const KMeansResult one = kmeans_1d({0, 1, 2, 9}, 2, KMeansInit::Linear, 0, 1);
  // init {0, 9}; midpoint 4.5: {0, 1, 2} | {9} -> {1, 9}
  CHECK(one.centroids == std::vector<float>({1.f, 9.f}));
  CHECK(one.iterations == 1);
}

TEST_CASE("kmeans_1d: fewer distinct values than clusters is lossless", "[unit][storage]") {
  const KMeansResult r = kmeans_1d({0.5f, -1.f, 0.5f, 3.f}, 16, KMeansInit::KMeansPlusPlus, 1, 100);
  CHECK(r.centroids == std::vector<float>({-1.f, 0.5f, 3.f}));
  CHECK(r.assignment == std::vector<uint32_t>({1, 0, 1, 2}));
}

TEST_CASE("kmeans_1d: deterministic per seed, independent of value order", "[unit][storage]") {
  std::vector<float> v = test::test_values(5000, 3);
  const KMeansResult a = kmeans_1d(v, 16, KMeansInit::KMeansPlusPlus, 99, 100);
  const KMeansResult b = kmeans_1d(v, 16, KMeansInit::KMeansPlusPlus, 99, 100);
  CHECK(a.centroids == b.centroids);
  CHECK(a.assignment == b.assignment);
  CHECK(a.centroids.size() == 16);
  std::vector<float> rev(v.rbegin(), v.rend());
  const KMeansResult c = kmeans_1d(rev, 16, KMeansInit::KMeansPlusPlus, 99, 100);
  CHECK(c.centroids == a.centroids);
  // Every value is assigned to its nearest centroid.
  for (size_t i = 0; i < v.size(); ++i) {
    const float d = std::fabs(v[i] - a.centroids[a.assignment[i]]);
    for (float cc : a.centroids) REQUIRE(d <= std::fabs(v[i] - cc));
  }
}

TEST_CASE("pack_int4 / unpack_int4: low nibble first, sign extended, odd counts", "[unit][storage]") {
  const std::vector<int8_t> v = {-8, 7, -1, 0, 3};
  const std::vector<uint8_t> p = pack_int4(v);
  REQUIRE(p.size() == 3);
  CHECK(p[0] == 0x78);  // -8 = 0x8 low, 7 high
  CHECK(p[1] == 0x0F);  // -1 = 0xF low, 0 high
  CHECK(p[2] == 0x03);
  CHECK(unpack_int4(p, 5) == v);
}

TEST_CASE("weight_error: SQNR and cosine", "[unit][storage]") {
  const float ref[2] = {3, 4}, approx[2] = {3, 3};
  double sqnr = 0, cos = 0;
  weight_error(ref, approx, 2, &sqnr, &cos);
  CHECK(sqnr == Approx(10 * std::log10(25.0 / 1.0)));
  CHECK(cos == Approx(21.0 / (5.0 * std::sqrt(18.0))));
  weight_error(ref, ref, 2, &sqnr, &cos);
  CHECK(std::isinf(sqnr));
  CHECK(cos == Approx(1.0));
}

TEST_CASE("apply_weight_storage kmeans: weights hold only the codebook values", "[unit][storage]") {
  Model m = test::gemm_model(64, 8, test::test_values(512, 5), test::test_values(8, 6));
  WeightStorageOptions o;
  o.mode = WeightStorageMode::KMeans;
  o.bits = 3;
  const WeightStorageReport r = apply_weight_storage(m, o);
  REQUIRE(r.layers.size() == 1);
  CHECK(r.layers[0].applied);
  CHECK(r.layers[0].elements == 512);
  CHECK(r.layers[0].sqnr_db > 15);  // 8 clusters on uniform data: about 6 dB per bit
  CHECK(r.layers[0].cosine > 0.99);
  const Tensor* w = m.graph.initializer("fc.w");
  REQUIRE(w);
  std::set<float> distinct(w->as<float>(), w->as<float>() + w->numel());
  CHECK(distinct.size() == 8);
  // Biases are untouched.
  CHECK(std::vector<float>(m.graph.initializer("fc.b")->as<float>(), m.graph.initializer("fc.b")->as<float>() + 8) ==
        test::test_values(8, 6));
}

// Filters of fewer than small_filter_fan_in weights (here a Gemm with K = 9, the fan-in of a 3x3
// depthwise Conv) get small_filter_bits; larger ones (K = 64) keep `bits`; 0 turns it off.
TEST_CASE("apply_weight_storage kmeans: small filters get the wider codebook", "[unit][storage]") {
  auto distinct = [](const Model& m) {
    const Tensor* w = m.graph.initializer("fc.w");
    REQUIRE(w);
    return std::set<float>(w->as<float>(), w->as<float>() + w->numel()).size();
  };
  WeightStorageOptions o;
  o.mode = WeightStorageMode::KMeans;
  o.bits = 3;
  o.small_filter_bits = 6;
  // A Gemm with K = 9 (fan-in 9, 64 filters), made afresh for each setting.
  auto k9 = [] { return test::gemm_model(9, 64, test::test_values(576, 5), test::test_values(64, 6)); };
  Model small = k9();
  const WeightStorageReport rs = apply_weight_storage(small, o);
  REQUIRE(rs.layers.size() == 1);
  CHECK(rs.layers[0].applied);
  CHECK(rs.layers[0].storage.rfind("kmeans6 (64 clusters", 0) == 0);
  CHECK(rs.layers[0].storage.find("filters of 9 weights") != std::string::npos);
  CHECK(distinct(small) == 64);
  Model big = test::gemm_model(64, 8, test::test_values(512, 5), test::test_values(8, 6));
  const WeightStorageReport rb = apply_weight_storage(big, o);
  CHECK(rb.layers[0].storage.rfind("kmeans3 (8 clusters", 0) == 0);
  CHECK(distinct(big) == 8);
  o.small_filter_fan_in = 10;  // 9 < 10: still small
  Model edge = k9();
  apply_weight_storage(edge, o);
  CHECK(distinct(edge) == 64);
  o.small_filter_fan_in = 9;  // 9 is not < 9
  Model at = k9();
  apply_weight_storage(at, o);
  CHECK(distinct(at) == 8);
  o.small_filter_fan_in = 16;
  o.small_filter_bits = 0;
  Model off = k9();
  apply_weight_storage(off, o);
  CHECK(distinct(off) == 8);
}

TEST_CASE("apply_weight_storage: excluded layers stay fp32 and say why", "[unit][storage]") {
  for (const std::string& ex : {std::string("fc"), std::string("Gemm"), std::string("fc.w")}) {
    Model m = test::gemm_model(4, 2, test::test_values(8, 5), {0, 0});
    WeightStorageOptions o;
    o.exclude = {ex};
    const WeightStorageReport r = apply_weight_storage(m, o);
    REQUIRE(r.layers.size() == 1);
    CHECK(!r.layers[0].applied);
    CHECK(r.layers[0].reason == "excluded");
    CHECK(r.layers_applied == 0);
  }
}

TEST_CASE("apply_weight_storage fp16: values rounded to fp16, kept fp32", "[unit][storage]") {
  Model m = test::gemm_model(2, 1, {1.0f + 1.0f / 4096, 3.0f}, {0});
  WeightStorageOptions o;
  o.mode = WeightStorageMode::Fp16;
  const WeightStorageReport r = apply_weight_storage(m, o);
  const Tensor* w = m.graph.initializer("fc.w");
  REQUIRE(w->dtype == DType::F32);
  CHECK(w->as<float>()[0] == 1.0f);  // 1 + 2^-12 is below fp16's half ulp at 1 (2^-11): rounds to 1
  CHECK(w->as<float>()[1] == 3.0f);
  CHECK(r.layers[0].storage == "fp16");
}

TEST_CASE("apply_weight_storage weight-only int8 and int4: DequantizeLinear per output channel", "[unit][storage]") {
  // Row 0: max 1.0; row 1: all zero (scale 1, q 0). In float, -0.5 / fl(1/127) = -63.50000x
  // rounds to -64, and -0.5 / fl(1/7) = -3.49999994 rounds to -3.
  const std::vector<float> w = {1.0f, -0.5f, 0.25f, 0, 0, 0};
  struct Case {
    int bits;
    std::vector<int8_t> q;
    float scale;
  };
  for (const Case& c : {Case{8, {127, -64, 32, 0, 0, 0}, 1.0f / 127}, Case{4, {7, -3, 2, 0, 0, 0}, 1.0f / 7}}) {
    INFO("bits " << c.bits);
    Model m = test::gemm_model(3, 2, w, {0, 0});
    WeightStorageOptions o;
    o.mode = WeightStorageMode::WeightOnly;
    o.bits = c.bits;
    const WeightStorageReport r = apply_weight_storage(m, o);
    REQUIRE(r.layers_applied == 1);
    REQUIRE(m.graph.nodes.size() == 2);
    const Node& dq = m.graph.nodes[0];
    CHECK(dq.op_type == "DequantizeLinear");
    CHECK(dq.attr_int("axis", -1) == 0);  // Gemm transB = 1: W[M, K], output channels on axis 0
    CHECK(m.graph.nodes[1].inputs[1] == dq.outputs[0]);
    CHECK(m.graph.initializer("fc.w") == nullptr);
    const Tensor* q = m.graph.initializer(dq.inputs[0]);
    const Tensor* s = m.graph.initializer(dq.inputs[1]);
    REQUIRE(q);
    REQUIRE(s);
    CHECK(q->dtype == DType::I8);
    CHECK(std::vector<int8_t>(q->as<int8_t>(), q->as<int8_t>() + 6) == c.q);
    CHECK(s->as<float>()[0] == c.scale);
    CHECK(s->as<float>()[1] == 1.0f);
    CHECK(r.layers[0].cosine > 0.99);
  }
}

TEST_CASE("weight storage options: bad values are input errors", "[unit][storage]") {
  auto bad = [](WeightStorageOptions o, const std::string& needle) {
    const std::string what = mc::test::input_error([&] { validate_weight_storage_options(o); });
    CHECK(what.find(needle) != std::string::npos);
  };
  WeightStorageOptions o;
  o.mode = WeightStorageMode::KMeans;
  o.bits = 1;
  bad(o, "2 to 8");
  o.bits = 9;
  bad(o, "2 to 8");
  o.mode = WeightStorageMode::WeightOnly;
  o.bits = 5;
  bad(o, "8 or 4");
  o.bits = 8;
  o.block_size = 48;
  bad(o, "0, 32, 64 or 128");
  o.mode = WeightStorageMode::KMeans;
  o.block_size = 32;
  bad(o, "weight-only only");
  o.block_size = 0;
  o.max_iterations = 0;
  bad(o, "iterations");
  o.max_iterations = 100;
  o.bits = 4;
  o.small_filter_bits = 31;  // would be 1 << 31 clusters
  bad(o, "0 (off) or 2 to 8");
  o.small_filter_bits = 1;
  bad(o, "0 (off) or 2 to 8");
  o.small_filter_bits = 6;
  o.small_filter_fan_in = 0;
  bad(o, "fan-in 0");
  o.small_filter_fan_in = 16;
  validate_weight_storage_options(o);  // and the CLI's own setting is accepted
}

TEST_CASE("apply_weight_storage: a layer still followed by BatchNormalization is left alone", "[unit][storage]") {
  Model m = test::gemm_model(4, 2, test::test_values(8, 5), {0, 0});
  // y -> BatchNormalization -> z (as before optimize folds it)
  for (const char* n : {"bn.s", "bn.b", "bn.m", "bn.v"}) m.graph.initializers.push_back(Tensor::make_f32(n, {2}, {1, 1}));
  Node bn;
  bn.op_type = "BatchNormalization";
  bn.name = "bn";
  bn.inputs = {"y", "bn.s", "bn.b", "bn.m", "bn.v"};
  bn.outputs = {"z"};
  m.graph.nodes.push_back(bn);
  m.graph.outputs[0].name = "z";
  const std::vector<float> before(m.graph.initializer("fc.w")->as<float>(), m.graph.initializer("fc.w")->as<float>() + 8);
  const WeightStorageReport r = apply_weight_storage(m, WeightStorageOptions{});
  REQUIRE(r.layers.size() == 1);
  CHECK(!r.layers[0].applied);
  CHECK(r.layers[0].reason.find("optimize") != std::string::npos);
  CHECK(std::vector<float>(m.graph.initializer("fc.w")->as<float>(), m.graph.initializer("fc.w")->as<float>() + 8) ==
        before);
}

TEST_CASE("apply_weight_storage: every layer it cannot handle is left in fp32 with its reason", "[unit][storage]") {
  auto only_layer = [](Model& m, const WeightStorageOptions& o) {
    const WeightStorageReport r = apply_weight_storage(m, o);
    REQUIRE(r.layers.size() == 1);
    CHECK(!r.layers[0].applied);
    CHECK(r.layers_applied == 0);
    return r.layers[0].reason;
  };
  SECTION("NaN in the weight") {
    Model m = test::gemm_model(2, 1, {1.f, std::nanf("")}, {0});
    CHECK(only_layer(m, WeightStorageOptions{}) == "weight holds NaN or Inf");
  }
  SECTION("weight shared by two nodes") {
    Model m = test::gemm_model(2, 2, {1, 2, 3, 4}, {0, 0});
    Node second = m.graph.nodes[0];
    second.name = "fc2";
    second.inputs[0] = "y";
    second.outputs = {"y2"};
    m.graph.nodes.push_back(second);
    m.graph.outputs[0].name = "y2";
    const WeightStorageReport r = apply_weight_storage(m, WeightStorageOptions{});
    REQUIRE(r.layers.size() == 2);
    for (const auto& l : r.layers) CHECK(l.reason.find("shared") != std::string::npos);
  }
  SECTION("fp16 out of range") {
    Model m = test::gemm_model(2, 1, {1.f, 1e6f}, {0});
    WeightStorageOptions o;
    o.mode = WeightStorageMode::Fp16;
    CHECK(only_layer(m, o) == "values exceed the fp16 range");
    CHECK(m.graph.initializer("fc.w")->as<float>()[1] == 1e6f);
  }
  SECTION("weight-only below opset 13 (no DequantizeLinear axis)") {
    Model m = test::gemm_model(2, 1, {1.f, 2.f}, {0});
    m.opsets = {{"", 12}};
    WeightStorageOptions o;
    o.mode = WeightStorageMode::WeightOnly;
    CHECK(only_layer(m, o).find("opset >= 13") != std::string::npos);
    CHECK(m.graph.nodes.size() == 1);
  }
}

TEST_CASE("apply_weight_storage kmeans: a pruned layer keeps exact zeros", "[unit][storage]") {
  std::vector<float> w = test::test_values(400, 9);
  for (size_t i = 0; i < w.size(); i += 2) w[i] = 0.f;  // 50% pruned
  Model m = test::gemm_model(40, 10, w, std::vector<float>(10, 0.f));
  WeightStorageOptions o;
  o.bits = 2;
  const WeightStorageReport r = apply_weight_storage(m, o);
  REQUIRE(r.layers_applied == 1);
  CHECK(r.layers[0].storage.find("zero kept") != std::string::npos);
  const Tensor* t = m.graph.initializer("fc.w");
  std::set<float> distinct(t->as<float>(), t->as<float>() + t->numel());
  CHECK(distinct.size() == 4);
  CHECK(distinct.count(0.f) == 1);
  for (size_t i = 0; i < w.size(); i += 2) REQUIRE(t->as<float>()[i] == 0.f);
  for (size_t i = 1; i < w.size(); i += 2) REQUIRE(t->as<float>()[i] != 0.f);
}
