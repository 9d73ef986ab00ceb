// `mcompress prune` end to end: the built binary on the bundled examples.
// Success paths check the JSON figures against the written file; every bad input
// gives exit 2, one line on stderr, and writes nothing.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "compress/analysis/model_stats.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";

mc::test::ProcessResult prune(std::vector<std::string> args) {
  std::vector<std::string> argv = {MC_BIN, "prune"};
  argv.insert(argv.end(), args.begin(), args.end());
  return mc::test::run_process(argv, 300);
}

// Exit 2, exactly one line on stderr containing `needle`, no output file.
void expect_bad_input(const std::vector<std::string>& args, const std::string& needle, const fs::path& out) {
  const auto r = prune(args);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(!fs::exists(out));
}

}  // namespace

TEST_CASE("prune: unstructured global 0.7 on the MLP, JSON figures match the written file", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "mlp70.onnx";
  const auto r = prune({kExamples + "mlp.onnx", "--ratio", "0.7", "--scope", "global", "-o", out.string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  uint64_t total = 0, pruned = 0;
  for (const auto& l : j["layers"]) {
    total += l["total"].get<uint64_t>();
    pruned += l["pruned"].get<uint64_t>();
  }
  CHECK(std::fabs(static_cast<double>(pruned) - 0.7 * static_cast<double>(total)) <= 1.0);
  const mc::ModelStats st = mc::compute_stats(mc::import_onnx_file(out.string()));
  CHECK(j["after"]["params"] == st.params);
  CHECK(j["after"]["nonzero_params"] == st.params - st.zero_weights);
  CHECK(j["after"]["bytes"] == fs::file_size(out));
  CHECK(j["after"]["gzip_bytes"].get<uint64_t>() < j["before"]["gzip_bytes"].get<uint64_t>() / 2);
  // The ONNX file keeps dense zeros; the runtime file size printed beside it is the size that the same
  // command with --format runtime writes.
  const fs::path rt = d.path / "mlp70.mcrt";
  const auto r2 = prune({kExamples + "mlp.onnx", "--ratio", "0.7", "--scope", "global", "--format", "runtime", "-o",
                         rt.string()});
  REQUIRE(r2.exit_code == 0);
  CHECK(j["runtime_file_bytes"] == fs::file_size(rt));
  CHECK(j["runtime_file_bytes"].get<uint64_t>() < j["after"]["bytes"].get<uint64_t>() / 2);
  std::string digits = std::to_string(fs::file_size(rt)), grouped;  // 356392 -> 356,392
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  const auto text = prune({kExamples + "mlp.onnx", "--ratio", "0.7", "--scope", "global", "-o", out.string()});
  CHECK(text.out.find("as a runtime file (--format runtime) they are stored sparse: " + grouped + " bytes") !=
        std::string::npos);
}

TEST_CASE("prune: channel 0.5 on ResNet prints before/after and the per-group report; runtime format works", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "resnet_ch.onnx";
  const auto r = prune({kExamples + "resnet.onnx", "--granularity", "channel", "--ratio", "0.5", "-o", out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("group {/stem/stem.0/Conv, /blocks/blocks.0/conv2/Conv}: removed 8 of 16 channels") != std::string::npos);
  CHECK(r.out.find("left whole: its channels are a graph output ('logits')") != std::string::npos);
  CHECK(r.out.find("prune: bytes ") != std::string::npos);
  CHECK(r.out.find("MACs 9,345,920 → ") != std::string::npos);
  const fs::path rt = d.path / "lenet24.mcrt";
  const auto r2 = prune({kExamples + "lenet5.onnx", "--granularity", "2:4", "--exclude", "/conv1/Conv,/conv2/Conv",
                         "--format", "runtime", "-o", rt.string()});
  INFO(r2.err);
  CHECK(r2.exit_code == 0);
  CHECK(fs::exists(rt));
}

TEST_CASE("prune: --ratio 1.0 is exit 2", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "1.0", "-o", (d.path / "o.onnx").string()}, "[0, 1)",
                   d.path / "o.onnx");
}

TEST_CASE("prune: --ratio -0.1 is exit 2", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mlp.onnx", "--ratio=-0.1", "-o", (d.path / "o.onnx").string()}, "[0, 1)",
                   d.path / "o.onnx");
}

TEST_CASE("prune: n:m on a layer whose input dimension is not a multiple of m is exit 2 naming it", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "lenet5.onnx", "--granularity", "2:4", "-o", (d.path / "o.onnx").string()},
                   "layer '/conv1/Conv' (Conv): input dimension 1 is not a multiple of 4", d.path / "o.onnx");
}

