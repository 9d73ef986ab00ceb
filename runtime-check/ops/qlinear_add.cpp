// QLinearAdd (runtime int8 op, docs/quantization.md §4), NumPy broadcasting:
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
  float ma = 1.f, mb = 1.f;
  int32_t za = 0, zb = 0, zy = 0, lo = -128, hi = 127;
};

void run_qadd(const NodePlan& n, const ExecContext& ctx) {
  const QAddState& st = static_cast<const QAddState&>(*n.state);
  const int8_t* a = static_cast<const int8_t*>(ctx.in(n.inputs[0]));
  const int8_t* b = static_cast<const int8_t*>(ctx.in(n.inputs[1]));
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  const BroadcastPlan& p = st.plan;
  const int64_t inner = p.dims[p.rank - 1];
  const int64_t as = p.sa[p.rank - 1], bs = p.sb[p.rank - 1];
  const float flo = (float)(st.lo - st.zy), fhi = (float)(st.hi - st.zy);
  parallel_for(ctx.pf, p.outer, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa, ob;
      broadcast_row_offsets(p, r, &oa, &ob);
      const int8_t* ar = a + oa;
      const int8_t* br = b + ob;
      int8_t* yr = y + r * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const float fa = st.ma * (float)((int32_t)ar[i * as] - st.za);
        const float fb = st.mb * (float)((int32_t)br[i * bs] - st.zb);
        float f = fa + fb;
        f = f < flo ? flo : (f > fhi ? fhi : f);  // integer bounds: clamping commutes with rounding
        yr[i] = (int8_t)((int32_t)std::nearbyint(f) + st.zy);
      }
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
  st->ma = qa.scale / qy.scale;
  st->mb = qb.scale / qy.scale;
  if (!std::isfinite(st->ma) || !std::isfinite(st->mb))
    return fail(n, StatusCode::kUnsupported, "scale ratio s_a/s_y or s_b/s_y is not finite");
  st->za = qa.zp;
  st->zb = qb.zp;
  st->zy = qy.zp;
  MCRT_RETURN_IF_ERROR(int8_act_range(n, &st->lo, &st->hi));
  st->plan = make_broadcast_plan(a.shape, b.shape, out);
  n.kernel_name = "qadd_reference" + int8_clamp_suffix(st->lo, st->hi);
  n.state = std::move(st);
  n.run = run_qadd;
  return Status::Ok();
}

}  // namespace mcrt
