#include "quantize/tap_runner.h"

#include <cstring>

#include "check/runtime_session.h"
#include "compress/error.h"
#include "export/runtime_export.h"

namespace mc::quant {

TapRunner::TapRunner(const Model& m, const std::vector<std::string>& taps, int threads, const std::string& name,
                     bool lower_qdq)
    : taps_(taps) {
  Model copy = m;
  std::vector<ValueInfo> outs;
  for (const auto& t : taps) {
    const ValueInfo* vi = copy.graph.value(t);
    if (!vi || !vi->has_shape || vi->dtype != DType::F32)
      throw Error(ErrorKind::Internal, name + ": no float32 shape known for value '" + t + "'");
    outs.push_back(*vi);
  }
  // The former outputs stay typed for the exporter (they may still be computed).
  for (const auto& o : m.graph.outputs) copy.graph.set_value_info(o);
  copy.graph.outputs = outs;
  RuntimeExportOptions eo;
  eo.verify = false;
  eo.lower_qdq = lower_qdq;
  const std::vector<uint8_t> bytes = export_runtime_bytes(copy, eo);
  session_ = std::make_unique<check::RuntimeSession>(bytes, name, threads);
  input_elems_ = session_->input_sample_elems();
}

TapRunner::~TapRunner() = default;

void TapRunner::run(const float* x, size_t n, std::vector<std::vector<float>>* outs) {
  mcrt::Interpreter& it = session_->at_batch(static_cast<int64_t>(n));
  const mcrt::TensorInfo in = it.input(0);
  std::memcpy(in.data, x, in.bytes);
  const mcrt::Status s = it.run();
  if (!s.ok()) throw Error(ErrorKind::Input, session_->name() + ": runtime run: " + s.to_string());
  outs->assign(taps_.size(), {});
  for (size_t i = 0; i < it.num_outputs(); ++i) {
    const mcrt::TensorInfo o = it.output(i);
    for (size_t t = 0; t < taps_.size(); ++t) {
      if (taps_[t] != o.name) continue;
      if (o.dtype != mcrt::DType::kF32) throw Error(ErrorKind::Internal, "tap '" + o.name + "' is not float32");
      (*outs)[t].resize(o.bytes / 4);
      std::memcpy((*outs)[t].data(), o.data, o.bytes);
    }
  }
}

}  // namespace mc::quant
