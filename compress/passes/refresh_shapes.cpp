#include "compress/passes/refresh_shapes.h"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "compress/error.h"
#include "compress/onnx/guarded_inference.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/value_info_proto.h"

namespace mc {
namespace {

// Values whose inferred type the IR cannot hold (an element type outside its table)
// are skipped: the IR keeps them untyped.
bool value_from_proto(const onnx::ValueInfoProto& v, ValueInfo* vi) {
  try {
    *vi = value_info_from_proto(v, "shape inference");
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::string refresh_shapes(Model& m) {
  onnx::ModelProto mp;
  model_to_proto(m, &mp);
  // Stale entries must not constrain inference: start from the declared inputs/outputs only.
  mp.mutable_graph()->clear_value_info();
  if (std::string why = infer_shapes_guarded(mp); !why.empty()) return why;
  std::vector<ValueInfo> fresh;
  for (const auto& v : mp.graph().value_info()) {
    ValueInfo vi;
    if (value_from_proto(v, &vi)) fresh.push_back(std::move(vi));
  }
  m.graph.value_info = std::move(fresh);
  for (int i = 0; i < mp.graph().output_size() && i < static_cast<int>(m.graph.outputs.size()); ++i) {
    ValueInfo& out = m.graph.outputs[i];
    if (out.has_shape || out.name != mp.graph().output(i).name()) continue;
    ValueInfo vi;
    if (value_from_proto(mp.graph().output(i), &vi) && vi.has_shape) out = std::move(vi);
  }
  return {};
}

}  // namespace mc
