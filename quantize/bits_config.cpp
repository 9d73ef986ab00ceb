// Per-layer bit-width config: see bits_config.h.
#include "quantize/bits_config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "compress/error.h"
#include "compress/io/json_input.h"
#include "compress/io/file_io.h"

namespace mc::quant {
namespace {
constexpr uint64_t kMaxConfigBytes = 16ull << 20;

bool is_weight_op(const Node& n) {
  return n.is_default_domain() && (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") &&
         n.inputs.size() > 1;
}
}  // namespace

std::string bits_config_to_json(const LayerBitsConfig& c) {
  nlohmann::ordered_json j;
  j["pass"] = "quantize";
  j["mode"] = mode_name(c.mode);
  j["layers"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : c.layers) j["layers"][k] = v;
  return j.dump(2) + "\n";
}

LayerBitsConfig parse_bits_config_json(const std::string& text, const std::string& source) {
  nlohmann::ordered_json j = parse_user_json(text, source);  // keeps the file's order of layers
  if (!j.is_object()) throw_input_error(source, "config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "pass" && it.key() != "mode" && it.key() != "layers")
      throw_input_error(source, "unknown key '" + it.key() + "' (expected pass, mode, layers)");
  if (!j.contains("pass") || !j["pass"].is_string() || j["pass"].get<std::string>() != "quantize")
    throw_input_error(source, "\"pass\" must be \"quantize\" (prune/lowrank configs go to prune/lowrank --config)");
  LayerBitsConfig c;
  const std::string mode = j.contains("mode") && j["mode"].is_string() ? j["mode"].get<std::string>() : "";
  if (mode == "weight-only") c.mode = Mode::WeightOnly;
  else if (mode == "kmeans") c.mode = Mode::Kmeans;
  else throw_input_error(source, "\"mode\": expected weight-only or kmeans");
  if (!j.contains("layers") || !j["layers"].is_object() || j["layers"].empty())
    throw_input_error(source, "\"layers\" must be a non-empty object {\"layer\": bits, ...}");
  std::set<std::string> seen;
  for (auto it = j["layers"].begin(); it != j["layers"].end(); ++it) {
    const auto& v = it.value();
    if (!v.is_number_integer()) throw_input_error(source, "layer '" + it.key() + "': bits " + v.dump() + " is not a whole number");
    const int64_t b = v.get<int64_t>();
    const bool ok = c.mode == Mode::WeightOnly ? (b == 8 || b == 4) : (b >= 2 && b <= 8);
    if (!ok)
      throw_input_error(source, "layer '" + it.key() + "': bits " + v.dump() + " with mode " + mode +
                                    (c.mode == Mode::WeightOnly ? " (expected 8 or 4)" : " (expected 2 to 8)"));
    if (!seen.insert(it.key()).second) throw_input_error(source, "layer '" + it.key() + "' is named twice");
    c.layers.emplace_back(it.key(), static_cast<int>(b));
  }
  return c;
}

LayerBitsConfig read_bits_config_file(const std::string& path) {
  return parse_bits_config_json(read_file_bounded(path, kMaxConfigBytes), path);
}

WeightStorageReport apply_layer_bits(Model& m, const LayerBitsConfig& c, const WeightStorageOptions& base) {
  std::vector<std::string> weights;  // every Conv/Gemm/MatMul weight, graph order
  std::vector<std::pair<std::string, int>> todo;
  std::set<std::string> seen;
  for (const auto& n : m.graph.nodes)
    if (is_weight_op(n)) weights.push_back(n.inputs[1]);
  for (const auto& [key, bits] : c.layers) {
    std::string w;
    for (const auto& n : m.graph.nodes)
      if (is_weight_op(n) && (n.inputs[1] == key || (!n.name.empty() && n.name == key))) w = n.inputs[1];
    if (w.empty()) {
      std::string known;
      for (const auto& k : weights) known += (known.empty() ? "" : ", ") + k;
      throw Error(ErrorKind::Input, "config: '" + key + "' names no Conv/Gemm/MatMul layer (known: " + known + ")");
    }
    if (!seen.insert(w).second) throw Error(ErrorKind::Input, "config: layer '" + w + "' is named twice");
    todo.emplace_back(w, bits);
  }
  WeightStorageReport out;
  uint64_t elems = 0;
  for (const auto& [w, bits] : todo) {
    WeightStorageOptions o = base;
    o.mode = c.mode == Mode::WeightOnly ? WeightStorageMode::WeightOnly : WeightStorageMode::KMeans;
    o.bits = bits;
    for (const auto& other : weights)
      if (other != w) o.exclude.push_back(other);
    validate_weight_storage_options(o);
    const WeightStorageReport r = apply_weight_storage(m, o);
    for (const auto& l : r.layers)
      if (l.weight == w) {
        out.layers.push_back(l);
        if (l.applied) {
          ++out.layers_applied;
          elems += l.elements;
        }
      }
  }
  out.summary = std::string(mode_name(c.mode)) + " per-layer bits (config): " + std::to_string(out.layers_applied) +
                " of " + std::to_string(todo.size()) + " configured layers, " + std::to_string(elems) + " weights";
  return out;
}

}  // namespace mc::quant
