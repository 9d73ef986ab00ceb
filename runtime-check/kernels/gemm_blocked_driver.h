// Internal, ISA-generic: a BLIS-style blocked SGEMM and the conv / fc drivers built on it.
//
// Included only by one per-ISA translation unit (x86/sgemm_6x16_avx2.cpp, arm/sgemm_8x12_neon.cpp),
// which defines a microkernel type `Ukr` before including this file. Everything here lives in an
// anonymous namespace, so each ISA TU gets its own copy compiled with its own -m flags (no ODR mixing
// of AVX2 and baseline code).
//
// How it works (Goto/BLIS):
//  * A is packed in micro-panels of MR rows over the whole K: panel p holds A[p*MR + i][k] at
//    [k*MR + i] (rows past M are zero). B is packed in micro-panels of NR columns over the whole K:
//    panel q holds B[k][q*NR + j] at [k*NR + j] (columns past N are zero).
//  * C is cut into tasks of MC x NC (independent outputs: the unit of parallelism). Inside a task,
//    K is walked in blocks of KC; for each K block, each NR panel of B (kc x NR, stays in L1) is
//    multiplied with every MR panel of A (MC x KC block, stays in L2) by the MR x NR microkernel.
//  * K-block boundaries are fixed (0, KC, 2KC, ...), never derived from the task split, so every
//    C element is summed in the same order for any thread count.
//  * The microkernel applies the output stage: the first K block writes alpha*acc (+ beta*C), later
//    ones add to C, and the last one adds the bias and clamps (conv and fc epilogues).
//
// Ukr must provide:
//   static constexpr int MR, NR;
//   static void run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c,
//                   int ldc, int m, int n, const TileOut& o);
//       a: packed MR panel; B row k (NR floats) at b + k*ldb, or at b + koff[k] when koff != nullptr
//   template <int NP> static void gemv(int K, const float* x, const float* b, size_t panel_stride,
//                                      float* out);  // NP (1..4) NR panels: out[p*NR + j] = sum_k x[k]*b_p[k*NR+j]
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "parallel_for.h"
#include "reference/reference_kernels.h"

namespace mcrt {
namespace {

// Output stage of one microkernel call.
struct TileOut {
  float alpha = 1.0f;
  float beta = 0.0f;       // used only when !accumulate; 0 means C is not read
  bool accumulate = false; // C += alpha*acc (K blocks after the first)
  bool last = true;        // apply bias and clamp
  const float* bias = nullptr;  // at the tile's first row (per_row) or first column
  bool bias_per_row = false;
  float lo = -INFINITY, hi = INFINITY;
  // gemm_packed's input: a fused residual laid out like C (same ldc), at C's origin. With a
  // microkernel that declares kStoreResidual, gemm_packed passes the tile's part in tile_residual
  // (rows ldr apart) and the store adds it after the bias, before the clamp; otherwise the last K
  // block stores unclamped and residual_tile() adds and clamps.
  const float* residual = nullptr;
  const float* tile_residual = nullptr;
  int ldr = 0;
};

// Whether Ukr's output stage adds TileOut::tile_residual itself (Ukr::kStoreResidual).
template <class U, class = void>
struct StoreResidual : std::false_type {};
template <class U>
struct StoreResidual<U, std::void_t<decltype(U::kStoreResidual)>> : std::integral_constant<bool, U::kStoreResidual> {};

constexpr int kKC = 256;  // K block: an NR micro-panel of B (kc x NR) stays in L1
constexpr int kMC = Ukr::MR * 16;  // M block: MC x KC of packed A stays in L2
constexpr int kNC = Ukr::NR * 64;  // N block of one task

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
inline size_t align64(size_t bytes) { return (bytes + 63) & ~size_t(63); }

// Scalar output stage for partial tiles: acc is MR x NR, row-major.
inline void store_tile_scalar(const float* acc, float* c, int ldc, int m, int n, const TileOut& o) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float r = o.alpha * acc[i * Ukr::NR + j];
      float& dst = c[size_t(i) * ldc + j];
      if (o.accumulate) r += dst;
      else if (o.beta != 0.0f) r += o.beta * dst;
      if (o.last) {
        if (o.bias) r += o.bias_per_row ? o.bias[i] : o.bias[j];
        r = std::min(std::max(r, o.lo), o.hi);
      }
      dst = r;
    }
  }
}

// Fused-residual post-pass over a just-written m x n tile (still in L1): c = clamp(c + r).
inline void residual_tile(float* c, int ldc, const float* r, int ldr, int m, int n, float lo, float hi) {
  for (int i = 0; i < m; ++i) {
    float* __restrict ci = c + size_t(i) * ldc;
    const float* __restrict ri = r + size_t(i) * ldr;
    for (int j = 0; j < n; ++j) ci[j] = std::min(std::max(ci[j] + ri[j], lo), hi);
  }
}

// Packs rows [i0, i0+MR) of a strided matrix A(i, k) = A[i*rs + k*cs] over k in [0, K).
inline void pack_a_panel(const float* A, size_t rs, size_t cs, int i0, int M, int K, float* dst) {
  const int m = std::min(Ukr::MR, M - i0);
  if (cs == 1) {
    for (int i = 0; i < m; ++i) {
      const float* src = A + size_t(i0 + i) * rs;
      for (int k = 0; k < K; ++k) dst[size_t(k) * Ukr::MR + i] = src[k];
    }
  } else {
    for (int k = 0; k < K; ++k)
      for (int i = 0; i < m; ++i) dst[size_t(k) * Ukr::MR + i] = A[size_t(i0 + i) * rs + size_t(k) * cs];
  }
  for (int i = m; i < Ukr::MR; ++i)
    for (int k = 0; k < K; ++k) dst[size_t(k) * Ukr::MR + i] = 0.0f;
}

