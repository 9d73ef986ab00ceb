// prune/sensitivity: the greedy allocator on synthetic curves with hand-computed
// allocations, --target / --ratios parsing, the per-layer config (JSON round trip,
// applied ratios, bad keys), and the sweep with an accuracy callback that checks that
// every trial touched exactly one layer.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "compress/onnx/onnx_import.h"
#include "prune/sensitivity.h"

using namespace mc;
using namespace mc::prune;

namespace {

const std::string kMlp = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/mlp.onnx";

LayerCurve curve(const std::string& name, std::vector<std::pair<double, double>> removed_acc) {
  LayerCurve c;
  c.name = name;
  double r = 0.1;
  for (const auto& [removed, acc] : removed_acc) {
    c.points.push_back({r, acc, removed});
    r += 0.1;
  }
  return c;
}

bool input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind() == ErrorKind::Input;
  }
  return false;
}

std::map<std::string, uint64_t> zeros_by_weight(const Model& m) {
  std::map<std::string, uint64_t> z;
  for (const auto& l : sensitivity_layers(m)) z[l.weight] = count_zeros(*m.graph.initializer(l.weight));
  return z;
}

uint64_t expected_zeros(double ratio, uint64_t n) { return static_cast<uint64_t>(std::llround(ratio * static_cast<double>(n))); }

}  // namespace

TEST_CASE("greedy: cheapest loss per removed unit first, hand-computed", "[sensitivity]") {
  // Baseline 100. A: removed 10/20/30 at 99/97/90. B: removed 5/10 at 99.9/99.0. Need 25.
  //  step 1: A 1/10 = 0.1, B 0.1/5 = 0.02        → B to 0 (removed 5)
  //  step 2: A 0.1, B 0.9/5 = 0.18               → A to 0 (removed 15)
  //  step 3: A 2/10 = 0.2, B 0.18                → B to 1 (removed 20)
  //  step 4: only A: 2/10 would complete (30 >= 25); completing moves from A@0: A@1 loses 2,
  //          A@2 loses 9 → A to 1. Removed 30, predicted 100 - (100-97) - (100-99) = 96.
  const std::vector<LayerCurve> c = {curve("A", {{10, 99}, {20, 97}, {30, 90}}), curve("B", {{5, 99.9}, {10, 99.0}})};
  const Allocation a = allocate_greedy(c, 100.0, 25);
  CHECK(a.reached);
  CHECK(a.step == std::vector<int>{1, 1});
  CHECK(a.removed == Approx(30));
  CHECK(a.predicted_accuracy == Approx(96.0));
}

TEST_CASE("greedy: the completing step takes the least loss, not the cheapest rate", "[sensitivity]") {
  // A: 100 units for 5 points (0.05/unit); B: 10 units for 1 point (0.1/unit). Need 8:
  // the per-unit choice is A, but B alone completes the target and loses 1, not 5.
  const std::vector<LayerCurve> c = {curve("A", {{100, 95}}), curve("B", {{10, 99}})};
  const Allocation a = allocate_greedy(c, 100.0, 8);
  CHECK(a.reached);
  CHECK(a.step == std::vector<int>{-1, 0});
  CHECK(a.predicted_accuracy == Approx(99.0));
}

TEST_CASE("greedy: points that remove nothing more are skipped; unreachable is reported", "[sensitivity]") {
  // A's first point removes nothing (e.g. low rank not cheaper there).
  const std::vector<LayerCurve> c = {curve("A", {{0, 100}, {10, 98}})};
  const Allocation a = allocate_greedy(c, 100.0, 5);
  CHECK(a.reached);
  CHECK(a.step == std::vector<int>{1});
  const Allocation b = allocate_greedy(c, 100.0, 11);
  CHECK_FALSE(b.reached);
  CHECK(b.removed == Approx(10));
  const Allocation z = allocate_greedy(c, 100.0, 0);
  CHECK(z.reached);
  CHECK(z.step == std::vector<int>{-1});
}

TEST_CASE("--target parsing", "[sensitivity]") {
  Target t = parse_target("params=0.3");
  CHECK(t.kind == TargetKind::Params);
  CHECK(t.fraction);
  CHECK(t.value == Approx(0.3));
  t = parse_target("macs=120000");
  CHECK(t.kind == TargetKind::Macs);
  CHECK_FALSE(t.fraction);
  CHECK(parse_target("size=0.5").kind == TargetKind::Size);
  for (const char* bad : {"params", "params=", "params=abc", "flops=0.3", "params=-1", "params=0", "params=1.5",
                          "params=0.3x", "=0.3", "params=nan"})
    CHECK(input_error([&] { parse_target(bad); }));
}

