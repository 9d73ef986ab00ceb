// Channel pruning: graph surgery judged by ONNX Runtime.
//
// The surgery test builds a graph with a residual Add, BatchNormalization, a depthwise
// Conv, a Concat of two producers, an Add with a per-channel constant, MaxPool and
// Flatten→Gemm. The channels that the pruner will remove (the lowest-norm ones) are
// made exactly dead in the original: zero filters, zero biases, BN mean/beta 0, zero
// constant entries. Removing dead channels must not change the output, so ORT must
// give the same logits for the original and the pruned model; slicing any consumer at
// the wrong positions would change them. The bundled ResNet and depthwise CNN are
// checked for ratio 0 (identical outputs), ratio 0.5 (runs in ORT and on the runtime,
// MACs <= 0.35x).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "prune/prune_options.h"
#include "tests/support/input_error.h"
#include "tests/unit/prune/prune_test_models.h"
#ifdef MC_HAVE_ORT_PEER
#include "tests/support/ort_peer.h"
#include "tests/support/temp_dir.h"
#endif

using namespace mc;
using namespace mc::test;
namespace fs = std::filesystem;

namespace {

// Sets the slices `channels` of tensor t along `axis` to 0.
void zero_channels(Tensor& t, size_t axis, const std::set<int64_t>& channels) {
  uint64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(t.dims[d]);
  for (size_t d = axis + 1; d < t.dims.size(); ++d) inner *= static_cast<uint64_t>(t.dims[d]);
  const uint64_t len = static_cast<uint64_t>(t.dims[axis]);
  float* p = t.as_mut<float>();
  for (uint64_t o = 0; o < outer; ++o)
    for (int64_t c : channels)
      for (uint64_t i = 0; i < inner; ++i) p[(o * len + static_cast<uint64_t>(c)) * inner + i] = 0.f;
}

Tensor f32(const std::string& name, std::vector<int64_t> dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d);
  return Tensor::make_f32(name, std::move(dims), random_floats(n, seed, lo, hi));
}

// The surgery graph (x: [2,3,6,6], y: [2,5]); `dead` makes the channels listed below dead.
const std::set<int64_t> kDeadRes = {1, 4, 5, 6};  // of 8, tied group {c1, c2}
const std::set<int64_t> kDeadC4 = {0, 2, 5};      // of 6
const std::set<int64_t> kDeadC5 = {1, 3};         // of 4

