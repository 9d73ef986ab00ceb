// QuantizeLinear and DequantizeLinear (ONNX opset 13), int8/uint8, per tensor or per axis.
//   Q:  y = saturate(round_half_to_even(x / scale) + zero_point)
//   DQ: y = (x - zero_point) * scale   (x may also be int32 with zero_point 0)
// Scale and zero point must be constants; the output dtype of Q is the zero point's
// (uint8 when absent).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/int8/int8_kernels.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct QdqState : OpState {
  DType qtype = DType::kU8;
  int64_t n = 0, inner = 1, channels = 1;  // per-axis: channel = (i / inner) % channels
  std::vector<float> scale;
  std::vector<int32_t> zp;
  bool simd = false;  // per tensor, a SIMD twin exists and the plan's int8 set is not the reference
};

void run_quantize(const NodePlan& n, const ExecContext& ctx) {
  const QdqState& st = static_cast<const QdqState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  const bool s8 = st.qtype == DType::kI8;
  if (st.scale.size() == 1) {  // per tensor: the rule in int8_kernels.h (SIMD twin unless MCRT_KERNELS=reference)
    if (st.simd) int8_quantize_f32(st.n, x, st.scale[0], st.zp[0], s8, y);
    else int8_quantize_f32_ref(st.n, x, st.scale[0], st.zp[0], s8, y);
    return;
  }
  for (int64_t c0 = 0; c0 < st.n; c0 += st.inner) {  // per axis: runs of `inner` elements share a channel
    const size_t c = (size_t)((c0 / st.inner) % st.channels);
    int8_quantize_f32_ref(std::min(st.inner, st.n - c0), x + c0, st.scale[c], st.zp[c], s8, y + c0);
  }
}

void run_dequantize(const NodePlan& n, const ExecContext& ctx) {
  const QdqState& st = static_cast<const QdqState&>(*n.state);
  const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[0]));
  float* y = ctx.outf(n.outputs[0]);
  for (int64_t i = 0; i < st.n; ++i) {
    const size_t c = st.scale.size() > 1 ? (size_t)((i / st.inner) % st.channels) : 0;
    int32_t q;
    if (st.qtype == DType::kI8) q = (int8_t)x[i];
    else if (st.qtype == DType::kU8) q = x[i];
    else std::memcpy(&q, x + 4 * i, 4);
    y[i] = (float)(q - st.zp[c]) * st.scale[c];
  }
}

Status prepare_qdq(PrepareContext& ctx, NodePlan& n, bool quantize) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  auto st = std::make_unique<QdqState>();
  MCRT_RETURN_IF_ERROR(ctx.const_floats(n, 1, &st->scale));
  n.prepare_only_inputs |= 0x6u;
  const int64_t rank = (int64_t)x.shape.size();
  if (st->scale.empty()) return fail(n, StatusCode::kInvalidModel, "empty scale");
  for (float s : st->scale)
    if (!(s > 0.f) || !std::isfinite(s)) return fail(n, StatusCode::kInvalidModel, "scale must be finite and > 0");
  if (st->scale.size() > 1) {
    int64_t axis;
    if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, 1), rank, &axis))
      return fail(n, StatusCode::kInvalidModel, "axis out of range");
    if (x.shape[(size_t)axis] != (int64_t)st->scale.size())
      return fail(n, StatusCode::kInvalidModel, "per-axis scale count != channel count (§4.3)");
    st->channels = x.shape[(size_t)axis];
    for (int64_t d = axis + 1; d < rank; ++d) st->inner *= x.shape[(size_t)d];
  }
  DType qt = quantize ? DType::kU8 : x.dtype;
  st->zp.assign(st->scale.size(), 0);
  if (ctx.present(n, 2)) {
    const TensorPlan& z = ctx.t(n.inputs[2]);
    if (z.dtype != DType::kI8 && z.dtype != DType::kU8 && !(z.dtype == DType::kI32 && !quantize))
      return fail(n, StatusCode::kUnsupported, "zero point must be int8 or uint8");
    if (shape_numel(z.shape) != (int64_t)st->scale.size())
      return fail(n, StatusCode::kInvalidModel, "zero point count != scale count (§4.3)");
    for (size_t i = 0; i < st->zp.size(); ++i) {
      if (z.dtype == DType::kI8) st->zp[i] = (int8_t)z.const_data[i];
      else if (z.dtype == DType::kU8) st->zp[i] = z.const_data[i];
      else std::memcpy(&st->zp[i], z.const_data + 4 * i, 4);
    }
    if (quantize) qt = z.dtype;
    else if (z.dtype != x.dtype) return fail(n, StatusCode::kInvalidModel, "zero point dtype != input dtype");
  }
  st->n = shape_numel(x.shape);
  if (quantize) {
    if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "QuantizeLinear input must be float32");
    st->qtype = qt;
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, qt, x.shape));
    n.run = run_quantize;
    const char* simd = int8_quantize_f32_simd();
    st->simd = simd && st->scale.size() == 1 && ctx.int8_kernels &&
                std::strcmp(ctx.int8_kernels->name, "reference") != 0;
    n.kernel_name = qt == DType::kI8 ? (st->simd ? "quantize_s8_sse2" : "quantize_s8_reference")
                                     : (st->simd ? "quantize_u8_sse2" : "quantize_u8_reference");
  } else {
    if (x.dtype != DType::kI8 && x.dtype != DType::kU8 && x.dtype != DType::kI32)
      return fail(n, StatusCode::kUnsupported, "DequantizeLinear input must be int8, uint8 or int32");
    st->qtype = x.dtype;
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, x.shape));
    n.run = run_dequantize;
    n.kernel_name = x.dtype == DType::kI8 ? "dequantize_s8_reference"
                    : x.dtype == DType::kU8 ? "dequantize_u8_reference" : "dequantize_s32_reference";
  }
  n.state = std::move(st);
  return Status::Ok();
}

}  // namespace

Status prepare_quantize_linear(PrepareContext& ctx, NodePlan& n) { return prepare_qdq(ctx, n, true); }
Status prepare_dequantize_linear(PrepareContext& ctx, NodePlan& n) { return prepare_qdq(ctx, n, false); }

}  // namespace mcrt