TEST_CASE("--ratios parsing and range", "[sensitivity]") {
  CHECK(parse_ratio_list("0.5,0.1,0.5", SensitivityPass::Prune) == std::vector<double>{0.1, 0.5});
  CHECK(parse_ratio_list("1", SensitivityPass::Lowrank) == std::vector<double>{1.0});
  for (const char* bad : {"1.0", "-0.1", "0.1,,0.2", "0.1,abc", "", "0.1,", "0.9,1"})
    CHECK(input_error([&] { parse_ratio_list(bad, SensitivityPass::Prune); }));
  CHECK(input_error([&] { parse_ratio_list("0", SensitivityPass::Lowrank); }));
  CHECK(input_error([&] { parse_ratio_list("1.5", SensitivityPass::Lowrank); }));
}

TEST_CASE("config: JSON round trip, then applied exactly per layer", "[sensitivity]") {
  LayerRatioConfig c;
  c.layers = {{"fc1.weight", 0.8}, {"/fc3/Gemm", 0.5}};  // a weight name and a node name
  const LayerRatioConfig back = parse_config_json(config_to_json(c), "cfg.json");
  CHECK(back.pass == SensitivityPass::Prune);
  CHECK(back.granularity == Granularity::Unstructured);
  REQUIRE(back.layers == c.layers);

  Model m = import_onnx_file(kMlp);
  const auto before = zeros_by_weight(m);
  const ApplyResult r = apply_layer_ratios(m, back);
  CHECK(r.pruned.size() == 2);
  const auto after = zeros_by_weight(m);
  CHECK(after.at("fc1.weight") == std::max(before.at("fc1.weight"), expected_zeros(0.8, 784 * 300)));
  CHECK(after.at("fc2.weight") == before.at("fc2.weight"));  // not in the config: untouched
  CHECK(after.at("fc3.weight") == std::max(before.at("fc3.weight"), expected_zeros(0.5, 100 * 10)));
}

TEST_CASE("config: an unnamed layer is addressed by its weight and keeps no name", "[sensitivity]") {
  Model m = import_onnx_file(kMlp);
  for (auto& n : m.graph.nodes)
    if (n.op_type == "Gemm") n.name.clear();
  LayerRatioConfig c;
  c.layers = {{"fc2.weight", 0.6}};
  apply_layer_ratios(m, c);
  CHECK(zeros_by_weight(m).at("fc2.weight") >= expected_zeros(0.6, 300 * 100));
  CHECK(zeros_by_weight(m).at("fc1.weight") < expected_zeros(0.1, 784 * 300));
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "Gemm") CHECK(n.name.empty());
}

TEST_CASE("config: bad input is Error(Input) and leaves the model alone", "[sensitivity]") {
  Model m = import_onnx_file(kMlp);
  const auto before = zeros_by_weight(m);
  LayerRatioConfig c;
  c.layers = {{"fc1.weight", 0.5}, {"no_such_layer", 0.5}};
  CHECK(input_error([&] { apply_layer_ratios(m, c); }));
  CHECK(zeros_by_weight(m) == before);
  c.layers = {{"fc1.weight", 0.5}, {"/fc1/Gemm", 0.3}};  // the same layer twice
  CHECK(input_error([&] { apply_layer_ratios(m, c); }));
  for (const char* bad : {"{", "[]", R"({"pass":"quantize","layers":{"a":0.5}})", R"({"pass":"prune","layers":{}})",
                          R"({"pass":"prune","layers":{"a":1.0}})", R"({"pass":"prune","layers":{"a":"x"}})",
                          R"({"pass":"prune","granularity":"2:4","layers":{"a":0.5}})",
                          R"({"pass":"lowrank","layers":{"a":0}})", R"({"pass":"prune","extra":1,"layers":{"a":0.5}})"})
    CHECK(input_error([&] { parse_config_json(bad, "cfg.json"); }));
}

