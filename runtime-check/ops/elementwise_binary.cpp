// Add, Sub, Mul, Div, Pow (fp32) with full NumPy broadcasting. Broadcasting is resolved
// in prepare into rows of contiguous runs (stride 0 or 1 per operand), each computed by
// the KernelSet's binary kernel; rows are split across threads.
#include <cstring>

#include "kernels/parallel_for.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct BinaryState : OpState {
  BinaryOp op;
  BroadcastPlan plan;
};

void run_binary(const NodePlan& n, const ExecContext& ctx) {
  const BinaryState& st = static_cast<const BinaryState&>(*n.state);
  const float* a = ctx.inf(n.inputs[0]);
  const float* b = ctx.inf(n.inputs[1]);
  float* y = ctx.outf(n.outputs[0]);
  const BroadcastPlan& p = st.plan;
  const int64_t inner = p.dims[p.rank - 1];
  const int as = (int)p.sa[p.rank - 1], bs = (int)p.sb[p.rank - 1];
  const KernelSet* ks = ctx.kernels;
  parallel_for(ctx.pf, p.outer, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa, ob;
      broadcast_row_offsets(p, r, &oa, &ob);
      ks->binary(st.op, inner, a + oa, as, b + ob, bs, y + r * inner);
    }
  });
}

}  // namespace

Status prepare_binary(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& a = ctx.t(n.inputs[0]);
  const TensorPlan& b = ctx.t(n.inputs[1]);
  if (a.dtype != DType::kF32 || b.dtype != DType::kF32)
    return fail(n, StatusCode::kUnsupported, std::string("only float32 inputs are supported, got ") +
                                                 dtype_name(a.dtype) + " and " + dtype_name(b.dtype));
  Shape out;
  if (!broadcast_shape(a.shape, b.shape, &out)) return fail(n, StatusCode::kInvalidModel, "shapes do not broadcast");
  if (out.size() > (size_t)kMaxRank) return fail(n, StatusCode::kUnsupported, "rank > 8");
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  auto st = std::make_unique<BinaryState>();
  switch (n.op) {
    case fb::OpType_Add: st->op = BinaryOp::Add; break;
    case fb::OpType_Sub: st->op = BinaryOp::Sub; break;
    case fb::OpType_Mul: st->op = BinaryOp::Mul; break;
    case fb::OpType_Div: st->op = BinaryOp::Div; break;
    default: st->op = BinaryOp::Pow; break;
  }
  st->plan = make_broadcast_plan(a.shape, b.shape, out);
  n.state = std::move(st);
  n.run = run_binary;
  n.kernel_name = std::string("binary_") + fb::EnumNameOpType(n.op) + "_" + ctx.kernels->name;
  return Status::Ok();
}

}  // namespace mcrt
