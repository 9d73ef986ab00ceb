// Shared parts of the int8 kernels: the X packers (rows and im2col), the literal requantization
// rule, and the set registry (reference table; one-time choice of the best set).
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "int8_kernels.h"
#include "reference/int8_reference.h"

namespace mcrt {

int8_t int8_requantize_ref(int32_t acc, float mult, int32_t zero_point, int32_t act_min, int32_t act_max) {
  const float f = (float)acc * mult;                       // float32 product
  const double r = (double)std::nearbyint(f) + zero_point;  // round half to even (default mode)
  return (int8_t)(r < act_min ? act_min : (r > act_max ? act_max : (int32_t)r));
}

void int8_pack_rows(int rows, int K, const int8_t* x, int64_t ldx, int8_t* xp) {
  const int64_t Np = int8_gemm_cols(rows);
  for (int r = 0; r < rows; ++r) {
    const int8_t* xr = x + r * ldx;
    int k = 0;
    for (; k + 4 <= K; k += 4) std::memcpy(xp + ((k / 4) * Np + r) * 4, xr + k, 4);
    if (k < K) {
      int8_t t[4] = {0, 0, 0, 0};
      std::memcpy(t, xr + k, (size_t)(K - k));
      std::memcpy(xp + ((k / 4) * Np + r) * 4, t, 4);
    }
  }
}

void int8_pack_rows_u8(int rows, int K, const uint8_t* x, int64_t ldx, int8_t* xp) {
  const int64_t Np = int8_gemm_cols(rows);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* xr = x + r * ldx;
    for (int k = 0; k < K; ++k) xp[((k / 4) * Np + r) * 4 + k % 4] = (int8_t)((int)xr[k] - 128);
  }
}

void int8_im2col(const ConvGeom& g, int cg, const int8_t* x, int8_t zx, int8_t* xp) {
  const int64_t N = (int64_t)g.OH * g.OW, Np = int8_gemm_cols(N);
  const int K = cg * g.kh * g.kw;
  if ((K & 3) != 0) std::memset(xp + (int64_t)(K / 4) * Np * 4, 0, (size_t)Np * 4);  // tail quad
  int k = 0;
  for (int c = 0; c < cg; ++c)
    for (int ky = 0; ky < g.kh; ++ky)
      for (int kx = 0; kx < g.kw; ++kx, ++k) {
        int8_t* dst = xp + (int64_t)(k / 4) * Np * 4 + (k & 3);
        const int8_t* xc = x + (int64_t)c * g.H * g.W;
        for (int oy = 0; oy < g.OH; ++oy) {
          const int iy = oy * g.sh - g.pad_t + ky * g.dh;
          int8_t* d = dst + (int64_t)oy * g.OW * 4;
          if (iy < 0 || iy >= g.H) {
            for (int ox = 0; ox < g.OW; ++ox) d[ox * 4] = zx;
            continue;
          }
          const int8_t* xr = xc + (int64_t)iy * g.W;
          const int ix0 = -g.pad_l + kx * g.dw;
          if (g.sw == 1 && ix0 >= 0 && ix0 + g.OW <= g.W) {
            for (int ox = 0; ox < g.OW; ++ox) d[ox * 4] = xr[ix0 + ox];
          } else {
            for (int ox = 0; ox < g.OW; ++ox) {
              const int ix = ox * g.sw + ix0;
              d[ox * 4] = (ix >= 0 && ix < g.W) ? xr[ix] : zx;
            }
          }
        }
      }
}

const Int8KernelSet& int8_kernels_reference() {
  static const Int8KernelSet set = {"reference",           int8_ref::gemm_packed_size, int8_ref::gemm_pack,
                                    int8_ref::gemm_run,    int8_ref::dw_packed_size,   int8_ref::dw_pack,
                                    int8_ref::dw_scratch_size, int8_ref::dw_run};
  return set;
}

#if !defined(MCRT_INT8_HAVE_X86)
const Int8KernelSet* int8_kernels_avx2() { return nullptr; }
const Int8KernelSet* int8_kernels_avx512vnni() { return nullptr; }
#endif
#if !defined(MCRT_INT8_HAVE_NEON)
const Int8KernelSet* int8_kernels_neon() { return nullptr; }
const Int8KernelSet* int8_kernels_neon_dotprod() { return nullptr; }
#endif

const Int8KernelSet& int8_kernels_best() {
  static const Int8KernelSet* const best = [] {
    const char* cap = std::getenv("MCRT_KERNELS");
    if (cap != nullptr && std::strcmp(cap, "reference") == 0) return &int8_kernels_reference();
    const bool avx2_only = cap != nullptr && std::strcmp(cap, "avx2") == 0;
    const bool neon_only = cap != nullptr && std::strcmp(cap, "neon") == 0;
    if (!neon_only)
      if (const Int8KernelSet* s = int8_kernels_neon_dotprod()) return s;
    if (const Int8KernelSet* s = int8_kernels_neon()) return s;
    if (!avx2_only)
      if (const Int8KernelSet* s = int8_kernels_avx512vnni()) return s;
    if (const Int8KernelSet* s = int8_kernels_avx2()) return s;
    return &int8_kernels_reference();
  }();
  return *best;
}

}  // namespace mcrt
