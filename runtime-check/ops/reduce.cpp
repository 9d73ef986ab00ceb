// ReduceMean and ReduceSum (ONNX), fp32. Axes come from the attribute (older opsets) or
// from a constant second input; empty axes reduce everything unless
// noop_with_empty_axes = 1 (then the op is an identity). The reference kernel walks the
// input once in order and accumulates into a double scratch per output element, so the
// summation order is fixed.
#include <algorithm>
#include <cstring>

#include "ops/ops.h"

namespace mcrt {
namespace {

constexpr int kMaxR = 8;

struct ReduceState : OpState {
  int rank = 0;
  int64_t dims[kMaxR] = {};
  int64_t out_stride[kMaxR] = {};  // 0 on reduced dims
  int64_t in_numel = 0, out_numel = 0;
  bool mean = false, identity = false;
  double divisor = 1.0;
};

void run_reduce(const NodePlan& n, const ExecContext& ctx) {
  const ReduceState& st = static_cast<const ReduceState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  if (st.identity) {
    std::memcpy(y, x, (size_t)st.in_numel * 4);
    return;
  }
  double* acc = static_cast<double*>(ctx.scratch(n));
  for (int64_t i = 0; i < st.out_numel; ++i) acc[i] = 0.0;
  int64_t idx[kMaxR] = {};
  int64_t o = 0;
  for (int64_t i = 0; i < st.in_numel; ++i) {
    acc[o] += x[i];
    // Odometer increment of idx, keeping the output offset o in step.
    for (int d = st.rank - 1; d >= 0; --d) {
      ++idx[d];
      o += st.out_stride[d];
      if (idx[d] < st.dims[d]) break;
      o -= st.out_stride[d] * idx[d];
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < st.out_numel; ++i) y[i] = (float)(st.mean ? acc[i] / st.divisor : acc[i]);
}

}  // namespace

Status prepare_reduce(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 reductions");
  const int64_t rank = (int64_t)x.shape.size();
  if (rank > kMaxR) return fail(n, StatusCode::kUnsupported, "rank > 8");
  std::vector<int64_t> axes = n.attrs.ints(fb::AttrKey_axes);
  if (ctx.present(n, 1)) {
    if (!axes.empty()) return fail(n, StatusCode::kInvalidModel, "axes given as attribute and input");
    MCRT_RETURN_IF_ERROR(ctx.const_ints(n, 1, &axes));
    n.prepare_only_inputs |= 1u << 1;
  }
  const bool keepdims = n.attrs.i(fb::AttrKey_keepdims, 1) != 0;
  auto st = std::make_unique<ReduceState>();
  st->mean = n.op == fb::OpType_ReduceMean;
  st->rank = (int)rank;
  st->in_numel = shape_numel(x.shape);
  std::vector<char> reduced((size_t)rank, 0);
  if (axes.empty()) {
    if (n.attrs.i(fb::AttrKey_noop_with_empty_axes, 0) != 0) {
      st->identity = true;
      st->out_numel = st->in_numel;
      MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, x.shape));
      n.state = std::move(st);
      n.run = run_reduce;
      n.kernel_name = "reduce_identity";
      return Status::Ok();
    }
    std::fill(reduced.begin(), reduced.end(), 1);
  }
  for (int64_t a : axes) {
    int64_t ax;
    if (!normalize_axis(a, rank, &ax)) return fail(n, StatusCode::kInvalidModel, "axis out of range");
    if (reduced[(size_t)ax]) return fail(n, StatusCode::kInvalidModel, "axis repeated");
    reduced[(size_t)ax] = 1;
  }
  Shape out;
  double div = 1.0;
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    st->dims[d] = x.shape[(size_t)d];
    st->out_stride[d] = reduced[(size_t)d] ? 0 : stride;
    if (!reduced[(size_t)d]) stride *= x.shape[(size_t)d];
    else div *= (double)x.shape[(size_t)d];
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[(size_t)d]) out.push_back(x.shape[(size_t)d]);
    else if (keepdims) out.push_back(1);
  }
  if (div == 0.0 && st->mean) return fail(n, StatusCode::kInvalidModel, "mean over an empty dimension");
  st->divisor = div;
  st->out_numel = shape_numel(out);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  n.scratch_bytes = (size_t)st->out_numel * sizeof(double);
  n.state = std::move(st);
  n.run = run_reduce;
  n.kernel_name = n.op == fb::OpType_ReduceMean ? "reduce_mean_reference" : "reduce_sum_reference";
  return Status::Ok();
}

}  // namespace mcrt
