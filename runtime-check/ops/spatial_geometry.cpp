#include "ops/spatial_geometry.h"

#include "ops/ops.h"

namespace mcrt {

Status resolve_spatial(const NodePlan& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode,
                       SpatialGeom* g) {
  const int r = (int)x.size() - 2;
  if (r < 1 || r > 3) return fail(n, StatusCode::kUnsupported, "only 1 to 3 spatial dims are supported");
  if ((int)kernel.size() != r) return fail(n, StatusCode::kInvalidModel, "kernel_shape rank does not match the input");
  const std::vector<int64_t> strides = n.attrs.ints(fb::AttrKey_strides);
  const std::vector<int64_t> dil = n.attrs.ints(fb::AttrKey_dilations);
  const std::vector<int64_t> pads = n.attrs.ints(fb::AttrKey_pads);
  const std::string auto_pad = n.attrs.s(fb::AttrKey_auto_pad, "NOTSET");
  if (!strides.empty() && (int)strides.size() != r) return fail(n, StatusCode::kInvalidModel, "strides rank mismatch");
  if (!dil.empty() && (int)dil.size() != r) return fail(n, StatusCode::kInvalidModel, "dilations rank mismatch");
  if (!pads.empty() && (int)pads.size() != 2 * r) return fail(n, StatusCode::kInvalidModel, "pads must have 2*rank values");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    return fail(n, StatusCode::kInvalidModel, "unknown auto_pad '" + auto_pad + "'");
  if (auto_pad != "NOTSET" && !pads.empty())
    return fail(n, StatusCode::kInvalidModel, "pads and auto_pad given together");
  g->rank = r;
  for (int i = 0; i < r; ++i) {
    g->in[i] = x[2 + i];
    g->k[i] = kernel[i];
    g->s[i] = strides.empty() ? 1 : strides[i];
    g->d[i] = dil.empty() ? 1 : dil[i];
    if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1)
      return fail(n, StatusCode::kInvalidModel, "kernel, strides and dilations must be >= 1");
    const int64_t ext = (g->k[i] - 1) * g->d[i] + 1;  // dilated window extent
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (g->in[i] + g->s[i] - 1) / g->s[i];
      int64_t total = (out - 1) * g->s[i] + ext - g->in[i];
      if (total < 0) total = 0;
      g->pb[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g->pe[i] = total - g->pb[i];
      g->out[i] = out;
      continue;
    }
    g->pb[i] = pads.empty() ? 0 : pads[i];
    g->pe[i] = pads.empty() ? 0 : pads[r + i];
    if (g->pb[i] < 0 || g->pe[i] < 0) return fail(n, StatusCode::kInvalidModel, "negative pads");
    const int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
    if (span < 0) return fail(n, StatusCode::kInvalidModel, "window larger than the padded input");
    int64_t out = (ceil_mode ? (span + g->s[i] - 1) / g->s[i] : span / g->s[i]) + 1;
    // A window that would start in the end padding is dropped (ONNX / PyTorch ceil_mode rule).
    if (ceil_mode && (out - 1) * g->s[i] >= g->in[i] + g->pb[i]) --out;
    g->out[i] = out;
  }
  return Status::Ok();
}

Status resolve_conv_geom(const NodePlan& n, const Shape& x, const Shape& w, SpatialGeom* sg, ConvGeom* g) {
  if (x.size() != 3 && x.size() != 4)
    return fail(n, StatusCode::kUnsupported, "only 1-D and 2-D convolutions (rank 3 or 4 input) are supported");
  if (w.size() != x.size()) return fail(n, StatusCode::kInvalidModel, "weight rank != input rank");
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  const std::vector<int64_t> ks = n.attrs.ints(fb::AttrKey_kernel_shape);
  if (!ks.empty() && ks != kernel) return fail(n, StatusCode::kInvalidModel, "kernel_shape disagrees with the weight");
  MCRT_RETURN_IF_ERROR(resolve_spatial(n, x, kernel, false, sg));
  const int64_t group = n.attrs.i(fb::AttrKey_group, 1);
  const int64_t C = x[1], M = w[0];
  if (group < 1 || C % group != 0 || M % group != 0 || w[1] != C / group)
    return fail(n, StatusCode::kInvalidModel, "group does not divide the channels consistently (§5.3)");
  const bool one_d = sg->rank == 1;
  const int64_t vals[] = {x[0], C, one_d ? 1 : sg->in[0], one_d ? sg->in[0] : sg->in[1], M, group};
  for (int64_t v : vals)
    if (!fits_int(v)) return fail(n, StatusCode::kLimitExceeded, "dimension exceeds 2^31");
  *g = ConvGeom{};
  g->N = (int)x[0];
  g->C = (int)C;
  g->M = (int)M;
  g->group = (int)group;
  const int h = one_d ? -1 : 0, wd = one_d ? 0 : 1;  // spatial index of H and W
  g->H = h < 0 ? 1 : (int)sg->in[h];
  g->W = (int)sg->in[wd];
  g->kh = h < 0 ? 1 : (int)sg->k[h];
  g->kw = (int)sg->k[wd];
  g->sh = h < 0 ? 1 : (int)sg->s[h];
  g->sw = (int)sg->s[wd];
  g->dh = h < 0 ? 1 : (int)sg->d[h];
  g->dw = (int)sg->d[wd];
  g->pad_t = h < 0 ? 0 : (int)sg->pb[h];
  g->pad_b = h < 0 ? 0 : (int)sg->pe[h];
  g->pad_l = (int)sg->pb[wd];
  g->pad_r = (int)sg->pe[wd];
  conv2d_geom_finish(*g);
  if (!conv2d_geom_valid(*g)) return fail(n, StatusCode::kInvalidModel, "invalid convolution geometry");
  return Status::Ok();
}

}  // namespace mcrt