TEST_CASE("prune: --exclude that matches nothing is exit 2", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--exclude", "/fc9/Gemm", "-o",
                    (d.path / "o.onnx").string()},
                   "'/fc9/Gemm' matches no node", d.path / "o.onnx");
}

TEST_CASE("prune: missing --ratio, output == input, bad granularity are exit 2", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mlp.onnx", "-o", (d.path / "o.onnx").string()}, "--ratio is required",
                   d.path / "o.onnx");
  expect_bad_input({kExamples + "mlp.onnx", "--granularity", "3:2", "--ratio", "0.5", "-o", (d.path / "o.onnx").string()},
                   "n < m", d.path / "o.onnx");
  const fs::path copy = d.path / "in.onnx";
  fs::copy_file(kExamples + "mlp.onnx", copy);
  const auto size = fs::file_size(copy);
  const auto r = prune({copy.string(), "--ratio", "0.5", "-o", copy.string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("is the input model") != std::string::npos);
  CHECK(fs::file_size(copy) == size);
}

// The first command users type has no -o: `mcompress prune --ratio 0.7 model.onnx`. Every verb that
// writes a model then writes MODEL.<tag>.<ext> next to the model, names it, and leaves the model alone.
TEST_CASE("without -o, prune and the other writing verbs write MODEL.<tag>.<ext> next to the model", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path model = d.path / "model.onnx";
  fs::copy_file(kExamples + "mlp.onnx", model);
  std::ifstream f0(model, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(f0)), {});
  struct Case {
    std::vector<std::string> argv;
    std::string file;
  };
  const std::vector<Case> cases = {
      {{"prune", "--ratio", "0.7", model.string()}, "model.pruned.onnx"},
      {{"prune", "--ratio", "0.5", model.string(), "--format", "runtime"}, "model.pruned.mcrt"},
      {{"quantize", model.string(), "--mode", "fp16"}, "model.fp16.onnx"},
      {{"quantize", model.string(), "--mode", "weight-only", "--format", "runtime"}, "model.weight-only.mcrt"},
      {{"export", model.string()}, "model.mcrt"},
      {{"export", model.string(), "--format", "onnx"}, "model.exported.onnx"},
      {{"optimize", model.string()}, "model.opt.onnx"},
      {{"lowrank", model.string(), "--energy", "0.9"}, "model.lowrank.onnx"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {MC_BIN};
    argv.insert(argv.end(), c.argv.begin(), c.argv.end());
    const auto r = mc::test::run_process(argv, 300);
    INFO(c.file << ": " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(d.path / c.file));
    CHECK(r.out.find("wrote " + (d.path / c.file).string()) != std::string::npos);
  }
  std::ifstream f1(model, std::ios::binary);
  CHECK(std::string((std::istreambuf_iterator<char>(f1)), {}) == before);
  // The default name is never the model: a model named like a default output gets a longer name.
  const fs::path again = d.path / "model.pruned.onnx";
  const auto r = prune({"--ratio", "0.5", again.string()});
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(d.path / "model.pruned.pruned.onnx"));
}

namespace {
std::string file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";
const std::vector<std::string> kNorm = {"--mean", "0.2860", "--std", "0.3530"};

// Top-1 of `model` on the first `n` test images, through `mcompress check --json`.
double test_top1(const std::string& model, int n) {
  const auto r = mc::test::run_process({MC_BIN, "--json", "check", model, "--data", kFashion + "t10k-images-idx3-ubyte.gz",
                                        "--labels", kFashion + "t10k-labels-idx1-ubyte.gz", "--mean", "0.2860", "--std",
                                        "0.3530", "--limit", std::to_string(n), "--runs", "1", "--warmup", "0"},
                                       300);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out)["accuracy"]["top1"].get<double>();
}
}  // namespace

TEST_CASE("prune --calib-data: the least-squares re-fit lowers every layer's error and recovers accuracy; same bytes twice",
          "[e2e][prune][reconstruct]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path plain = d.path / "plain.onnx", a = d.path / "a.onnx", b = d.path / "b.onnx";
  REQUIRE(prune({kExamples + "mlp.onnx", "--ratio", "0.8", "-o", plain.string()}).exit_code == 0);
  std::vector<std::string> args = {kExamples + "mlp.onnx", "--ratio", "0.8", "--calib-data",
                                   kFashion + "train-images-idx3-ubyte.gz", "--calib-size", "500", "--json"};
  args.insert(args.end(), kNorm.begin(), kNorm.end());
  auto with_out = [&](const fs::path& o) {
    auto v = args;
    v.push_back("-o");
    v.push_back(o.string());
    return v;
  };
  const auto r = prune(with_out(a));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  REQUIRE(j["reconstruction"]["layers"].size() == 3);
  CHECK(j["reconstruction"]["samples"] == 500);
  for (const auto& l : j["reconstruction"]["layers"]) {
    CHECK(l["rows_failed"] == 0);
    CHECK(l["error_after"].get<double>() < l["error_before"].get<double>());
  }
  // The sparsity pattern is the magnitude one: as many zeros as without the re-fit.
  CHECK(j["after"]["nonzero_params"] == json::parse(prune({kExamples + "mlp.onnx", "--ratio", "0.8", "--json", "-o",
                                                           (d.path / "p2.onnx").string()}).out)["after"]["nonzero_params"]);
  REQUIRE(prune(with_out(b)).exit_code == 0);
  CHECK(file_bytes(a) == file_bytes(b));
  // 80% per layer costs the MLP points on the test set; the re-fit (on training images) wins most back.
  const double t_plain = test_top1(plain.string(), 2000), t_refit = test_top1(a.string(), 2000);
  CHECK(t_refit > t_plain + 1.0);
}

