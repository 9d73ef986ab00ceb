// Pad (ONNX opset 11-18), any dtype; modes constant, reflect, edge ("wrap" is rejected).
// pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...], negative values crop. With the
// optional axes input, pads cover only those axes. Each output element maps back to an
// input coordinate per dim: inside -> copy; outside -> constant, mirrored (reflect,
// edge excluded) or clamped (edge).
#include <cstring>

#include "ops/ops.h"
#include "runtime/model.h"

namespace mcrt {
namespace {

constexpr int kMaxR = 8;
enum class PadMode { kConstant, kReflect, kEdge };

struct PadState : OpState {
  int rank = 0;
  size_t esz = 4;
  PadMode mode = PadMode::kConstant;
  int64_t in[kMaxR] = {}, out[kMaxR] = {}, pb[kMaxR] = {};
  int64_t numel = 0;
  uint8_t value[8] = {};  // constant value, in the tensor dtype
};

void run_pad(const NodePlan& n, const ExecContext& ctx) {
  const PadState& st = static_cast<const PadState&>(*n.state);
  const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[0]));
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  int64_t idx[kMaxR] = {};
  for (int64_t i = 0; i < st.numel; ++i) {
    int64_t src = 0;
    bool inside = true;
    for (int d = 0; d < st.rank; ++d) {
      int64_t c = idx[d] - st.pb[d];
      const int64_t len = st.in[d];
      if (c < 0 || c >= len) {
        if (st.mode == PadMode::kConstant) {
          inside = false;
          break;
        }
        if (st.mode == PadMode::kEdge) {
          c = c < 0 ? 0 : len - 1;
        } else {  // reflect; prepare ensured pad < len, so one mirror suffices
          c = c < 0 ? -c : 2 * (len - 1) - c;
        }
      }
      src = src * len + c;
    }
    std::memcpy(y + (size_t)i * st.esz, inside ? x + (size_t)src * st.esz : st.value, st.esz);
    for (int d = st.rank - 1; d >= 0; --d) {
      if (++idx[d] < st.out[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

Status prepare_pad(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const int64_t rank = (int64_t)x.shape.size();
  if (rank > kMaxR) return fail(n, StatusCode::kUnsupported, "rank > 8");
  const std::string mode = n.attrs.s(fb::AttrKey_mode, "constant");
  auto st = std::make_unique<PadState>();
  if (mode == "constant") st->mode = PadMode::kConstant;
  else if (mode == "reflect") st->mode = PadMode::kReflect;
  else if (mode == "edge") st->mode = PadMode::kEdge;
  else return fail(n, StatusCode::kUnsupported, "Pad mode '" + mode + "'");
  std::vector<int64_t> pads, axes;
  MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &pads));
  if (ctx.present(n, 3)) {
    MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 3, &axes));
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size()) return fail(n, StatusCode::kInvalidModel, "pads must have 2 values per axis");
  for (int64_t v : pads)
    if (v < -kMaxDim || v > kMaxDim) return fail(n, StatusCode::kInvalidModel, "pad value out of range");
  n.prepare_only_inputs |= 0xEu;
  st->rank = (int)rank;
  st->esz = dtype_size(x.dtype);
  int64_t pe[kMaxR] = {};
  for (int64_t d = 0; d < rank; ++d) st->in[d] = x.shape[(size_t)d];
  std::vector<char> seen((size_t)rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t ax;
    if (!normalize_axis(axes[i], rank, &ax) || seen[(size_t)ax])
      return fail(n, StatusCode::kInvalidModel, "axis out of range or repeated");
    seen[(size_t)ax] = 1;
    st->pb[ax] = pads[i];
    pe[ax] = pads[axes.size() + i];
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t o = st->in[d] + st->pb[d] + pe[d];
    if (o < 0 || st->pb[d] < -st->in[d] || pe[d] < -st->in[d])
      return fail(n, StatusCode::kInvalidModel, "negative pads crop more than the dim");
    const bool pads_here = st->pb[d] > 0 || pe[d] > 0;
    if (pads_here && st->mode != PadMode::kConstant && st->in[d] == 0)
      return fail(n, StatusCode::kInvalidModel, "reflect/edge padding of an empty dim");
    if (st->mode == PadMode::kReflect && (st->pb[d] >= st->in[d] || pe[d] >= st->in[d]) && pads_here)
      return fail(n, StatusCode::kUnsupported, "reflect pads must be smaller than the dim");
    st->out[d] = o;
    out.push_back(o);
  }
  if (ctx.present(n, 2)) {
    const TensorPlan& v = ctx.t(n.inputs[2]);
    if (v.dtype != x.dtype || shape_numel(v.shape) != 1)
      return fail(n, StatusCode::kInvalidModel, "constant_value must be a scalar of the input dtype");
    std::memcpy(st->value, v.const_data, st->esz);
  }
  st->numel = shape_numel(out);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x.dtype, out));
  n.state = std::move(st);
  n.run = run_pad;
  n.kernel_name = std::string("pad_") + mode + "_reference";
  return Status::Ok();
}

}  // namespace mcrt