Model surgery_model(bool dead) {
  Model m = empty_model("x", {2, 3, 6, 6}, "y");
  Graph& g = m.graph;
  auto& in = g.initializers;
  in.push_back(f32("w1", {8, 3, 3, 3}, 11));
  in.push_back(f32("b1", {8}, 12));
  in.push_back(f32("gamma", {8}, 13, 0.5f, 1.5f));
  in.push_back(f32("beta", {8}, 14));
  in.push_back(f32("mean", {8}, 15));
  in.push_back(f32("var", {8}, 16, 0.5f, 2.f));
  in.push_back(f32("w2", {8, 8, 3, 3}, 17));
  in.push_back(f32("b2", {8}, 18));
  in.push_back(f32("wd", {8, 1, 3, 3}, 19));
  in.push_back(f32("bd", {8}, 20));
  in.push_back(f32("w4", {6, 8, 1, 1}, 21));
  in.push_back(f32("b4", {6}, 22));
  in.push_back(f32("w5", {4, 3, 1, 1}, 23));
  in.push_back(f32("b5", {4}, 24));
  in.push_back(f32("k", {1, 10, 1, 1}, 25));
  in.push_back(f32("wf", {5, 90}, 26));
  in.push_back(f32("bf", {5}, 27));
  auto conv = [&](const std::string& name, std::vector<std::string> ins, const std::string& out, int64_t pad,
                  int64_t group = 1) {
    g.nodes.push_back(make_node("Conv", std::move(ins), {out}, name));
    if (pad) g.nodes.back().set_attr_ints("pads", {pad, pad, pad, pad});
    if (group != 1) g.nodes.back().set_attr_int("group", group);
  };
  conv("c1", {"x", "w1", "b1"}, "a1", 1);
  g.nodes.push_back(make_node("BatchNormalization", {"a1", "gamma", "beta", "mean", "var"}, {"a2"}, "bn"));
  g.nodes.push_back(make_node("Relu", {"a2"}, {"a3"}, "r1"));
  conv("c2", {"a3", "w2", "b2"}, "a4", 1);
  g.nodes.push_back(make_node("Add", {"a4", "a3"}, {"a5"}, "res"));
  g.nodes.push_back(make_node("Relu", {"a5"}, {"a6"}, "r2"));
  conv("dw", {"a6", "wd", "bd"}, "a7", 1, 8);
  conv("c4", {"a7", "w4", "b4"}, "a8", 0);
  conv("c5", {"x", "w5", "b5"}, "a9", 0);
  g.nodes.push_back(make_node("Concat", {"a8", "a9"}, {"a10"}, "cat"));
  g.nodes.back().set_attr_int("axis", 1);
  g.nodes.push_back(make_node("Add", {"a10", "k"}, {"a11"}, "addk"));
  g.nodes.push_back(make_node("Relu", {"a11"}, {"a12"}, "r3"));
  g.nodes.push_back(make_node("MaxPool", {"a12"}, {"a13"}, "pool"));
  g.nodes.back().set_attr_ints("kernel_shape", {2, 2});
  g.nodes.back().set_attr_ints("strides", {2, 2});
  g.nodes.push_back(make_node("Flatten", {"a13"}, {"a14"}, "flat"));
  g.nodes.push_back(make_node("Gemm", {"a14", "wf", "bf"}, {"y"}, "fc"));
  g.nodes.back().set_attr_int("transB", 1);
  if (dead) {
    for (const char* t : {"w1", "b1", "beta", "mean", "w2", "b2", "bd"}) zero_channels(*g.initializer(t), 0, kDeadRes);
    zero_channels(*g.initializer("w4"), 0, kDeadC4);
    zero_channels(*g.initializer("b4"), 0, kDeadC4);
    zero_channels(*g.initializer("w5"), 0, kDeadC5);
    zero_channels(*g.initializer("b5"), 0, kDeadC5);
    std::set<int64_t> dead_k = kDeadC4;
    for (int64_t c : kDeadC5) dead_k.insert(6 + c);
    zero_channels(*g.initializer("k"), 1, dead_k);
  }
  return reimport(m);
}

const Node& node_named(const Model& m, const std::string& name) {
  for (const auto& n : m.graph.nodes)
    if (n.name == name) return n;
  FAIL("no node " << name);
  throw 0;
}
std::vector<int64_t> weight_dims(const Model& m, const std::string& node, size_t input = 1) {
  return m.graph.initializer(node_named(m, node).inputs[input])->dims;
}

#ifdef MC_HAVE_ORT_PEER
NpyArray input_array(std::vector<int64_t> shape, uint32_t seed) {
  NpyArray a;
  a.shape = shape;
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  const auto v = random_floats(n, seed);
  a.bytes.resize(n * 4);
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}

std::vector<float> ort_output(const Model& m, const fs::path& file, const NpyArray& x, const std::string& in,
                              const std::string& out, std::vector<int64_t>* shape) {
  export_onnx_file(m, file.string());
  auto res = run_in_ort(file.string(), {{in, x}});
  REQUIRE(res.count(out));
  *shape = res[out].shape;
  std::vector<float> v(res[out].bytes.size() / 4);
  std::memcpy(v.data(), res[out].bytes.data(), res[out].bytes.size());
  return v;
}

void require_close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(std::fabs(a[i] - b[i]) <= tol * (1.f + std::fabs(a[i])));
}
#endif

}  // namespace

