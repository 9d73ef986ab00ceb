// IR → runtime file (.mcrt, docs/runtime-format.md), through the runtime's own
// writer (runtime-check/format/writer.h), so there is one definition of the format.
// Ops, attributes and dtypes the runtime cannot run are rejected here, at export,
// with an mc::Error(Input) naming the node and the problem: never computed wrongly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/passes/pass.h"

namespace mc {

struct RuntimeExportOptions {
  bool fp16_weights = false;  // store fp32 weights as fp16 (converted back at prepare); scales,
                              // clip bounds, pad values and resize scales stay fp32
  bool entropy_coding = false;  // store graph and weights as a coded body (LZ77 + Huffman segments,
                                // docs/runtime-format.md §2.1); decoded once at load
  bool strip_names = false;   // write no internal tensor and node names (graph inputs and outputs keep
                              // theirs; docs/runtime-format.md §4); names are for debugging
  bool lower_qdq = true;      // QDQ patterns -> runtime int8 ops (export/qdq_lowering.h); false keeps
                              // the QuantizeLinear/DequantizeLinear form (fp32 compute, for comparisons)
  bool verify = true;         // load + prepare the result on the runtime (batch 1); kUnsupported
                              // from prepare becomes Error(Input), any other failure Error(Internal)
};

struct RuntimeExportReport {
  uint64_t nodes = 0;
  uint64_t weight_bytes = 0;  // bytes of weights in the file (before the coding of a coded body)
  std::vector<std::string> notes;  // e.g. "Softmax 'sm': opset-11 semantics (coerced to 2-D)"
};

// The clean-up every runtime export needs first, in one place: the default optimize
// pipeline (Constant → initializer, Identity/Dropout removal, constant folding, BatchNorm
// folding, dead nodes), a check that folding created no NaN/Inf (Error Gate), and fresh
// shapes from ONNX shape inference (on failure the imported shapes stay, with a warning).
// `ctx` carries the logger; the pass reports are returned.
std::vector<PassReport> optimize_for_runtime(Model& m, PassContext& ctx);

// Requires static shapes except a leading batch dimension on graph inputs/outputs.
std::vector<uint8_t> export_runtime_bytes(const Model& m, const RuntimeExportOptions& opts = {},
                                          RuntimeExportReport* report = nullptr);
// Graph inputs (not initializers) that feed an input the runtime needs as a constant
// (shape-carrying inputs: Reshape shape, Slice starts/ends, Pad pads, Resize scales/sizes,
// axes inputs, Clip bounds, Conv weights, Q/DQ parameters). A caller that knows their
// values (e.g. the conformance harness) can turn them into initializers before exporting.
std::vector<std::string> runtime_constant_inputs(const Model& m);

// Atomic write; refuses to overwrite any of `inputs`.
void export_runtime_file(const Model& m, const std::string& path, const RuntimeExportOptions& opts = {},
                         const std::vector<std::string>& inputs = {}, RuntimeExportReport* report = nullptr);

}  // namespace mc
