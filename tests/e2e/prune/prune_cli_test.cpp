// `mcompress prune` end to end: the built binary on the bundled examples.
// Success paths check the JSON figures against the written file; every bad input
// gives exit 2, one line on stderr, and writes nothing.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compress/analysis/model_stats.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/run_process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mc_e2e_prune_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

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
  TempDir d;
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
}

TEST_CASE("prune: channel 0.5 on ResNet prints before/after and the per-group report; runtime format works", "[e2e][prune]") {
  TempDir d;
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
  TempDir d;
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "1.0", "-o", (d.path / "o.onnx").string()}, "[0, 1)",
                   d.path / "o.onnx");
}

TEST_CASE("prune: --ratio -0.1 is exit 2", "[e2e][prune]") {
  TempDir d;
  expect_bad_input({kExamples + "mlp.onnx", "--ratio=-0.1", "-o", (d.path / "o.onnx").string()}, "[0, 1)",
                   d.path / "o.onnx");
}

TEST_CASE("prune: n:m on a layer whose input dimension is not a multiple of m is exit 2 naming it", "[e2e][prune]") {
  TempDir d;
  expect_bad_input({kExamples + "lenet5.onnx", "--granularity", "2:4", "-o", (d.path / "o.onnx").string()},
                   "layer '/conv1/Conv' (Conv): input dimension 1 is not a multiple of 4", d.path / "o.onnx");
}

TEST_CASE("prune: --exclude that matches nothing is exit 2", "[e2e][prune]") {
  TempDir d;
  expect_bad_input({kExamples + "mlp.onnx", "--ratio", "0.5", "--exclude", "/fc9/Gemm", "-o",
                    (d.path / "o.onnx").string()},
                   "'/fc9/Gemm' matches no node", d.path / "o.onnx");
}

TEST_CASE("prune: missing --ratio, output == input, bad granularity are exit 2", "[e2e][prune]") {
  TempDir d;
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
