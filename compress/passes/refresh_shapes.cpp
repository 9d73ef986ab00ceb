#include "compress/passes/refresh_shapes.h"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "compress/onnx/onnx_export.h"

namespace mc {
namespace {

// ValueInfoProto → ValueInfo for what inference produced. Values with an element
// type outside the IR's table are skipped (the IR keeps them untyped).
bool value_from_proto(const onnx::ValueInfoProto& v, ValueInfo* vi) {
  vi->name = v.name();
  vi->doc_string = v.doc_string();
  if (!v.has_type()) return true;
  if (v.type().value_case() != onnx::TypeProto::kTensorType) {
    vi->opaque_type = v.type().SerializeAsString();
    return true;
  }
  const auto& tt = v.type().tensor_type();
  if (tt.elem_type() != 0 && !dtype_is_known(tt.elem_type())) return false;
  vi->dtype = static_cast<DType>(tt.elem_type());
  if (!tt.has_shape()) return true;
  vi->has_shape = true;
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) vi->shape.push_back(Dim::known(d.dim_value()));
    else if (d.has_dim_param()) vi->shape.push_back(Dim::symbol(d.dim_param()));
    else vi->shape.push_back(Dim{});
  }
  return true;
}

}  // namespace

std::string refresh_shapes(Model& m) {
  onnx::ModelProto mp;
  model_to_proto(m, &mp);
  // Stale entries must not constrain inference: start from the declared inputs/outputs only.
  mp.mutable_graph()->clear_value_info();
  try {
    onnx::ShapeInferenceOptions so(/*check_type=*/false, /*error_mode=*/0, /*enable_data_propagation=*/true);
    onnx::shape_inference::InferShapes(mp, onnx::OpSchemaRegistry::Instance(), so);
  } catch (const std::exception& e) {
    return e.what();
  }
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
