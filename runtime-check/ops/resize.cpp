// Resize (ONNX opset 11+), fp32, modes "nearest" (any dims) and "linear" (the last one or
// two dims; the others must keep their size). Scales or sizes are constants. Every
// output coordinate is mapped back per dim with the coordinate transformation mode
// (half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nearest),
// then rounded by nearest_mode (round_prefer_floor, round_prefer_ceil, floor, ceil) or
// split into two taps with weights (linear, coordinate clamped to the input). The taps are
// tabulated in prepare; run only reads tables. "cubic" and tf_crop_and_resize are rejected.
#include <cmath>
#include <cstring>

#include "ops/ops.h"
#include "runtime/model.h"

namespace mcrt {
namespace {

constexpr int kMaxR = 8;

struct ResizeState : OpState {
  int rank = 0;
  bool linear = false;
  int64_t in[kMaxR] = {}, out[kMaxR] = {};
  // Per dim and output index: nearest -> i0; linear -> i0, i1, w1 (weight of i1).
  std::vector<int64_t> i0[kMaxR], i1[kMaxR];
  std::vector<float> w1[kMaxR];
  int64_t numel = 0;
};

void run_resize_nearest(const NodePlan& n, const ExecContext& ctx) {
  const ResizeState& st = static_cast<const ResizeState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  int64_t idx[kMaxR] = {};
  for (int64_t i = 0; i < st.numel; ++i) {
    int64_t src = 0;
    for (int d = 0; d < st.rank; ++d) src = src * st.in[d] + st.i0[d][(size_t)idx[d]];
    y[i] = x[src];
    for (int d = st.rank - 1; d >= 0; --d) {
      if (++idx[d] < st.out[d]) break;
      idx[d] = 0;
    }
  }
}

// Linear: bilinear over the last two dims (H may be an unchanged dim with w1 = 0).
void run_resize_linear(const NodePlan& n, const ExecContext& ctx) {
  const ResizeState& st = static_cast<const ResizeState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const int r = st.rank;
  const int64_t IH = r >= 2 ? st.in[r - 2] : 1, IW = st.in[r - 1];
  const int64_t OH = r >= 2 ? st.out[r - 2] : 1, OW = st.out[r - 1];
  int64_t planes = 1;
  for (int d = 0; d < r - 2; ++d) planes *= st.in[d];
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * IH * IW;
    float* yp = y + p * OH * OW;
    for (int64_t oy = 0; oy < OH; ++oy) {
      const int64_t y0 = r >= 2 ? st.i0[r - 2][(size_t)oy] : 0, y1 = r >= 2 ? st.i1[r - 2][(size_t)oy] : 0;
      const float wy = r >= 2 ? st.w1[r - 2][(size_t)oy] : 0.f;
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t x0 = st.i0[r - 1][(size_t)ox], x1 = st.i1[r - 1][(size_t)ox];
        const float wx = st.w1[r - 1][(size_t)ox];
        const float top = xp[y0 * IW + x0] * (1.f - wx) + xp[y0 * IW + x1] * wx;
        const float bot = xp[y1 * IW + x0] * (1.f - wx) + xp[y1 * IW + x1] * wx;
        yp[oy * OW + ox] = top * (1.f - wy) + bot * wy;
      }
    }
  }
}

}  // namespace

