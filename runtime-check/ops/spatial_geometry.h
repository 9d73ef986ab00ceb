// Window geometry shared by Conv, ConvTranspose and the pooling ops: kernel, strides,
// dilations and pads per spatial dim, with ONNX auto_pad (NOTSET, SAME_UPPER,
// SAME_LOWER, VALID) and ceil_mode resolved in prepare.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/plan.h"

namespace mcrt {

struct SpatialGeom {
  int rank = 0;                       // number of spatial dims (1..3)
  int64_t in[3] = {}, k[3] = {}, s[3] = {}, d[3] = {}, pb[3] = {}, pe[3] = {}, out[3] = {};
};

// x: input shape [N, C, spatial...]; kernel: one size per spatial dim.
// ceil_mode only for pooling. Output sizes must be >= 1.
Status resolve_spatial(const NodePlan& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode,
                       SpatialGeom* g);

inline bool fits_int(int64_t v) { return v >= 0 && v <= INT32_MAX; }

// Conv and QLinearConv: checks rank (1-D or 2-D), kernel_shape against W [M, C/group, k...],
// group against the channels and every size against int, then resolves the window (`sg`)
// and fills the kernels' ConvGeom (`g`, a 1-D conv as H = 1).
Status resolve_conv_geom(const NodePlan& n, const Shape& x, const Shape& w, SpatialGeom* sg, ConvGeom* g);

}  // namespace mcrt
