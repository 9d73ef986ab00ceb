// ConvTranspose (ONNX), fp32, 1-D and 2-D, groups, dilations, strides, pads,
// output_padding, output_shape and auto_pad. Reference kernel (the KernelSet has no
// transposed convolution): each output channel of each image is one task; it gathers
//   y[n,m,oy,ox] = b[m] + sum_{c in group(m), ky, kx : oy = iy*sh - pt + ky*dh, ...}
//                  x[n,c,iy,ix] * w[c, m - group_base, ky, kx]
// by scattering input rows in a fixed order, so results do not depend on threads.
#include <cstring>

#include "kernels/parallel_for.h"
#include "ops/ops.h"

namespace mcrt {
namespace {

struct ConvTState : OpState {
  int64_t N = 0, C = 0, H = 0, W = 0, M = 0, OH = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, group = 1;
  const float* w = nullptr;
  const float* b = nullptr;
};

void run_conv_transpose(const NodePlan& n, const ExecContext& ctx) {
  const ConvTState& s = static_cast<const ConvTState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const int64_t Cg = s.C / s.group, Mg = s.M / s.group;
  parallel_for(ctx.pf, s.N * s.M, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t nn = t / s.M, m = t % s.M, g = m / Mg, mm = m % Mg;
      float* yp = y + t * s.OH * s.OW;
      const float bias = s.b ? s.b[m] : 0.f;
      for (int64_t i = 0; i < s.OH * s.OW; ++i) yp[i] = bias;
      for (int64_t cc = 0; cc < Cg; ++cc) {
        const int64_t c = g * Cg + cc;
        const float* xp = x + (nn * s.C + c) * s.H * s.W;
        const float* wp = s.w + (c * Mg + mm) * s.kh * s.kw;
        for (int64_t iy = 0; iy < s.H; ++iy)
          for (int64_t ky = 0; ky < s.kh; ++ky) {
            const int64_t oy = iy * s.sh - s.pt + ky * s.dh;
            if (oy < 0 || oy >= s.OH) continue;
            for (int64_t ix = 0; ix < s.W; ++ix) {
              const float xv = xp[iy * s.W + ix];
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t ox = ix * s.sw - s.pl + kx * s.dw;
                if (ox < 0 || ox >= s.OW) continue;
                yp[oy * s.OW + ox] += xv * wp[ky * s.kw + kx];
              }
            }
          }
      }
    }
  });
}

}  // namespace