TEST_CASE("prune --calib-data: data whose samples do not fit the model is exit 2 naming the file", "[e2e][prune][reconstruct]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "o.onnx";
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--calib-data", kFashion + "t10k-labels-idx1-ubyte.gz", "-o",
                    out.string()},
                   "t10k-labels-idx1-ubyte.gz: expected samples of shape [1,28,28]", out);
}

TEST_CASE("prune: --mean without --calib-data, --calib-size 0 and a bad --criterion bn use are exit 2", "[e2e][prune][reconstruct]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "o.onnx";
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--mean", "0.3", "-o", out.string()},
                   "--mean and --std need --calib-data", out);
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--calib-data", "x.idx", "--calib-size", "0", "-o", out.string()},
                   "--calib-size must be at least 1", out);
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--criterion", "bn", "-o", out.string()},
                   "--criterion bn", out);
}

TEST_CASE("prune: block:4x4 on a layer that is not divisible is exit 2 naming it; block:2x4 works", "[e2e][prune][block]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "o.onnx";
  expect_bad_input({kExamples + "mlp.onnx", "--granularity", "block:4x4", "--ratio", "0.5", "-o", out.string()},
                   "layer '/fc3/Gemm' (Gemm): its 10 x 100 weight matrix is not divisible into 4x4 blocks", out);
  const auto r = prune({kExamples + "mlp.onnx", "--granularity", "block:2x4", "--ratio", "0.5", "--json", "-o", out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& l : json::parse(r.out)["layers"]) CHECK(std::fabs(l["achieved"].get<double>() - 0.5) < 0.01);
}

TEST_CASE("prune --config (channel) --calib-data: the pruned layers are re-fitted to the channels they kept", "[e2e][prune][reconstruct]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path cfg = d.path / "c.json", out = d.path / "o.onnx";
  {
    std::ofstream f(cfg);
    f << R"({"pass":"prune","granularity":"channel","layers":{"features.6.weight":0.5}})";
  }
  std::vector<std::string> args = {kExamples + "mobile.onnx", "--config", cfg.string(), "--calib-data",
                                   kFashion + "train-images-idx3-ubyte.gz", "--calib-size", "50", "--json", "-o", out.string()};
  args.insert(args.end(), kNorm.begin(), kNorm.end());
  const auto r = prune(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  // The pruned layer and its depthwise reader are matched to the dense channels they kept (their
  // inputs are the dense ones, so their error is already 0); the next 1x1 Conv, which lost input
  // channels, is re-fitted.
  bool pruned_seen = false, dw_seen = false, next_refit = false;
  for (const auto& l : j["reconstruction"]["layers"]) {
    if (l["layer"] == "/features/features.6/Conv") pruned_seen = l["error_before"].get<double>() < 1e-9;
    if (l["layer"] == "/features/features.9/Conv") dw_seen = l["error_before"].get<double>() < 1e-9;
    if (l["layer"] == "/features/features.12/Conv")
      next_refit = l["rows"].get<int>() > 0 && l["error_after"].get<double>() < 0.5 * l["error_before"].get<double>();
  }
  CHECK(pruned_seen);
  CHECK(dw_seen);
  CHECK(next_refit);
  for (const auto& s : j["reconstruction"]["skipped"]) CHECK(s.get<std::string>().find("differs") == std::string::npos);
}

TEST_CASE("prune --round-to 16 --ratio 0.65 on mobile: groups keep multiples of 16, MACs <= 0.35x, report says so",
          "[e2e][prune][round_to]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "o.onnx";
  const auto r = prune({kExamples + "mobile.onnx", "--granularity", "channel", "--ratio", "0.65", "--round-to", "16",
                        "--json", "-o", out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  const double macs = static_cast<double>(j["after"]["macs"].get<uint64_t>()) / static_cast<double>(j["before"]["macs"].get<uint64_t>());
  CHECK(macs <= 0.35);
  CHECK(macs > 0.34);  // 439,568 / 1,264,160 (hand-computed from the widths below)
  const mc::Model m = mc::import_onnx_file(out.string());
  CHECK(mc::compute_stats(m).macs == 439568);
  std::vector<int64_t> widths;
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "Conv" && n.attr_int("group", 1) == 1) widths.push_back(m.graph.initializer(n.inputs[1])->dims[0]);
  CHECK(widths == std::vector<int64_t>{16, 16, 16, 32, 32, 48, 48});
  // The text report names the rounding.
  const auto t = prune({kExamples + "mobile.onnx", "--granularity", "channel", "--ratio", "0.65", "--round-to", "16", "-o",
                        (d.path / "t.onnx").string()});
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("removed 80 of 128 channels (45 kept rounded up to 48, --round-to 16)") != std::string::npos);
}

TEST_CASE("prune: --round-to 0 is exit 2", "[e2e][prune][round_to]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mobile.onnx", "--granularity", "channel", "--ratio", "0.5", "--round-to", "0", "-o",
                    (d.path / "o.onnx").string()},
                   "--round-to '0': expected a whole number from 1 to 9999", d.path / "o.onnx");
}

