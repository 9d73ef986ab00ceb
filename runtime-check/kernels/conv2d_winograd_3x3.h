// Internal, ISA-generic: Winograd convolution F(2x2, 3x3) and F(4x4, 3x3) for 3x3, stride 1,
// dilation 1, group 1 (Lavin & Gray 2016). Included only by gemm_blocked_driver.h (after gemm_packed),
// so each ISA translation unit compiles it with its own -m flags and its own GEMM microkernel.
//
// How it works. The output is cut into m x m tiles (m = 2 or 4; TH x TW tiles, the last row / column
// may overhang OH / OW and its extra outputs are dropped). A tile reads a t x t input patch d
// (t = m + 2) and, for each of the t*t transform points xi = (i, j):
//     V = B^T d B   (input, per channel)      U = G g G^T   (weights, per (m, c), once in pack)
//     Y_xi[m][tile] = sum_c U_xi[m][c] * V_xi[c][tile]     (t*t GEMMs of M x C times C x tiles)
//     y tile = A^T Y A (+ bias, clamp)
// F(2x2): 16 products per tile and channel pair for 4 outputs (9*4 = 36 direct); F(4x4): 36 for 16
// (144 direct). The variant is chosen from the geometry alone (winograd_3x3_variant).
//
// Layout (no gathers, long loops): the zero-padded input of a channel is copied into m row-phase
// images (padded row R = m*i + py goes to row i of image py), rows m*Wph floats long. With q = i*Wph + tx, the row transform of tile column tx of padded row R reads
// image[py][m*q + 0..t-1], a straight stride-m loop over the whole image (pass 1). Tile (ty, tx) then
// needs rows m*ty + a, a < t, i.e. pass-1 results at q + (a/m)*Wph of phase a%m, again straight
// loops over q = ty*Wph + tx (pass 2). Wph = TW + 1 leaves one junk tile per tile row so that no
// valid tile reads across a row end; Wph = TW is used when the only reads that cross land in the
// next row's left zero padding (see winograd_3x3_layout). Junk tiles and the tiles past the last
// one (up to the GEMM's panel width) are computed and never stored.
//
// Numerics: only the transforms differ from a direct sum. F(2x2) only adds (and G halves), F(4x4)
// multiplies by 4, 5, 2, 8 and 1/6, 1/12, 1/24, so its rounding error is larger (about 10x for the
// same data). tests/unit/runtime/kernels/test_conv2d_winograd.cpp bounds both against the reference
// and prints the worst error it measured.
// Determinism: each output is summed in a fixed order (the GEMMs' K blocks are fixed); threads split
// channels (input transform), GEMM tasks and output channels (output transform) only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace mcrt {
namespace {

template <int TM>
struct WinogradCoeffs;

template <>
struct WinogradCoeffs<2> {  // F(2x2, 3x3), interpolation points 0, 1, -1
  static constexpr int M = 2, T = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct WinogradCoeffs<4> {  // F(4x4, 3x3), interpolation points 0, 1, -1, 2, -2
  static constexpr int M = 4, T = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// The GEMMs' A panel height: Ukr::kWinogradMR when the ISA has a dedicated Winograd microkernel
// (Ukr::winograd_gemm: whole K in registers, plain store), else the SGEMM's MR and gemm_packed.
template <class U, class = void>
struct WinogradUkr : std::false_type {
  static constexpr int MR = U::MR;
};
template <class U>
struct WinogradUkr<U, std::void_t<decltype(U::kWinogradMR)>> : std::true_type {
  static constexpr int MR = U::kWinogradMR;
};
constexpr int kWgMR = WinogradUkr<Ukr>::MR;
template <class U>  // dependent, so that ISAs without it still compile the discarded branch
inline void winograd_gemm(int M, int lanes, int K, const float* a, const float* v, int ld, float* y) {
  U::winograd_gemm(M, lanes, K, a, v, ld, y);
}

// SIMD columns the GEMMs fill per transform point and output channel: full NR panels, and a last
// panel that costs half a panel when it fits in one (the microkernels' narrow path).
inline int winograd_3x3_lanes(int tp) {
  const int full = tp / Ukr::NR * Ukr::NR, rem = tp - full;
  return full + (rem == 0 ? 0 : rem <= Ukr::NR / 2 ? Ukr::NR / 2 : Ukr::NR);
}

struct Winograd3x3Layout {
  int m, t, th, tw, wph;
  int tp;   // tiles including junk ones: the GEMM's N
  int ldv;  // row stride of V and Y: the lanes the GEMMs read (winograd_gemm: winograd_3x3_lanes;
            // gemm_packed: tp rounded up to whole NR panels)
  int hn;   // pass-1 values per (row phase, j): ldv + Wph, since pass 2 reads q + Wph for q < ldv
  size_t img;                   // floats per row-phase image: (TH + 1) rows of m*Wph
  size_t ph_floats, hr_floats;  // per input channel: the m images (+ over-read), the pass-1 results
  size_t z_floats;              // per output channel: m output row-phase images of TH rows of m*Wph
  // Byte offsets in scratch: V [t*t][C][ldv] | Y [t*t][M][ldv] | phase images [C] | pass 1 [C] | z [M]
  size_t y_off, p_off, h_off, z_off, total;
};

inline Winograd3x3Layout winograd_3x3_layout(const ConvGeom& g, int m) {
  Winograd3x3Layout l;
  l.m = m;
  l.t = m + 2;
  l.th = ceil_div(g.OH, m);
  l.tw = ceil_div(g.OW, m);
  // Valid output ox reads padded columns up to ox + 2 <= OW + 1. With rows of m*TW floats, columns
  // >= m*TW wrap onto the next row's columns 0, 1, ...; that is harmless when those are left padding
  // (zeros) and the padded row fits. Otherwise one junk tile column per row keeps reads in the row.
  const bool exact = g.OW + 1 - m * l.tw < g.pad_l && g.pad_l + g.W <= m * l.tw;
  l.wph = exact ? l.tw : l.tw + 1;
  l.tp = l.th * l.wph;
  l.ldv = WinogradUkr<Ukr>::value ? winograd_3x3_lanes(l.tp) : ceil_div(l.tp, Ukr::NR) * Ukr::NR;
  l.hn = l.ldv + l.wph;
  l.img = size_t(l.th + 1) * m * l.wph;
  // Pass 1 of the last image reads up to m*hn + t floats past its start.
  l.ph_floats = size_t(ceil_div(int((m - 1) * l.img + size_t(m) * l.hn + l.t + 16), 16)) * 16;
  l.hr_floats = size_t(m) * l.t * l.hn;
  l.z_floats = size_t(m) * l.th * m * l.wph;
  const size_t pts = size_t(l.t) * l.t;
  l.y_off = align64(sizeof(float) * pts * g.C * l.ldv);
  l.p_off = l.y_off + align64(sizeof(float) * pts * g.M * l.ldv);
  l.h_off = l.p_off + align64(sizeof(float) * g.C * l.ph_floats);
  l.z_off = l.h_off + align64(sizeof(float) * g.C * l.hr_floats);
  l.total = l.z_off + sizeof(float) * g.M * l.z_floats;
  return l;
}

// Tile size m (2 or 4). F(4x4) needs fewer GEMM lanes on large planes, but its transforms cost more
// per channel (strided loads, real multiplies), so it pays only with enough channels: measured on
// AVX-512 (the AMD EPYC bench machine), C = M = 16 and 32 were as fast or faster with F(2x2) on 14x14 and 28x28 planes,
// C = M = 64 at 28x28 and 128 at 14x14 about 10-20 % faster with F(4x4). Ties go to F(2x2), which
// rounds less.
inline int winograd_3x3_variant(const ConvGeom& g) {
  const long c2 = 16L * winograd_3x3_lanes(winograd_3x3_layout(g, 2).tp);
  const long c4 = 36L * winograd_3x3_lanes(winograd_3x3_layout(g, 4).tp);
  return c4 < c2 && g.C + g.M >= 128 ? 4 : 2;
}

// Scratch holds whole-plane transforms (about t*t/(m*m) times the input and output planes), so large
// planes stay on the shifted-window path, whose scratch is about one padded input.
constexpr size_t kWinogradMaxScratch = size_t(16) << 20;

inline size_t winograd_3x3_scratch_size(const ConvGeom& g);

// conv_algo() picks Winograd when this holds: 3x3, stride 1, dilation 1, group 1, enough input and
// output channels for the GEMMs to pay for the transforms, and scratch within kWinogradMaxScratch.
inline bool winograd_3x3_fits(const ConvGeom& g) {
  return g.group == 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.C >= 8 &&
         g.M >= 8 && winograd_3x3_scratch_size(g) <= kWinogradMaxScratch;
}

inline size_t winograd_3x3_a_floats(const ConvGeom& g) {  // one transform point's packed U
  return size_t(ceil_div(g.M, kWgMR)) * kWgMR * g.C;
}

inline size_t winograd_3x3_packed_size(const ConvGeom& g) {
  const int t = winograd_3x3_variant(g) + 2;
  return sizeof(float) * t * t * winograd_3x3_a_floats(g);
}

inline size_t winograd_3x3_scratch_size(const ConvGeom& g) {
  return winograd_3x3_layout(g, winograd_3x3_variant(g)).total;
}

// U_xi = G g G^T (in double, rounded once), stored per point as MR-row panels over K = C.
template <int TM>
void winograd_3x3_pack_t(const ConvGeom& g, const float* w, float* p) {
  using W = WinogradCoeffs<TM>;
  constexpr int T = W::T;
  const size_t per_point = winograd_3x3_a_floats(g);
  std::memset(p, 0, sizeof(float) * T * T * per_point);
  for (int m = 0; m < g.M; ++m) {
    for (int c = 0; c < g.C; ++c) {
      const float* k = w + (size_t(m) * g.C + c) * 9;
      double gk[T][3];  // G g
      for (int i = 0; i < T; ++i)
        for (int col = 0; col < 3; ++col)
          gk[i][col] = W::G[i][0] * k[col] + W::G[i][1] * k[3 + col] + W::G[i][2] * k[6 + col];
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          const double u = gk[i][0] * W::G[j][0] + gk[i][1] * W::G[j][1] + gk[i][2] * W::G[j][2];
          p[size_t(i * T + j) * per_point + size_t(m / kWgMR) * g.C * kWgMR + size_t(c) * kWgMR + m % kWgMR] =
              float(u);
        }
    }
  }
}

inline void winograd_3x3_pack(const ConvGeom& g, const float* w, void* packed) {
  if (winograd_3x3_variant(g) == 4) return winograd_3x3_pack_t<4>(g, w, static_cast<float*>(packed));
  winograd_3x3_pack_t<2>(g, w, static_cast<float*>(packed));
}

// The m row-phase images of one zero-padded channel: ph[py*img + i*m*Wph + col] = xpad[m*i + py][col].
inline void winograd_3x3_phase_copy(const ConvGeom& g, const Winograd3x3Layout& l, const float* xc, float* ph) {
  const size_t row = size_t(l.m) * l.wph;
  std::memset(ph, 0, sizeof(float) * l.ph_floats);
  for (int r = 0; r < g.H; ++r) {
    const int R = r + g.pad_t;
    std::memcpy(ph + size_t(R % l.m) * l.img + size_t(R / l.m) * row + g.pad_l, xc + size_t(r) * g.W,
                sizeof(float) * g.W);
  }
}

// V_xi[c][q] (point xi at v + xi*point_stride, q < ldv) for one channel from its row-phase images.
template <int TM>
void winograd_3x3_input_channel(const Winograd3x3Layout& l, const float* ph, float* hr, float* v, size_t point_stride) {
  using W = WinogradCoeffs<TM>;
  constexpr int T = W::T;
  const int hn = l.hn;
  // Pass 1: hr[py][j][q] = (d B)_j, d = image py at TM*q + 0..T-1.
  for (int py = 0; py < TM; ++py) {
    const float* __restrict p = ph + py * l.img;
    float* __restrict h = hr + size_t(py) * T * hn;
#pragma GCC ivdep
    for (int q = 0; q < hn; ++q) {
      float d[T];
#pragma GCC unroll 6
      for (int k = 0; k < T; ++k) d[k] = p[TM * q + k];
#pragma GCC unroll 6
      for (int j = 0; j < T; ++j) {
        float s = 0.0f;
        bool first = true;  // start from the first nonzero term (0 + x is not foldable)
#pragma GCC unroll 6
        for (int k = 0; k < T; ++k)
          if (W::BT[j][k] != 0.0f) {
            s = first ? W::BT[j][k] * d[k] : s + W::BT[j][k] * d[k];
            first = false;
          }
        h[size_t(j) * hn + q] = s;
      }
    }
  }
  // Pass 2: V[(i, j)][q] = sum_a BT[i][a] * (row a of the tile at q, column j).
  const int nv = l.ldv;
  for (int j = 0; j < T; ++j) {
    const float* rows[T];
    for (int a = 0; a < T; ++a) rows[a] = hr + (size_t(a % TM) * T + j) * hn + size_t(a / TM) * l.wph;
    float* __restrict vj = v + size_t(j) * point_stride;
#pragma GCC ivdep
    for (int q = 0; q < nv; ++q) {
      float r[T];
#pragma GCC unroll 6
      for (int a = 0; a < T; ++a) r[a] = rows[a][q];
#pragma GCC unroll 6
      for (int i = 0; i < T; ++i) {
        float s = 0.0f;
        bool first = true;
#pragma GCC unroll 6
        for (int a = 0; a < T; ++a)
          if (W::BT[i][a] != 0.0f) {
            s = first ? W::BT[i][a] * r[a] : s + W::BT[i][a] * r[a];
            first = false;
          }
        vj[size_t(i) * T * point_stride + q] = s;
      }
    }
  }
}

// y[m] (OH x OW) from Y_xi[m][q]: A^T Y A, bias, clamp, written as TM output row-phase images
// z[u][ty*TM*Wph + TM*tx + v] and then copied into y row by row.
template <int TM>
void winograd_3x3_output_channel(const ConvGeom& g, const Winograd3x3Layout& l, const float* ym, size_t point_stride,
                                 float bias, float lo, float hi, const float* res, float res_lo, float res_hi,
                                 float* z, float* y) {
  using W = WinogradCoeffs<TM>;
  constexpr int T = W::T;
  const size_t zimg = size_t(l.th) * TM * l.wph;
  const int tp = l.tp;
#pragma GCC ivdep
  for (int q = 0; q < tp; ++q) {
    float s[TM][T];  // A^T Y
#pragma GCC unroll 6
    for (int j = 0; j < T; ++j) {
      float yc[T];
#pragma GCC unroll 6
      for (int i = 0; i < T; ++i) yc[i] = ym[size_t(i * T + j) * point_stride + q];
#pragma GCC unroll 4
      for (int u = 0; u < TM; ++u) {
        float acc = 0.0f;
        bool first = true;
#pragma GCC unroll 6
        for (int i = 0; i < T; ++i)
          if (W::AT[u][i] != 0.0f) {
            acc = first ? W::AT[u][i] * yc[i] : acc + W::AT[u][i] * yc[i];
            first = false;
          }
        s[u][j] = acc;
      }
    }
#pragma GCC unroll 4
    for (int u = 0; u < TM; ++u)
#pragma GCC unroll 4
      for (int vv = 0; vv < TM; ++vv) {
        float acc = 0.0f;
        bool first = true;
#pragma GCC unroll 6
        for (int j = 0; j < T; ++j)
          if (W::AT[vv][j] != 0.0f) {
            acc = first ? W::AT[vv][j] * s[u][j] : acc + W::AT[vv][j] * s[u][j];
            first = false;
          }
        z[size_t(u) * zimg + size_t(TM) * q + vv] = std::min(std::max(acc + bias, lo), hi);
      }
  }
  if (res == nullptr) {
    for (int oy = 0; oy < g.OH; ++oy)
      std::memcpy(y + size_t(oy) * g.OW, z + size_t(oy % TM) * zimg + size_t(oy / TM) * TM * l.wph,
                  sizeof(float) * g.OW);
    return;
  }
  // Fused residual: z holds acc + bias unclamped (the caller passed lo/hi = -inf/inf); add the
  // residual and clamp while copying the still-hot plane out.
  for (int oy = 0; oy < g.OH; ++oy) {
    const float* __restrict zr = z + size_t(oy % TM) * zimg + size_t(oy / TM) * TM * l.wph;
    const float* __restrict rr = res + size_t(oy) * g.OW;
    float* __restrict yr = y + size_t(oy) * g.OW;
    for (int ox = 0; ox < g.OW; ++ox) yr[ox] = std::min(std::max(zr[ox] + rr[ox], res_lo), res_hi);
  }
}

template <int TM>
void winograd_3x3_run_t(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y,
                        void* scratch, const ParallelFor* pf) {
  constexpr int T = TM + 2;
  const Winograd3x3Layout l = winograd_3x3_layout(g, TM);
  char* sb = static_cast<char*>(scratch);
  float* V = reinterpret_cast<float*>(sb);
  float* Y = reinterpret_cast<float*>(sb + l.y_off);
  float* P = reinterpret_cast<float*>(sb + l.p_off);
  float* H = reinterpret_cast<float*>(sb + l.h_off);
  float* Z = reinterpret_cast<float*>(sb + l.z_off);
  const size_t v_point = size_t(g.C) * l.ldv, y_point = size_t(g.M) * l.ldv;
  const float* U = static_cast<const float*>(packed);
  const size_t u_point = winograd_3x3_a_floats(g);
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + size_t(n) * g.C * g.H * g.W;
    float* yn = y + size_t(n) * g.M * g.OH * g.OW;
    const float* rn = ep.residual ? ep.residual + size_t(n) * g.M * g.OH * g.OW : nullptr;
    // All copies first, then all transforms: the transforms' vector loads must not meet the copies'
    // narrow stores still in the store buffer (store-forwarding stalls).
    parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) winograd_3x3_phase_copy(g, l, xn + size_t(c) * g.H * g.W, P + size_t(c) * l.ph_floats);
    });
    parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        winograd_3x3_input_channel<TM>(l, P + size_t(c) * l.ph_floats, H + size_t(c) * l.hr_floats,
                                       V + size_t(c) * l.ldv, v_point);
    });
    if constexpr (WinogradUkr<Ukr>::value) {
      parallel_for(pf, T * T, [&](int64_t x0, int64_t x1) {
        for (int64_t xi = x0; xi < x1; ++xi)
          winograd_gemm<Ukr>(g.M, l.ldv, g.C, U + size_t(xi) * u_point, V + size_t(xi) * v_point, l.ldv,
                             Y + size_t(xi) * y_point);
      });
    } else {
      TileOut base;  // plain product: bias and clamp come after the output transform
      for (int xi = 0; xi < T * T; ++xi) {
        BSource bs;
        bs.direct = V + size_t(xi) * v_point;
        bs.ld = l.ldv;
        bs.direct_panels = l.ldv / Ukr::NR;
        gemm_packed(g.M, l.tp, g.C, U + size_t(xi) * u_point, bs, Y + size_t(xi) * y_point, l.ldv, base, pf);
      }
    }
    parallel_for(pf, g.M, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m)
        winograd_3x3_output_channel<TM>(g, l, Y + size_t(m) * l.ldv, y_point, ep.bias ? ep.bias[m] : 0.0f,
                                        rn ? -INFINITY : ep.lo, rn ? INFINITY : ep.hi,
                                        rn ? rn + size_t(m) * g.OH * g.OW : nullptr, ep.lo, ep.hi,
                                        Z + size_t(m) * l.z_floats, yn + size_t(m) * g.OH * g.OW);
    });
  }
}

inline void winograd_3x3_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y,
                             void* scratch, const ParallelFor* pf) {
  if (winograd_3x3_variant(g) == 4) return winograd_3x3_run_t<4>(g, packed, ep, x, y, scratch, pf);
  winograd_3x3_run_t<2>(g, packed, ep, x, y, scratch, pf);
}

}  // namespace
}  // namespace mcrt
