// Reference int8 kernels: the formulas of int8_kernels.h written literally. Packed weights are
// [bias int32 M][pad to 64][W int8 M x K] (GEMM) and [bias int32 C][pad][w int8 C x taps] (depthwise).
// Sums wrap like the SIMD twins would (uint32 arithmetic); prepare's K bound keeps them exact.
#include "int8_reference.h"

#include <cmath>
#include <cstring>

#include "../../parallel_for.h"

namespace mcrt {
namespace int8_ref {
namespace {

size_t w_off(int M) { return (size_t)(((int64_t)M * 4 + 63) / 64 * 64); }

inline void store(const Int8Out& out, int m, int32_t acc, void* y, int64_t idx) {
  if (out.f32) {
    float v = (float)acc * out.mult[m];
    if (out.fbias) v = v + out.fbias[m];
    static_cast<float*>(y)[idx] = v;
  } else {
    static_cast<int8_t*>(y)[idx] = int8_requantize_ref(acc, out.mult[m], out.zero_point, out.act_min, out.act_max);
  }
}

}  // namespace

size_t gemm_packed_size(int M, int K) { return w_off(M) + (size_t)M * (size_t)K; }

void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed) {
  uint8_t* base = static_cast<uint8_t*>(packed);
  for (int m = 0; m < M; ++m) {
    const int32_t b = bias ? bias[m] : 0;
    std::memcpy(base + 4 * m, &b, 4);
  }
  std::memcpy(base + w_off(M), w, (size_t)M * (size_t)K);
}

void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf) {
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int8_t* w = reinterpret_cast<const int8_t*>(base + w_off(M));
  const int64_t Np = int8_gemm_cols(N);
  parallel_for(pf, M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      int32_t bias;
      std::memcpy(&bias, base + 4 * m, 4);
      for (int n = 0; n < N; ++n) {
        uint32_t acc = (uint32_t)bias;
        for (int k = 0; k < K; ++k) {
          const int32_t xv = xp[((k / 4) * Np + n) * 4 + k % 4];
          acc += (uint32_t)((xv - zx) * (int32_t)w[m * K + k]);
        }
        store(out, (int)m, (int32_t)acc, y, m * ldy + n);
      }
    }
  });
}

void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int8_t* w = reinterpret_cast<const int8_t*>(base + w_off(M));
  parallel_for(pf, M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      int32_t bias;
      std::memcpy(&bias, base + 4 * m, 4);
      for (int oy = 0; oy < OH; ++oy)
        for (int ox = 0; ox < OW; ++ox) {
          uint32_t acc = (uint32_t)bias;
          for (int k = 0; k < K; ++k) {
            const int32_t xv = img[oy * row_step + (int64_t)ox * 4 + qoff[k / 4] + k % 4];
            acc += (uint32_t)((xv - zx) * (int32_t)w[m * K + k]);
          }
          store(out, (int)m, (int32_t)acc, y, m * OH * OW + (int64_t)oy * OW + ox);
        }
      if (out.residual) {  // fused QLinearAdd: the add's rule on channel m's int8 outputs and the residual
        int8_t* ym = y + m * OH * OW;
        const int8_t* rm = out.residual + m * OH * OW;
        if (out.conv_is_a) add_run((int64_t)OH * OW, ym, 1, rm, 1, out.add, ym);
        else add_run((int64_t)OH * OW, rm, 1, ym, 1, out.add, ym);
      }
    }
  });
}

size_t dw_packed_size(const ConvGeom& g) { return w_off(g.C) + (size_t)g.C * (size_t)(g.kh * g.kw); }

const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  gemm_pack(g.C, g.kh * g.kw, w, bias, packed);
  return "reference";
}

size_t dw_scratch_size(const ConvGeom&) { return 0; }

void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void*, const ParallelFor* pf) {
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int taps = g.kh * g.kw;
  const int8_t* w = reinterpret_cast<const int8_t*>(base + w_off(g.C));
  parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int32_t bias;
      std::memcpy(&bias, base + 4 * c, 4);
      const int8_t* xc = x + c * g.H * g.W;
      for (int oy = 0; oy < g.OH; ++oy)
        for (int ox = 0; ox < g.OW; ++ox) {
          uint32_t acc = (uint32_t)bias;
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx) {
              const int iy = oy * g.sh - g.pad_t + ky * g.dh, ix = ox * g.sw - g.pad_l + kx * g.dw;
              if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;  // padding is zx: (zx - zx) = 0
              acc += (uint32_t)(((int32_t)xc[iy * g.W + ix] - zx) * (int32_t)w[c * taps + ky * g.kw + kx]);
            }
          const int8_t v = int8_requantize_ref((int32_t)acc, out.mult[c], out.zero_point, out.act_min, out.act_max);
          y[(c * g.OH + oy) * g.OW + ox] = v;
        }
    }
  });
}

void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  const float flo = (float)(p.lo - p.zy), fhi = (float)(p.hi - p.zy);
  for (int64_t i = 0; i < n; ++i) {
    const float fa = p.ma * (float)((int32_t)a[i * as] - p.za);
    const float fb = p.mb * (float)((int32_t)b[i * bs] - p.zb);
    float f = fa + fb;
    f = f < flo ? flo : (f > fhi ? fhi : f);  // integer bounds: clamping commutes with rounding
    y[i] = (int8_t)((int32_t)std::nearbyint(f) + p.zy);
  }
}

}  // namespace int8_ref
}  // namespace mcrt
