// NEON int8 kernels, baseline ARMv8-A (no dotprod).
//
// GEMM: 4 output channels x 8 columns per tile. X holds 4 columns x 4 k per 16 bytes; a channel's 4
// weights of a K-quad are broadcast with dup-by-lane. smull multiplies int8 x int8 -> int16, smlal adds
// the next K-quad's product into the same int16 lanes (|x| <= 128, |w| <= 127: two products fit in
// int16), and sadalp adds int16 pairs into the int32 accumulators [col, k-pair]; a final addp per
// 4 columns gives the column sums. The zero point enters as - zx * Σw.
#include "int8_neon_common.h"

#include "../int8_sets.h"

namespace mcrt {
namespace int8_neon {
namespace {

constexpr int MR = 4;

inline int8x16_t lane_bcast(int8x16_t w, int r) {
  const int32x4_t w32 = vreinterpretq_s32_s8(w);
  switch (r) {
    case 0: return vreinterpretq_s8_s32(vdupq_laneq_s32(w32, 0));
    case 1: return vreinterpretq_s8_s32(vdupq_laneq_s32(w32, 1));
    case 2: return vreinterpretq_s8_s32(vdupq_laneq_s32(w32, 2));
    default: return vreinterpretq_s8_s32(vdupq_laneq_s32(w32, 3));
  }
}

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
  auto qa = [&](int qq) { return kOff ? xc + qoff[qq] : xc + (int64_t)qq * Np * 4; };
  int q = 0;
  for (; q + 2 <= l.Kq; q += 2, wp += 2 * MR * 4) {
    const int8_t* xq0 = qa(q);
    const int8_t* xq1 = qa(q + 1);
    const int8x16_t x0a = vld1q_s8(xq0), x0b = vld1q_s8(xq0 + 16);
    const int8x16_t x1a = vld1q_s8(xq1), x1b = vld1q_s8(xq1 + 16);
    const int8x16_t w0 = vld1q_s8(wp), w1 = vld1q_s8(wp + 16);
    for (int r = 0; r < MR; ++r) {
      const int8x16_t b0 = lane_bcast(w0, r), b1 = lane_bcast(w1, r);
      int16x8_t p = vmull_s8(vget_low_s8(x0a), vget_low_s8(b0));
      p = vmlal_s8(p, vget_low_s8(x1a), vget_low_s8(b1));
      acc[r][0] = vpadalq_s16(acc[r][0], p);
      p = vmull_high_s8(x0a, b0);
      p = vmlal_high_s8(p, x1a, b1);
      acc[r][1] = vpadalq_s16(acc[r][1], p);
      p = vmull_s8(vget_low_s8(x0b), vget_low_s8(b0));
      p = vmlal_s8(p, vget_low_s8(x1b), vget_low_s8(b1));
      acc[r][2] = vpadalq_s16(acc[r][2], p);
      p = vmull_high_s8(x0b, b0);
      p = vmlal_high_s8(p, x1b, b1);
      acc[r][3] = vpadalq_s16(acc[r][3], p);
    }
  }
  if (q < l.Kq) {  // odd last K-quad: smull only
    const int8_t* xq = qa(q);
    const int8x16_t x0a = vld1q_s8(xq), x0b = vld1q_s8(xq + 16);
    const int8x16_t w0 = vld1q_s8(wp);
    for (int r = 0; r < MR; ++r) {
      const int8x16_t b0 = lane_bcast(w0, r);
      acc[r][0] = vpadalq_s16(acc[r][0], vmull_s8(vget_low_s8(x0a), vget_low_s8(b0)));
      acc[r][1] = vpadalq_s16(acc[r][1], vmull_high_s8(x0a, b0));
      acc[r][2] = vpadalq_s16(acc[r][2], vmull_s8(vget_low_s8(x0b), vget_low_s8(b0)));
      acc[r][3] = vpadalq_s16(acc[r][3], vmull_high_s8(x0b, b0));
    }
  }
  const int valid = N - n0 < 8 ? N - n0 : 8;
  for (int r = 0; r < MR; ++r) {
    const int m = tile * MR + r;
    if (m >= M) break;
    const int32x4_t comp = vdupq_n_s32((int32_t)((uint32_t)bias[m] - (uint32_t)zx * (uint32_t)wsum[m]));
    const int32x4_t s0 = vaddq_s32(vpaddq_s32(acc[r][0], acc[r][1]), comp);
    const int32x4_t s1 = vaddq_s32(vpaddq_s32(acc[r][2], acc[r][3]), comp);
    int8_neon_common::store8(s0, s1, m, out, y, (int64_t)m * ldy + n0, valid);
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
  const int mt = l.Mp / MR, nt = (N + 7) / 8;
  parallel_for(pf, (int64_t)mt * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      gemm_tile<false>(l, base, (int)(t / nt), M, N, (int)(t % nt) * 8, xp, Np, nullptr, zx, out, y, ldy);
  });
}

void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf) {
  const int8_pack::GemmLayout l = int8_pack::gemm_layout<int8_t>(M, K, MR);
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  const int mt = l.Mp / MR, nt = (OW + 7) / 8;
  const int64_t P = (int64_t)OH * OW;
  parallel_for(pf, (int64_t)mt * OH * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int tile = (int)(t / ((int64_t)OH * nt)), rem = (int)(t % ((int64_t)OH * nt));
      const int oy = rem / nt, ox0 = rem % nt * 8;
      gemm_tile<true>(l, base, tile, M, OW, ox0, img + oy * row_step, 0, qoff, zx, out, y + (int64_t)oy * OW, P);
    }
  });
  if (out.residual) int8_pack::residual_pass(pf, add_run, out, M, P, y);  // the fused add
}

size_t dw_packed_size(const ConvGeom& g) { return int8_pack::dw_packed_size(g.C, g.kh * g.kw); }
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  int8_pack::dw_pack(g.C, g.kh * g.kw, w, bias, packed);
  return "neon";
}
size_t dw_scratch_size(const ConvGeom& g) { return int8_pack::dw_scratch_size(g); }
void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void* scratch, const ParallelFor* pf) {
  int8_neon_common::dw_run(g, packed, x, zx, out, y, scratch, pf);
}

void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y) {
  int8_neon_common::add_run(n, a, as, b, bs, p, y);
}

}  // namespace int8_neon
}  // namespace mcrt