TEST_CASE("sweep: every trial prunes exactly one layer; choose_ratios verifies its combination", "[sensitivity]") {
  const Model m = import_onnx_file(kMlp);
  const auto base = zeros_by_weight(m);
  int calls = 0;
  // A fake accuracy: 100 minus 10 points per fully pruned layer fraction, so that loss grows
  // with the ratio; it also checks that at most one layer differs from the original.
  const AccuracyFn acc = [&](const Model& x) {
    ++calls;
    const auto z = zeros_by_weight(x);
    int changed = 0;
    double loss = 0;
    for (const auto& l : sensitivity_layers(x)) {
      if (z.at(l.weight) != base.at(l.weight)) ++changed;
      loss += (l.weight == "fc3.weight" ? 50.0 : 5.0) * static_cast<double>(z.at(l.weight)) / static_cast<double>(l.params);
    }
    if (calls > 1 && calls <= 1 + 3 * 2) CHECK(changed == 1);
    return 100.0 - loss;
  };
  SensitivityOptions o;
  o.ratios = {0.5, 0.9};
  const SensitivityResult s = measure_sensitivity(m, o, acc, {});
  CHECK(calls == 1 + 3 * 2);
  REQUIRE(s.layers.size() == 3);
  CHECK(s.base_params == 784 * 300 + 300 * 100 + 100 * 10);
  CHECK(s.layers[0].trials[1].removed.params == Approx(static_cast<double>(expected_zeros(0.9, 784 * 300) - base.at("fc1.weight"))));
  // fc3 is ten times as costly per weight: a target that fc1 alone can reach leaves fc3 alone.
  Target t = parse_target("params=0.5");
  const AutoResult a = choose_ratios(m, s, o, t, acc);
  CHECK(calls == 1 + 3 * 2 + 1);
  bool has_fc3 = false;
  for (const auto& [k, v] : a.config.layers) has_fc3 |= k == "fc3.weight";
  CHECK_FALSE(has_fc3);
  CHECK(a.verified_removed.params >= 0.5 * static_cast<double>(s.base_params) - 1);
  CHECK(input_error([&] { choose_ratios(m, s, o, parse_target("params=100"), acc); }));  // beyond 0.9 everywhere
}

TEST_CASE("lowrank config: only the named layer is factorized", "[sensitivity]") {
  Model m = import_onnx_file(kMlp);
  LayerRatioConfig c;
  c.pass = SensitivityPass::Lowrank;
  c.layers = {{"fc1.weight", 0.1}};
  const ApplyResult r = apply_layer_ratios(m, c);
  REQUIRE(r.factorized.size() == 1);
  CHECK(r.factorized[0].factorized);
  CHECK(m.graph.initializer("fc1.weight") == nullptr);
  CHECK(m.graph.initializer("fc2.weight") != nullptr);
  CHECK(m.graph.initializer("fc3.weight") != nullptr);
}

TEST_CASE("choose_ratios: macs and size targets are met by the verified combination", "[sensitivity]") {
  const Model m = import_onnx_file(kMlp);
  const AccuracyFn acc = [](const Model& x) {
    double loss = 0;
    for (const auto& l : sensitivity_layers(x))
      loss += static_cast<double>(count_zeros(*x.graph.initializer(l.weight))) / static_cast<double>(l.params);
    return 100.0 - loss;
  };
  SensitivityOptions o;
  o.ratios = {0.3, 0.6, 0.9};
  const SensitivityResult s = measure_sensitivity(m, o, acc, {});
  const ModelStats st = compute_stats(m);
  CHECK(s.base_macs == st.macs);
  CHECK(s.base_bytes == st.weight_bytes);
  const AutoResult am = choose_ratios(m, s, o, parse_target("macs=0.5"), acc);
  CHECK(am.base == Approx(static_cast<double>(st.macs)));
  CHECK(static_cast<double>(st.macs) - am.verified_removed.macs <= am.goal_remaining + 1e-6);
  const AutoResult as = choose_ratios(m, s, o, parse_target("size=600000"), acc);  // absolute bytes
  CHECK_FALSE(as.target.fraction);
  CHECK(static_cast<double>(st.weight_bytes) - as.verified_removed.bytes <= 600000.0);
  // Unstructured: a zeroed weight saves 4 bytes and its share of the layer's MACs.
  CHECK(as.verified_removed.bytes == Approx(4.0 * as.verified_removed.params));
}
