// The before/after summary of a verb that rewrites a model (optimize, export, prune,
// lowrank): the model's figures measured the same way on both sides, and the one line
// "<verb>: nodes A → B, params A → B, ..." that ends their text output.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::cli {

// Size and compute of a model and of the files that hold it.
struct ModelFigures {
  uint64_t nodes = 0, params = 0, nonzero_params = 0, macs = 0;
  uint64_t bytes = 0, gzip_bytes = 0;  // of `files` (measure_files)
};

// Stats of `m` (compute_stats) with the size of `files`: the model's own source files,
// or the file a verb wrote from it (a runtime file has no Model to read back).
ModelFigures measure_model(const Model& m, const std::vector<std::string>& files);

// One figure on both sides of the line.
struct FigureChange {
  std::string name;  // as printed: "params", "MACs", "nonzero params", ...
  uint64_t before = 0, after = 0;
  bool ratio = false;  // append " (after/before to 3 decimals x)", 0 when before is 0
};

// "<verb>: <name> <before> → <after>[ (r.rrrx)], ..." with thousands separators, no newline.
std::string before_after_line(const std::string& verb, const std::vector<FigureChange>& figures);

// The usual line, of optimize and export: "<verb>: nodes A → B, params A → B, MACs A → B, bytes A → B".
std::string before_after_line(const std::string& verb, const ModelFigures& before, const ModelFigures& after);

}  // namespace mc::cli
