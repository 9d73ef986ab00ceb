#include "compress/analysis/stats_json.h"

namespace mc {

nlohmann::ordered_json shape_to_json(const ValueInfo& v) {
  if (!v.has_shape) return nullptr;
  nlohmann::ordered_json s = nlohmann::ordered_json::array();
  for (const auto& d : v.shape) {
    if (d.is_known()) s.push_back(d.value);
    else if (!d.param.empty()) s.push_back(d.param);
    else s.push_back(nullptr);
  }
  return s;
}

namespace {
nlohmann::ordered_json value_json(const ValueInfo& v) {
  return {{"name", v.name}, {"dtype", v.is_tensor() ? dtype_name(v.dtype) : "non-tensor"}, {"shape", shape_to_json(v)}};
}
}  // namespace

nlohmann::ordered_json stats_to_json(const std::string& model_path, const Model& m, const ModelStats& st,
                             const FileSizes& files) {
  nlohmann::ordered_json j;
  j["model"] = model_path;
  j["ir_version"] = m.ir_version;
  j["producer"] = {{"name", m.producer_name}, {"version", m.producer_version}};
  j["opsets"] = nlohmann::ordered_json::array();
  for (const auto& o : m.opsets) j["opsets"].push_back({{"domain", o.domain}, {"version", o.version}});
  j["inputs"] = nlohmann::ordered_json::array();
  for (const ValueInfo* v : m.graph.real_inputs()) j["inputs"].push_back(value_json(*v));
  j["outputs"] = nlohmann::ordered_json::array();
  for (const auto& v : m.graph.outputs) j["outputs"].push_back(value_json(v));

  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& L : st.layers) {
    j["layers"].push_back({{"name", L.name},
                           {"op_type", L.op_type},
                           {"domain", L.domain},
                           {"known_op", L.known_op},
                           {"input_shapes", L.input_shapes},
                           {"output_shapes", L.output_shapes},
                           {"params", L.params},
                           {"macs", L.macs_known ? nlohmann::ordered_json(L.macs) : nlohmann::ordered_json(nullptr)},
                           {"weight_bytes", L.weight_bytes},
                           {"weight_dtype", L.weight_dtype},
                           {"sparsity", L.sparsity}});
  }
  j["unknown_ops"] = st.unknown_ops;
  j["files"] = nlohmann::ordered_json::array();
  for (const auto& f : files.files)
    j["files"].push_back({{"path", f.path}, {"bytes", f.bytes}, {"gzip_bytes", f.gzip_bytes}});
  j["totals"] = {{"params", st.params},
                 {"macs", st.macs},
                 {"macs_complete", st.macs_complete},
                 {"weight_bytes", st.weight_bytes},
                 {"zero_weights", st.zero_weights},
                 {"sparsity", st.sparsity},
                 {"file_bytes", files.bytes},
                 {"gzip_bytes", files.gzip_bytes},
                 {"nodes", st.nodes},
                 {"nodes_total", st.nodes_total}};
  return j;
}

}  // namespace mc