TEST_CASE("channel surgery: residual, BN, depthwise, Concat, per-channel Add, Flatten→Gemm", "[prune][channel]") {
  const Model orig = surgery_model(true);
  Model m = orig;
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.ratio = 0.5;
  const auto r = prune::prune_model(m, o);
  INFO(r.report.summary);
  // The residual group is one group of two producers; fc is a graph output.
  REQUIRE(r.layers.size() == 3);
  CHECK(r.layers[0].layer == "c1, c2");
  CHECK(r.layers[0].pruned == 4);
  bool fc_reported = false;
  for (const auto& s : r.skipped) fc_reported = fc_reported || s.find("{fc}") != std::string::npos;
  CHECK(fc_reported);
  CHECK(weight_dims(m, "c1") == std::vector<int64_t>{4, 3, 3, 3});
  CHECK(weight_dims(m, "c2") == std::vector<int64_t>{4, 4, 3, 3});
  CHECK(weight_dims(m, "dw") == std::vector<int64_t>{4, 1, 3, 3});
  CHECK(node_named(m, "dw").attr_int("group", 0) == 4);
  CHECK(weight_dims(m, "c4") == std::vector<int64_t>{3, 4, 1, 1});
  CHECK(weight_dims(m, "c5") == std::vector<int64_t>{2, 3, 1, 1});
  CHECK(weight_dims(m, "addk") == std::vector<int64_t>{1, 5, 1, 1});
  CHECK(weight_dims(m, "bn", 3) == std::vector<int64_t>{4});
  CHECK(weight_dims(m, "fc") == std::vector<int64_t>{5, 45});
  // The kept filters are the live ones, in order.
  const auto w1 = floats_of(*orig.graph.initializer("w1"));
  const auto w1p = floats_of(*m.graph.initializer(node_named(m, "c1").inputs[1]));
  std::vector<float> expect;
  for (int64_t c = 0; c < 8; ++c)
    if (!kDeadRes.count(c)) expect.insert(expect.end(), w1.begin() + c * 27, w1.begin() + (c + 1) * 27);
  CHECK(w1p == expect);
  CHECK(compute_stats(m).macs < compute_stats(orig).macs / 2);
#ifdef MC_HAVE_ORT_PEER
  REQUIRE(ort_available());
  mc::test::TempDir dir("mc_prune_test");
  const NpyArray x = input_array({2, 3, 6, 6}, 99);
  std::vector<int64_t> s0, s1;
  const auto y0 = ort_output(orig, dir.path / "orig.onnx", x, "x", "y", &s0);
  const auto y1 = ort_output(m, dir.path / "pruned.onnx", x, "x", "y", &s1);
  CHECK(s1 == std::vector<int64_t>{2, 5});
  require_close(y0, y1, 1e-5f);
#else
  FAIL("ONNX Runtime peer not built: the surgery cannot be judged");
#endif
}

TEST_CASE("channel: an Add with an unprunable operand leaves the group whole and says why", "[prune][channel]") {
  Model m = empty_model("x", {1, 4, 5, 5}, "y");
  Graph& g = m.graph;
  g.initializers.push_back(f32("w", {4, 4, 3, 3}, 1));
  g.initializers.push_back(f32("w2", {6, 4, 1, 1}, 2));
  g.nodes.push_back(make_node("Conv", {"x", "w"}, {"c"}, "conv"));
  g.nodes.back().set_attr_ints("pads", {1, 1, 1, 1});
  g.nodes.push_back(make_node("Add", {"c", "x"}, {"a"}, "add_input"));
  g.nodes.push_back(make_node("Conv", {"a", "w2"}, {"y"}, "head"));
  m = reimport(m);
  const std::string before = export_onnx_bytes(m);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.ratio = 0.5;
  const auto r = prune::prune_model(m, o);
  CHECK(r.layers.empty());
  REQUIRE(r.skipped.size() == 2);
  CHECK_THAT(r.skipped[0], Catch::Contains("{conv}") && Catch::Contains("left whole") &&
                               Catch::Contains("cannot be removed") && Catch::Contains("add_input"));
  CHECK(weight_dims(m, "conv") == std::vector<int64_t>{4, 4, 3, 3});
}

TEST_CASE("channel: --scope global and bad ratios are input errors", "[prune][channel]") {
  Model m = surgery_model(false);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.ratio = 0.5;
  o.scope = prune::Scope::Global;
  CHECK_THROWS_AS(prune::prune_model(m, o), Error);
}

