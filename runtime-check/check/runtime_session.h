// A model ready to run on the bundled runtime, for measurement (the `check` harness).
//
// open_runtime_artifact turns what the user names into .mcrt bytes: a file starting with
// the magic "MCRT" is used as is; anything else is read as ONNX, imported, cleaned up
// with the default `optimize` pipeline and exported in memory (export_runtime_bytes).
//
// RuntimeSession loads those bytes once (mcrt::Model) and keeps one prepared
// Interpreter per batch size it was asked to run, so a data set of 10,050 samples at
// batch 100 prepares two (100 and 50). Runtime failures become mc::Error: an invalid or
// unsupported model is Input (exit 2), out of memory is Internal (exit 3).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace mc::check {

struct RuntimeArtifact {
  std::string path;
  bool from_onnx = false;         // true: imported, optimized and exported in memory
  uint64_t file_bytes = 0;        // the user's file(s) on disk (ONNX: model + external data)
  std::vector<uint8_t> mcrt;      // the runtime file's bytes
  std::vector<std::string> export_notes;  // from the exporter (ONNX only)
};

// Throws mc::Error(Input) "<path>: ..." for a missing, unreadable or unconvertible model.
RuntimeArtifact open_runtime_artifact(const std::string& path);

class RuntimeSession {
 public:
  // Loads (verifies) the bytes; `name` is used in error messages.
  RuntimeSession(const std::vector<uint8_t>& mcrt_bytes, const std::string& name, int threads);
  ~RuntimeSession();
  RuntimeSession(const RuntimeSession&) = delete;
  RuntimeSession& operator=(const RuntimeSession&) = delete;

  // The interpreter prepared for `batch` (prepared on first use).
  mcrt::Interpreter& at_batch(int64_t batch);
  const mcrt::Model& model() const { return *model_; }
  const std::string& name() const { return name_; }

  // Input 0 and output 0 at batch 1: name, dtype, shape (batch dim included, = 1).
  mcrt::TensorInfo input_info();
  mcrt::TensorInfo output_info();
  // Elements of one sample of input 0 / output 0.
  uint64_t input_sample_elems();
  uint64_t output_sample_elems();

  // Runs `n` samples of input 0 (float32, C order) and returns output 0 as float32
  // (n × output_sample_elems()). Other inputs, if any, keep the values they were given
  // (zeros unless set through at_batch()). Requires input 0 to be float32.
  std::vector<float> run_f32(const float* x, size_t n);

 private:
  std::string name_;
  int threads_;
  std::vector<uint8_t> bytes_;
  std::unique_ptr<mcrt::Model> model_;
  std::map<int64_t, std::unique_ptr<mcrt::Interpreter>> prepared_;
};

}  // namespace mc::check
