// `mcompress sensitivity` end to end on the bundled MLP with a small --limit: the table's
// figures against `check` on the same samples, the --auto config read back by
// `prune --config` (exactly those ratios), and one test per bad input (exit 2, one line).

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compress/analysis/model_stats.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

mc::test::ProcessResult mcompress(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {MC_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return mc::test::run_process(argv, 300);
}

std::vector<std::string> sens(const std::string& model, std::vector<std::string> more) {
  std::vector<std::string> a = {"sensitivity", model, "--data", kData, "--labels", kLabels, "--mean", "0.2860", "--std",
                                "0.3530", "--limit", "300"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

double check_top1(const std::string& model) {
  const auto r = mcompress({"check", model, "--data", kData, "--labels", kLabels, "--mean", "0.2860", "--std", "0.3530",
                            "--limit", "300", "--runs", "1", "--warmup", "0", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out)["accuracy"]["top1"].get<double>();
}

void expect_bad_input(const std::vector<std::string>& args, const std::string& needle) {
  const auto r = mcompress(args);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
}

bool have_data() { return fs::exists(kData) && fs::exists(kLabels); }

}  // namespace

TEST_CASE("sensitivity: table as JSON on the MLP; baseline and a pruned point agree with check", "[e2e][sensitivity]") {
  REQUIRE(have_data());  // the Debian Fashion-MNIST package
  mc::test::TempDir d("mc_e2e_sens");
  const auto r = mcompress(sens(kExamples + "mlp.onnx", {"--ratios", "0.5,0.9", "--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["samples"] == 300);
  const double baseline = j["baseline_top1"].get<double>();
  CHECK(baseline == Approx(check_top1(kExamples + "mlp.onnx")));
  REQUIRE(j["layers"].size() == 3);
  for (const auto& l : j["layers"]) {
    REQUIRE(l["points"].size() == 2);
    for (const auto& p : l["points"]) CHECK(p["delta"].get<double>() == Approx(p["top1"].get<double>() - baseline));
  }
  // fc3 alone at 0.9, written with prune --config, measured by check: the same figure.
  const fs::path cfg = d.path / "fc3.json", out = d.path / "fc3.onnx";
  std::ofstream(cfg) << R"({"pass":"prune","granularity":"unstructured","layers":{"fc3.weight":0.9}})";
  const auto p = mcompress({"prune", kExamples + "mlp.onnx", "--config", cfg.string(), "-o", out.string()});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(j["layers"][2]["weight"] == "fc3.weight");
  CHECK(j["layers"][2]["points"][1]["top1"].get<double>() == Approx(check_top1(out.string())));
}

TEST_CASE("sensitivity --auto: config written, prune --config applies exactly those ratios, measured as reported",
          "[e2e][sensitivity]") {
  REQUIRE(have_data());  // the Debian Fashion-MNIST package
  mc::test::TempDir d("mc_e2e_sens");
  const fs::path cfg = d.path / "ratios.json", out = d.path / "pruned.onnx";
  const auto r = mcompress(sens(kExamples + "mlp.onnx", {"--auto", "--target", "params=0.5", "--ratios",
                                                         "0.3,0.5,0.7,0.9", "-o", cfg.string(), "--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  const json c = json::parse(std::ifstream(cfg));
  CHECK(c == j["auto"]["config"]);
  CHECK(c["pass"] == "prune");
  REQUIRE(!c["layers"].empty());
  const auto p = mcompress({"prune", kExamples + "mlp.onnx", "--config", cfg.string(), "-o", out.string(), "--json"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  const mc::Model orig = mc::import_onnx_file(kExamples + "mlp.onnx");
  const mc::Model m = mc::import_onnx_file(out.string());
  uint64_t kept = 0, total = 0;
  for (const char* w : {"fc1.weight", "fc2.weight", "fc3.weight"}) {
    const uint64_t n = m.graph.initializer(w)->numel();
    const uint64_t z0 = mc::count_zeros(*orig.graph.initializer(w)), z = mc::count_zeros(*m.graph.initializer(w));
    const double ratio = c["layers"].contains(w) ? c["layers"][w].get<double>() : 0.0;
    INFO(w);
    CHECK(z == std::max<uint64_t>(z0, static_cast<uint64_t>(std::llround(ratio * static_cast<double>(n)))));
    kept += n - z;
    total += n;
  }
  CHECK(static_cast<double>(kept) <= 0.5 * static_cast<double>(total));
  CHECK(j["auto"]["measured_top1"].get<double>() == Approx(check_top1(out.string())));
}

TEST_CASE("sensitivity --pass lowrank runs on the MLP", "[e2e][sensitivity]") {
  REQUIRE(have_data());  // the Debian Fashion-MNIST package
  const auto r = mcompress(sens(kExamples + "mlp.onnx", {"--pass", "lowrank", "--ratios", "0.05,0.9", "--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  REQUIRE(j["layers"].size() == 3);
  // fc1 at rank ratio 0.05 is factorized and removes params; at 0.9 it is not cheaper.
  CHECK(j["layers"][0]["points"][0]["removed_params"].get<double>() > 0);
  CHECK(j["layers"][0]["points"][1].contains("note"));
}

TEST_CASE("sensitivity and prune --config: bad input exits 2 with one line", "[e2e][sensitivity]") {
  REQUIRE(have_data());  // the Debian Fashion-MNIST package
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  expect_bad_input(sens(mlp, {"--auto", "--target", "params=abc"}), "--target 'params=abc'");
  expect_bad_input(sens(mlp, {"--auto", "--target", "flops=0.3"}), "--target 'flops=0.3'");
  expect_bad_input(sens(mlp, {"--auto", "--target", "params"}), "--target 'params'");
  expect_bad_input(sens(mlp, {"--auto"}), "--auto needs --target");
  expect_bad_input(sens(mlp, {"--ratios", "0.5,1.0"}), "outside [0, 1)");
  expect_bad_input(sens(mlp, {"--ratios", "-0.1"}), "outside [0, 1)");
  expect_bad_input(sens(mlp, {"--ratios", "0.5,x"}), "--ratios");
  expect_bad_input(sens(mlp, {"--granularity", "2:4"}), "--granularity 2:4");
  expect_bad_input(sens(mlp, {"--pass", "bogus"}), "--pass 'bogus': expected prune, lowrank or quantize");
  const fs::path out = d.path / "out.onnx";
  const fs::path none = d.path / "none.json";
  std::ofstream(none) << R"({"pass":"prune","granularity":"unstructured","layers":{"fc9.weight":0.5}})";
  expect_bad_input({"prune", mlp, "--config", none.string(), "-o", out.string()}, "'fc9.weight' names no prunable layer");
  CHECK(!fs::exists(out));
  const fs::path badr = d.path / "badr.json";
  std::ofstream(badr) << R"({"pass":"prune","layers":{"fc1.weight":1.5}})";
  expect_bad_input({"prune", mlp, "--config", badr.string(), "-o", out.string()}, "outside [0, 1)");
  const fs::path lr = d.path / "lr.json";
  std::ofstream(lr) << R"({"pass":"lowrank","layers":{"fc1.weight":0.5}})";
  expect_bad_input({"prune", mlp, "--config", lr.string(), "-o", out.string()}, "pass 'lowrank'");
  const fs::path good = d.path / "good.json";
  std::ofstream(good) << R"({"pass":"prune","layers":{"fc1.weight":0.5}})";
  expect_bad_input({"prune", mlp, "--config", good.string(), "--ratio", "0.5", "-o", out.string()},
                   "--ratio and --config");
  CHECK(!fs::exists(out));
}

TEST_CASE("lowrank --config: only the named layers are factorized, at the given rank ratio", "[e2e][sensitivity]") {
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  const fs::path cfg = d.path / "lr.json", out = d.path / "lr.onnx";
  std::ofstream(cfg) << R"({"pass":"lowrank","layers":{"fc1.weight":0.1}})";
  const auto r = mcompress({"lowrank", mlp, "--config", cfg.string(), "-o", out.string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  REQUIRE(j["layers"].size() == 1);
  CHECK(j["layers"][0]["weight"] == "fc1.weight");
  CHECK(j["layers"][0]["rank"] == 30);  // ceil(0.1 * min(784, 300))
  const mc::Model m = mc::import_onnx_file(out.string());
  CHECK(m.graph.initializer("fc1.weight") == nullptr);
  CHECK(m.graph.initializer("fc2.weight") != nullptr);
  CHECK(m.graph.initializer("fc3.weight") != nullptr);
  const fs::path none = d.path / "none.json", out2 = d.path / "none.onnx";
  std::ofstream(none) << R"({"pass":"lowrank","layers":{"nothing":0.5}})";
  expect_bad_input({"lowrank", mlp, "--config", none.string(), "-o", out2.string()}, "'nothing' names no prunable layer");
  expect_bad_input({"lowrank", mlp, "--config", cfg.string(), "--energy", "0.9", "-o", out2.string()},
                   "leave out --rank-ratio");
  const fs::path pr = d.path / "pr.json";
  std::ofstream(pr) << R"({"pass":"prune","layers":{"fc1.weight":0.5}})";
  expect_bad_input({"lowrank", mlp, "--config", pr.string(), "-o", out2.string()}, "pass 'prune'");
  CHECK(!fs::exists(out2));
}

TEST_CASE("sensitivity: progress lines on stderr only with -v when stderr is not a terminal", "[e2e][sensitivity]") {
  const std::string mlp = kExamples + "mlp.onnx";
  const auto quiet = mcompress(sens(mlp, {"--ratios", "0.5"}));
  INFO(quiet.err);
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  std::vector<std::string> args = sens(mlp, {"--ratios", "0.5"});
  args.insert(args.begin(), "-v");
  const auto v = mcompress(args);
  REQUIRE(v.exit_code == 0);
  CHECK(v.err.find("sensitivity: 1/4 baseline") != std::string::npos);
  CHECK(v.err.find("sensitivity: 4/4 fc3.weight @ 0.5") != std::string::npos);
  CHECK(v.out.find("fc1.weight") != std::string::npos);
}

TEST_CASE("sensitivity --reconstruct: each trial is re-fitted; fc1 at 0.9 loses far less; the re-fitted config matches prune --calib-data",
          "[e2e][sensitivity][reconstruct]") {
  REQUIRE(have_data());
  mc::test::TempDir d("mc_e2e_sens");
  auto fc1_at_09 = [&](bool refit) {
    std::vector<std::string> more = {"--ratios", "0.9", "--json"};
    if (refit) more.push_back("--reconstruct");
    const auto r = mcompress(sens(kExamples + "mlp.onnx", more));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    REQUIRE(j["layers"][0]["weight"] == "fc1.weight");
    return j["layers"][0]["points"][0]["top1"].get<double>();
  };
  const double plain = fc1_at_09(false), refit = fc1_at_09(true);
  CHECK(refit > plain + 5.0);
  // --auto with --reconstruct measures the chosen combination re-fitted; prune --config with the
  // same calibration samples (the first 300 of --data) gives that model, so check agrees.
  const fs::path cfg = d.path / "r.json", out = d.path / "p.onnx";
  const auto r = mcompress(sens(kExamples + "mlp.onnx", {"--auto", "--target", "params=0.3", "--ratios", "0.5,0.7,0.9",
                                                         "--reconstruct", "--json", "-o", cfg.string()}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const double measured = json::parse(r.out)["auto"]["measured_top1"].get<double>();
  const auto p = mcompress({"prune", kExamples + "mlp.onnx", "--config", cfg.string(), "--calib-data", kData, "--calib-size",
                            "300", "--mean", "0.2860", "--std", "0.3530", "-o", out.string()});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  CHECK(check_top1(out.string()) == Approx(measured).margin(1e-9));
}

TEST_CASE("sensitivity: --reconstruct with --pass lowrank, --calib-size 0 are exit 2", "[e2e][sensitivity][reconstruct]") {
  REQUIRE(have_data());
  expect_bad_input(sens(kExamples + "mlp.onnx", {"--pass", "lowrank", "--reconstruct"}), "--reconstruct applies to --pass prune");
  expect_bad_input(sens(kExamples + "mlp.onnx", {"--reconstruct", "--calib-size", "0"}), "--calib-size must be at least 1");
}

// ---- --pass quantize ----------------------------------------------------------------------

namespace {
std::string inspect_storage(const json& inspected, const std::string& name) {
  for (const auto& c : inspected["constants"])
    if (c["name"] == name) return c["storage"].get<std::string>();
  return "(missing)";
}
json inspect_json(const std::string& file) {
  const auto r = mcompress({"inspect", file, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}
}  // namespace

TEST_CASE("sensitivity --pass quantize --mode kmeans: table JSON, reproducible, a point equals quantize --config + check",
          "[e2e][sensitivity][quantize]") {
  REQUIRE(have_data());
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  const auto args = sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--bits-list", "2,8,4", "--json"});
  const auto r = mcompress(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto r2 = mcompress(args);
  REQUIRE(r2.exit_code == 0);
  CHECK(r.out == r2.out);  // deterministic: every figure bit-identical across runs
  const json j = json::parse(r.out);
  CHECK(j["pass"] == "quantize");
  CHECK(j["mode"] == "kmeans");
  CHECK(j["samples"] == 300);
  CHECK(j["bits"] == json::array({8, 4, 2}));  // sorted by growing compression
  const double baseline = j["baseline_top1"].get<double>();
  CHECK(baseline == Approx(check_top1(mlp)));
  REQUIRE(j["layers"].size() == 3);
  CHECK(j["layers"][0]["weight"] == "fc1.weight");
  CHECK(j["layers"][2]["weight"] == "fc3.weight");
  const uint64_t base_bytes = j["baseline_bytes"].get<uint64_t>();
  for (const auto& l : j["layers"]) {
    REQUIRE(l["points"].size() == 3);
    uint64_t prev = base_bytes;
    for (size_t i = 0; i < 3; ++i) {
      const auto& p = l["points"][i];
      CHECK(p["bits"] == json::array({8, 4, 2})[i]);
      CHECK(p["delta"].get<double>() == Approx(p["top1"].get<double>() - baseline));
      CHECK(p["storage"].get<std::string>().rfind("kmeans" + std::to_string(p["bits"].get<int>()), 0) == 0);
      // Fewer bits, smaller file; removed = fp32 file - trial file.
      CHECK(p["bytes"].get<uint64_t>() < prev);
      prev = p["bytes"].get<uint64_t>();
      CHECK(p["removed_bytes"].get<int64_t>() == static_cast<int64_t>(base_bytes) - p["bytes"].get<int64_t>());
    }
  }
  // The fc1 @ 2 bits point is what `quantize --config` + `check` give for that layer alone.
  const fs::path cfg = d.path / "one.json", out = d.path / "one.mcrt";
  std::ofstream(cfg) << R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":2}})";
  const auto q = mcompress({"quantize", mlp, "--mode", "kmeans", "--config", cfg.string(), "--format", "runtime", "-o",
                            out.string()});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  const json& p = j["layers"][0]["points"][2];
  CHECK(fs::file_size(out) == p["bytes"].get<uint64_t>());
  CHECK(check_top1(out.string()) == Approx(p["top1"].get<double>()));
  const json ins = inspect_json(out.string());
  CHECK(inspect_storage(ins, "fc1.weight") == "palette 2-bit (4)");
  CHECK(inspect_storage(ins, "fc2.weight") == "dense");
}

TEST_CASE("sensitivity --pass quantize --auto --target size: config applied by quantize --config gives those bits",
          "[e2e][sensitivity][quantize]") {
  REQUIRE(have_data());
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  const fs::path cfg = d.path / "bits.json", out = d.path / "auto.mcrt";
  const auto r = mcompress(sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--auto", "--target", "size=0.2", "-o",
                                      cfg.string(), "--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  const json& au = j["auto"];
  CHECK(au["target"] == "size=0.2");
  CHECK(au["bytes"].get<double>() <= au["goal_remaining"].get<double>());
  CHECK(au["goal_remaining"].get<double>() == Approx(0.2 * j["baseline_bytes"].get<double>()));
  std::ifstream in(cfg);
  const json c = json::parse(in);
  CHECK(c == au["config"]);
  CHECK(c["pass"] == "quantize");
  CHECK(c["mode"] == "kmeans");
  REQUIRE(!c["layers"].empty());
  const auto q = mcompress({"quantize", mlp, "--mode", "kmeans", "--config", cfg.string(), "--format", "runtime", "-o",
                            out.string()});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  CHECK(fs::file_size(out) == au["bytes"].get<uint64_t>());
  CHECK(check_top1(out.string()) == Approx(au["measured_top1"].get<double>()));
  const json ins = inspect_json(out.string());
  for (const std::string w : {"fc1.weight", "fc2.weight", "fc3.weight"}) {
    INFO(w);
    if (c["layers"].contains(w)) {
      const int b = c["layers"][w].get<int>();
      CHECK(inspect_storage(ins, w) == "palette " + std::to_string(b) + "-bit (" + std::to_string(1 << b) + ")");
    } else {
      CHECK(inspect_storage(ins, w) == "dense");
    }
  }
}

TEST_CASE("sensitivity --pass quantize --mode weight-only and static: one layer at a time", "[e2e][sensitivity][quantize]") {
  REQUIRE(have_data());
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  const auto w = mcompress(sens(mlp, {"--pass", "quantize", "--json"}));  // default mode weight-only, bits 8,4
  INFO(w.err);
  REQUIRE(w.exit_code == 0);
  const json jw = json::parse(w.out);
  CHECK(jw["mode"] == "weight-only");
  CHECK(jw["bits"] == json::array({8, 4}));
  CHECK(jw["layers"][1]["points"][1]["storage"] == "int4 per-channel (axis 0)");
  // The fc2 @ int4 point equals quantize --config of that layer alone, run by check.
  const fs::path cfg = d.path / "w.json", out = d.path / "w.mcrt";
  std::ofstream(cfg) << R"({"pass":"quantize","mode":"weight-only","layers":{"fc2.weight":4}})";
  const auto q = mcompress({"quantize", mlp, "--mode", "weight-only", "--config", cfg.string(), "--format", "runtime",
                            "-o", out.string()});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  CHECK(fs::file_size(out) == jw["layers"][1]["points"][1]["bytes"].get<uint64_t>());
  CHECK(check_top1(out.string()) == Approx(jw["layers"][1]["points"][1]["top1"].get<double>()));
  const json ins = inspect_json(out.string());
  CHECK(inspect_storage(ins, "fc1.weight") == "dense");

  const auto s = mcompress(sens(mlp, {"--pass", "quantize", "--mode", "static", "--json"}));
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  const json js = json::parse(s.out);
  CHECK(js["bits"] == json::array({8}));
  REQUIRE(js["layers"].size() == 3);
  for (const auto& l : js["layers"]) {
    REQUIRE(l["points"].size() == 1);
    CHECK(l["points"][0]["storage"] == "int8 QDQ");
  }
  // Only fc1 in int8: its 235200 weights shrink from 4 to 1 byte each, the file by most of that.
  CHECK(js["layers"][0]["points"][0]["removed_bytes"].get<int64_t>() > 600000);
}

TEST_CASE("sensitivity --pass quantize: unknown mode exits 2", "[e2e][sensitivity][quantize]") {
  expect_bad_input(sens(kExamples + "mlp.onnx", {"--pass", "quantize", "--mode", "int3"}), "--mode");
  expect_bad_input(sens(kExamples + "mlp.onnx", {"--pass", "quantize", "--mode", "fp16"}),
                   "sweeps weight-only, kmeans or static");
}

TEST_CASE("sensitivity --pass quantize: bits out of range exit 2", "[e2e][sensitivity][quantize]") {
  const std::string mlp = kExamples + "mlp.onnx";
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--bits-list", "8,9"}), "9 bits with --mode kmeans");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--bits-list", "1"}), "1 bits with --mode kmeans");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--bits-list", "2"}), "2 bits with --mode weight-only");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--mode", "static", "--bits-list", "4"}), "static int8 has only 8");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--bits-list", "8,x"}), "--bits-list '8,x'");
}

TEST_CASE("sensitivity --pass quantize: prune options, non-size targets, --auto with static exit 2",
          "[e2e][sensitivity][quantize]") {
  const std::string mlp = kExamples + "mlp.onnx";
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--ratios", "0.5"}), "--pass quantize takes --bits-list");
  expect_bad_input(sens(mlp, {"--bits-list", "8"}), "--bits-list and --mode are for --pass quantize");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--auto", "--target", "params=0.5"}),
                   "use size=X");
  expect_bad_input(sens(mlp, {"--pass", "quantize", "--mode", "static", "--auto", "--target", "size=0.5"}),
                   "--auto with --mode static");
}

TEST_CASE("quantize --config: bad configs exit 2 and write nothing", "[e2e][sensitivity][quantize]") {
  mc::test::TempDir d("mc_e2e_sens");
  const std::string mlp = kExamples + "mlp.onnx";
  const fs::path out = d.path / "q.mcrt";
  auto q = [&](const std::string& text, const std::string& mode, const std::string& needle) {
    const fs::path cfg = d.path / "c.json";
    std::ofstream(cfg) << text;
    expect_bad_input({"quantize", mlp, "--mode", mode, "--config", cfg.string(), "--format", "runtime", "-o", out.string()},
                     needle);
    CHECK(!fs::exists(out));
  };
  q(R"({"pass":"quantize","mode":"weight-only","layers":{"fc1.weight":2}})", "weight-only", "bits 2 with mode weight-only");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":9}})", "kmeans", "bits 9 with mode kmeans");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":2.5}})", "kmeans", "not a whole number");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc9.weight":4}})", "kmeans", "'fc9.weight' names no Conv/Gemm/MatMul");
  q(R"({"pass":"prune","layers":{"fc1.weight":0.5}})", "kmeans", "\"pass\" must be \"quantize\"");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":4}})", "weight-only", "config is for mode kmeans");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":4}})", "static", "--config (per-layer bits) applies to");
  q(R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":4})", "kmeans", "not valid JSON");
  const fs::path good = d.path / "good.json";
  std::ofstream(good) << R"({"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":4}})";
  expect_bad_input({"quantize", mlp, "--mode", "kmeans", "--bits", "4", "--config", good.string(), "--format", "runtime",
                    "-o", out.string()},
                   "--config gives the bits per layer; drop --bits");
  CHECK(!fs::exists(out));
}

TEST_CASE("sensitivity --pass quantize: the table, and progress lines with -v", "[e2e][sensitivity][quantize]") {
  const std::string mlp = kExamples + "mlp.onnx";
  const auto t = mcompress(sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--bits-list", "4,2"}));
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(t.err.empty());
  std::stringstream ss(t.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  REQUIRE(lines.size() == 6);  // title, baseline, header, 3 layers
  CHECK(lines[0].find("quantize (kmeans), top-1 on 300 samples") != std::string::npos);
  CHECK(lines[1].rfind("baseline top-1 ", 0) == 0);
  CHECK(lines[2].find("4 bits") < lines[2].find("2 bits"));
  for (size_t i = 0; i < 3; ++i) {
    CHECK(lines[3 + i].rfind("fc" + std::to_string(i + 1) + ".weight", 0) == 0);
    CHECK(std::count(lines[3 + i].begin(), lines[3 + i].end(), '(') == 2);  // "top1 (delta)" per bit width
  }
  std::vector<std::string> args = sens(mlp, {"--pass", "quantize", "--mode", "kmeans", "--bits-list", "4"});
  args.insert(args.begin(), "-v");
  const auto v = mcompress(args);
  REQUIRE(v.exit_code == 0);
  CHECK(v.err.find("sensitivity: 1/4 baseline") != std::string::npos);
  CHECK(v.err.find("sensitivity: 4/4 fc3.weight @ 4 bits") != std::string::npos);
}
