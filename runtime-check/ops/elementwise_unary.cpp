// Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu, Sqrt, Exp (fp32).
// All map to the KernelSet's unary kernel, except Gelu with approximate="tanh", which
// the kernel set does not cover and which is computed here (reference, scalar):
//   0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
#include <cmath>
#include <cstring>

#include "kernels/parallel_for.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct UnaryState : OpState {
  UnaryOp op;
  float alpha = 0.f, beta = 0.f;
  int64_t n = 0;
};

constexpr int64_t kChunk = 4096;  // elements per parallel chunk

void run_unary(const NodePlan& n, const ExecContext& ctx) {
  const UnaryState& st = static_cast<const UnaryState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const KernelSet* ks = ctx.kernels;
  const int64_t chunks = (st.n + kChunk - 1) / kChunk;
  parallel_for(ctx.pf, chunks, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = c1 * kChunk < st.n ? c1 * kChunk : st.n;
    ks->unary(st.op, e - b, x + b, y + b, st.alpha, st.beta);
  });
}

void run_gelu_tanh(const NodePlan& n, const ExecContext& ctx) {
  const UnaryState& st = static_cast<const UnaryState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int64_t i = 0; i < st.n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

}  // namespace

Status prepare_unary(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.dtype != DType::kF32)
    return fail(n, StatusCode::kUnsupported, std::string("only float32 is supported, got ") + dtype_name(x.dtype));
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, x.shape));
  auto st = std::make_unique<UnaryState>();
  st->n = shape_numel(x.shape);
  n.run = run_unary;
  const char* name = fb::EnumNameOpType(n.op);
  switch (n.op) {
    case fb::OpType_Relu: st->op = UnaryOp::Relu; break;
    case fb::OpType_LeakyRelu:
      st->op = UnaryOp::LeakyRelu;
      st->alpha = n.attrs.f(fb::AttrKey_alpha, 0.01f);
      break;
    case fb::OpType_Clip: {
      st->op = UnaryOp::Clip;
      st->alpha = n.attrs.f(fb::AttrKey_min, -INFINITY);
      st->beta = n.attrs.f(fb::AttrKey_max, INFINITY);
      for (size_t k = 1; k < 3; ++k) {
        if (!ctx.present(n, k)) continue;
        std::vector<float> v;
        MCRT_RETURN_IF_ERROR(ctx.const_floats(n, k, &v));
        if (v.size() != 1) return fail(n, StatusCode::kInvalidModel, "Clip min/max must be scalars");
        (k == 1 ? st->alpha : st->beta) = v[0];
        n.prepare_only_inputs |= 1u << k;
      }
      break;
    }
    case fb::OpType_Sigmoid: st->op = UnaryOp::Sigmoid; break;
    case fb::OpType_HardSigmoid:
      st->op = UnaryOp::HardSigmoid;
      st->alpha = n.attrs.f(fb::AttrKey_alpha, 0.2f);
      st->beta = n.attrs.f(fb::AttrKey_beta, 0.5f);
      break;
    case fb::OpType_HardSwish: st->op = UnaryOp::HardSwish; break;
    case fb::OpType_Tanh: st->op = UnaryOp::Tanh; break;
    case fb::OpType_Erf: st->op = UnaryOp::Erf; break;
    case fb::OpType_Gelu: {
      const std::string approx = n.attrs.s(fb::AttrKey_approximate, "none");
      if (approx == "tanh") {
        n.run = run_gelu_tanh;
        n.kernel_name = "gelu_tanh_reference";
        n.state = std::move(st);
        return Status::Ok();
      }
      if (approx != "none") return fail(n, StatusCode::kUnsupported, "Gelu approximate='" + approx + "'");
      st->op = UnaryOp::Gelu;
      break;
    }
    case fb::OpType_Sqrt: st->op = UnaryOp::Sqrt; break;
    case fb::OpType_Exp: st->op = UnaryOp::Exp; break;
    default: return fail(n, StatusCode::kUnsupported, "not a unary op");
  }
  n.state = std::move(st);
  n.kernel_name = std::string("unary_") + name + "_" + ctx.kernels->name;
  return Status::Ok();
}

}  // namespace mcrt
