// Runs a model on the bundled runtime with chosen intermediate values as its outputs
// ("taps"): a copy of the model whose graph outputs are exactly `taps` is exported in
// memory (export_runtime_bytes) and run through mc_check's RuntimeSession. Calibration
// observes activations this way, and the report compares fp32 and quantized layers.
// With lower_qdq off (static QDQ taps read float values) the Q/DQ form runs in fp32; on,
// QDQ and dynamic patterns run as the runtime's int8 ops (only graph outputs are tapped then).
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
  TapRunner(const Model& m, const std::vector<std::string>& taps, int threads, const std::string& name,
            bool lower_qdq = false);
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
