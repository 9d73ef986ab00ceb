// Prepare-time checks shared by the int8 ops, and carry_quant for the int8 layout ops.
#include "ops/qlinear_common.h"

#include <cmath>
#include <string>

namespace mcrt {

Status int8_act_quant(const NodePlan& n, const TensorPlan& t, const char* what, ActQuant* q) {
  if (t.dtype != DType::kI8)
    return fail(n, StatusCode::kUnsupported, std::string(what) + " '" + t.name + "' must be int8, got " + dtype_name(t.dtype));
  if (!t.quant.present())
    return fail(n, StatusCode::kInvalidModel, std::string(what) + " '" + t.name + "' has no quantization parameters (§4.3)");
  if (t.quant.scale.size() != 1)
    return fail(n, StatusCode::kUnsupported, std::string(what) + " '" + t.name + "' must be quantized per tensor");
  q->scale = t.quant.scale[0];
  q->zp = t.quant.zp(0);
  return Status::Ok();
}

Status int8_act_range(const NodePlan& n, int32_t* lo, int32_t* hi) { return int8_act_range(n, n.attrs, lo, hi); }

Status int8_act_range(const NodePlan& n, const AttrMap& attrs, int32_t* lo, int32_t* hi) {
  const int64_t a = attrs.i(fb::AttrKey_act_min, -128), b = attrs.i(fb::AttrKey_act_max, 127);
  if (a < -128 || a > 127 || b < -128 || b > 127 || a > b)
    return fail(n, StatusCode::kInvalidModel, "act_min/act_max must satisfy -128 <= act_min <= act_max <= 127");
  *lo = (int32_t)a;
  *hi = (int32_t)b;
  return Status::Ok();
}

Status int8_weight_scales(const NodePlan& n, const TensorPlan& w, int axis, int64_t channels, std::vector<float>* s) {
  if (w.dtype != DType::kI8 || !w.is_const)
    return fail(n, StatusCode::kUnsupported, "weight '" + w.name + "' must be a constant int8 tensor");
  const QuantPlan& q = w.quant;
  if (!q.present()) return fail(n, StatusCode::kInvalidModel, "weight '" + w.name + "' has no quantization parameters (§4.3)");
  if (q.scale.size() != 1) {
    int ax = q.axis < 0 ? q.axis + (int)w.shape.size() : q.axis;
    if (ax != axis || (int64_t)q.scale.size() != channels)
      return fail(n, StatusCode::kInvalidModel, "weight '" + w.name + "': " + std::to_string(q.scale.size()) +
                                                    " scales on axis " + std::to_string(q.axis) + ", expected 1 or " +
                                                    std::to_string(channels) + " on axis " + std::to_string(axis));
  }
  for (size_t i = 0; i < q.zero_point.size(); ++i)
    if (q.zero_point[i] != 0)
      return fail(n, StatusCode::kUnsupported, "weight '" + w.name + "' must be symmetric (zero point 0)");
  const int64_t numel = shape_numel(w.shape);
  const int8_t* d = reinterpret_cast<const int8_t*>(w.const_data);
  for (int64_t i = 0; i < numel; ++i)
    if (d[i] == -128)
      return fail(n, StatusCode::kUnsupported, "weight '" + w.name + "' holds -128; int8 weights must be in [-127, 127]");
  s->assign((size_t)channels, q.scale[0]);
  if (q.scale.size() != 1) *s = q.scale;
  return Status::Ok();
}

Status int8_multipliers(const NodePlan& n, float sx, const std::vector<float>& sw, float sy, std::vector<float>* mult) {
  mult->resize(sw.size());
  for (size_t c = 0; c < sw.size(); ++c) {
    const float p = sx * sw[c];
    (*mult)[c] = p / sy;
    if (!std::isfinite((*mult)[c]))
      return fail(n, StatusCode::kUnsupported, "requantization multiplier (s_x*s_w)/s_y is not finite");
  }
  return Status::Ok();
}

Status int8_check_k(const NodePlan& n, int64_t K) {
  if (K <= 0) return fail(n, StatusCode::kInvalidModel, "empty reduction");
  if ((double)K * 255.0 * 127.0 >= 2147483648.0)
    return fail(n, StatusCode::kUnsupported, "reduction length K = " + std::to_string(K) +
                                                 " could overflow the int32 accumulator (K*255*127 >= 2^31)");
  return Status::Ok();
}

std::string int8_clamp_suffix(int32_t lo, int32_t hi) {
  if (lo == -128 && hi == 127) return "";
  return "+clamp[" + std::to_string(lo) + "," + std::to_string(hi) + "]";
}

Status carry_quant(PrepareContext& ctx, const NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  TensorPlan& y = ctx.t(n.outputs[0]);
  if (!x.quant.present() || x.quant.scale.size() != 1 || (x.dtype != DType::kI8 && x.dtype != DType::kU8))
    return Status::Ok();  // only per-tensor parameters survive a change of layout
  if (!y.quant.present()) {
    y.quant = x.quant;
    return Status::Ok();
  }
  if (!y.quant.same(x.quant))
    return fail(n, StatusCode::kInvalidModel, "output '" + y.name + "' declares other quantization parameters than input '" +
                                                  x.name + "' (an int8 layout op keeps them, §5)");
  return Status::Ok();
}

}  // namespace mcrt
