#include "cli/runtime_activations.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "compress/error.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "runtime-check/check/runtime_session.h"

namespace mc::cli {
namespace {

std::vector<uint8_t> observable_mcrt(const Model& m, const std::vector<std::string>& names) {
  Model c = m;
  Graph& g = c.graph;
  for (const auto& name : names)
    if (!g.is_graph_input(name) && !g.is_graph_output(name)) {
      ValueInfo vi;
      if (const ValueInfo* v = g.value(name)) vi = *v;
      vi.name = name;
      if (vi.dtype == DType::Undefined) vi.dtype = DType::F32;
      g.outputs.push_back(vi);
    }
  PassContext ctx;
  auto log = spdlog::default_logger()->clone("calibration-optimize");
  if (log->level() > spdlog::level::trace) log->set_level(spdlog::level::warn);
  ctx.log = log;
  optimize_for_runtime(c, ctx);
  for (const auto& name : names) {
    const bool produced = g.is_graph_input(name) ||
                          std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
                            return std::find(n.outputs.begin(), n.outputs.end(), name) != n.outputs.end();
                          });
    if (!produced) throw Error(ErrorKind::Internal, "calibration: value '" + name + "' does not exist on the runtime");
  }
  RuntimeExportOptions eo;
  eo.verify = false;  // the session loads and prepares it
  return export_runtime_bytes(c, eo);
}

}  // namespace

RuntimeActivations::RuntimeActivations(const data::DatasetOptions& d, const Model& m) {
  check::RuntimeSession s(observable_mcrt(m, {}), "model", 1);
  ds_ = std::make_unique<data::Dataset>(data::load_dataset(d, s.input_info().shape));
  if (ds_->num_samples() == 0) throw Error(ErrorKind::Input, d.data_path + ": no calibration samples");
}

prune::ActivationFn RuntimeActivations::fn() const {
  const data::Dataset* ds = ds_.get();
  return [ds](const Model& m, const std::vector<std::string>& names) -> prune::ActivationBatchFn {
    auto session = std::make_shared<check::RuntimeSession>(observable_mcrt(m, names), "calibration model", 1);
    const std::string input_name = session->input_info().name;
    return [ds, session, names, input_name](size_t start, size_t n) {
      const data::Batch b = ds->batch(start, n);
      mcrt::Interpreter& it = session->at_batch(static_cast<int64_t>(b.size));
      const mcrt::TensorInfo in = it.input(0);
      if (in.dtype != mcrt::DType::kF32) throw Error(ErrorKind::Input, "calibration: the model input is not float32");
      std::memcpy(in.data, b.data, in.bytes);
      const mcrt::Status st = it.run();
      if (!st.ok()) throw Error(ErrorKind::Internal, "calibration: the runtime failed to run the model");
      std::vector<prune::Activation> out;
      for (const auto& name : names) {
        prune::Activation a;
        if (name == input_name) {
          a.shape = b.shape;
          a.data.assign(b.data, b.data + in.bytes / sizeof(float));
          out.push_back(std::move(a));
          continue;
        }
        bool found = false;
        for (size_t i = 0; i < it.num_outputs() && !found; ++i) {
          const mcrt::TensorInfo o = it.output(i);
          if (o.name != name) continue;
          if (o.dtype != mcrt::DType::kF32) throw Error(ErrorKind::Internal, "calibration: '" + name + "' is not float32");
          a.shape = o.shape;
          a.data.resize(o.bytes / sizeof(float));
          std::memcpy(a.data.data(), o.data, o.bytes);
          found = true;
        }
        if (!found) throw Error(ErrorKind::Internal, "calibration: '" + name + "' is not an output of the runtime model");
        out.push_back(std::move(a));
      }
      return out;
    };
  };
}

}  // namespace mc::cli
