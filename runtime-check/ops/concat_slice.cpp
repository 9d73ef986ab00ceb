// Concat and Slice (ONNX), any dtype.
//   Concat: inputs equal except on `axis`; run copies each input's contiguous block per
//   outer index.
//   Slice: starts/ends/axes/steps are constants, clamped as the spec says (negative
//   values count from the end, steps may be negative); run walks the output with an
//   odometer over the input.
#include <algorithm>
#include <cstring>

#include "ops/ops.h"

namespace mcrt {
namespace {

constexpr int kMaxR = 8;

struct ConcatState : OpState {
  int64_t outer = 1;
  std::vector<size_t> block;  // bytes per outer index, per input
  size_t out_block = 0;
};

void run_concat(const NodePlan& n, const ExecContext& ctx) {
  const ConcatState& st = static_cast<const ConcatState&>(*n.state);
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  size_t off = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[k]));
    const size_t b = st.block[k];
    for (int64_t o = 0; o < st.outer; ++o)
      if (b) std::memcpy(y + (size_t)o * st.out_block + off, x + (size_t)o * b, b);
    off += b;
  }
}

struct SliceState : OpState {
  int rank = 0;
  size_t esz = 4;
  int64_t odims[kMaxR] = {};
  int64_t step[kMaxR] = {};  // input element stride per output step, per dim
  int64_t base = 0;          // input element offset of the first output element
  int64_t numel = 0;
};

void run_slice(const NodePlan& n, const ExecContext& ctx) {
  const SliceState& st = static_cast<const SliceState&>(*n.state);
  const uint8_t* x = static_cast<const uint8_t*>(ctx.in(n.inputs[0]));
  uint8_t* y = static_cast<uint8_t*>(ctx.out(n.outputs[0]));
  int64_t idx[kMaxR] = {};
  int64_t src = st.base;
  for (int64_t i = 0; i < st.numel; ++i) {
    std::memcpy(y + (size_t)i * st.esz, x + (size_t)src * st.esz, st.esz);
    for (int d = st.rank - 1; d >= 0; --d) {
      ++idx[d];
      src += st.step[d];
      if (idx[d] < st.odims[d]) break;
      src -= st.step[d] * idx[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

Status prepare_concat(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x0 = ctx.t(n.inputs[0]);
  const int64_t rank = (int64_t)x0.shape.size();
  int64_t axis;
  if (!n.attrs.has(fb::AttrKey_axis)) return fail(n, StatusCode::kInvalidModel, "axis is required");
  if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, 0), rank, &axis))
    return fail(n, StatusCode::kInvalidModel, "axis out of range");
  auto st = std::make_unique<ConcatState>();
  for (int64_t d = 0; d < axis; ++d) st->outer *= x0.shape[(size_t)d];
  Shape out = x0.shape;
  out[(size_t)axis] = 0;
  const size_t esz = dtype_size(x0.dtype);
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const TensorPlan& x = ctx.t(n.inputs[k]);
    if (x.dtype != x0.dtype || (int64_t)x.shape.size() != rank)
      return fail(n, StatusCode::kInvalidModel, "inputs differ in dtype or rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && x.shape[(size_t)d] != x0.shape[(size_t)d])
        return fail(n, StatusCode::kInvalidModel, "inputs differ outside the concat axis");
    out[(size_t)axis] += x.shape[(size_t)axis];
    const int64_t outer = st->outer ? st->outer : 1;
    st->block.push_back((size_t)(shape_numel(x.shape) / (outer ? outer : 1)) * esz);
  }
  if (st->outer == 0) std::fill(st->block.begin(), st->block.end(), 0);
  for (size_t b : st->block) st->out_block += b;
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x0.dtype, out));
  n.state = std::move(st);
  n.run = run_concat;
  n.kernel_name = "concat_reference";
  return Status::Ok();
}

Status prepare_slice(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const int64_t rank = (int64_t)x.shape.size();
  if (rank > kMaxR) return fail(n, StatusCode::kUnsupported, "rank > 8");
  std::vector<int64_t> starts, ends, axes, steps;
  MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &starts));
  MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 2, &ends));
  if (ctx.present(n, 3)) MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 3, &axes));
  if (ctx.present(n, 4)) MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 4, &steps));
  n.prepare_only_inputs |= 0x1Eu;
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back((int64_t)i);
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return fail(n, StatusCode::kInvalidModel, "starts, ends, axes and steps differ in length");
  int64_t st_[kMaxR], sp_[kMaxR], od[kMaxR];
  for (int64_t d = 0; d < rank; ++d) {
    st_[d] = 0;
    sp_[d] = 1;
    od[d] = x.shape[(size_t)d];
  }
  std::vector<char> seen((size_t)rank, 0);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t ax;
    if (!normalize_axis(axes[i], rank, &ax) || seen[(size_t)ax])
      return fail(n, StatusCode::kInvalidModel, "axis out of range or repeated");
    seen[(size_t)ax] = 1;
    const int64_t dim = x.shape[(size_t)ax], step = steps[i];
    if (step == 0 || step == INT64_MIN) return fail(n, StatusCode::kInvalidModel, "step 0 or out of range");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0 && e > INT64_MIN / 2) e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      od[ax] = e > s ? 1 + (e - s - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      od[ax] = s > e ? 1 + (s - e - 1) / (-step) : 0;
    }
    st_[ax] = s;
    sp_[ax] = step;
  }
  auto st = std::make_unique<SliceState>();
  st->rank = (int)rank;
  st->esz = dtype_size(x.dtype);
  int64_t stride = 1;
  Shape out((size_t)rank);
  for (int64_t d = rank - 1; d >= 0; --d) {
    out[(size_t)d] = od[d];
    st->odims[d] = od[d];
    st->step[d] = sp_[d] * stride;
    st->base += st_[d] * stride;
    stride *= x.shape[(size_t)d];
  }
  st->numel = shape_numel(out);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x.dtype, out));
  n.state = std::move(st);
  n.run = run_slice;
  n.kernel_name = "slice_reference";
  return Status::Ok();
}

}  // namespace mcrt
