// Per-layer bit widths, as written by `sensitivity --pass quantize --auto -o` and read by
// `quantize --config` (weight-only and kmeans). JSON:
//   {"pass":"quantize","mode":"kmeans","layers":{"fc1.weight":4,"fc2.weight":8}}
// Keys name a layer by its weight initializer (or its node name); the bits must be ones the
// mode takes (weight-only: 8 or 4; kmeans: 2..8). Layers the config does not name stay fp32.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"
#include "quantize/quantize_model.h"
#include "quantize/weight_storage.h"

namespace mc::quant {

struct LayerBitsConfig {
  Mode mode = Mode::Kmeans;                             // WeightOnly or Kmeans
  std::vector<std::pair<std::string, int>> layers;      // key → bits, in file order
};

std::string bits_config_to_json(const LayerBitsConfig& c);
// Error(Input) "<source>: ..." on malformed JSON, a pass other than quantize, a mode other
// than weight-only/kmeans, bits that are not a whole number the mode takes, a duplicate key.
LayerBitsConfig parse_bits_config_json(const std::string& text, const std::string& source);
LayerBitsConfig read_bits_config_file(const std::string& path);  // at most 16 MiB

// Applies each entry with apply_weight_storage to its layer alone (`base` gives the other
// options: seed, init, block size, entropy flag; its mode and bits are replaced). Every key is
// resolved before the model changes: a key that names no Conv/Gemm/MatMul weight or node is
// Error(Input) listing the known weights. Returns one report row per configured layer.
WeightStorageReport apply_layer_bits(Model& m, const LayerBitsConfig& c, const WeightStorageOptions& base);

}  // namespace mc::quant
