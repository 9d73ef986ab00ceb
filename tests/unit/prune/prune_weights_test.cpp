// Unstructured and n:m pruning on small models: achieved ratios, the n:m invariant,
// determinism, ratio 0, and every bad-option path (Error(Input), model untouched).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "prune/prune_options.h"
#include "tests/support/input_error.h"
#include "tests/unit/prune/prune_test_models.h"

using namespace mc;
using namespace mc::test;

namespace {

// x[1,8,5,5] → Conv(w[12,8,3,3]) → Relu → Flatten → Gemm(B[12*3*3 → 8], transB) → MatMul(M[8,8]) → y
Model weights_model(int64_t conv_in = 8) {
  Model m = empty_model("x", {1, conv_in, 5, 5}, "y");
  Graph& g = m.graph;
  g.initializers.push_back(Tensor::make_f32("w", {12, conv_in, 3, 3}, random_floats(static_cast<size_t>(12 * conv_in * 9), 1)));
  g.initializers.push_back(Tensor::make_f32("B", {8, 108}, random_floats(8 * 108, 2)));
  g.initializers.push_back(Tensor::make_f32("M", {8, 8}, random_floats(64, 3)));
  g.nodes.push_back(make_node("Conv", {"x", "w"}, {"c"}, "conv"));
  g.nodes.push_back(make_node("Relu", {"c"}, {"r"}, "relu"));
  g.nodes.push_back(make_node("Flatten", {"r"}, {"f"}, "flatten"));
  g.nodes.push_back(make_node("Gemm", {"f", "B"}, {"h"}, "fc"));
  g.nodes.back().set_attr_int("transB", 1);
  g.nodes.push_back(make_node("MatMul", {"h", "M"}, {"y"}, "mm"));
  return reimport(m);
}

uint64_t zeros_of(const Model& m, const std::string& t) { return count_zeros(*m.graph.initializer(t)); }

}  // namespace

TEST_CASE("unstructured per layer: every layer reaches the ratio within one element", "[prune]") {
  for (double ratio : {0.3, 0.5, 0.77}) {
    Model m = weights_model();
    prune::PruneOptions o;
    o.ratio = ratio;
    const auto r = prune::prune_model(m, o);
    REQUIRE(r.layers.size() == 3);
    for (const char* t : {"w", "B", "M"}) {
      const double n = static_cast<double>(m.graph.initializer(t)->numel());
      CHECK(std::fabs(static_cast<double>(zeros_of(m, t)) - ratio * n) <= 1.0);
    }
  }
}

TEST_CASE("unstructured global: the total reaches the ratio within one element, smallest |w| go first", "[prune]") {
  Model m = weights_model();
  const Model orig = m;
  prune::PruneOptions o;
  o.ratio = 0.6;
  o.scope = prune::Scope::Global;
  prune::prune_model(m, o);
  uint64_t total = 0, zeros = 0;
  float largest_pruned = 0.f, smallest_kept = INFINITY;
  for (const char* t : {"w", "B", "M"}) {
    const auto before = floats_of(*orig.graph.initializer(t));
    const auto after = floats_of(*m.graph.initializer(t));
    total += before.size();
    for (size_t i = 0; i < before.size(); ++i) {
      if (after[i] == 0.f) {
        ++zeros;
        largest_pruned = std::max(largest_pruned, std::fabs(before[i]));
      } else {
        CHECK(after[i] == before[i]);  // survivors are untouched
        smallest_kept = std::min(smallest_kept, std::fabs(before[i]));
      }
    }
  }
  CHECK(std::fabs(static_cast<double>(zeros) - 0.6 * static_cast<double>(total)) <= 1.0);
  CHECK(largest_pruned <= smallest_kept);
}

TEST_CASE("unstructured: ties are broken by position, so equal weights prune the same way every time", "[prune]") {
  Model m = empty_model("x", {1, 10}, "y");
  m.graph.initializers.push_back(Tensor::make_f32("B", {10, 1}, std::vector<float>(10, 0.5f)));
  m.graph.nodes.push_back(make_node("MatMul", {"x", "B"}, {"y"}, "mm"));
  m = reimport(m);
  prune::PruneOptions o;
  o.ratio = 0.4;
  prune::prune_model(m, o);
  const auto v = floats_of(*m.graph.initializer("B"));
  CHECK(v == std::vector<float>{0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f});
}

