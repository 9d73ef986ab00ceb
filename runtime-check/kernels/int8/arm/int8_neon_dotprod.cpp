// NEON dotprod int8 kernels (compiled with -march=armv8.2-a+dotprod; handed out only when
// getauxval(AT_HWCAP) has HWCAP_ASIMDDP, see int8_kernel_set_arm.cpp).
//
// GEMM: 4 output channels x 16 columns per tile, 16 int32x4 accumulators. One 16-byte load holds the
// 4 channels' weights of a K-quad; sdot by lane r adds, per column, the 4 products of channel r
// (signed x signed, exact in int32). The zero point enters as - zx * Σw. Depthwise: the baseline's.
#include <arm_neon.h>

#include "../int8_sets.h"
#include "int8_neon_common.h"

namespace mcrt {
namespace int8_neon_dotprod {
namespace {

constexpr int MR = 4;

// kOff: K-quad q of the tile's columns at xp + n0*4 + qoff[q] (implicit-GEMM conv); else at + q*Np*4.
template <bool kOff>
void gemm_tile(const int8_pack::GemmLayout& l, const uint8_t* base, int tile, int M, int N, int n0,
               const int8_t* xp, int64_t Np, const int64_t* qoff, int32_t zx, const Int8Out& out, void* y,
               int64_t ldy) {
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base);
  const int32_t* bias = wsum + l.Mp;
  const int8_t* wp = reinterpret_cast<const int8_t*>(base + l.w_off) + (int64_t)tile * l.Kq * MR * 4;
  int32x4_t acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = vdupq_n_s32(0);
  const int8_t* xc = xp + (int64_t)n0 * 4;
  for (int q = 0; q < l.Kq; ++q, wp += MR * 4) {
    const int8_t* xq = kOff ? xc + qoff[q] : xc + (int64_t)q * Np * 4;
    const int8x16_t w = vld1q_s8(wp);
    for (int v = 0; v < 4; ++v) {
      const int8x16_t x = vld1q_s8(xq + 16 * v);
      acc[0][v] = vdotq_laneq_s32(acc[0][v], x, w, 0);
      acc[1][v] = vdotq_laneq_s32(acc[1][v], x, w, 1);
      acc[2][v] = vdotq_laneq_s32(acc[2][v], x, w, 2);
      acc[3][v] = vdotq_laneq_s32(acc[3][v], x, w, 3);
    }
  }
  for (int r = 0; r < MR; ++r) {
    const int m = tile * MR + r;
    if (m >= M) break;
    const int32x4_t comp = vdupq_n_s32((int32_t)((uint32_t)bias[m] - (uint32_t)zx * (uint32_t)wsum[m]));
    for (int h = 0; h < 2; ++h) {
      const int c = n0 + 8 * h;
      if (c >= N) break;
      int8_neon_common::store8(vaddq_s32(acc[r][2 * h], comp), vaddq_s32(acc[r][2 * h + 1], comp), m, out, y,
                               (int64_t)m * ldy + c, N - c < 8 ? N - c : 8);
    }
  }
}

}  // namespace

size_t gemm_packed_size(int M, int K) { return int8_pack::gemm_layout<int8_t>(M, K, MR).bytes; }
void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::gemm_pack<int8_t>(M, K, MR, w, bias, packed);
}

void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int8_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int64_t Np = int8_gemm_cols(N);
  const int mt = l.Mp / MR, nt = (N + 15) / 16;
  parallel_for(pf, (int64_t)mt * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      gemm_tile<false>(l, base, (int)(t / nt), M, N, (int)(t % nt) * 16, xp, Np, nullptr, zx, out, y, ldy);
  });
}

void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int8_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int mt = l.Mp / MR, nt = (OW + 15) / 16;
  const int64_t P = (int64_t)OH * OW;
  parallel_for(pf, (int64_t)mt * OH * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int tile = (int)(t / ((int64_t)OH * nt)), rem = (int)(t % ((int64_t)OH * nt));
      const int oy = rem / nt, ox0 = rem % nt * 16;
      gemm_tile<true>(l, base, tile, M, OW, ox0, img + oy * row_step, 0, qoff, zx, out, y + (int64_t)oy * OW, P);
    }
  });
  if (out.residual) int8_pack::residual_pass(pf, add_run, out, M, P, y);  // the fused add
}

size_t dw_packed_size(const ConvGeom& g) { return int8_pack::dw_packed_size(g.C, g.kh * g.kw); }
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::dw_pack(g.C, g.kh * g.kw, w, bias, packed);
  return "neon_dotprod";
}
size_t dw_scratch_size(const ConvGeom& g) { return int8_pack::dw_scratch_size(g); }
void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void* scratch, const ParallelFor* pf) {
  int8_neon_common::dw_run(g, packed, x, zx, out, y, scratch, pf);
}

void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  int8_neon_common::add_run(n, a, as, b, bs, p, y);
}

}  // namespace int8_neon_dotprod
}  // namespace mcrt