#ifdef MC_HAVE_ORT_PEER
TEST_CASE("channel: bundled ResNet and depthwise CNN — ratio 0 identical, 0.5 runs with MACs <= 0.35x", "[prune][channel]") {
  REQUIRE(ort_available());
  mc::test::TempDir dir("mc_prune_test");
  const NpyArray x = input_array({3, 1, 28, 28}, 7);
  for (const char* name : {"resnet", "mobile"}) {
    INFO(name);
    const std::string path = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/" + name + ".onnx";
    const Model orig = import_onnx_file(path);
    std::vector<int64_t> s0, s1;
    const auto y0 = ort_output(orig, dir.path / "orig.onnx", x, "input", "logits", &s0);

    Model zero = orig;
    prune::PruneOptions o;
    o.granularity = prune::Granularity::Channel;
    o.ratio = 0.0;
    prune::prune_model(zero, o);
    const auto yz = ort_output(zero, dir.path / "zero.onnx", x, "input", "logits", &s1);
    CHECK(s1 == s0);
    CHECK(yz == y0);  // bit for bit

    Model half = orig;
    o.ratio = 0.5;
    const auto r = prune::prune_model(half, o);
    INFO(r.report.summary);
    const double macs = static_cast<double>(compute_stats(half).macs) / static_cast<double>(compute_stats(orig).macs);
    CHECK(macs <= 0.35);
    const auto yh = ort_output(half, dir.path / "half.onnx", x, "input", "logits", &s1);
    CHECK(s1 == std::vector<int64_t>{3, 10});
    for (float v : yh) CHECK(std::isfinite(v));
    // The runtime loads and prepares it too (export_runtime_bytes verifies by default),
    // after the optimize pipeline folds BatchNormalization, as `prune --format runtime` does.
    PassContext ctx;
    run_passes(half, ctx, default_optimize_pipeline());
    CHECK(!export_runtime_bytes(half).empty());
  }
}
#endif

TEST_CASE("channel --criterion bn: the channels with the smallest |gamma| go, whatever their filter norms", "[prune][channel][bn]") {
  // x[1,2,5,5] -> Conv(w[4,2,3,3]) -> BN(gamma) -> Relu -> Conv(v[3,4,1,1]) -> y
  // Filter norms grow with the channel index; |gamma| = 0.9, 0.05, 1.5, 0.1:
  // l1 removes channels 0 and 1, bn removes 1 and 3.
  auto build = [] {
    Model m = empty_model("x", {1, 2, 5, 5}, "y");
    Graph& g = m.graph;
    std::vector<float> w(4 * 18);
    for (size_t c = 0; c < 4; ++c)
      for (size_t i = 0; i < 18; ++i) w[c * 18 + i] = 0.1f * static_cast<float>(c + 1) * (i % 2 ? 1.f : -1.f);
    g.initializers.push_back(Tensor::make_f32("w", {4, 2, 3, 3}, w));
    g.initializers.push_back(Tensor::make_f32("gamma", {4}, {0.9f, 0.05f, -1.5f, 0.1f}));
    g.initializers.push_back(Tensor::make_f32("beta", {4}, {0.f, 0.f, 0.f, 0.f}));
    g.initializers.push_back(Tensor::make_f32("mean", {4}, {0.f, 0.f, 0.f, 0.f}));
    g.initializers.push_back(Tensor::make_f32("var", {4}, {1.f, 1.f, 1.f, 1.f}));
    g.initializers.push_back(f32("v", {3, 4, 1, 1}, 5));
    g.nodes.push_back(make_node("Conv", {"x", "w"}, {"c"}, "conv"));
    g.nodes.push_back(make_node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"b"}, "bn"));
    g.nodes.push_back(make_node("Relu", {"b"}, {"r"}, "relu"));
    g.nodes.push_back(make_node("Conv", {"r", "v"}, {"y"}, "head"));
    return reimport(m);
  };
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.ratio = 0.5;
  o.criterion = prune::Criterion::BN;
  Model m = build();
  const auto r = prune::prune_model(m, o);
  CHECK(r.kept_outputs.at("c") == std::vector<int64_t>{0, 2});
  CHECK(floats_of(*m.graph.initializer("gamma")) == std::vector<float>{0.9f, -1.5f});
  o.criterion = prune::Criterion::L1;
  Model l1 = build();
  CHECK(prune::prune_model(l1, o).kept_outputs.at("c") == std::vector<int64_t>{2, 3});
  CHECK(prune::parse_criterion("bn") == prune::Criterion::BN);
  // Unstructured with bn is an input error: there is no channel to rank.
  o.granularity = prune::Granularity::Unstructured;
  o.criterion = prune::Criterion::BN;
  Model u = build();
  CHECK_THROWS_WITH(prune::prune_model(u, o), Catch::Contains("--criterion bn"));
}

