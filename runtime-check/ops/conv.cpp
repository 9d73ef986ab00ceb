// Conv (ONNX), fp32, 1-D and 2-D, any group (depthwise included), dilations, strides,
// explicit or auto pads. Weights are packed once in prepare by the KernelSet; bias and a
// fused Relu/Clip go into the kernel's epilogue. 1-D runs as 2-D with H = 1.
#include <climits>
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

void run_conv(const NodePlan& n, const ExecContext& ctx) {
  const ConvState& st = static_cast<const ConvState&>(*n.state);
  ctx.kernels->conv2d_run(st.g, st.packed, st.ep, ctx.inf(n.inputs[0]), ctx.outf(n.outputs[0]), ctx.scratch(n),
                          ctx.pf);
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

Status prepare_conv(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& w = ctx.t(n.inputs[1]);
  if (x.dtype != DType::kF32 || w.dtype != DType::kF32)
    return fail(n, StatusCode::kUnsupported, "only float32 Conv is supported (quantized: use Q/DQ around it)");
  if (x.shape.size() != 3 && x.shape.size() != 4)
    return fail(n, StatusCode::kUnsupported, "only 1-D and 2-D Conv (rank 3 or 4 input) is supported");
  if (w.shape.size() != x.shape.size()) return fail(n, StatusCode::kInvalidModel, "weight rank != input rank");
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  const std::vector<int64_t> ks = n.attrs.ints(fb::AttrKey_kernel_shape);
  if (!ks.empty() && ks != kernel) return fail(n, StatusCode::kInvalidModel, "kernel_shape disagrees with the weight");
  SpatialGeom sg;
  MCRT_RETURN_IF_ERROR(resolve_spatial(n, x.shape, kernel, false, &sg));
  const int64_t group = n.attrs.i(fb::AttrKey_group, 1);
  const int64_t C = x.shape[1], M = w.shape[0];
  if (group < 1 || C % group != 0 || M % group != 0 || w.shape[1] != C / group)
    return fail(n, StatusCode::kInvalidModel, "group does not divide the channels consistently (§5.3)");
  ConvGeom g{};
  const bool one_d = sg.rank == 1;
  const int64_t vals[] = {x.shape[0], C, one_d ? 1 : sg.in[0], one_d ? sg.in[0] : sg.in[1], M, group};
  for (int64_t v : vals)
    if (!fits_int(v)) return fail(n, StatusCode::kLimitExceeded, "dimension exceeds 2^31");
  g.N = (int)x.shape[0];
  g.C = (int)C;
  g.M = (int)M;
  g.group = (int)group;
  const int h = one_d ? -1 : 0, wd = one_d ? 0 : 1;  // spatial index of H and W
  g.H = h < 0 ? 1 : (int)sg.in[h];
  g.W = (int)sg.in[wd];
  g.kh = h < 0 ? 1 : (int)sg.k[h];
  g.kw = (int)sg.k[wd];
  g.sh = h < 0 ? 1 : (int)sg.s[h];
  g.sw = (int)sg.s[wd];
  g.dh = h < 0 ? 1 : (int)sg.d[h];
  g.dw = (int)sg.d[wd];
  g.pad_t = h < 0 ? 0 : (int)sg.pb[h];
  g.pad_b = h < 0 ? 0 : (int)sg.pe[h];
  g.pad_l = (int)sg.pb[wd];
  g.pad_r = (int)sg.pe[wd];
  conv2d_geom_finish(g);
  if (!conv2d_geom_valid(g)) return fail(n, StatusCode::kInvalidModel, "invalid convolution geometry");
  Shape out = {x.shape[0], M};
  for (int i = 0; i < sg.rank; ++i) out.push_back(sg.out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)shape_numel(out) * (double)(C / group) * g.kh * g.kw));

  auto st = std::make_unique<ConvState>();
  st->g = g;
  MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ctx.kernels->conv2d_packed_size(g), &st->packed));
  ctx.kernels->conv2d_pack(g, reinterpret_cast<const float*>(w.const_data), st->packed);
  n.prepare_only_inputs |= 1u << 1;
  if (ctx.present(n, 2)) {
    const TensorPlan& b = ctx.t(n.inputs[2]);
    if (b.dtype != DType::kF32 || shape_numel(b.shape) != M)
      return fail(n, StatusCode::kInvalidModel, "bias must be float32 with M elements");
    void* bias = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights((size_t)M * 4, &bias));
    std::memcpy(bias, b.const_data, (size_t)M * 4);
    st->ep.bias = static_cast<const float*>(bias);
    n.prepare_only_inputs |= 1u << 2;
  }
  if (n.fused) {
    st->ep.lo = n.fuse_lo;
    st->ep.hi = n.fuse_hi;
  }
  n.scratch_bytes = ctx.kernels->conv2d_scratch_size(g);
  const bool depthwise = g.group == g.C && g.group == g.M;
  n.kernel_name = std::string(depthwise ? "conv2d_depthwise_" : "conv2d_") + ctx.kernels->name;
  n.state = std::move(st);
  n.run = run_conv;
  return Status::Ok();
}

}  // namespace mcrt
