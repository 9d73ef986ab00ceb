// LayerNormalization (ONNX opset 17), fp32: normalise over dims [axis, rank), then
// y = (x - mean) / sqrt(var + epsilon) * scale + bias, with scale and bias broadcast to
// the normalised dims. Mean and variance are accumulated in double (stash_type 1 = fp32
// or better). Only the first output (Y) is supported.
#include <cmath>

#include "kernels/parallel_for.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct LayerNormState : OpState {
  int64_t rows = 1, cols = 1;
  float eps = 1e-5f;
  // scale/bias broadcast to [cols]: element offsets via stride tables.
  BroadcastPlan sp, bp;
  bool has_bias = false;
};

// Element j of a tensor broadcast to [cols] with plan p (cols flattened row-major).
inline int64_t bcast_index(const BroadcastPlan& p, int64_t j) {
  int64_t off = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    off += (j % p.dims[d]) * p.sa[d];
    j /= p.dims[d];
  }
  return off;
}

void run_layer_norm(const NodePlan& n, const ExecContext& ctx) {
  const LayerNormState& st = static_cast<const LayerNormState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  const float* scale = ctx.inf(n.inputs[1]);
  const float* bias = st.has_bias ? ctx.inf(n.inputs[2]) : nullptr;
  float* y = ctx.outf(n.outputs[0]);
  const int64_t C = st.cols;
  parallel_for(ctx.pf, st.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      double mean = 0.0;
      for (int64_t j = 0; j < C; ++j) mean += xr[j];
      mean /= (double)C;
      double var = 0.0;
      for (int64_t j = 0; j < C; ++j) var += (xr[j] - mean) * (xr[j] - mean);
      var /= (double)C;
      const float inv = (float)(1.0 / std::sqrt(var + (double)st.eps));
      for (int64_t j = 0; j < C; ++j) {
        float v = (float)(xr[j] - mean) * inv * scale[bcast_index(st.sp, j)];
        if (bias) v += bias[bcast_index(st.bp, j)];
        yr[j] = v;
      }
    }
  });
}

}  // namespace

Status prepare_layer_norm(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (n.outputs.size() > 1) return fail(n, StatusCode::kUnsupported, "Mean/InvStdDev outputs are not supported");
  if (x.dtype != DType::kF32 || ctx.t(n.inputs[1]).dtype != DType::kF32)
    return fail(n, StatusCode::kUnsupported, "only float32 LayerNormalization");
  const int64_t rank = (int64_t)x.shape.size();
  int64_t axis;
  if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, -1), rank, &axis))
    return fail(n, StatusCode::kInvalidModel, "axis out of range");
  auto st = std::make_unique<LayerNormState>();
  st->eps = n.attrs.f(fb::AttrKey_epsilon, 1e-5f);
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  for (int64_t d = 0; d < axis; ++d) st->rows *= x.shape[(size_t)d];
  st->cols = shape_numel(norm);
  if (st->cols == 0) return fail(n, StatusCode::kInvalidModel, "empty normalised dims");
  Shape tmp;
  const Shape& ss = ctx.t(n.inputs[1]).shape;
  if (!broadcast_shape(ss, norm, &tmp) || tmp != norm)
    return fail(n, StatusCode::kInvalidModel, "Scale does not broadcast to the normalised dims");
  st->sp = make_broadcast_plan(ss, norm, norm);
  if (ctx.present(n, 2)) {
    const TensorPlan& b = ctx.t(n.inputs[2]);
    if (b.dtype != DType::kF32 || !broadcast_shape(b.shape, norm, &tmp) || tmp != norm)
      return fail(n, StatusCode::kInvalidModel, "B does not broadcast to the normalised dims");
    st->bp = make_broadcast_plan(b.shape, norm, norm);
    st->has_bias = true;
  }
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, x.shape));
  n.state = std::move(st);
  n.run = run_layer_norm;
  n.kernel_name = "layer_norm_reference";
  return Status::Ok();
}

}  // namespace mcrt
