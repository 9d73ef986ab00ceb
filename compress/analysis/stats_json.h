// The machine-readable form of a model's statistics: what `inspect --json` prints,
// and what other verbs embed for their before/after figures. One JSON object:
//
//   { "model": path, "ir_version": 8, "producer": {"name", "version"},
//     "opsets": [{"domain": "", "version": 13}],
//     "inputs"/"outputs": [{"name", "dtype", "shape": [1, "N", null] | null}],
//         shape: null when the rank is unknown; a symbolic dim is its name, an unknown dim null
//     "layers": [{"name", "op_type", "domain", "known_op", "input_shapes", "output_shapes",
//                 "params", "macs" (null when unknown), "weight_bytes", "weight_dtype", "sparsity"}],
//         layer shapes are shape_string() spellings ("1x3x224x224", "?", "" for an omitted input)
//     "unknown_ops": ["op" | "domain:op"],
//     "files": [{"path", "bytes", "gzip_bytes"}],
//     "totals": {"params", "macs", "macs_complete", "weight_bytes", "zero_weights", "sparsity",
//                "file_bytes", "gzip_bytes", "nodes", "nodes_total"} }
//
// Keys keep the order above (nlohmann::ordered_json). sparsity values are fractions
// in [0, 1]; all counts are exact integers.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "compress/analysis/file_size.h"
#include "compress/analysis/model_stats.h"

namespace mc {

nlohmann::ordered_json shape_to_json(const ValueInfo& v);

nlohmann::ordered_json stats_to_json(const std::string& model_path, const Model& m, const ModelStats& st,
                             const FileSizes& files);

}  // namespace mc
