// bench_runtime_vs_ort: latency of the bundled runtime against ONNX Runtime on the example
// models, single thread, at batch 1 and batch 32. Not a test: it prints a table.
//
//   bench_runtime_vs_ort [--runs N] [--warmup W] [--batches 1,32] [--node PATH] [MODEL.onnx ...]
//
// Runtime: the ONNX model is imported, optimized and exported in memory, then timed in
// process through the mcrt library (mc_check's run_check: Interpreter::run() wall time,
// seeded uniform [-1, 1) inputs). ORT: `node tests/peers/ort_run.js MODEL --bench` with one
// intra-op thread, on an .npy of the same kind of inputs; its times are session.run()
// latency seen from Node, which adds about 0.03 ms of binding overhead per call: that is
// why batch 32 is reported too. ratio = runtime / ORT; <= 1.0 means the runtime is faster.
// Without model arguments, every examples/fashion-mnist/*.onnx is measured.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "compress/error.h"
#include "bench/common/bench_args.h"
#include "bench/common/ort_bench.h"
#include "runtime-check/check/check_harness.h"
#include "runtime-check/npy/npy.h"
#include "tests/support/run_process.h"

namespace fs = std::filesystem;

namespace {

struct Row {
  std::string model;
  int64_t batch;
  double rt_p50, rt_min, ort_p50, ort_min;
};

using mc::bench::find_node;

int usage() {
  std::fprintf(stderr,
               "usage: bench_runtime_vs_ort [--runs N] [--warmup W] [--batches 1,32] [--node PATH] [MODEL.onnx ...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  mc::bench::BenchArgs args;
  args.batches = {1, 32};
  for (int i = 1; i < argc; ++i)
    if (!mc::bench::take_bench_arg(argc, argv, i, args)) return usage();
  if (!mc::bench::bench_args_valid(args)) return usage();
  const int runs = args.runs, warmup = args.warmup;
  const std::vector<int64_t>& batches = args.batches;
  const std::string& node_arg = args.node;
  std::vector<std::string>& models = args.models;
  if (models.empty()) {
    for (const auto& e : fs::directory_iterator(std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist"))
      if (e.path().extension() == ".onnx") models.push_back(e.path().string());
    std::sort(models.begin(), models.end());
  }
  const std::string node = find_node(node_arg);
  if (node.empty()) {
    std::fprintf(stderr, "bench_runtime_vs_ort: node not found (PATH or MC_NODE)\n");
    return 2;
  }
  char tmpl[] = "/tmp/mc_bench_ort_XXXXXX";
  if (!mkdtemp(tmpl)) return 3;
  const fs::path tmp = tmpl;

  std::vector<Row> rows;
  int rc = 0;
  for (const auto& model : models) {
    for (int64_t b : batches) {
      try {
        mc::check::CheckOptions o;
        o.model = model;
        o.batch = b;
        o.runs = runs;
        o.warmup = warmup;
        o.threads = 1;
        const mc::check::CheckReport r = mc::check::run_check(o);

        const mc::bench::OrtTiming ort =
            mc::bench::time_ort(node, model, r.input_name, r.input_shape, runs, warmup, tmp);
        rows.push_back({fs::path(model).stem().string(), b, r.p50_ms, r.min_ms, ort.p50_ms, ort.min_ms});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_runtime_vs_ort: %s batch %lld: %s\n", model.c_str(), (long long)b, e.what());
        rc = 3;
      }
    }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);

  std::printf("runtime vs ONNX Runtime 1.30 (node), 1 thread, %d runs after %d warm-up; times in ms\n", runs, warmup);
  std::printf("| model | batch | runtime p50 | runtime min | ORT p50 | ORT min | ratio p50 | ratio min |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %lld | %.4f | %.4f | %.4f | %.4f | %.2f | %.2f |\n", r.model.c_str(), (long long)r.batch,
                r.rt_p50, r.rt_min, r.ort_p50, r.ort_min, r.rt_p50 / r.ort_p50, r.rt_min / r.ort_min);
  std::printf("ratio = runtime / ORT: <= 1.00 means the runtime is faster.\n");
  return rc;
}
