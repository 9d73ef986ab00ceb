// Reshape, Flatten, Squeeze, Unsqueeze (ONNX), any dtype: they change the shape only,
// so run is a copy of the bytes into the output's arena slot.
#include <algorithm>
#include <cstring>

#include "ops/ops.h"
#include "runtime/model.h"

namespace mcrt {
namespace {

struct CopyState : OpState {
  size_t bytes = 0;
};

void run_copy(const NodePlan& n, const ExecContext& ctx) {
  const CopyState& st = static_cast<const CopyState&>(*n.state);
  if (st.bytes) std::memcpy(ctx.out(n.outputs[0]), ctx.in(n.inputs[0]), st.bytes);
}

Status reshape_shape(PrepareContext& ctx, NodePlan& n, const Shape& in, Shape* out) {
  std::vector<int64_t> spec;
  MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &spec));
  n.prepare_only_inputs |= 1u << 1;
  const bool allowzero = n.attrs.i(fb::AttrKey_allowzero, 0) != 0;
  int infer = -1;
  int64_t known = 1;
  out->clear();
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= in.size()) return fail(n, StatusCode::kInvalidModel, "0 in shape refers past the input rank");
      d = in[i];
    }
    if (d == -1) {
      if (infer >= 0) return fail(n, StatusCode::kInvalidModel, "more than one -1 in shape");
      if (allowzero && std::find(spec.begin(), spec.end(), 0) != spec.end())
        return fail(n, StatusCode::kInvalidModel, "-1 together with 0 under allowzero");
      infer = (int)i;
      out->push_back(1);
      continue;
    }
    if (d < -1 || d > kMaxDim) return fail(n, StatusCode::kInvalidModel, "shape dim out of range");
    out->push_back(d);
    if (d != 0 && known > INT64_MAX / d)
      return fail(n, StatusCode::kInvalidModel, "shape element count overflows");
    known *= d;
  }
  const int64_t total = shape_numel(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return fail(n, StatusCode::kInvalidModel, "cannot infer the -1 dim");
    (*out)[(size_t)infer] = total / known;
  } else if (known != total) {
    return fail(n, StatusCode::kInvalidModel, "shape does not preserve the element count");
  }
  return Status::Ok();
}

}  // namespace

Status prepare_reshape_like(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const int64_t rank = (int64_t)x.shape.size();
  Shape out;
  switch (n.op) {
    case fb::OpType_Reshape:
      MCRT_RETURN_IF_ERROR(reshape_shape(ctx, n, x.shape, &out));
      break;
    case fb::OpType_Flatten: {
      int64_t axis = n.attrs.i(fb::AttrKey_axis, 1);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis > rank) return fail(n, StatusCode::kInvalidModel, "axis out of range");
      int64_t a = 1, b = 1;
      for (int64_t d = 0; d < rank; ++d) (d < axis ? a : b) *= x.shape[(size_t)d];
      out = {a, b};
      break;
    }
    case fb::OpType_Squeeze: {
      std::vector<int64_t> axes = n.attrs.ints(fb::AttrKey_axes);
      if (ctx.present(n, 1)) {
        MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &axes));
        n.prepare_only_inputs |= 1u << 1;
      }
      std::vector<char> drop((size_t)rank, 0);
      for (int64_t a : axes) {
        int64_t ax;
        if (!normalize_axis(a, rank, &ax)) return fail(n, StatusCode::kInvalidModel, "axis out of range");
        if (x.shape[(size_t)ax] != 1) return fail(n, StatusCode::kInvalidModel, "squeezed dim is not 1");
        drop[(size_t)ax] = 1;
      }
      for (int64_t d = 0; d < rank; ++d) {
        const bool squeeze = axes.empty() ? x.shape[(size_t)d] == 1 : drop[(size_t)d] != 0;
        if (!squeeze) out.push_back(x.shape[(size_t)d]);
      }
      break;
    }
    case fb::OpType_Unsqueeze: {
      std::vector<int64_t> axes = n.attrs.ints(fb::AttrKey_axes);
      if (ctx.present(n, 1)) {
        MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &axes));
        n.prepare_only_inputs |= 1u << 1;
      }
      if (axes.empty()) return fail(n, StatusCode::kInvalidModel, "Unsqueeze needs axes");
      const int64_t orank = rank + (int64_t)axes.size();
      std::vector<char> ins((size_t)orank, 0);
      for (int64_t a : axes) {
        int64_t ax;
        if (!normalize_axis(a, orank, &ax) || ins[(size_t)ax])
          return fail(n, StatusCode::kInvalidModel, "axis out of range or repeated");
        ins[(size_t)ax] = 1;
      }
      size_t k = 0;
      for (int64_t d = 0; d < orank; ++d) out.push_back(ins[(size_t)d] ? 1 : x.shape[k++]);
      break;
    }
    default:
      return fail(n, StatusCode::kUnsupported, "not a reshape op");
  }
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x.dtype, out));
  MCRT_RETURN_IF_ERROR(carry_quant(ctx, n));  // int8: the output keeps the input's quant
  auto st = std::make_unique<CopyState>();
  st->bytes = x.bytes;
  n.state = std::move(st);
  n.run = run_copy;
  n.kernel_name = "copy";
  return Status::Ok();
}

}  // namespace mcrt