Status prepare_resize(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 Resize");
  const int rank = (int)x.shape.size();
  if (rank < 1 || rank > kMaxR) return fail(n, StatusCode::kUnsupported, "rank must be 1..8");
  if (n.attrs.has(fb::AttrKey_axes)) return fail(n, StatusCode::kUnsupported, "Resize with axes");
  const std::string mode = n.attrs.s(fb::AttrKey_mode, "nearest");
  const std::string ctm = n.attrs.s(fb::AttrKey_coordinate_transformation_mode, "half_pixel");
  const std::string nm = n.attrs.s(fb::AttrKey_nearest_mode, "round_prefer_floor");
  if (mode != "nearest" && mode != "linear") return fail(n, StatusCode::kUnsupported, "Resize mode '" + mode + "'");
  if (ctm != "half_pixel" && ctm != "pytorch_half_pixel" && ctm != "align_corners" && ctm != "asymmetric" &&
      ctm != "tf_half_pixel_for_nearest")
    return fail(n, StatusCode::kUnsupported, "coordinate_transformation_mode '" + ctm + "'");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil")
    return fail(n, StatusCode::kUnsupported, "nearest_mode '" + nm + "'");
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (ctx.present(n, 2)) MCRT_RETURN_IF_ERROR(ctx.const_floats(n, 2, &scales));
  if (ctx.present(n, 3)) MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 3, &sizes));
  n.prepare_only_inputs |= 0xEu;
  if (!scales.empty() && !sizes.empty()) return fail(n, StatusCode::kInvalidModel, "both scales and sizes given");
  if (scales.empty() && sizes.empty()) return fail(n, StatusCode::kInvalidModel, "neither scales nor sizes given");
  if ((!scales.empty() && (int)scales.size() != rank) || (!sizes.empty() && (int)sizes.size() != rank))
    return fail(n, StatusCode::kInvalidModel, "scales/sizes length != rank");
  auto st = std::make_unique<ResizeState>();
  st->rank = rank;
  st->linear = mode == "linear";
  Shape out;
  for (int d = 0; d < rank; ++d) {
    const int64_t in = x.shape[(size_t)d];
    double scale;
    int64_t o;
    if (!sizes.empty()) {
      o = sizes[(size_t)d];
      if (o < 0 || o > kMaxDim || in == 0) return fail(n, StatusCode::kInvalidModel, "invalid sizes");
      scale = (double)o / (double)in;
    } else {
      scale = scales[(size_t)d];
      if (!(scale > 0.0) || !std::isfinite(scale)) return fail(n, StatusCode::kInvalidModel, "scales must be > 0");
      const double od = std::floor((double)in * scale);
      if (od > (double)kMaxDim) return fail(n, StatusCode::kInvalidModel, "scaled size out of range");
      o = (int64_t)od;
    }
    if (st->linear && d < rank - 2 && o != in)
      return fail(n, StatusCode::kUnsupported, "linear Resize of dims other than the last two");
    st->in[d] = in;
    st->out[d] = o;
    out.push_back(o);
  }
  // The output (and so every tap table) is bounded by the memory limit before tabulating.
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  for (int d = 0; d < rank; ++d) {
    const int64_t in = st->in[d], o = st->out[d];
    const double scale = !sizes.empty() ? (double)o / (double)in : (double)scales[(size_t)d];
    st->i0[d].resize((size_t)o);
    st->i1[d].resize((size_t)o);
    st->w1[d].resize((size_t)o);
    for (int64_t i = 0; i < o; ++i) {
      double c;
      if (ctm == "half_pixel") c = (i + 0.5) / scale - 0.5;
      else if (ctm == "pytorch_half_pixel") c = o > 1 ? (i + 0.5) / scale - 0.5 : 0.0;
      else if (ctm == "align_corners") c = o > 1 ? (double)i * (double)(in - 1) / (double)(o - 1) : 0.0;
      else if (ctm == "asymmetric") c = i / scale;
      else c = (i + 0.5) / scale;  // tf_half_pixel_for_nearest
      if (!st->linear) {
        double r;
        if (nm == "floor") r = std::floor(c);
        else if (nm == "ceil") r = std::ceil(c);
        else if (nm == "round_prefer_ceil") r = std::floor(c + 0.5);
        else r = (c - std::floor(c) == 0.5) ? std::floor(c) : std::floor(c + 0.5);
        int64_t k = (int64_t)r;
        k = k < 0 ? 0 : (k >= in ? in - 1 : k);
        st->i0[d][(size_t)i] = k;
      } else {
        if (c < 0) c = 0;
        if (c > (double)(in - 1)) c = (double)(in - 1);
        const int64_t k0 = (int64_t)std::floor(c);
        st->i0[d][(size_t)i] = k0;
        st->i1[d][(size_t)i] = k0 + 1 < in ? k0 + 1 : in - 1;
        st->w1[d][(size_t)i] = (float)(c - (double)k0);
      }
    }
  }
  st->numel = shape_numel(out);
  n.state = std::move(st);
  n.run = mode == "linear" ? run_resize_linear : run_resize_nearest;
  n.kernel_name = mode == "linear" ? "resize_linear_reference" : "resize_nearest_reference";
  return Status::Ok();
}

}  // namespace mcrt
