// Channel-pruned ONNX (mobile, resnet at 50%, with and without the least-squares re-fit;
// mobile at 65% with --round-to 16, re-fitted)
// gives the same outputs in ONNX Runtime as on the bundled runtime: `mcompress prune`,
// then `mcompress export --format runtime` + `mcrun --out-dir`, against tests/support's
// ORT peer, on 16 Fashion-MNIST test images.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "tests/support/fashion_mnist.h"
#include "tests/support/ort_peer.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

void run_ok(const std::vector<std::string>& argv) {
  const auto r = mc::test::run_process(argv, 600);
  INFO(argv[0] + " " + argv[1] + ": " + r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("channel-pruned mobile and resnet: ONNX Runtime and the runtime agree (with and without re-fit)",
          "[e2e][prune][channel][ort]") {
  REQUIRE(mc::test::ort_available());
  mc::test::TempDir d("mc_e2e_prune_ort");
  const auto x = mc::test::fashion_mnist_test_images(16);
  const fs::path xin = d.path / "x.npy";
  REQUIRE(mcrt::npy_write_file(xin.string(), x).ok());
  struct Case {
    const char* name;
    bool refit;
    std::vector<std::string> extra;  // besides --granularity channel
    const char* tag;
  };
  // The last case is mobile with --round-to 16 (kept counts 16/16/16/32/32/48/48).
  const std::vector<Case> cases = {{"mobile", false, {"--ratio", "0.5"}, "_p"},
                                   {"mobile", true, {"--ratio", "0.5"}, "_r"},
                                   {"resnet", false, {"--ratio", "0.5"}, "_p"},
                                   {"resnet", true, {"--ratio", "0.5"}, "_r"},
                                   {"mobile", true, {"--ratio", "0.65", "--round-to", "16"}, "_r16"}};
  for (const Case& c : cases) {
    const char* name = c.name;
    const bool refit = c.refit;
    INFO(name << (refit ? " re-fitted" : " plain") << " " << c.extra[1]);
    const std::string onnx = (d.path / (std::string(name) + c.tag + ".onnx")).string();
    const std::string mcrt = onnx + ".mcrt";
    std::vector<std::string> args = {MC_BIN, "prune", kExamples + name + ".onnx", "--granularity", "channel", "-o", onnx};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    if (refit)
      for (const char* a : {"--calib-data", "train-images-idx3-ubyte.gz", "--calib-size", "100", "--mean", "0.2860",
                            "--std", "0.3530"})
        args.push_back(std::string(a) == "train-images-idx3-ubyte.gz" ? kFashion + a : a);
    run_ok(args);
    run_ok({MC_BIN, "export", onnx, "--format", "runtime", "-o", mcrt});
    const fs::path out = d.path / (std::string(name) + c.tag);
    fs::create_directories(out);
    run_ok({MCRUN_BIN, mcrt, "--input", "input=" + xin.string(), "--batch", "16", "--out-dir", out.string()});
    mcrt::NpyArray rt;
    REQUIRE(mcrt::npy_read_file((out / "logits.npy").string(), &rt).ok());
    const auto ort = mc::test::run_in_ort(onnx, {{"input", x}});
    REQUIRE(ort.count("logits"));
    const auto a = mc::test::npy_floats(rt), b = mc::test::npy_floats(ort.at("logits"));
    REQUIRE(a.size() == b.size());
    REQUIRE(a.size() == 160);
    for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(a[i] - b[i]) <= 1e-4f + 1e-4f * std::fabs(b[i]));
  }
}
