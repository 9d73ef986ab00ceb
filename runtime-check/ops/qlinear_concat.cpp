// QLinearConcat (runtime int8 op, docs/quantization.md §4): Concat along `axis`; each input is copied
// when its (scale, zero point) equal the output's, else requantized element by element:
//   y = clamp(rhe((s_i / s_y) * (float)(x - z_i)) + z_y, -128, 127).
#include <cmath>
#include <cstring>

#include "ops/qlinear_common.h"

namespace mcrt {
namespace {

struct QConcatState : OpState {
  int64_t outer = 1;
  std::vector<int64_t> block;  // elements per outer index, per input
  std::vector<float> mult;     // per input; < 0 = copy
  std::vector<int32_t> zin;
  int64_t out_block = 0;
  int32_t zy = 0;
};

void run_qconcat(const NodePlan& n, const ExecContext& ctx) {
  const QConcatState& st = static_cast<const QConcatState&>(*n.state);
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  int64_t off = 0;
  const float flo = (float)(-128 - st.zy), fhi = (float)(127 - st.zy);
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int8_t* x = static_cast<const int8_t*>(ctx.in(n.inputs[k]));
    const int64_t b = st.block[k];
    for (int64_t o = 0; o < st.outer; ++o) {
      int8_t* yo = y + o * st.out_block + off;
      const int8_t* xo = x + o * b;
      if (st.mult[k] < 0.f) {
        if (b) std::memcpy(yo, xo, (size_t)b);
        continue;
      }
      for (int64_t i = 0; i < b; ++i) {
        float f = st.mult[k] * (float)((int32_t)xo[i] - st.zin[k]);
        f = f < flo ? flo : (f > fhi ? fhi : f);
        yo[i] = (int8_t)((int32_t)std::nearbyint(f) + st.zy);
      }
    }
    off += b;
  }
}

}  // namespace

Status prepare_qlinear_concat(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x0 = ctx.t(n.inputs[0]);
  const int64_t rank = (int64_t)x0.shape.size();
  int64_t axis;
  if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, 0), rank, &axis))
    return fail(n, StatusCode::kInvalidModel, "axis out of range");
  Shape out = x0.shape;
  out[(size_t)axis] = 0;
  auto st = std::make_unique<QConcatState>();
  std::vector<ActQuant> qs;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const TensorPlan& x = ctx.t(n.inputs[k]);
    ActQuant q;
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, x, "input", &q));
    qs.push_back(q);
    if ((int64_t)x.shape.size() != rank) return fail(n, StatusCode::kInvalidModel, "inputs differ in rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && x.shape[(size_t)d] != x0.shape[(size_t)d])
        return fail(n, StatusCode::kInvalidModel, "inputs differ outside the concat axis");
    out[(size_t)axis] += x.shape[(size_t)axis];
  }
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, out));
  ActQuant qy;
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "output", &qy));
  for (int64_t d = 0; d < axis; ++d) st->outer *= out[(size_t)d];
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= out[(size_t)d];
  st->out_block = out[(size_t)axis] * inner;
  st->zy = qy.zp;
  bool any_requant = false;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    st->block.push_back(ctx.t(n.inputs[k]).shape[(size_t)axis] * inner);
    st->zin.push_back(qs[k].zp);
    const bool same = qs[k].scale == qy.scale && qs[k].zp == qy.zp;
    const float m = qs[k].scale / qy.scale;
    if (!same && !std::isfinite(m)) return fail(n, StatusCode::kUnsupported, "scale ratio s_i/s_y is not finite");
    st->mult.push_back(same ? -1.f : m);
    any_requant = any_requant || !same;
  }
  n.kernel_name = any_requant ? "qconcat_requant_reference" : "qconcat_copy";
  n.state = std::move(st);
  n.run = run_qconcat;
  return Status::Ok();
}

}  // namespace mcrt
