// Reference 2-D convolution (ONNX Conv, NCHW fp32): the direct seven-loop definition.
// "Packing" is a plain copy of the weights [M, C/group, kh, kw]; no scratch is used.
#include <algorithm>
#include <cstring>

#include "reference_kernels.h"

namespace mcrt {
namespace ref {

size_t conv2d_packed_size(const ConvGeom& g) {
  return sizeof(float) * size_t(g.M) * size_t(g.C / g.group) * size_t(g.kh) * size_t(g.kw);
}

void conv2d_pack(const ConvGeom& g, const float* w, void* packed) {
  std::memcpy(packed, w, conv2d_packed_size(g));
}

size_t conv2d_scratch_size(const ConvGeom&) { return 0; }

void conv2d_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y, void*,
                const ParallelFor*) {
  const float* w = static_cast<const float*>(packed);
  const int cg = g.C / g.group;  // input channels per group
  const int mg = g.M / g.group;  // output channels per group
  for (int n = 0; n < g.N; ++n) {
    for (int m = 0; m < g.M; ++m) {
      const int c0 = (m / mg) * cg;
      const float* wm = w + size_t(m) * cg * g.kh * g.kw;
      float* ym = y + (size_t(n) * g.M + m) * g.OH * g.OW;
      for (int oy = 0; oy < g.OH; ++oy) {
        for (int ox = 0; ox < g.OW; ++ox) {
          float acc = 0.0f;
          for (int c = 0; c < cg; ++c) {
            const float* xc = x + (size_t(n) * g.C + c0 + c) * g.H * g.W;
            for (int ky = 0; ky < g.kh; ++ky) {
              const int iy = oy * g.sh - g.pad_t + ky * g.dh;
              if (iy < 0 || iy >= g.H) continue;
              for (int kx = 0; kx < g.kw; ++kx) {
                const int ix = ox * g.sw - g.pad_l + kx * g.dw;
                if (ix < 0 || ix >= g.W) continue;
                acc += xc[iy * g.W + ix] * wm[(c * g.kh + ky) * g.kw + kx];
              }
            }
          }
          if (ep.bias) acc += ep.bias[m];
          if (ep.residual) acc += ep.residual[(size_t(n) * g.M + m) * g.OH * g.OW + size_t(oy) * g.OW + ox];
          ym[oy * g.OW + ox] = std::min(std::max(acc, ep.lo), ep.hi);
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace mcrt