TEST_CASE("prune: --round-to that is not a number is exit 2", "[e2e][prune][round_to]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mobile.onnx", "--granularity", "channel", "--ratio", "0.5", "--round-to", "16x", "-o",
                    (d.path / "o.onnx").string()},
                   "--round-to '16x': expected a whole number", d.path / "o.onnx");
}

TEST_CASE("prune: --round-to without --granularity channel is exit 2", "[e2e][prune][round_to]") {
  mc::test::TempDir d("mc_e2e_prune");
  expect_bad_input({kExamples + "mobile.onnx", "--ratio", "0.5", "--round-to", "8", "-o", (d.path / "o.onnx").string()},
                   "--round-to rounds kept channel counts; it needs --granularity channel", d.path / "o.onnx");
}

TEST_CASE("prune: --round-to with --config is exit 2", "[e2e][prune][round_to]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path cfg = d.path / "c.json";
  {
    std::ofstream f(cfg);
    f << R"({"pass":"prune","granularity":"channel","layers":{"features.6.weight":0.5}})";
  }
  expect_bad_input({kExamples + "mobile.onnx", "--config", cfg.string(), "--round-to", "8", "-o", (d.path / "o.onnx").string()},
                   "--round-to and --config exclude each other", d.path / "o.onnx");
}

// A global ratio on filters of fewer than 16 weights (mobile's 3x3 depthwise Convs and 1-channel stem)
// is what destroys a depthwise model: prune says so on stderr (and in --json) and names them; not on
// the MLP, not when they are excluded, not for channel pruning.
TEST_CASE("prune: a warning names the small-filter layers a global ratio prunes", "[e2e][prune]") {
  mc::test::TempDir d("mc_e2e_prune");
  const fs::path out = d.path / "o.onnx";
  const std::string small = "/features/features.0/Conv,/features/features.3/Conv,/features/features.9/Conv,"
                            "/features/features.15/Conv,/features/features.21/Conv,/features/features.27/Conv,"
                            "/features/features.33/Conv";
  auto r = prune({kExamples + "mobile.onnx", "--ratio", "0.5", "-o", out.string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("prune: warning: 7 pruned layer(s) have filters of fewer than 16 weights") != std::string::npos);
  CHECK(r.err.find("--exclude " + small) != std::string::npos);
  r = prune({kExamples + "mobile.onnx", "--ratio", "0.5", "--json", "-o", out.string()});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["warning"].get<std::string>().find("7 pruned layer(s)") == 0);
  r = prune({kExamples + "mobile.onnx", "--ratio", "0.5", "--exclude", small, "-o", out.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning") == std::string::npos);
  r = prune({kExamples + "mlp.onnx", "--ratio", "0.7", "-o", out.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning") == std::string::npos);
  r = prune({kExamples + "mobile.onnx", "--granularity", "channel", "--ratio", "0.5", "-o", out.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning") == std::string::npos);
  // The same model with unnamed nodes: still warned, and --exclude is not offered names it cannot take.
  mc::Model m = mc::import_onnx_file(kExamples + "mobile.onnx");
  for (auto& n : m.graph.nodes) n.name.clear();
  const fs::path anon = d.path / "anon.onnx";
  mc::export_onnx_file(m, anon.string());
  r = prune({anon.string(), "--ratio", "0.5", "-o", out.string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning: 7 pruned layer(s)") != std::string::npos);
  CHECK(r.err.find("(7 of them unnamed nodes") != std::string::npos);
  CHECK(r.err.find("--exclude /") == std::string::npos);
}
