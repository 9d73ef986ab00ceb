// Softmax (ONNX), fp32. Opset >= 13: normalise along `axis` alone. Opset < 13 (the
// exporter sets softmax_legacy_2d = 1): the input is coerced to 2-D [prod(dims < axis),
// prod(dims >= axis)] and each row is normalised. Max-subtracted for stability.
#include <cmath>

#include "kernels/parallel_for.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct SoftmaxState : OpState {
  int64_t outer = 1, axis_len = 1, inner = 1;
};

void run_softmax(const NodePlan& n, const ExecContext& ctx) {
  const SoftmaxState& st = static_cast<const SoftmaxState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const int64_t L = st.axis_len, I = st.inner;
  parallel_for(ctx.pf, st.outer * I, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / I, i = r % I;
      const float* xp = x + o * L * I + i;
      float* yp = y + o * L * I + i;
      float m = xp[0];
      for (int64_t k = 1; k < L; ++k) m = xp[k * I] > m ? xp[k * I] : m;
      float sum = 0.f;
      for (int64_t k = 0; k < L; ++k) {
        const float e = std::exp(xp[k * I] - m);
        yp[k * I] = e;
        sum += e;
      }
      const float inv = 1.f / sum;
      for (int64_t k = 0; k < L; ++k) yp[k * I] *= inv;
    }
  });
}

}  // namespace

Status prepare_softmax(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 Softmax");
  const int64_t rank = (int64_t)x.shape.size();
  const bool legacy = n.attrs.i(fb::AttrKey_softmax_legacy_2d, 0) != 0;
  int64_t axis;
  if (!normalize_axis(n.attrs.i(fb::AttrKey_axis, legacy ? 1 : -1), rank, &axis))
    return fail(n, StatusCode::kInvalidModel, "axis out of range");
  auto st = std::make_unique<SoftmaxState>();
  for (int64_t d = 0; d < axis; ++d) st->outer *= x.shape[(size_t)d];
  if (legacy) {
    for (int64_t d = axis; d < rank; ++d) st->axis_len *= x.shape[(size_t)d];
  } else {
    st->axis_len = x.shape[(size_t)axis];
    for (int64_t d = axis + 1; d < rank; ++d) st->inner *= x.shape[(size_t)d];
  }
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, x.shape));
  n.state = std::move(st);
  n.run = run_softmax;
  n.kernel_name = legacy ? "softmax_2d_reference" : "softmax_reference";
  return Status::Ok();
}

}  // namespace mcrt
