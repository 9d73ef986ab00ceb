// The pass interface and the one registration table (architecture.md, style.md §2).
//
// A pass is a plain function `PassReport run(Model&, PassContext&)` listed in the
// table in pass_registry.cpp with its name, a one-line summary and its options.
// There are no self-registering statics: adding a pass means adding one row.
//
// Contract for every pass:
//  - It receives a Model that import has validated (topological order, no cycles,
//    sizes checked) and leaves it valid: nodes stay in topological order, every
//    value a node reads is still defined, graph input and output names are kept.
//  - It reports what it changed (one line per change) and what it left alone and why.
//  - It walks graphs with explicit data structures, never recursion (security.md).
//  - It throws mc::Error(Input) for a model it cannot reason about (an op unknown to
//    ONNX's schema registry where the pass needs the op's semantics), naming the op.
//  - Passes of this folder work on the main graph; subgraphs (If/Loop/Scan bodies) are
//    left as they are, but the names they read from the main graph count as uses.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace spdlog { class logger; }

namespace mc {

// Sample inputs for passes that need data (calibration, sensitivity). Passes that
// need none ignore it; a pass that needs it and finds nullptr throws Error(Input).
struct SampleSource {
  virtual ~SampleSource() = default;
  virtual uint64_t size() const = 0;
  // Feeds for sample i: one tensor per real graph input, named like the input.
  virtual std::vector<Tensor> sample(uint64_t i) const = 0;
};

struct PassContext {
  std::shared_ptr<spdlog::logger> log;  // nullptr: spdlog's default logger
  uint64_t seed = 0;                     // every random choice of a pass derives from this
  const SampleSource* data = nullptr;    // optional
  // Progress of long passes: (pass name, done, total). May be empty.
  std::function<void(const std::string&, uint64_t, uint64_t)> progress;
  // Options by "pass.option" (e.g. "fold_constants.max_output_bytes"); each pass
  // documents its own in the table and rejects malformed values with Error(Input).
  std::map<std::string, std::string> options;

  // Option as an unsigned integer, or def when unset; Error(Input) when malformed.
  uint64_t option_u64(const std::string& key, uint64_t def) const;
  void info(const std::string& msg) const;
  void debug(const std::string& msg) const;
};

struct PassReport {
  std::string pass;                        // the pass name
  std::string summary;                     // one human line: "folded 3 BatchNormalization into Conv"
  std::vector<std::string> changes;        // one line per change made
  std::vector<std::string> left_alone;     // what the pass saw but did not change, and why
  std::map<std::string, int64_t> counters; // e.g. {"folded": 3}
  // Initializers the pass computed from finite inputs: `optimize` refuses to write
  // NaN/Inf in them (security.md: silent collapse).
  std::vector<std::string> new_tensors;
};

struct PassOption {
  const char* name;
  const char* default_value;
  const char* help;
};

using PassFn = PassReport (*)(Model&, PassContext&);

struct PassInfo {
  const char* name;
  const char* summary;
  std::vector<PassOption> options;
  PassFn run;
};

// The table, in the order `optimize` runs the passes by default.
const std::vector<PassInfo>& all_passes();
// nullptr when no pass has that name.
const PassInfo* find_pass(const std::string& name);
// Names of the passes `mcompress optimize` runs when --passes is not given.
std::vector<std::string> default_optimize_pipeline();

// Runs the named passes in order (Error(Input) for an unknown name, listing the known
// ones) and returns one report per pass.
std::vector<PassReport> run_passes(Model& m, PassContext& ctx, const std::vector<std::string>& names);

// The passes themselves (one file each).
PassReport constant_to_initializer(Model& m, PassContext& ctx);
PassReport fold_constants(Model& m, PassContext& ctx);
PassReport fold_batchnorm_into_conv(Model& m, PassContext& ctx);
PassReport remove_identity_and_dropout(Model& m, PassContext& ctx);
PassReport eliminate_dead_nodes(Model& m, PassContext& ctx);

}  // namespace mc
