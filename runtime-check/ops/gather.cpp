// Gather (ONNX), any data dtype, int32/int64 indices (negative ones count from the end).
// out[outer, idx..., inner] = data[outer, indices[idx...], inner]. Indices are data, so
// they are checked here at run time: an index out of range yields zeros and makes run()
// return kInvalidArgument (TFLM's rule: only data-dependent values are checked in Eval).
#include <cstring>

#include "ops/ops.h"

namespace mcrt {
namespace {

struct GatherState : OpState {
  int64_t outer = 1, axis_dim = 0, inner_bytes = 0, nidx = 0;
  bool idx64 = true;
};

void run_gather(const NodePlan& n, const ExecContext& ctx) {
  const GatherState& st = static_cast<const GatherState&>(*n.state);
  const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[0]));
  const void* ip = ctx.in(n.inputs[1]);
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  const size_t ib = (size_t)st.inner_bytes;
  for (int64_t o = 0; o < st.outer; ++o) {
    for (int64_t k = 0; k < st.nidx; ++k) {
      int64_t i = st.idx64 ? static_cast<const int64_t*>(ip)[k] : static_cast<const int32_t*>(ip)[k];
      if (i < 0) i += st.axis_dim;
      uint8_t* dst = y + (size_t)(o * st.nidx + k) * ib;
      if (i < 0 || i >= st.axis_dim) {
        std::memset(dst, 0, ib);
        if (ctx.data_error_node && *ctx.data_error_node < 0) *ctx.data_error_node = n.index;
        continue;
      }
      std::memcpy(dst, x + (size_t)(o * st.axis_dim + i) * ib, ib);
    }
  }
}

}  // namespace

Status prepare_gather(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& idx = ctx.t(n.inputs[1]);
  if (idx.dtype != DType::kI64 && idx.dtype != DType::kI32)
    return fail(n, StatusCode::kInvalidModel, "indices must be int64 or int32");
  const int64_t rank = (int64_t)x.shape.size();
  int64_t axis;
  if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, 0), rank, &axis))
    return fail(n, StatusCode::kInvalidModel, "axis out of range");
  auto st = std::make_unique<GatherState>();
  Shape out;
  int64_t inner = 1;
  for (int64_t d = 0; d < axis; ++d) {
    st->outer *= x.shape[(size_t)d];
    out.push_back(x.shape[(size_t)d]);
  }
  for (int64_t v : idx.shape) out.push_back(v);
  for (int64_t d = axis + 1; d < rank; ++d) {
    inner *= x.shape[(size_t)d];
    out.push_back(x.shape[(size_t)d]);
  }
  st->axis_dim = x.shape[(size_t)axis];
  st->inner_bytes = inner * (int64_t)dtype_size(x.dtype);
  st->nidx = shape_numel(idx.shape);
  st->idx64 = idx.dtype == DType::kI64;
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x.dtype, out));
  n.state = std::move(st);
  n.run = run_gather;
  n.kernel_name = "gather_reference";
  return Status::Ok();
}

}  // namespace mcrt
