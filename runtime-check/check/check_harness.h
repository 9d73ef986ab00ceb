// The `check` measurement harness: what a compressed model costs and how well it works
// on the bundled runtime. cli/check.cpp parses flags, calls run_check and prints.
//
// What is measured, and how (the same definitions in the text table and the JSON):
//  * size: bytes of the user's file(s) on disk, bytes of the runtime file (.mcrt; for an
//    ONNX model, the one exported in memory), gzip (zlib level 9, gzip wrapper) of the
//    runtime file;
//  * memory: weight bytes the prepared interpreter keeps (entropy-coded buffers decoded at
//    load included), and its peak arena bytes, both at --batch; the weight buffers' bytes on
//    disk are reported beside them;
//  * latency: wall time of Interpreter::run() at --batch, with seeded uniform [-1, 1)
//    inputs, `warmup` untimed runs then `runs` timed ones; p50 and p90 are nearest-rank
//    percentiles of the sorted times, min the smallest;
//  * accuracy (data with labels): argmax over the last dim of output 0, per sample;
//    top-5 only when there are >= 5 classes. The whole data set (or --limit) is run in
//    batches of `eval_batch`, in file order: deterministic;
//  * fidelity vs a reference (another model run on the runtime, or reference outputs
//    read from an .npy): on the data when given, otherwise on `random_samples` seeded
//    uniform [-1, 1) inputs. agreement = % of samples with the same argmax; max abs
//    error over all elements of output 0; SNR = 10·log10(Σref² / Σ(ref−out)²) dB
//    (infinite, reported as null / "inf", when the outputs are identical). With labels, the
//    reference's own top-1 on the same data too (for a gate on the accuracy drop).
// Errors: mc::Error(Input) for bad files, data that does not fit the model (message
// "expected ..., got ..."), or a reference whose output shape differs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compress/data/dataset.h"

namespace mc::check {

struct CheckOptions {
  std::string model;
  std::string reference;          // ONNX or .mcrt, run on the runtime; "" = none
  std::string reference_outputs;  // .npy of reference outputs on the same inputs; "" = none
  std::optional<data::DatasetOptions> data;  // --data, --labels, --mean, --std, --layout, --limit
  int64_t batch = 1;              // latency and memory figures
  int runs = 50;
  int warmup = 5;
  int threads = 1;
  uint64_t seed = 0;
  size_t eval_batch = 100;        // batch size for accuracy and fidelity runs
  size_t random_samples = 100;    // fidelity inputs when there is no data (--limit overrides)
};

struct StepReport {
  int node_index = 0;
  std::string op;
  std::string kernel;
  double p50_us = 0;  // median wall time of the step over the timed runs (Interpreter::run_profiled)
};

struct AccuracyReport {
  uint64_t samples = 0;
  uint64_t classes = 0;
  uint64_t top1_correct = 0;
  double top1 = 0;                 // percent
  std::optional<uint64_t> top5_correct;
  std::optional<double> top5;      // percent, when classes >= 5
};

struct FidelityReport {
  std::string reference;           // path of the reference model or outputs
  std::string inputs;              // "data" or "random"
  uint64_t samples = 0;
  uint64_t agree = 0;
  double agreement = 0;            // percent
  double max_abs_error = 0;
  std::optional<double> snr_db;    // empty when the outputs are identical (infinite SNR)
  std::optional<double> reference_top1;  // percent: the reference's own top-1 on the data, with labels
};

struct CheckReport {
  std::string model;
  std::string format;              // "onnx" (exported in memory) or "mcrt"
  uint64_t file_bytes = 0;
  uint64_t runtime_file_bytes = 0;
  uint64_t gzip_bytes = 0;
  uint64_t weight_bytes = 0;       // in memory after prepare (decoded buffers included)
  uint64_t weight_disk_bytes = 0;  // weight buffers as stored in the runtime file (coded size when coded)
  uint64_t decoded_bytes = 0;      // entropy-coded buffers decoded at load (§3.1)
  uint64_t arena_bytes = 0;
  std::string input_name;
  std::vector<int64_t> input_shape;    // at --batch
  std::string output_name;
  std::vector<int64_t> output_shape;   // at --batch
  std::string kernel_set;
  int threads = 1;
  int64_t batch = 1;
  int runs = 0, warmup = 0;
  double p50_ms = 0, p90_ms = 0, min_ms = 0;
  std::vector<StepReport> steps;
  std::vector<std::string> export_notes;
  std::optional<AccuracyReport> accuracy;
  std::optional<FidelityReport> fidelity;
};

CheckReport run_check(const CheckOptions& options);

// Nearest-rank percentile (p in [0, 1]) of sorted, non-empty values.
double percentile_sorted(const std::vector<double>& sorted, double p);

}  // namespace mc::check
