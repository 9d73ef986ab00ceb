// The per-layer ratio config (JSON) written by `sensitivity --auto -o` and read by
// `prune --config` / `lowrank --config`: see LayerRatioConfig in sensitivity.h.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "compress/error.h"
#include "compress/io/json_input.h"
#include "compress/io/file_io.h"
#include "prune/sensitivity.h"

namespace mc::prune {

namespace {
constexpr uint64_t kMaxConfigBytes = 16ull << 20;
}

std::string config_to_json(const LayerRatioConfig& c) {
  nlohmann::ordered_json j;
  j["pass"] = pass_name(c.pass);
  if (c.pass == SensitivityPass::Prune) j["granularity"] = granularity_name(c.granularity);
  j["layers"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : c.layers) j["layers"][k] = v;
  return j.dump(2) + "\n";
}

LayerRatioConfig parse_config_json(const std::string& text, const std::string& source) {
  nlohmann::ordered_json j = parse_user_json(text, source);  // keeps the file's order of layers
  if (!j.is_object()) throw_input_error(source, "config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "pass" && it.key() != "granularity" && it.key() != "layers")
      throw_input_error(source, "unknown key '" + it.key() + "' (expected pass, granularity, layers)");
  LayerRatioConfig c;
  if (!j.contains("pass") || !j["pass"].is_string()) throw_input_error(source, "missing \"pass\" (prune or lowrank)");
  const std::string pass = j["pass"].get<std::string>();
  if (pass == "prune") c.pass = SensitivityPass::Prune;
  else if (pass == "lowrank") c.pass = SensitivityPass::Lowrank;
  else throw_input_error(source, "\"pass\": '" + pass + "' (expected prune or lowrank)");
  if (j.contains("granularity")) {
    if (c.pass != SensitivityPass::Prune) throw_input_error(source, "\"granularity\" is for pass prune only");
    const auto& g = j["granularity"];
    const std::string gs = g.is_string() ? g.get<std::string>() : "";
    if (gs == "unstructured") c.granularity = Granularity::Unstructured;
    else if (gs == "channel") c.granularity = Granularity::Channel;
    else throw_input_error(source, "\"granularity\": expected unstructured or channel");
  }
  if (!j.contains("layers") || !j["layers"].is_object() || j["layers"].empty())
    throw_input_error(source, "\"layers\" must be a non-empty object {\"layer\": ratio, ...}");
  std::set<std::string> seen;
  for (auto it = j["layers"].begin(); it != j["layers"].end(); ++it) {
    const auto& v = it.value();
    if (!v.is_number()) throw_input_error(source, "layer '" + it.key() + "': ratio is not a number");
    const double r = v.get<double>();
    if (c.pass == SensitivityPass::Prune && !(std::isfinite(r) && r >= 0.0 && r < 1.0))
      throw_input_error(source, "layer '" + it.key() + "': ratio " + v.dump() + " is outside [0, 1)");
    if (c.pass == SensitivityPass::Lowrank && !(std::isfinite(r) && r > 0.0 && r <= 1.0))
      throw_input_error(source, "layer '" + it.key() + "': rank ratio " + v.dump() + " is outside (0, 1]");
    if (!seen.insert(it.key()).second) throw_input_error(source, "layer '" + it.key() + "' is named twice");
    c.layers.emplace_back(it.key(), r);
  }
  return c;
}

LayerRatioConfig read_config_file(const std::string& path) {
  return parse_config_json(read_file_bounded(path, kMaxConfigBytes), path);
}

}  // namespace mc::prune
