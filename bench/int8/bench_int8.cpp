// bench_int8: latency of int8 models on the bundled runtime against the same model in fp32 on the
// runtime, and against ONNX Runtime running the QDQ ONNX, in the same run. Not a test: it prints a table.
//
//   bench_int8 [--runs N] [--warmup W] [--batches 1] [--node PATH] FP32.onnx QDQ.onnx [FP32.onnx QDQ.onnx ...]
//
// QDQ.onnx is a statically quantized model in QDQ form (`mcompress quantize MODEL --mode static -o
// QDQ.onnx`). The runtime loads both ONNX files through mc_check's run_check (optimize + export, so the
// QDQ file is lowered to the int8 ops by export/qdq_lowering) and times Interpreter::run() with one
// thread; ORT runs each file through `node tests/peers/ort_run.js MODEL --bench` (one intra-op thread,
// session.run() seen from Node, ~0.03 ms binding overhead per call). Inputs: seeded uniform [-1, 1).
// Printed ratios: runtime int8 / runtime fp32 (the target: <= 0.6 on the conv examples),
// ORT QDQ / ORT fp32, and runtime int8 / ORT QDQ. The step list of the int8 plan shows which layers
// run as int8 kernels.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/common/bench_args.h"
#include "bench/common/ort_bench.h"
#include "runtime-check/check/check_harness.h"
#include "runtime-check/npy/npy.h"
#include "tests/support/run_process.h"

namespace fs = std::filesystem;

namespace {

using mc::bench::find_node;

int usage() {
  std::fprintf(stderr,
               "usage: bench_int8 [--runs N] [--warmup W] [--batches 1,32] [--node PATH] FP32.onnx QDQ.onnx "
               "[FP32.onnx QDQ.onnx ...]\n");
  return 2;
}

struct Timing {
  double rt_p50 = 0, ort_p50 = 0;
  std::vector<std::string> kernels;
};

Timing time_model(const std::string& model, int64_t batch, int runs, int warmup, const std::string& node,
                  const fs::path& tmp) {
  mc::check::CheckOptions o;
  o.model = model;
  o.batch = batch;
  o.runs = runs;
  o.warmup = warmup;
  o.threads = 1;
  const mc::check::CheckReport r = mc::check::run_check(o);
  Timing t;
  t.rt_p50 = r.p50_ms;
  for (const auto& s : r.steps) t.kernels.push_back(s.op + " " + s.kernel + " " + std::to_string(s.p50_us) + " us");
  t.ort_p50 = mc::bench::time_ort(node, model, r.input_name, r.input_shape, runs, warmup, tmp).p50_ms;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  mc::bench::BenchArgs args;
  args.batches = {1};
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (mc::bench::take_bench_arg(argc, argv, i, args)) continue;
    const std::string a = argv[i];
    if (a == "-v") verbose = true;
    else return usage();
  }
  if (!mc::bench::bench_args_valid(args) || args.models.empty() || args.models.size() % 2 != 0) return usage();
  const int runs = args.runs, warmup = args.warmup;
  const std::vector<int64_t>& batches = args.batches;
  const std::string& node_arg = args.node;
  std::vector<std::string>& models = args.models;
  const std::string node = find_node(node_arg);
  if (node.empty()) {
    std::fprintf(stderr, "bench_int8: node not found (PATH or MC_NODE)\n");
    return 2;
  }
  char tmpl[] = "/tmp/mc_bench_int8_XXXXXX";
  if (!mkdtemp(tmpl)) return 3;
  const fs::path tmp = tmpl;
  struct Row {
    std::string model;
    int64_t batch;
    Timing fp32, int8;
  };
  std::vector<Row> rows;
  int rc = 0;
  for (size_t i = 0; i < models.size(); i += 2)
    for (int64_t b : batches) {
      try {
        Row r{fs::path(models[i]).stem().string(), b, {}, {}};
        r.fp32 = time_model(models[i], b, runs, warmup, node, tmp);
        r.int8 = time_model(models[i + 1], b, runs, warmup, node, tmp);
        rows.push_back(r);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_int8: %s batch %lld: %s\n", models[i].c_str(), (long long)b, e.what());
        rc = 3;
      }
    }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  std::printf("int8 vs fp32, 1 thread, %d runs after %d warm-up; p50 in ms\n", runs, warmup);
  std::printf("| model | batch | runtime fp32 | runtime int8 | int8/fp32 | ORT fp32 | ORT QDQ | ORT QDQ/fp32 | runtime int8 / ORT QDQ |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %lld | %.4f | %.4f | %.2f | %.4f | %.4f | %.2f | %.2f |\n", r.model.c_str(), (long long)r.batch,
                r.fp32.rt_p50, r.int8.rt_p50, r.int8.rt_p50 / r.fp32.rt_p50, r.fp32.ort_p50, r.int8.ort_p50,
                r.int8.ort_p50 / r.fp32.ort_p50, r.int8.rt_p50 / r.int8.ort_p50);
  std::printf("int8/fp32 = runtime int8 / runtime fp32 p50: the issue's target is <= 0.60 on the conv examples.\n");
  if (verbose)
    for (const auto& r : rows) {
      std::printf("%s int8 plan:\n", r.model.c_str());
      for (const auto& k : r.int8.kernels) std::printf("  %s\n", k.c_str());
    }
  return rc;
}