// Packs columns [j0, j0+NR) of a strided matrix B(k, j) = B[k*rs + j*cs] over k in [0, K).
inline void pack_b_panel(const float* B, size_t rs, size_t cs, int j0, int N, int K, float* dst) {
  const int n = std::min(Ukr::NR, N - j0);
  if (cs == 1) {
    for (int k = 0; k < K; ++k) {
      const float* src = B + size_t(k) * rs + j0;
      float* d = dst + size_t(k) * Ukr::NR;
      std::memcpy(d, src, sizeof(float) * n);
      for (int j = n; j < Ukr::NR; ++j) d[j] = 0.0f;
    }
  } else {
    for (int j = 0; j < n; ++j) {
      const float* src = B + size_t(j0 + j) * cs;
      for (int k = 0; k < K; ++k) dst[size_t(k) * Ukr::NR + j] = src[size_t(k) * rs];
    }
    for (int k = 0; k < K; ++k)
      for (int j = n; j < Ukr::NR; ++j) dst[size_t(k) * Ukr::NR + j] = 0.0f;
  }
}

// Where the B micro-panels come from: packed (ldb = NR, panel q at base + q*K*NR) or read in place
// from a row-major [K, ld] matrix (ldb = ld): the im2col matrix, or the activations of a 1x1
// convolution, whose last partial panel is packed separately (tail_packed).
struct BSource {
  const float* packed = nullptr;  // panels over the whole K
  const float* direct = nullptr;  // if set: full panels read from direct + q*NR, rows ld apart
  int ld = 0;
  int direct_panels = 0;          // panels [0, direct_panels) are direct; later ones are packed
  const float* tail_packed = nullptr;  // packed copy of panel `direct_panels` (the tail)
  const int32_t* koff = nullptr;  // if set (with direct): B(k, j) = direct[koff[k] + j], any k order
};

inline const float* b_panel(const BSource& s, int q, int K, int pc, int* ldb) {
  if (s.koff != nullptr) {
    *ldb = 0;
    return s.direct + size_t(q) * Ukr::NR;
  }
  if (s.direct != nullptr) {
    if (q < s.direct_panels) {
      *ldb = s.ld;
      return s.direct + size_t(q) * Ukr::NR + size_t(pc) * s.ld;
    }
    *ldb = Ukr::NR;
    return s.tail_packed + size_t(pc) * Ukr::NR;
  }
  *ldb = Ukr::NR;
  return s.packed + size_t(q) * K * Ukr::NR + size_t(pc) * Ukr::NR;
}

