// onnx.ValueInfoProto → mc::ValueInfo: the one conversion, used by the importer and by
// refresh_shapes. Tensor types become dtype + shape (symbolic dims kept by name);
// other types (sequence, optional, map) are kept as serialized TypeProto bytes.
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace onnx { class ValueInfoProto; }

namespace mc {

// Throws Error(Input) "<file>: value 'name' ..." for an unknown element type or a
// negative dimension.
ValueInfo value_info_from_proto(const onnx::ValueInfoProto& v, const std::string& file);

}  // namespace mc