TEST_CASE("unstructured ratio 0 leaves every byte as it was", "[prune]") {
  Model m = weights_model();
  const std::string before = export_onnx_bytes(m);
  prune::PruneOptions o;
  o.ratio = 0.0;
  prune::prune_model(m, o);
  CHECK(export_onnx_bytes(m) == before);
}

TEST_CASE("2:4: every group of 4 along the input dimension keeps its 2 largest |w|", "[prune]") {
  Model m = weights_model();
  const Model orig = m;
  prune::PruneOptions o;
  o.granularity = prune::Granularity::NM;
  o.n = 2;
  o.m = 4;
  o.ratio = 0.5;
  const auto r = prune::prune_model(m, o);
  REQUIRE(r.layers.size() == 3);
  // tensor, reduction axis
  for (auto [name, axis] : std::vector<std::pair<std::string, size_t>>{{"w", 1}, {"B", 1}, {"M", 0}}) {
    const Tensor& t = *m.graph.initializer(name);
    const auto before = floats_of(*orig.graph.initializer(name));
    const auto after = floats_of(t);
    uint64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(t.dims[d]);
    for (size_t d = axis + 1; d < t.dims.size(); ++d) inner *= static_cast<uint64_t>(t.dims[d]);
    const uint64_t K = static_cast<uint64_t>(t.dims[axis]);
    uint64_t groups = 0;
    for (uint64_t o2 = 0; o2 < outer; ++o2)
      for (uint64_t i = 0; i < inner; ++i)
        for (uint64_t k0 = 0; k0 < K; k0 += 4) {
          std::vector<float> mags;
          int nonzero = 0;
          float min_kept = INFINITY, max_dropped = 0.f;
          for (uint64_t j = 0; j < 4; ++j) {
            const uint64_t at = (o2 * K + k0 + j) * inner + i;
            if (after[at] != 0.f) {
              ++nonzero;
              CHECK(after[at] == before[at]);
              min_kept = std::min(min_kept, std::fabs(before[at]));
            } else {
              max_dropped = std::max(max_dropped, std::fabs(before[at]));
            }
          }
          CHECK(nonzero <= 2);
          CHECK(max_dropped <= min_kept);
          ++groups;
        }
    CHECK(groups * 4 == t.numel());
  }
}

TEST_CASE("n:m on a layer whose input dimension is not a multiple of m names the layer; nothing changes", "[prune]") {
  Model m = weights_model(6);  // conv has 6 input channels
  const std::string before = export_onnx_bytes(m);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::NM;
  o.n = 2;
  o.m = 4;
  const std::string what = mc::test::input_error([&] { prune::prune_model(m, o); });
  CHECK_THAT(what, Catch::Contains("'conv'") && Catch::Contains("not a multiple of 4"));
  CHECK(export_onnx_bytes(m) == before);
  // Excluding it prunes the rest.
  o.exclude = {"conv"};
  const auto r = prune::prune_model(m, o);
  CHECK(r.layers.size() == 2);
  REQUIRE(r.skipped.size() == 1);
  CHECK_THAT(r.skipped[0], Catch::Contains("conv (Conv): excluded"));
  CHECK(zeros_of(m, "w") == 0);
}

TEST_CASE("--exclude by op type leaves those layers alone; a name that matches nothing is an input error", "[prune]") {
  Model m = weights_model();
  prune::PruneOptions o;
  o.ratio = 0.5;
  o.exclude = {"Gemm"};
  const auto r = prune::prune_model(m, o);
  CHECK(r.layers.size() == 2);
  CHECK(zeros_of(m, "B") == 0);
  o.exclude = {"no_such_layer"};
  const std::string what = mc::test::input_error([&] { prune::prune_model(m, o); });
  CHECK_THAT(what, Catch::Contains("'no_such_layer' matches no node"));
}

TEST_CASE("ratios outside [0, 1) and malformed option spellings are input errors", "[prune]") {
  for (double bad : {1.0, -0.1, 1.5, std::nan("")}) {
    Model m = weights_model();
    prune::PruneOptions o;
    o.ratio = bad;
    for (auto gran : {prune::Granularity::Unstructured, prune::Granularity::Channel}) {
      o.granularity = gran;
      CHECK_THROWS_AS(prune::prune_model(m, o), Error);
    }
  }
  int64_t n = 0, mm = 0;
  CHECK(prune::parse_granularity("2:4", &n, &mm) == prune::Granularity::NM);
  CHECK((n == 2 && mm == 4));
  for (const char* bad : {"4:2", "2:2", "0:4", "2:", ":4", "2:4x", "block"})
    CHECK_THROWS_AS(prune::parse_granularity(bad, &n, &mm), Error);
  CHECK_THROWS_AS(prune::parse_criterion("l3"), Error);
  CHECK_THROWS_AS(prune::parse_scope("model"), Error);
}