// C[M, N] (ldc) = stage(packed A x B). base: alpha/beta/bias/clamp; the per-tile fields are set here.
inline void gemm_packed(int M, int N, int K, const float* Ap, const BSource& B, float* C, int ldc,
                        const TileOut& base, const ParallelFor* pf) {
  const int mt = ceil_div(M, kMC);
  // Split N into more tasks when M gives few, so that small problems still spread over threads.
  int nc = kNC;
  if (mt * ceil_div(N, nc) < 8) nc = std::max(Ukr::NR * 4, ceil_div(ceil_div(N, 8 / std::min(mt, 8)), Ukr::NR) * Ukr::NR);
  const int nt = ceil_div(N, nc);
  parallel_for(pf, int64_t(mt) * nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int i0 = int(t / nt) * kMC, j0 = int(t % nt) * nc;
      const int i1 = std::min(M, i0 + kMC), j1 = std::min(N, j0 + nc);
      for (int pc = 0; pc < K; pc += kKC) {
        const int kc = std::min(kKC, K - pc);
        TileOut o = base;
        o.accumulate = pc > 0;
        o.last = pc + kc == K;
        for (int j = j0; j < j1; j += Ukr::NR) {
          int ldb;
          const float* bp = b_panel(B, j / Ukr::NR, K, pc, &ldb);
          if (!(o.last && base.residual != nullptr)) {
            for (int i = i0; i < i1; i += Ukr::MR) {
              TileOut ot = o;
              if (base.bias) ot.bias = base.bias + (base.bias_per_row ? i : j);
              Ukr::run(kc, Ap + size_t(i / Ukr::MR) * K * Ukr::MR + size_t(pc) * Ukr::MR, bp, ldb,
                       B.koff ? B.koff + pc : nullptr, C + size_t(i) * ldc + j, ldc, std::min(Ukr::MR, i1 - i), std::min(Ukr::NR, j1 - j), ot);
            }
            continue;
          }
          // Last K block with a fused residual: store unclamped, then add it and clamp per tile.
          for (int i = i0; i < i1; i += Ukr::MR) {
            TileOut ot = o;
            if (base.bias) ot.bias = base.bias + (base.bias_per_row ? i : j);
            const int m = std::min(Ukr::MR, i1 - i), n = std::min(Ukr::NR, j1 - j);
            if constexpr (StoreResidual<Ukr>::value) {
              ot.tile_residual = base.residual + size_t(i) * ldc + j;
              ot.ldr = ldc;
              Ukr::run(kc, Ap + size_t(i / Ukr::MR) * K * Ukr::MR + size_t(pc) * Ukr::MR, bp, ldb,
                       B.koff ? B.koff + pc : nullptr, C + size_t(i) * ldc + j, ldc, m, n, ot);
            } else {
              ot.lo = -INFINITY, ot.hi = INFINITY;
              Ukr::run(kc, Ap + size_t(i / Ukr::MR) * K * Ukr::MR + size_t(pc) * Ukr::MR, bp, ldb,
                       B.koff ? B.koff + pc : nullptr, C + size_t(i) * ldc + j, ldc, m, n, ot);
              residual_tile(C + size_t(i) * ldc + j, ldc, base.residual + size_t(i) * ldc + j, ldc, m, n, base.lo, base.hi);
            }
          }
        }
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------
// SGEMM: both operands packed into scratch, then gemm_packed.
inline size_t sgemm_scratch_size_impl(int M, int N, int K) {
  return align64(sizeof(float) * size_t(ceil_div(M, Ukr::MR)) * Ukr::MR * K) +
         align64(sizeof(float) * size_t(ceil_div(N, Ukr::NR)) * Ukr::NR * K);
}

inline void sgemm_impl(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B,
                       int ldb, bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * C[size_t(i) * ldc + j];
    return;
  }
  float* Ap = static_cast<float*>(scratch);
  float* Bp = reinterpret_cast<float*>(static_cast<char*>(scratch) +
                                       align64(sizeof(float) * size_t(ceil_div(M, Ukr::MR)) * Ukr::MR * K));
  const int pa = ceil_div(M, Ukr::MR), pb = ceil_div(N, Ukr::NR);
  const size_t a_rs = transA ? 1 : size_t(lda), a_cs = transA ? size_t(lda) : 1;
  const size_t b_rs = transB ? 1 : size_t(ldb), b_cs = transB ? size_t(ldb) : 1;
  parallel_for(pf, pa + pb, [&](int64_t b0, int64_t b1) {
    for (int64_t p = b0; p < b1; ++p) {
      if (p < pa) pack_a_panel(A, a_rs, a_cs, int(p) * Ukr::MR, M, K, Ap + size_t(p) * K * Ukr::MR);
      else pack_b_panel(B, b_rs, b_cs, int(p - pa) * Ukr::NR, N, K, Bp + size_t(p - pa) * K * Ukr::NR);
    }
  });
  TileOut base;
  base.alpha = alpha;
  base.beta = beta;
  BSource bs;
  bs.packed = Bp;
  gemm_packed(M, N, K, Ap, bs, C, ldc, base, pf);
}

// ------------------------------------------------------------------------------------------------
// Fully connected: W packed like B ([K, N] in NR panels). M == 1 uses the GEMV kernel; M > 1 uses the
// microkernel with A micro-panels packed on the stack (up to 48 KiB).
inline size_t fc_packed_size_impl(int K, int N) { return sizeof(float) * size_t(ceil_div(N, Ukr::NR)) * Ukr::NR * K; }

inline void fc_pack_impl(int K, int N, const float* w, bool w_is_nk, void* packed) {
  float* p = static_cast<float*>(packed);
  for (int q = 0; q < ceil_div(N, Ukr::NR); ++q)
    pack_b_panel(w, w_is_nk ? 1 : size_t(N), w_is_nk ? size_t(K) : 1, q * Ukr::NR, N, K, p + size_t(q) * K * Ukr::NR);
}

inline void fc_output_stage(const float* acc, int n, const Epilogue& ep, const float* bias, const float* res, float* y) {
  for (int j = 0; j < n; ++j) {
    float r = acc[j];
    if (bias) r += bias[j];
    if (res) r += res[j];
    y[j] = std::min(std::max(r, ep.lo), ep.hi);
  }
}

inline void fc_run_impl(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y,
                        int ldy, const ParallelFor* pf) {
  const float* W = static_cast<const float*>(packed);
  const int np = ceil_div(N, Ukr::NR);
  const size_t ps = size_t(K) * Ukr::NR;  // floats per panel
  if (M == 1) {
    // Chunks of 4 panels (4*NR outputs) are the unit of work.
    const int chunks = ceil_div(np, 4);
    parallel_for(pf, chunks, [&](int64_t c0, int64_t c1) {
      alignas(64) float acc[4 * Ukr::NR];
      for (int64_t c = c0; c < c1; ++c) {
        const int q = int(c) * 4, nq = std::min(4, np - q);
        const float* b = W + size_t(q) * ps;
        switch (nq) {
          case 4: Ukr::template gemv<4>(K, x, b, ps, acc); break;
          case 3: Ukr::template gemv<3>(K, x, b, ps, acc); break;
          case 2: Ukr::template gemv<2>(K, x, b, ps, acc); break;
          default: Ukr::template gemv<1>(K, x, b, ps, acc); break;
        }
        const int j0 = q * Ukr::NR, n = std::min(nq * Ukr::NR, N - j0);
        fc_output_stage(acc, n, ep, ep.bias ? ep.bias + j0 : nullptr, ep.residual ? ep.residual + j0 : nullptr, y + j0);
      }
    });
    return;
  }
  // M > 1: tasks are groups of NR panels. Rows of x are taken kFcRowPanels MR-panels at a time and
  // packed on the stack per K block (<= 48 KiB), so that each B micro-panel (kc x NR, in L1) serves
  // all of them before the next one is loaded: the weights stream once per row chunk.
  constexpr int kFcRowPanels = (48 * 1024) / (int(sizeof(float)) * Ukr::MR * kKC);
  const int per_task = 4;
  parallel_for(pf, ceil_div(np, per_task), [&](int64_t t0, int64_t t1) {
    alignas(64) float ap[kFcRowPanels * Ukr::MR * kKC];
    const int q0 = int(t0) * per_task, q1 = std::min(np, int(t1) * per_task);
    for (int i0 = 0; i0 < M; i0 += kFcRowPanels * Ukr::MR) {
      const int i1 = std::min(M, i0 + kFcRowPanels * Ukr::MR);
      for (int pc = 0; pc < K; pc += kKC) {
        const int kc = std::min(kKC, K - pc);
        for (int i = i0; i < i1; i += Ukr::MR)
          pack_a_panel(x + pc, size_t(ldx), 1, i, i1, kc, ap + size_t((i - i0) / Ukr::MR) * Ukr::MR * kc);
        TileOut o;
        o.accumulate = pc > 0;
        o.last = pc + kc == K;
        const bool post = o.last && ep.residual != nullptr;  // residual post-pass per tile
        o.lo = post ? -INFINITY : ep.lo;
        o.hi = post ? INFINITY : ep.hi;
        for (int q = q0; q < q1; ++q) {
          const int j = q * Ukr::NR;
          o.bias = ep.bias ? ep.bias + j : nullptr;
          const float* bp = W + size_t(q) * ps + size_t(pc) * Ukr::NR;
          for (int i = i0; i < i1; i += Ukr::MR) {
            const int m = std::min(Ukr::MR, i1 - i), n = std::min(Ukr::NR, N - j);
            Ukr::run(kc, ap + size_t((i - i0) / Ukr::MR) * Ukr::MR * kc, bp, Ukr::NR, nullptr, y + size_t(i) * ldy + j,
                     ldy, m, n, o);
            if (post)
              residual_tile(y + size_t(i) * ldy + j, ldy, ep.residual + size_t(i) * ldy + j, ldy, m, n, ep.lo, ep.hi);
          }
        }
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------
// Convolution. Algorithms, chosen from the geometry alone (so pack and run always agree):
enum class ConvAlgo {
  Depthwise3x3,   // group == C == M, 3x3, dilation 1, sh == sw in {1, 2}: direct ISA kernel, raw weights
  DepthwiseRef,   // other depthwise (group == C == M): reference loop, raw weights
  Pointwise,      // 1x1, stride 1, no padding: GEMM reading x in place (no im2col)
  Winograd3x3,    // 3x3, stride 1, dilation 1, group 1, C and M >= 8: conv2d_winograd_3x3.h (F(2x2) or F(4x4))
  ShiftedWindow,  // stride s: GEMM over zero-padded polyphase copy of x; B rows are shifted windows
  Im2colGemm,     // everything else: im2col into a [K, pixels] matrix, per group, then GEMM
};

inline bool winograd_3x3_fits(const ConvGeom& g);

inline ConvAlgo conv_algo(const ConvGeom& g) {
  if (winograd_3x3_fits(g)) return ConvAlgo::Winograd3x3;
  if (g.group == g.C && g.group == g.M && g.group > 1) {
    if (g.kh == 3 && g.kw == 3 && g.dh == 1 && g.dw == 1 && g.sh == g.sw && (g.sh == 1 || g.sh == 2))
      return ConvAlgo::Depthwise3x3;
    return ConvAlgo::DepthwiseRef;
  }
  if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_t == 0 && g.pad_l == 0 && g.pad_b == 0 &&
      g.pad_r == 0)
    return ConvAlgo::Pointwise;
  // Shifted windows compute every column of a phase image's width; use them while at most 1/2 of it
  // is waste and every phase is read (else the polyphase copy costs more than im2col, e.g. 1x1 s2).
  const int s = g.sh;
  if (g.sw == s && s <= 4) {
    const int wph = ceil_div(g.W + g.pad_l + g.pad_r, s);
    bool phase_y[4] = {false, false, false, false}, phase_x[4] = {false, false, false, false};
    for (int ky = 0; ky < g.kh; ++ky) phase_y[(ky * g.dh) % s] = true;
    for (int kx = 0; kx < g.kw; ++kx) phase_x[(kx * g.dw) % s] = true;
    bool all = true;
    for (int p = 0; p < s; ++p) all = all && phase_y[p] && phase_x[p];
    if (all && (wph - g.OW) * 2 <= wph) return ConvAlgo::ShiftedWindow;
  }
  return ConvAlgo::Im2colGemm;
}

inline int conv_kc(const ConvGeom& g) { return (g.C / g.group) * g.kh * g.kw; }  // GEMM K per group

// Row length of the im2col matrix: the pixel count rounded up to whole NR panels (zero tail), so
// that every B micro-panel is read in place from it.
inline int im2col_ld(const ConvGeom& g) { return ceil_div(g.OH * g.OW, Ukr::NR) * Ukr::NR; }


inline size_t conv_a_floats_per_group(const ConvGeom& g) {
  return size_t(ceil_div(g.M / g.group, Ukr::MR)) * Ukr::MR * conv_kc(g);
}

// Shifted-window convolution (stride s = sh = sw, any dilation). The zero-padded input of one group
// (Hp x Wp per channel) is copied as s*s phase images of Hph x Wph (Hph = ceil(Hp/s)):
//   xp[c][py][px][i][j] = xpad[c][i*s + py][j*s + px].
// Output pixel (oy, ox) is computed at column q = oy*Wph + ox, and tap k = (c, ky, kx) reads
// xp[koff[k] + q] with koff[k] = ((c*s + (ky*dh)%s)*s + (kx*dw)%s)*Hph*Wph + (ky*dh/s)*Wph + kx*dw/s:
// every B row is a shifted window of xp, so no im2col is needed. Valid outputs (ox < OW) only read
// inside their phase image; columns ox >= OW are computed and dropped when copying to y.
// Scratch: koff[K] | xp (+ slack for the last panel's over-read) | ytmp [mg, np] (np: NR multiple).
struct ShiftedLayout {
  int s, hph, wph, np;
  size_t xp_off, xp_floats, ytmp_off, ytmp_floats;
};

inline ShiftedLayout shifted_layout(const ConvGeom& g) {
  ShiftedLayout l;
  l.s = g.sh;
  l.hph = ceil_div(g.H + g.pad_t + g.pad_b, l.s);
  l.wph = ceil_div(g.W + g.pad_l + g.pad_r, l.s);
  l.np = ceil_div(g.OH * l.wph, Ukr::NR) * Ukr::NR;
  l.xp_off = align64(sizeof(int32_t) * size_t(conv_kc(g)));
  l.xp_floats = size_t(g.C / g.group) * l.s * l.s * l.hph * l.wph + size_t(l.wph) + size_t(g.kw) * g.dw + Ukr::NR;
  l.ytmp_off = l.xp_off + align64(sizeof(float) * l.xp_floats);
  l.ytmp_floats = size_t(g.M / g.group) * l.np;
  return l;
}

// Phase images of one input channel xc (H x W) into d (s*s images of Hph x Wph). Stride 1 copies
// rows; stride 2 splits each input row into its two column phases (an interleaved load the compiler
// vectorises); larger strides go through a zero-bordered row buffer.
inline void shifted_copy_channel(const ConvGeom& g, const ShiftedLayout& l, const float* xc, float* d) {
  constexpr int kMaxRow = 4096;
  const int s = l.s, wrow = s * l.wph;  // padded row length rounded up to whole phases
  if (wrow > kMaxRow) {
    // Very wide rows (not seen in our models): element by element.
    for (int py = 0; py < s; ++py)
      for (int px = 0; px < s; ++px)
        for (int i = 0; i < l.hph; ++i, d += l.wph)
          for (int j = 0; j < l.wph; ++j) {
            const int r = i * s + py - g.pad_t, q = j * s + px - g.pad_l;
            d[j] = (r >= 0 && r < g.H && q >= 0 && q < g.W) ? xc[size_t(r) * g.W + q] : 0.0f;
          }
    return;
  }
  float prow[kMaxRow];
  const size_t phase = size_t(l.hph) * l.wph;
  if (s == 2 && 4 * phase + 2 <= size_t(kMaxRow)) {
    // Small planes: per-row splitting costs more in loop set-up than in data. Rows go by memcpy into
    // two zero-padded row-phase images (row stride 2*Wph) in prow; since that stride is exactly two
    // phase rows, each image's column phases then come out of one long stride-2 loop over the image.
    const size_t rw = size_t(2) * l.wph, img = size_t(l.hph) * rw;
    std::memset(prow, 0, sizeof(float) * (2 * img + 2));
    for (int r = 0; r < g.H; ++r) {
      const int R = r + g.pad_t;
      std::memcpy(prow + size_t(R % 2) * img + size_t(R / 2) * rw + g.pad_l, xc + size_t(r) * g.W, sizeof(float) * g.W);
    }
    for (int py = 0; py < 2; ++py) {
      const float* __restrict src = prow + py * img;
      float* __restrict d0 = d + size_t(py * 2) * phase;
      float* __restrict d1 = d0 + phase;
      const int n = int(phase);
#pragma GCC ivdep
      for (int q = 0; q < n; ++q) {
        d0[q] = src[2 * q];
        d1[q] = src[2 * q + 1];
      }
    }
    return;
  }
  for (int j = 0; j < g.pad_l; ++j) prow[j] = 0.0f;
  for (int j = g.pad_l + g.W; j < wrow; ++j) prow[j] = 0.0f;
  for (int R = 0; R < l.hph * s; ++R) {  // padded row index
    const int i = R / s, py = R % s, r = R - g.pad_t;
    float* dst = d + size_t(py * s) * phase + size_t(i) * l.wph;  // phase (py, px = 0), row i
    if (r < 0 || r >= g.H) {
      for (int px = 0; px < s; ++px)
        for (int j = 0; j < l.wph; ++j) dst[size_t(px) * phase + j] = 0.0f;
      continue;
    }
    if (s == 1) {
      for (int j = 0; j < g.pad_l; ++j) dst[j] = 0.0f;
      std::memcpy(dst + g.pad_l, xc + size_t(r) * g.W, sizeof(float) * g.W);
      for (int j = g.pad_l + g.W; j < l.wph; ++j) dst[j] = 0.0f;
      continue;
    }
    if (s == 2) {
      // Straight from x (no row buffer: reading it back right after memcpy stalls store forwarding).
      // Phase columns j read input columns 2j - pad_l (even) and 2j + 1 - pad_l (odd).
      const float* xr = xc + size_t(r) * g.W;
      float* __restrict d0 = dst;
      float* __restrict d1 = dst + phase;
      const int j_lo = std::min(l.wph, (g.pad_l + 1) / 2);                      // 2j - pad_l >= 0
      const int j_hi = std::max(j_lo, std::min(l.wph, (g.W + g.pad_l) / 2));  // 2j + 1 - pad_l < W
      auto at = [&](int q) { return q >= 0 && q < g.W ? xr[q] : 0.0f; };
      for (int j = 0; j < j_lo; ++j) {
        d0[j] = at(2 * j - g.pad_l);
        d1[j] = at(2 * j + 1 - g.pad_l);
      }
      const float* __restrict src = xr + (2 * j_lo - g.pad_l);
#pragma GCC ivdep
      for (int j = 0; j < j_hi - j_lo; ++j) {
        d0[j_lo + j] = src[2 * j];
        d1[j_lo + j] = src[2 * j + 1];
      }
      for (int j = j_hi; j < l.wph; ++j) {
        d0[j] = at(2 * j - g.pad_l);
        d1[j] = at(2 * j + 1 - g.pad_l);
      }
    } else {
      std::memcpy(prow + g.pad_l, xc + size_t(r) * g.W, sizeof(float) * g.W);
      for (int px = 0; px < s; ++px)
        for (int j = 0; j < l.wph; ++j) dst[size_t(px) * phase + j] = prow[j * s + px];
    }
  }
}

}  // namespace
}  // namespace mcrt

#include "conv2d_winograd_3x3.h"

namespace mcrt {
namespace {

inline size_t conv2d_packed_size_impl(const ConvGeom& g) {
  const ConvAlgo a = conv_algo(g);
  if (a == ConvAlgo::Winograd3x3) return winograd_3x3_packed_size(g);
  if (a == ConvAlgo::Depthwise3x3 || a == ConvAlgo::DepthwiseRef) return ref::conv2d_packed_size(g);
  return sizeof(float) * conv_a_floats_per_group(g) * g.group;
}

inline void conv2d_pack_impl(const ConvGeom& g, const float* w, void* packed) {
  const ConvAlgo a = conv_algo(g);
  if (a == ConvAlgo::Winograd3x3) return winograd_3x3_pack(g, w, packed);
  if (a == ConvAlgo::Depthwise3x3 || a == ConvAlgo::DepthwiseRef) return ref::conv2d_pack(g, w, packed);
  const int mg = g.M / g.group, K = conv_kc(g);
  float* p = static_cast<float*>(packed);
  for (int gi = 0; gi < g.group; ++gi) {
    const float* wg = w + size_t(gi) * mg * K;
    float* pg = p + size_t(gi) * conv_a_floats_per_group(g);
    for (int i = 0; i < mg; i += Ukr::MR) pack_a_panel(wg, size_t(K), 1, i, mg, K, pg + size_t(i / Ukr::MR) * K * Ukr::MR);
  }
}

inline size_t conv2d_scratch_size_impl(const ConvGeom& g) {
  const ConvAlgo a = conv_algo(g);
  const size_t K = size_t(conv_kc(g));
  if (a == ConvAlgo::Winograd3x3) return winograd_3x3_scratch_size(g);
  if (a == ConvAlgo::Depthwise3x3 || a == ConvAlgo::DepthwiseRef) return 0;
  if (a == ConvAlgo::Pointwise) return sizeof(float) * K * Ukr::NR;  // packed tail panel
  if (a == ConvAlgo::ShiftedWindow) {
    const ShiftedLayout l = shifted_layout(g);
    return l.ytmp_off + sizeof(float) * l.ytmp_floats;
  }
  return sizeof(float) * K * size_t(im2col_ld(g));
}

// Row k = (c*kh + ky)*kw + kx of the im2col matrix of one group of one image:
// col[oy*OW + ox] = x(c, oy*sh - pad_t + ky*dh, ox*sw - pad_l + kx*dw), 0 outside the input.
inline void im2col_row(const ConvGeom& g, const float* xg, int k, float* col) {
  const int kx = k % g.kw, ky = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
  const float* xc = xg + size_t(c) * g.H * g.W;
  // Output columns whose tap is inside the row: ox*sw - pad_l + kx*dw in [0, W).
  const int off = kx * g.dw - g.pad_l;  // input column of ox = 0
  int ox_lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  int ox_hi = off >= g.W ? 0 : (g.W - 1 - off) / g.sw + 1;
  ox_lo = std::min(ox_lo, g.OW);
  ox_hi = std::max(ox_lo, std::min(ox_hi, g.OW));
  for (int oy = 0; oy < g.OH; ++oy) {
    float* d = col + size_t(oy) * g.OW;
    const int iy = oy * g.sh - g.pad_t + ky * g.dh;
    if (iy < 0 || iy >= g.H) {
      for (int ox = 0; ox < g.OW; ++ox) d[ox] = 0.0f;
      continue;
    }
    const float* src = xc + size_t(iy) * g.W + off;
    for (int ox = 0; ox < ox_lo; ++ox) d[ox] = 0.0f;
    if (g.sw == 1) {
      for (int ox = ox_lo; ox < ox_hi; ++ox) d[ox] = src[ox];
    } else {
      for (int ox = ox_lo; ox < ox_hi; ++ox) d[ox] = src[ox * g.sw];
    }
    for (int ox = ox_hi; ox < g.OW; ++ox) d[ox] = 0.0f;
  }
  for (int p = g.OH * g.OW; p < im2col_ld(g); ++p) col[p] = 0.0f;
}

// Stride-1 shifted windows with few taps (K = C/group * kh * kw <= kDirectMaxK, e.g. a 3x3 or 5x5 stem
// on one input channel) skip the GEMM: with K that small, the microkernel's per-tile set-up and
// store cost more than its FMAs. Per output channel m and chunk of kDirectChunk columns q,
// ytmp[m][q] = clamp(sum_k w[m][k] * xp[koff[k] + q] + bias[m]) in registers, k in order (a fixed
// sum order; tasks are output channels). Reads the same xp columns as the GEMM would (q < np).
constexpr int kDirectMaxK = 27;

inline bool shifted_direct_fits(const ConvGeom& g) { return g.sh == 1 && g.sw == 1 && conv_kc(g) <= kDirectMaxK; }

// One native SIMD register of floats (zmm, ymm or q) in GCC's generic vector extension, accessed
// unaligned through memcpy.
#if defined(__AVX512F__)
constexpr int kDirectLanes = 16;
#elif defined(__AVX__)
constexpr int kDirectLanes = 8;
#else
constexpr int kDirectLanes = 4;
#endif
typedef float DirectVec __attribute__((vector_size(sizeof(float) * kDirectLanes)));

// NV vectors of columns q0.. of NM output channels (weights w[i*kDirectMaxK + k], bias b[i], rows
// yr[i]): K taps in order, then bias and clamp. NM * NV accumulators hide the add latency.
template <int NM, int NV>
inline void shifted_direct_chunk(int K, const float* w, const int32_t* koff, const float* xp, int q0, const float* b,
                                 float lo, float hi, float* const* yr) {
  DirectVec acc[NM][NV];
  for (int i = 0; i < NM; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = DirectVec{};
  for (int k = 0; k < K; ++k) {
    const float* src = xp + koff[k] + q0;
    DirectVec s[NV];
    for (int v = 0; v < NV; ++v) std::memcpy(&s[v], src + kDirectLanes * v, sizeof(DirectVec));
    for (int i = 0; i < NM; ++i) {
      const float wk = w[i * kDirectMaxK + k];
      for (int v = 0; v < NV; ++v) acc[i][v] += wk * s[v];
    }
  }
  for (int i = 0; i < NM; ++i)
    for (int v = 0; v < NV; ++v) {
      DirectVec r = acc[i][v] + b[i];
      r = r < lo ? lo : r;  // std::max(r, lo), std::min(.., hi): NaN stays NaN as in the reference
      r = hi < r ? hi : r;
      std::memcpy(yr[i] + q0 + kDirectLanes * v, &r, sizeof(r));
    }
}

template <int NM>
inline void shifted_direct_channels(int m, int K, const float* Ap, const int32_t* koff, const float* xp, int np,
                                    const float* bias, float lo, float hi, float* yt) {
  float w[NM * kDirectMaxK], b[NM];
  float* yr[NM];
  for (int i = 0; i < NM; ++i) {
    const int mi = m + i;
    const float* am = Ap + size_t(mi / Ukr::MR) * K * Ukr::MR + mi % Ukr::MR;  // A(mi, k) at am[k * MR]
    for (int k = 0; k < K; ++k) w[i * kDirectMaxK + k] = am[size_t(k) * Ukr::MR];
    b[i] = bias ? bias[mi] : 0.0f;
    yr[i] = yt + size_t(mi) * np;
  }
  int q = 0;
  for (; q + 2 * kDirectLanes <= np; q += 2 * kDirectLanes) shifted_direct_chunk<NM, 2>(K, w, koff, xp, q, b, lo, hi, yr);
  for (; q + kDirectLanes <= np; q += kDirectLanes) shifted_direct_chunk<NM, 1>(K, w, koff, xp, q, b, lo, hi, yr);
  for (; q < np; ++q)  // np is a multiple of NR (12 on NEON), not of 16
    for (int i = 0; i < NM; ++i) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += w[i * kDirectMaxK + k] * xp[koff[k] + q];
      yr[i][q] = std::min(std::max(acc + b[i], lo), hi);
    }
}

// Tasks are pairs of output channels (the last one may be single).
inline void shifted_direct_rows(int mg, int K, const float* Ap, const int32_t* koff, const float* xp, int np,
                                const float* bias, float lo, float hi, float* yt, const ParallelFor* pf) {
  parallel_for(pf, (mg + 3) / 4, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int m = int(p) * 4;
      if (m + 4 <= mg) shifted_direct_channels<4>(m, K, Ap, koff, xp, np, bias, lo, hi, yt);
      else if (m + 3 == mg) shifted_direct_channels<3>(m, K, Ap, koff, xp, np, bias, lo, hi, yt);
      else if (m + 2 == mg) shifted_direct_channels<2>(m, K, Ap, koff, xp, np, bias, lo, hi, yt);
      else shifted_direct_channels<1>(m, K, Ap, koff, xp, np, bias, lo, hi, yt);
    }
  });
}

// The ISA's direct depthwise 3x3 kernel (stride 1 or 2), defined in its own TU.
using Depthwise3x3Fn = void (*)(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                                const ParallelFor* pf);

// A direct kernel clamps in registers: with a residual, run(e) runs it unclamped, then the residual is
// added and the result clamped per output plane (one task = one plane, so the order is fixed for any
// thread count).
template <class Run>
inline void direct_with_residual(const ConvGeom& g, const Epilogue& ep, float* y, const ParallelFor* pf, Run run) {
  if (ep.residual == nullptr) return run(ep);
  Epilogue e = ep;
  e.lo = -INFINITY, e.hi = INFINITY, e.residual = nullptr;
  run(e);
  const int P = g.OH * g.OW;
  parallel_for(pf, int64_t(g.N) * g.M, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      residual_tile(y + size_t(p) * P, P, ep.residual + size_t(p) * P, P, 1, P, ep.lo, ep.hi);
  });
}

// One input channel (a stem on a grey image), 3x3, dilation 1, stride 1 or 2, group 1: each output
// plane (n, m) is the direct depthwise kernel on a one-plane geometry, with filter m and bias m, over
// image n's plane; one task per output plane. Weights stay raw (ref::conv2d_pack). A set opts in where
// it measures faster than its GEMM paths (AVX-512: mobile's and resnet's stems 3.0 -> 2.2 us).
inline bool one_channel_3x3_fits(const ConvGeom& g) {
  return g.C == 1 && g.group == 1 && g.kh == 3 && g.kw == 3 && g.dh == 1 && g.dw == 1 && g.sh == g.sw &&
         (g.sh == 1 || g.sh == 2);
}

inline void one_channel_3x3_run(const ConvGeom& g, const float* w, const Epilogue& ep, const float* x, float* y,
                                const ParallelFor* pf, Depthwise3x3Fn dw3x3) {
  direct_with_residual(g, ep, y, pf, [&](const Epilogue& e) {
    ConvGeom pg = g;
    pg.N = pg.C = pg.M = pg.group = 1;
    const size_t P = size_t(g.OH) * g.OW;
    parallel_for(pf, int64_t(g.N) * g.M, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int n = int(p / g.M), m = int(p % g.M);
        Epilogue em = e;
        em.bias = e.bias ? e.bias + m : nullptr;
        dw3x3(pg, w + size_t(m) * 9, em, x + size_t(n) * g.H * g.W, y + size_t(p) * P, nullptr);
      }
    });
  });
}

inline void conv2d_run_impl(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y,
                            void* scratch, const ParallelFor* pf, Depthwise3x3Fn dw3x3) {
  const ConvAlgo algo = conv_algo(g);
  const int cg = g.C / g.group, mg = g.M / g.group, K = conv_kc(g), P = g.OH * g.OW;
  if (algo == ConvAlgo::Depthwise3x3) {
    const float* w = static_cast<const float*>(packed);
    return direct_with_residual(g, ep, y, pf, [&](const Epilogue& e) { dw3x3(g, w, e, x, y, pf); });
  }
  if (algo == ConvAlgo::Winograd3x3) return winograd_3x3_run(g, packed, ep, x, y, scratch, pf);
  if (algo == ConvAlgo::DepthwiseRef) return ref::conv2d_run(g, packed, ep, x, y, scratch, pf);
  float* Bp = static_cast<float*>(scratch);
  TileOut base;
  base.bias_per_row = true;
  base.lo = ep.lo;
  base.hi = ep.hi;
  for (int n = 0; n < g.N; ++n) {
    for (int gi = 0; gi < g.group; ++gi) {
      const float* xg = x + (size_t(n) * g.C + size_t(gi) * cg) * g.H * g.W;
      float* yg = y + (size_t(n) * g.M + size_t(gi) * mg) * P;
      const float* Ap = static_cast<const float*>(packed) + size_t(gi) * conv_a_floats_per_group(g);
      base.bias = ep.bias ? ep.bias + gi * mg : nullptr;
      const float* rg = ep.residual ? ep.residual + (size_t(n) * g.M + size_t(gi) * mg) * P : nullptr;
      base.residual = rg;
      BSource bs;
      if (algo == ConvAlgo::ShiftedWindow) {
        const ShiftedLayout l = shifted_layout(g);
        char* base_ptr = static_cast<char*>(scratch);
        int32_t* koff = reinterpret_cast<int32_t*>(base_ptr);
        float* xp = reinterpret_cast<float*>(base_ptr + l.xp_off);
        float* yt = reinterpret_cast<float*>(base_ptr + l.ytmp_off);
        for (int k = 0; k < K; ++k) {
          const int kx = k % g.kw, ky = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
          const int dy = ky * g.dh, dx = kx * g.dw;
          koff[k] = int32_t((size_t(c * l.s + dy % l.s) * l.s + dx % l.s) * l.hph * l.wph +
                            size_t(dy / l.s) * l.wph + dx / l.s);
        }
        const size_t chan = size_t(l.s) * l.s * l.hph * l.wph;  // floats per channel in xp
        parallel_for(pf, cg, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) shifted_copy_channel(g, l, xg + size_t(c) * g.H * g.W, xp + size_t(c) * chan);
        });
        const size_t used = size_t(cg) * chan;
        std::memset(xp + used, 0, sizeof(float) * (l.xp_floats - used));
        bs.direct = xp;
        bs.koff = koff;
        // yt has its own layout: a residual is added (and the clamp applied) while copying out.
        TileOut bt = base;
        bt.residual = nullptr;
        if (rg) bt.lo = -INFINITY, bt.hi = INFINITY;
        if (shifted_direct_fits(g)) shifted_direct_rows(mg, K, Ap, koff, xp, l.np, base.bias, bt.lo, bt.hi, yt, pf);
        else gemm_packed(mg, l.np, K, Ap, bs, yt, l.np, bt, pf);
        parallel_for(pf, mg, [&](int64_t m0, int64_t m1) {
          for (int64_t m = m0; m < m1; ++m)
            for (int oy = 0; oy < g.OH; ++oy) {
              float* yr = yg + (size_t(m) * g.OH + oy) * g.OW;
              const float* tr = yt + size_t(m) * l.np + size_t(oy) * l.wph;
              if (rg) {
                const float* __restrict rr = rg + (size_t(m) * g.OH + oy) * g.OW;
                for (int ox = 0; ox < g.OW; ++ox) yr[ox] = std::min(std::max(tr[ox] + rr[ox], ep.lo), ep.hi);
              } else {
                std::memcpy(yr, tr, sizeof(float) * g.OW);
              }
            }
        });
        continue;
      }
      if (algo == ConvAlgo::Pointwise) {
        // B = x viewed as [C, H*W]: full panels are read in place, the tail panel is packed.
        bs.direct = xg;
        bs.ld = P;
        bs.direct_panels = P / Ukr::NR;
        bs.tail_packed = Bp;
        if (P % Ukr::NR != 0) pack_b_panel(xg, size_t(P), 1, bs.direct_panels * Ukr::NR, P, K, Bp);
      } else {
        // im2col as a [K, ld] matrix; every B micro-panel is then read in place from it.
        const int ld = im2col_ld(g);
        parallel_for(pf, K, [&](int64_t k0, int64_t k1) {
          for (int64_t k = k0; k < k1; ++k) im2col_row(g, xg, int(k), Bp + size_t(k) * ld);
        });
        bs.direct = Bp;
        bs.ld = ld;
        bs.direct_panels = ld / Ukr::NR;
      }
      gemm_packed(mg, P, K, Ap, bs, yg, P, base, pf);
    }
  }
}

}  // namespace
}  // namespace mcrt
