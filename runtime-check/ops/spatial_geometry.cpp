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

}  // namespace mcrt
