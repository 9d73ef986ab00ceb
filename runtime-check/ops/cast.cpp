// Cast (ONNX) between float32, int8, uint8, int32, int64 and bool. `to` uses the ONNX
// TensorProto codes. Float -> integer truncates toward zero and saturates at the target
// range (NaN -> 0), which keeps the conversion free of undefined behaviour; ONNX leaves
// out-of-range results undefined. Anything -> bool is (x != 0).
#include <cmath>
#include <cstring>

#include "ops/ops.h"

namespace mcrt {
namespace {

struct CastState : OpState {
  DType from = DType::kF32, to = DType::kF32;
  int64_t n = 0;
};

double load(DType t, const uint8_t* p) {
  switch (t) {
    case DType::kF32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::kI8: return (int8_t)p[0];
    case DType::kU8: return p[0];
    case DType::kBool: return p[0] ? 1 : 0;
    case DType::kI32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    default: { int64_t v; std::memcpy(&v, p, 8); return (double)v; }
  }
}

template <class T>
T sat(double v, double lo, double hi) {
  if (std::isnan(v)) return 0;
  v = std::trunc(v);
  return (T)(v < lo ? lo : (v > hi ? hi : v));
}

void run_cast(const NodePlan& n, const ExecContext& ctx) {
  const CastState& st = static_cast<const CastState&>(*n.state);
  const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[0]));
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  const size_t is = dtype_size(st.from);
  for (int64_t i = 0; i < st.n; ++i) {
    const uint8_t* p = x + (size_t)i * is;
    if (st.from == DType::kI64 && st.to == DType::kI64) {
      std::memcpy(y + 8 * i, p, 8);
      continue;
    }
    if (st.from == DType::kI64 && (st.to == DType::kI32 || st.to == DType::kI8 || st.to == DType::kU8)) {
      // Exact integer narrowing (wraps like ONNX Runtime's static_cast).
      int64_t v;
      std::memcpy(&v, p, 8);
      if (st.to == DType::kI32) { int32_t w = (int32_t)(uint32_t)(uint64_t)v; std::memcpy(y + 4 * i, &w, 4); }
      else y[i] = (uint8_t)(uint64_t)v;
      continue;
    }
    const double v = load(st.from, p);
    switch (st.to) {
      case DType::kF32: { float f = (float)v; std::memcpy(y + 4 * i, &f, 4); break; }
      case DType::kI8: { int8_t w = sat<int8_t>(v, -128, 127); std::memcpy(y + i, &w, 1); break; }
      case DType::kU8: y[i] = sat<uint8_t>(v, 0, 255); break;
      case DType::kBool: y[i] = v != 0.0; break;
      case DType::kI32: { int32_t w = sat<int32_t>(v, -2147483648.0, 2147483647.0); std::memcpy(y + 4 * i, &w, 4); break; }
      default: { int64_t w = sat<int64_t>(v, -9223372036854775808.0, 9223372036854774784.0); std::memcpy(y + 8 * i, &w, 8); break; }
    }
  }
}

}  // namespace

Status prepare_cast(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (!n.attrs.has(fb::AttrKey_to)) return fail(n, StatusCode::kInvalidModel, "Cast needs 'to'");
  DType to;
  switch (n.attrs.i(fb::AttrKey_to, 0)) {  // ONNX TensorProto.DataType
    case 1: to = DType::kF32; break;
    case 2: to = DType::kU8; break;
    case 3: to = DType::kI8; break;
    case 6: to = DType::kI32; break;
    case 7: to = DType::kI64; break;
    case 9: to = DType::kBool; break;
    default: return fail(n, StatusCode::kUnsupported, "Cast to ONNX type " + std::to_string(n.attrs.i(fb::AttrKey_to, 0)));
  }
  if (x.dtype == DType::kF16) return fail(n, StatusCode::kUnsupported, "Cast from float16 activations");
  auto st = std::make_unique<CastState>();
  st->from = x.dtype;
  st->to = to;
  st->n = shape_numel(x.shape);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, to, x.shape));
  n.state = std::move(st);
  n.run = run_cast;
  n.kernel_name = std::string("cast_") + dtype_name(x.dtype) + "_to_" + dtype_name(to);
  return Status::Ok();
}

}  // namespace mcrt
