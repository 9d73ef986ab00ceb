#include "compress/onnx/value_info_proto.h"

#include <onnx/onnx_pb.h>

#include "compress/error.h"

namespace mc {

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& v, const std::string& file) {
  ValueInfo vi;
  vi.name = v.name();
  vi.doc_string = v.doc_string();
  if (!v.has_type()) return vi;
  const auto& tp = v.type();
  if (tp.value_case() != onnx::TypeProto::kTensorType) {
    vi.opaque_type = tp.SerializeAsString();
    return vi;
  }
  const auto& tt = tp.tensor_type();
  if (tt.elem_type() != 0 && !dtype_is_known(tt.elem_type()))
    throw_input_error(file, "value '" + vi.name + "' has unknown element type " + std::to_string(tt.elem_type()));
  vi.dtype = static_cast<DType>(tt.elem_type());
  if (tt.has_shape()) {
    vi.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          throw_input_error(file, "value '" + vi.name + "' has negative dimension " + std::to_string(d.dim_value()));
        vi.shape.push_back(Dim::known(d.dim_value()));
      } else if (d.has_dim_param()) {
        vi.shape.push_back(Dim::symbol(d.dim_param()));
      } else {
        vi.shape.push_back(Dim{});
      }
    }
  }
  return vi;
}

}  // namespace mc