Status prepare_conv_transpose(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& w = ctx.t(n.inputs[1]);
  if (x.dtype != DType::kF32 || w.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32");
  const int r = (int)x.shape.size() - 2;
  if (r != 1 && r != 2) return fail(n, StatusCode::kUnsupported, "only 1-D and 2-D ConvTranspose");
  if ((int)w.shape.size() != r + 2) return fail(n, StatusCode::kInvalidModel, "weight rank != input rank");
  auto get = [&](fb::AttrKey k, int64_t def) {
    std::vector<int64_t> v = n.attrs.ints(k);
    if (v.empty()) v.assign((size_t)r, def);
    return v;
  };
  const std::vector<int64_t> strides = get(fb::AttrKey_strides, 1), dil = get(fb::AttrKey_dilations, 1),
                             opad = get(fb::AttrKey_output_padding, 0);
  std::vector<int64_t> pads = n.attrs.ints(fb::AttrKey_pads);
  const std::vector<int64_t> oshape = n.attrs.ints(fb::AttrKey_output_shape);
  const std::string auto_pad = n.attrs.s(fb::AttrKey_auto_pad, "NOTSET");
  if ((int)strides.size() != r || (int)dil.size() != r || (int)opad.size() != r)
    return fail(n, StatusCode::kInvalidModel, "strides/dilations/output_padding rank mismatch");
  if (!pads.empty() && (int)pads.size() != 2 * r) return fail(n, StatusCode::kInvalidModel, "pads must have 2*rank values");
  if (!oshape.empty() && (int)oshape.size() != r) return fail(n, StatusCode::kUnsupported, "output_shape must list spatial dims only");
  const std::vector<int64_t> ks(w.shape.begin() + 2, w.shape.end());
  const std::vector<int64_t> kattr = n.attrs.ints(fb::AttrKey_kernel_shape);
  if (!kattr.empty() && kattr != ks) return fail(n, StatusCode::kInvalidModel, "kernel_shape disagrees with the weight");
  const int64_t group = n.attrs.i(fb::AttrKey_group, 1);
  const int64_t C = x.shape[1];
  if (group < 1 || C % group != 0 || w.shape[0] != C) return fail(n, StatusCode::kInvalidModel, "group/channels mismatch (§5.3)");
  const int64_t M = w.shape[1] * group;
  int64_t pb[2] = {0, 0}, pe[2] = {0, 0}, out[2] = {1, 1};
  for (int i = 0; i < r; ++i) {
    const int64_t in = x.shape[(size_t)(2 + i)];
    const int64_t ext = (ks[(size_t)i] - 1) * dil[(size_t)i] + 1;
    if (opad[(size_t)i] >= strides[(size_t)i] && opad[(size_t)i] >= dil[(size_t)i])
      return fail(n, StatusCode::kInvalidModel, "output_padding must be smaller than stride or dilation");
    const int64_t full = strides[(size_t)i] * (in - 1) + opad[(size_t)i] + ext;
    if (!oshape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t target = !oshape.empty() ? oshape[(size_t)i] : in * strides[(size_t)i];
      const int64_t total = full - target;
      if (total < 0) return fail(n, StatusCode::kUnsupported, "output_shape larger than the full output");
      if (auto_pad == "SAME_UPPER") {
        pb[i] = total / 2;
        pe[i] = total - total / 2;
      } else {
        pb[i] = total - total / 2;
        pe[i] = total / 2;
      }
    } else if (auto_pad == "NOTSET" || auto_pad == "VALID") {
      pb[i] = pads.empty() || auto_pad == "VALID" ? 0 : pads[(size_t)i];
      pe[i] = pads.empty() || auto_pad == "VALID" ? 0 : pads[(size_t)(r + i)];
    } else {
      return fail(n, StatusCode::kInvalidModel, "unknown auto_pad '" + auto_pad + "'");
    }
    out[i] = full - pb[i] - pe[i];
    if (out[i] < 1) return fail(n, StatusCode::kInvalidModel, "output size < 1");
  }
  auto st = std::make_unique<ConvTState>();
  st->N = x.shape[0];
  st->C = C;
  st->M = M;
  st->group = group;
  const bool one = r == 1;
  st->H = one ? 1 : x.shape[2];
  st->W = x.shape[one ? 2 : 3];
  st->kh = one ? 1 : ks[0];
  st->kw = ks[one ? 0 : 1];
  st->sh = one ? 1 : strides[0];
  st->sw = strides[one ? 0 : 1];
  st->dh = one ? 1 : dil[0];
  st->dw = dil[one ? 0 : 1];
  st->pt = one ? 0 : pb[0];
  st->pl = pb[one ? 0 : 1];
  st->OH = one ? 1 : out[0];
  st->OW = out[one ? 0 : 1];
  st->w = reinterpret_cast<const float*>(w.const_data);
  if (ctx.present(n, 2)) {
    const TensorPlan& b = ctx.t(n.inputs[2]);
    if (b.dtype != DType::kF32 || shape_numel(b.shape) != M) return fail(n, StatusCode::kInvalidModel, "bias must have M floats");
    st->b = reinterpret_cast<const float*>(b.const_data);
  }
  Shape os = {x.shape[0], M};
  for (int i = 0; i < r; ++i) os.push_back(out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, os));
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)shape_numel(x.shape) * (double)(M / group) * st->kh * st->kw +
                                           (double)shape_numel(os)));
  n.state = std::move(st);
  n.run = run_conv_transpose;
  n.kernel_name = "conv_transpose_reference";
  return Status::Ok();
}

}  // namespace mcrt