TEST_CASE("block:2x4: the tiles of smallest norm go, whole; hand-checked on a 4x8 Gemm", "[prune][block]") {
  // W[4,8] (transB): tiles (rows 0-1 | 2-3) x (cols 0-3 | 4-7); tile sums of |w|: 8, 80, 16, 0.8.
  Model m = empty_model("x", {1, 8}, "y");
  std::vector<float> w(32);
  for (int o = 0; o < 4; ++o)
    for (int k = 0; k < 8; ++k) w[static_cast<size_t>(o * 8 + k)] = o < 2 ? (k < 4 ? 1.f : 10.f) : (k < 4 ? -2.f : 0.1f);
  m.graph.initializers.push_back(Tensor::make_f32("W", {4, 8}, w));
  m.graph.nodes.push_back(make_node("Gemm", {"x", "W"}, {"y"}, "fc"));
  m.graph.nodes.back().set_attr_int("transB", 1);
  m = reimport(m);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Block;
  o.block_rows = 2;
  o.block_cols = 4;
  o.ratio = 0.5;
  o.criterion = prune::Criterion::L1;
  prune::prune_model(m, o);
  const auto got = floats_of(*m.graph.initializer("W"));
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 8; ++k) {
      const bool removed = (r < 2 && k < 4) || (r >= 2 && k >= 4);
      CHECK(got[static_cast<size_t>(r * 8 + k)] == (removed ? 0.f : w[static_cast<size_t>(r * 8 + k)]));
    }
}

TEST_CASE("block:4x4 on Conv, Gemm and an input-major MatMul: whole tiles, the ratio per layer", "[prune][block]") {
  Model m = weights_model();
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Block;
  o.block_rows = 4;
  o.block_cols = 4;
  o.ratio = 0.5;
  const auto res = prune::prune_model(m, o);
  REQUIRE(res.layers.size() == 3);
  struct V { const char* name; int64_t rows, cols; bool input_major; };
  for (const V& v : {V{"w", 12, 72, false}, V{"B", 8, 108, false}, V{"M", 8, 8, true}}) {
    const auto t = floats_of(*m.graph.initializer(v.name));
    auto at = [&](int64_t r, int64_t c) { return v.input_major ? t[static_cast<size_t>(c * v.rows + r)] : t[static_cast<size_t>(r * v.cols + c)]; };
    int64_t zero_tiles = 0, tiles = 0;
    for (int64_t bi = 0; bi < v.rows / 4; ++bi)
      for (int64_t bj = 0; bj < v.cols / 4; ++bj) {
        int zeros = 0;
        for (int64_t r = bi * 4; r < bi * 4 + 4; ++r)
          for (int64_t c = bj * 4; c < bj * 4 + 4; ++c) zeros += at(r, c) == 0.f;
        CHECK((zeros == 0 || zeros == 16));
        zero_tiles += zeros == 16;
        ++tiles;
      }
    INFO(v.name);
    CHECK(zero_tiles == std::llround(0.5 * static_cast<double>(tiles)));
  }
}

TEST_CASE("block: a layer not divisible into BxK tiles names it; nothing changes; bad spellings are input errors", "[prune][block]") {
  Model m = weights_model();
  const Model before = m;
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Block;
  o.block_rows = 5;
  o.block_cols = 4;
  o.ratio = 0.5;
  CHECK_THROWS_WITH(prune::prune_model(m, o), Catch::Contains("layer 'conv' (Conv): its 12 x 72 weight matrix is not divisible into 5x4 blocks"));
  CHECK(floats_of(*m.graph.initializer("w")) == floats_of(*before.graph.initializer("w")));
  int64_t n = 0, k = 0;
  CHECK(prune::parse_granularity("block:4x2", &n, &k) == prune::Granularity::Block);
  CHECK(n == 4);
  CHECK(k == 2);
  for (const char* bad : {"block:", "block:4", "block:0x4", "block:4x", "block:axb", "block:4x4x4"})
    CHECK_THROWS_AS(prune::parse_granularity(bad, &n, &k), Error);
}
