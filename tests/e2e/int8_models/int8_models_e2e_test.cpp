// The int8 conv examples end to end: `mcompress quantize EX.onnx --mode static --format runtime` (Fashion-MNIST
// calibration) for lenet5, mobile and resnet; each runtime file is prepared with the best int8 set (on x86 with
// AVX512_VBMI: the VBMI depthwise and one-input-channel kernels) and with the reference int8 set, at batch 1
// and 3, 1 and 2 threads: the logits are the same bytes. Where the CPU has the VBMI kernels, the plan names
// them (mobile: six qconv2d_depthwise_avx512vbmi and a qconv2d_1ch_avx512vbmi stem; lenet5, resnet: the stem).

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "tests/support/run_process.h"
#include "tests/support/runtime_run.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";

using mc::test::count_containing;
using mc::test::RuntimeRun;

RuntimeRun run(const std::string& bytes, const mcrt::Int8KernelSet* ks, int batch, int threads) {
  mcrt::PrepareOptions po;
  po.batch = batch;
  po.int8_kernels = ks;
  return mc::test::run_runtime(bytes, po, threads);
}

bool vbmi_kernels() {
#if defined(__x86_64__)
  const char* cap = std::getenv("MCRT_KERNELS");
  return mcrt::int8_kernels_avx512vnni() != nullptr && __builtin_cpu_supports("avx512vbmi") && cap == nullptr;
#else
  return false;
#endif
}

}  // namespace

TEST_CASE("static int8 lenet5, mobile, resnet: the best int8 set gives the reference set's logits", "[e2e][int8]") {
  mc::test::TempDir d("mc_e2e_int8_models");
  struct Ex {
    const char* name;
    int depthwise, stems;  // VBMI kernels expected in the plan
  };
  for (const Ex& ex : {Ex{"lenet5", 0, 1}, Ex{"mobile", 6, 1}, Ex{"resnet", 0, 1}}) {
    INFO(ex.name);
    const fs::path q = d.path / (std::string(ex.name) + ".int8.mcrt");
    const auto qz = mc::test::run_process({MC_BIN, "quantize", kExamples + ex.name + ".onnx", "--mode", "static",
                                           "--calib-data", kData + "train-images-idx3-ubyte.gz", "--calib-size", "200",
                                           "--mean", "0.286", "--std", "0.353", "--format", "runtime", "-o", q.string(),
                                           "-q"},
                                          300);
    INFO(qz.err);
    REQUIRE(qz.exit_code == 0);
    std::ifstream f(q, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), {});
    REQUIRE(!bytes.empty());
    for (int batch : {1, 3}) {
      INFO("batch " << batch);
      const RuntimeRun ref = run(bytes, &mcrt::int8_kernels_reference(), batch, 1);
      REQUIRE(count_containing(ref.kernels, "qconv2d_") > 0);
      const RuntimeRun best = run(bytes, nullptr, batch, 1), best2 = run(bytes, nullptr, batch, 2);
      CHECK(best.y == ref.y);
      CHECK(best2.y == ref.y);
      if (vbmi_kernels()) {
        CHECK(count_containing(best.kernels, "qconv2d_depthwise_avx512vbmi") == ex.depthwise);
        CHECK(count_containing(best.kernels, "qconv2d_1ch_avx512vbmi") == ex.stems);
      }
    }
  }
}
