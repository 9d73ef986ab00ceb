// What the benchmarks that time ONNX Runtime share: finding `node`, and timing one model in ORT
// (tests/peers/ort_run.js --bench) on a seeded uniform [-1, 1) float input, so that the runtime and
// ORT see the same input in the same run.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mc::bench {

// `given` when not empty, else $MC_NODE, else the first `node` on PATH; "" when none.
std::string find_node(const std::string& given);

struct OrtTiming {
  double p50_ms = 0, min_ms = 0;
  // With a profile path only (ort_run.js --profile: a second, profiled session makes the same
  // runs): ORT's own model_run p50, kernels per run, their summed time per run (medians).
  double profile_model_run_ms = 0, profile_kernels = 0, profile_kernel_ms = 0;
};

// Writes the input to `tmp`/input.npy and runs ort_run.js with `runs` timed runs after `warmup`
// (and, when `profile` is not empty, writes ORT's profiler trace there).
// Throws std::runtime_error with ort_run.js's stderr when it fails.
OrtTiming time_ort(const std::string& node, const std::string& model, const std::string& input_name,
                   const std::vector<int64_t>& shape, int runs, int warmup, const std::filesystem::path& tmp,
                   const std::filesystem::path& profile = {});

}  // namespace mc::bench
