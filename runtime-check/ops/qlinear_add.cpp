// QLinearAdd (runtime int8 op, docs/quantization.md §4), NumPy broadcasting resolved into runs that the
// Int8KernelSet's add_run computes:
//   y = clamp(rhe(M_a * (float)(a - z_a) + M_b * (float)(b - z_b)) + z_y, act_min, act_max),
//   M_a = s_a / s_y, M_b = s_b / s_y: float32, each product rounded, then the sum (no FMA: this file is
//   compiled with -ffp-contract=off). A fused Relu sets act_min = z_y.
#include <cmath>

#include "kernels/parallel_for.h"
#include "ops/broadcast.h"
#include "ops/qlinear_common.h"

namespace mcrt {
namespace {

struct QAddState : OpState {
  BroadcastPlan plan;
  Int8AddParams p;
  const Int8KernelSet* ks = nullptr;
};

void run_qadd(const NodePlan& n, const ExecContext& ctx) {
  const QAddState& st = static_cast<const QAddState&>(*n.state);
  const int8_t* a = static_cast<const int8_t*>(ctx.in(n.inputs[0]));
  const int8_t* b = static_cast<const int8_t*>(ctx.in(n.inputs[1]));
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  const BroadcastPlan& p = st.plan;
  const int64_t inner = p.dims[p.rank - 1];
  const int as = (int)p.sa[p.rank - 1], bs = (int)p.sb[p.rank - 1];
  parallel_for(ctx.pf, p.outer, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa, ob;
      broadcast_row_offsets(p, r, &oa, &ob);
      st.ks->add_run(inner, a + oa, as, b + ob, bs, st.p, y + r * inner);
    }
  });
}

}  // namespace

Status prepare_qlinear_add(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& a = ctx.t(n.inputs[0]);
  const TensorPlan& b = ctx.t(n.inputs[1]);
  ActQuant qa, qb, qy;
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, a, "input A", &qa));
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, b, "input B", &qb));
  Shape out;
  if (!broadcast_shape(a.shape, b.shape, &out)) return fail(n, StatusCode::kInvalidModel, "shapes do not broadcast");
  if (out.size() > (size_t)kMaxRank) return fail(n, StatusCode::kUnsupported, "rank > 8");
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, out));
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "output", &qy));
  auto st = std::make_unique<QAddState>();
  st->p.ma = qa.scale / qy.scale;
  st->p.mb = qb.scale / qy.scale;
  if (!std::isfinite(st->p.ma) || !std::isfinite(st->p.mb))
    return fail(n, StatusCode::kUnsupported, "scale ratio s_a/s_y or s_b/s_y is not finite");
  st->p.za = qa.zp;
  st->p.zb = qb.zp;
  st->p.zy = qy.zp;
  MCRT_RETURN_IF_ERROR(int8_act_range(n, &st->p.lo, &st->p.hi));
  st->plan = make_broadcast_plan(a.shape, b.shape, out);
  st->ks = ctx.int8_kernels;
  n.kernel_name = std::string("qadd_") + st->ks->name + int8_clamp_suffix(st->p.lo, st->p.hi);
  n.state = std::move(st);
  n.run = run_qadd;
  return Status::Ok();
}

}  // namespace mcrt
