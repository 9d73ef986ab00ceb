// Runs a model on the bundled runtime with chosen intermediate values as its outputs
// ("taps"): a copy of the model whose graph outputs are exactly `taps` is exported in
// memory (export_runtime_bytes) and run through mc_check's RuntimeSession. Calibration
// observes activations this way, and the report compares fp32 and quantized layers.
// QDQ patterns are not lowered to int8 ops here (RuntimeExportOptions::lower_qdq off).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::check { class RuntimeSession; }

namespace mc::quant {

class TapRunner {
 public:
  // Every tap must be a float32 value of m's main graph with a known shape (batch dim
  // first); Error(Internal) otherwise. `name` is used in messages.
  TapRunner(const Model& m, const std::vector<std::string>& taps, int threads, const std::string& name);
  ~TapRunner();

  // Elements of one sample of the (single) graph input.
  uint64_t input_sample_elems() const { return input_elems_; }
  // Runs n samples of input 0 (float32, C order); (*outs)[t] gets the n samples of tap t.
  void run(const float* x, size_t n, std::vector<std::vector<float>>* outs);

 private:
  std::vector<std::string> taps_;
  std::unique_ptr<check::RuntimeSession> session_;
  uint64_t input_elems_ = 0;
};

}  // namespace mc::quant