namespace {
// Output channels of the Conv/Gemm named `node` (dim 0 of its weight).
int64_t out_channels(const Model& m, const std::string& node) {
  for (const Node& n : m.graph.nodes)
    if (n.name == node) return m.graph.initializer(n.inputs[1])->dims[0];
  FAIL("no node " << node);
  return -1;
}

// The seven channel groups of the bundled depthwise CNN, by their producing Conv.
std::vector<int64_t> mobile_widths(const Model& m) {
  std::vector<int64_t> w;
  for (int k : {0, 6, 12, 18, 24, 30, 36}) w.push_back(out_channels(m, "/features/features." + std::to_string(k) + "/Conv"));
  return w;
}
}  // namespace

TEST_CASE("channel --round-to: each group keeps a multiple of N channels, at most all of them", "[prune][channel][round_to]") {
  const Model orig = import_onnx_file(std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/mobile.onnx");
  REQUIRE(mobile_widths(orig) == std::vector<int64_t>{16, 32, 32, 64, 64, 128, 128});
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.criterion = prune::Criterion::L1;
  const auto widths = [&](double ratio, int64_t round_to) {
    Model m = orig;
    o.ratio = ratio;
    o.round_to = round_to;
    prune::prune_model(m, o);
    return mobile_widths(m);
  };
  // Kept = C - floor(ratio * C), rounded up to a multiple of N, capped at C (hand-computed).
  CHECK(widths(0.5, 1) == std::vector<int64_t>{8, 16, 16, 32, 32, 64, 64});
  CHECK(widths(0.5, 8) == std::vector<int64_t>{8, 16, 16, 32, 32, 64, 64});     // already multiples
  CHECK(widths(0.5, 16) == std::vector<int64_t>{16, 16, 16, 32, 32, 64, 64});   // 8 -> 16
  CHECK(widths(0.65, 16) == std::vector<int64_t>{16, 16, 16, 32, 32, 48, 48});  // 6, 12, 23, 45 kept -> 16, 16, 32, 48
  CHECK(widths(0.5, 48) == std::vector<int64_t>{16, 32, 32, 48, 48, 96, 96});   // 8 -> 48 > 16, 16 -> 48 > 32: whole
  CHECK(widths(0.5, 3) == std::vector<int64_t>{9, 18, 18, 33, 33, 66, 66});

  // The channels kept after rounding are still the largest-norm ones: with N = 16 and
  // ratio 0.65 the 128-channel groups keep 48, a superset of the 45 kept without rounding.
  Model a = orig, b = orig;
  o.ratio = 0.65;
  o.round_to = 1;
  const auto ra = prune::prune_model(a, o);
  o.round_to = 16;
  const auto rb = prune::prune_model(b, o);
  const std::string out30 = "/features/features.30/Conv_output_0";
  REQUIRE(ra.kept_outputs.count(out30));
  REQUIRE(rb.kept_outputs.count(out30));
  const auto& ka = ra.kept_outputs.at(out30);
  const auto& kb = rb.kept_outputs.at(out30);
  CHECK(ka.size() == 45);
  CHECK(kb.size() == 48);
  CHECK(std::includes(kb.begin(), kb.end(), ka.begin(), ka.end()));
  // 0.65 with N = 16 stays within the pruning issue's MACs bound.
  CHECK(static_cast<double>(compute_stats(b).macs) / static_cast<double>(compute_stats(orig).macs) <= 0.35);
}

TEST_CASE("channel --round-to 0 is an input error", "[prune][channel][round_to]") {
  Model m = surgery_model(false);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Channel;
  o.ratio = 0.5;
  o.round_to = 0;
  const std::string what = mc::test::input_error([&] { prune::prune_model(m, o); });
  CHECK(what.find("--round-to 0") != std::string::npos);
}

TEST_CASE("--round-to with weight (unstructured) pruning is an input error", "[prune][round_to]") {
  Model m = surgery_model(false);
  prune::PruneOptions o;
  o.granularity = prune::Granularity::Unstructured;
  o.ratio = 0.5;
  o.round_to = 8;
  const std::string what = mc::test::input_error([&] { prune::prune_model(m, o); });
  CHECK(what.find("needs --granularity channel") != std::string::npos);
}
