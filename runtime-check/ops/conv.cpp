// Conv (ONNX), fp32, 1-D and 2-D, any group (depthwise included), dilations, strides,
// explicit or auto pads. Weights are packed once in prepare by the KernelSet; bias and a
// fused Relu/Clip go into the kernel's epilogue. 1-D runs as 2-D with H = 1. A 1x1 Conv
// (stride 1, no padding, group 1) whose weight holds few nonzeros runs on the sparse pointwise
// kernel (kernels/sparse/) where the cost model says it beats the dense one.
#include <climits>
#include <cstdio>
#include <cstring>

#include "ops/ops.h"
#include "ops/spatial_geometry.h"

namespace mcrt {
namespace {

struct ConvState : OpState {
  ConvGeom g{};
  void* packed = nullptr;
  Epilogue ep;
};

struct ConvSparseState : OpState {
  int images = 0, P = 0;  // P = H * W
  CsrMatrix w;            // [M, C]
  Epilogue ep;
  const SparseKernelSet* ks = nullptr;
};

void run_conv_sparse(const NodePlan& n, const ExecContext& ctx) {
  const ConvSparseState& st = static_cast<const ConvSparseState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const int64_t xs = (int64_t)st.w.cols * st.P, ys = (int64_t)st.w.rows * st.P;
  for (int i = 0; i < st.images; ++i) st.ks->pointwise_run(st.P, st.w, x + i * xs, st.ep, y + i * ys, ctx.pf);
}

void run_conv(const NodePlan& n, const ExecContext& ctx) {
  const ConvState& st = static_cast<const ConvState&>(*n.state);
  Epilogue ep = st.ep;
  if (n.residual_input >= 0) ep.residual = ctx.inf(n.inputs[n.residual_input]);  // fused residual Add
  ctx.kernels->conv2d_run(st.g, st.packed, ep, ctx.inf(n.inputs[0]), ctx.outf(n.outputs[0]), ctx.scratch(n), ctx.pf);
}

}  // namespace

Status prepare_conv(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& w = ctx.t(n.inputs[1]);
  if (x.dtype != DType::kF32 || w.dtype != DType::kF32)
    return fail(n, StatusCode::kUnsupported, "only float32 Conv is supported (quantized: use Q/DQ around it)");
  SpatialGeom sg;
  ConvGeom g;
  MCRT_RETURN_IF_ERROR(resolve_conv_geom(n, x.shape, w.shape, &sg, &g));
  const int64_t group = g.group, C = g.C, M = g.M;
  Shape out = {x.shape[0], M};
  for (int i = 0; i < sg.rank; ++i) out.push_back(sg.out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)shape_numel(out) * (double)(C / group) * g.kh * g.kw));

  Epilogue ep;
  n.prepare_only_inputs |= 1u << 1;
  if (ctx.present(n, 2)) {
    const TensorPlan& b = ctx.t(n.inputs[2]);
    if (b.dtype != DType::kF32 || shape_numel(b.shape) != M)
      return fail(n, StatusCode::kInvalidModel, "bias must be float32 with M elements");
    void* bias = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights((size_t)M * 4, &bias));
    std::memcpy(bias, b.const_data, (size_t)M * 4);
    ep.bias = static_cast<const float*>(bias);
    n.prepare_only_inputs |= 1u << 2;
  }
  if (n.fused) {
    ep.lo = n.fuse_lo;
    ep.hi = n.fuse_hi;
  }
  const float* wf = reinterpret_cast<const float*>(w.const_data);
  // Pointwise (1x1, stride 1, no padding, group 1): sparse or dense by the cost model.
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_t == 0 && g.pad_l == 0 &&
                         g.pad_b == 0 && g.pad_r == 0 && g.group == 1 && fits_int((int64_t)g.H * g.W) &&
                         fits_int(M * C);  // CSR indices are int32
  const int64_t nnz = pointwise ? count_stored(wf, M * C) : 0;
  // (The sparse kernels take no residual: a Conv with a fused residual Add stays dense.)
  if (pointwise && nnz < M * C && ctx.sparse_policy != SparsePolicy::kDense && n.residual_input < 0) {
    const int P = g.H * g.W;
    const double density = (double)nnz / ((double)M * (double)C);
    const double limit = sparse_pointwise_max_density(ctx.sparse_kernels->name, P, g.M, g.C);
    char why[96];
    if (ctx.sparse_policy == SparsePolicy::kSparse || density < limit) {
      auto sp = std::make_unique<ConvSparseState>();
      void* packed = nullptr;
      MCRT_RETURN_IF_ERROR(ctx.alloc_weights(csr_packed_size(g.M, nnz), &packed));
      csr_pack_dense(g.M, g.C, wf, false, packed, &sp->w);
      sp->images = g.N;
      sp->P = P;
      sp->ep = ep;
      sp->ks = ctx.sparse_kernels;
      n.state = std::move(sp);
      n.run = run_conv_sparse;
      n.kernel_name = std::string("conv2d_1x1_sparse_csr_") + ctx.sparse_kernels->name;
      if (density < limit) std::snprintf(why, sizeof why, "density %.2f < %.2f", density, limit);
      else std::snprintf(why, sizeof why, "density %.2f, sparse forced", density);
      n.kernel_reason = why;
      return Status::Ok();
    }
    std::snprintf(why, sizeof why, "density %.2f: dense is faster", density);
    n.kernel_reason = why;
  }
  auto st = std::make_unique<ConvState>();
  st->g = g;
  st->ep = ep;
  MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ctx.kernels->conv2d_packed_size(g), &st->packed));
  ctx.kernels->conv2d_pack(g, wf, st->packed);
  n.scratch_bytes = ctx.kernels->conv2d_scratch_size(g);
  const bool depthwise = g.group == g.C && g.group == g.M;
  n.kernel_name = std::string(depthwise ? "conv2d_depthwise_" : "conv2d_") + ctx.kernels->name;
  n.state = std::move(st);
  n.run = run_conv;
  return Status::Ok();
}

}  // namespace mcrt
