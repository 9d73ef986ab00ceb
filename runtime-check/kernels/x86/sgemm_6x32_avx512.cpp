// SGEMM, fully-connected and GEMM-based convolution on AVX-512F: the blocked driver of
// gemm_blocked_driver.h around a 6x32 microkernel (two zmm columns of 16 floats).
//
// Microkernel: C[6,32] += A[6,kc] * B[kc,32] with 12 zmm accumulators; per k two B loads, six
// broadcasts, 12 FMAs. Short tiles (m < 6) and narrow ones (n <= 16) use the same template with fewer
// rows / one column vector. The output stage uses masked loads/stores for n < 32, so no scalar path.
// GCC 12's avx512fintrin.h max/min wrappers pass _mm512_undefined_ps() and trip a false
// -Wmaybe-uninitialized; nothing here reads uninitialised data.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "avx2_kernels.h"
#include "avx512_kernels.h"

namespace mcrt {
namespace {

struct TileOut;  // defined in gemm_blocked_driver.h

struct Ukr {
  static constexpr int MR = 6, NR = 32;
  static constexpr bool kStoreResidual = true;  // store() adds TileOut::tile_residual

  static void run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m,
                  int n, const TileOut& o);
  template <int R, int NV>
  static void run_rows(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int n,
                       const TileOut& o);
  __attribute__((always_inline)) static inline void store(const __m512 (&acc)[MR][2], float* c, int ldc, int m, int n,
                                                          const TileOut& o);

  // Winograd GEMMs (conv2d_winograd_3x3.h): Y[M][lanes] = U[M][K] * V[K][lanes] (rows ld apart),
  // U packed in kWinogradMR-row panels over the whole K; 8 x 32 tiles (16 accumulators) with the
  // whole K in registers and a plain store; lanes is a multiple of 16.
  static constexpr int kWinogradMR = 8;
  static void winograd_gemm(int M, int lanes, int K, const float* U, const float* V, int ld, float* Y);

  template <int NP>
  static void gemv(int K, const float* x, const float* b, size_t ps, float* out) {
    __m512 acc[NP][2];
    for (int p = 0; p < NP; ++p) acc[p][0] = acc[p][1] = _mm512_setzero_ps();
    for (int k = 0; k < K; ++k) {
      const __m512 xk = _mm512_set1_ps(x[k]);
      for (int p = 0; p < NP; ++p) {
        const float* bp = b + p * ps + size_t(k) * NR;
        acc[p][0] = _mm512_fmadd_ps(xk, _mm512_loadu_ps(bp), acc[p][0]);
        acc[p][1] = _mm512_fmadd_ps(xk, _mm512_loadu_ps(bp + 16), acc[p][1]);
      }
    }
    for (int p = 0; p < NP; ++p) {
      _mm512_storeu_ps(out + p * NR, acc[p][0]);
      _mm512_storeu_ps(out + p * NR + 16, acc[p][1]);
    }
  }
};

}  // namespace
}  // namespace mcrt

#include "../gemm_blocked_driver.h"

namespace mcrt {
namespace {

template <int R, int NV>
void Ukr::run_rows(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int n,
                   const TileOut& o) {
  __m512 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  if (NV == 1) {
    // One column vector gives only R <= 6 FMA chains, too few to hide the FMA latency: even and odd
    // k go to two banks, added at the end (a fixed order for a given tile shape).
    __m512 odd[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) odd[r] = _mm512_setzero_ps();
    auto bk = [&](int k) { return koff != nullptr ? b + koff[k] : b + size_t(k) * ldb; };
    int k = 0;
    for (; k + 2 <= kc; k += 2, a += 2 * MR) {
      const __m512 b0 = _mm512_loadu_ps(bk(k)), b1 = _mm512_loadu_ps(bk(k + 1));
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
        odd[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[MR + r]), b1, odd[r]);
      }
    }
    if (k < kc) {
      const __m512 b0 = _mm512_loadu_ps(bk(k));
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) acc[r][0] = _mm512_add_ps(acc[r][0], odd[r]);
    return store(acc, c, ldc, R, n, o);
  }
  auto step = [&](const float* bk) __attribute__((always_inline)) {
    const __m512 b0 = _mm512_loadu_ps(bk), b1 = NV == 2 ? _mm512_loadu_ps(bk + 16) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (NV == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    a += MR;
  };
  if (koff != nullptr) {  // B row k at b + koff[k] (shifted-window convolution)
#pragma GCC unroll 4
    for (int k = 0; k < kc; ++k) step(b + koff[k]);
  } else {
#pragma GCC unroll 4
    for (int k = 0; k < kc; ++k, b += ldb) step(b);
  }
  store(acc, c, ldc, R, n, o);
}

void Ukr::run(int kc, const float* a, const float* b, int ldb, const int32_t* koff, float* c, int ldc, int m, int n,
              const TileOut& o) {
  if (n <= 16) {
    switch (m) {
      case 1: return run_rows<1, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 2: return run_rows<2, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 3: return run_rows<3, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 4: return run_rows<4, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      case 5: return run_rows<5, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
      default: return run_rows<6, 1>(kc, a, b, ldb, koff, c, ldc, n, o);
    }
  }
  switch (m) {
    case 1: return run_rows<1, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 2: return run_rows<2, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 3: return run_rows<3, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 4: return run_rows<4, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
    case 5: return run_rows<5, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
    default: return run_rows<6, 2>(kc, a, b, ldb, koff, c, ldc, n, o);
  }
}

template <int R, int NV>
__attribute__((always_inline)) inline void wg_tile(int K, const float* a, const float* b, int ld, float* c) {
  __m512 acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  if (NV == 2) {
#pragma GCC unroll 2
    for (int k = 0; k < K; ++k, b += ld, a += Ukr::kWinogradMR) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_set1_ps(a[r]);
        acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(c + size_t(r) * ld, acc[r][0]);
      _mm512_storeu_ps(c + size_t(r) * ld + 16, acc[r][1]);
    }
    return;
  }
  // One column vector: even and odd k in two banks (enough independent FMA chains), added at the end.
  int k = 0;
  for (; k + 2 <= K; k += 2, b += 2 * ld, a += 2 * Ukr::kWinogradMR) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + ld);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(_mm512_set1_ps(a[Ukr::kWinogradMR + r]), b1, acc[r][1]);
    }
  }
  if (k < K) {
    const __m512 b0 = _mm512_loadu_ps(b);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(c + size_t(r) * ld, _mm512_add_ps(acc[r][0], acc[r][1]));
}

template <int NV>
void wg_tile_rows(int R, int K, const float* a, const float* b, int ld, float* c) {
  switch (R) {
    case 1: return wg_tile<1, NV>(K, a, b, ld, c);
    case 2: return wg_tile<2, NV>(K, a, b, ld, c);
    case 3: return wg_tile<3, NV>(K, a, b, ld, c);
    case 4: return wg_tile<4, NV>(K, a, b, ld, c);
    case 5: return wg_tile<5, NV>(K, a, b, ld, c);
    case 6: return wg_tile<6, NV>(K, a, b, ld, c);
    case 7: return wg_tile<7, NV>(K, a, b, ld, c);
    default: return wg_tile<8, NV>(K, a, b, ld, c);
  }
}

void Ukr::winograd_gemm(int M, int lanes, int K, const float* U, const float* V, int ld, float* Y) {
  for (int j = 0; j < lanes; j += NR) {
    const int nv = lanes - j >= NR ? 2 : 1;
    for (int i = 0; i < M; i += kWinogradMR) {
      const int R = std::min(kWinogradMR, M - i);
      const float* a = U + size_t(i) * K;
      if (nv == 2) {
        if (R == kWinogradMR) wg_tile<kWinogradMR, 2>(K, a, V + j, ld, Y + size_t(i) * ld + j);
        else wg_tile_rows<2>(R, K, a, V + j, ld, Y + size_t(i) * ld + j);
      } else {
        if (R == kWinogradMR) wg_tile<kWinogradMR, 1>(K, a, V + j, ld, Y + size_t(i) * ld + j);
        else wg_tile_rows<1>(R, K, a, V + j, ld, Y + size_t(i) * ld + j);
      }
    }
  }
}

inline void Ukr::store(const __m512 (&acc)[MR][2], float* c, int ldc, int m, int n, const TileOut& o) {
  // Columns j < n only (masks); C and a per-column bias have only n valid entries.
  if (o.alpha == 1.0f && !o.accumulate && o.beta == 0.0f &&
      !(o.last && (o.bias != nullptr || o.tile_residual != nullptr || o.lo != -INFINITY || o.hi != INFINITY))) {
    // Plain C = A*B (e.g. the Winograd GEMMs): no output stage.
    if (n == 32) {
      for (int i = 0; i < m; ++i) {
        _mm512_storeu_ps(c + size_t(i) * ldc, acc[i][0]);
        _mm512_storeu_ps(c + size_t(i) * ldc + 16, acc[i][1]);
      }
      return;
    }
  }
  const __mmask16 k0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 k1 = n >= 32 ? __mmask16(0xFFFF) : n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1);
  const __m512 alpha = _mm512_set1_ps(o.alpha), beta = _mm512_set1_ps(o.beta);
  const __m512 lo = _mm512_set1_ps(o.lo), hi = _mm512_set1_ps(o.hi);
  const bool scale = o.alpha != 1.0f, use_beta = !o.accumulate && o.beta != 0.0f;
  const bool add_bias = o.last && o.bias != nullptr;
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (add_bias && !o.bias_per_row) {
    bias0 = _mm512_maskz_loadu_ps(k0, o.bias);
    bias1 = _mm512_maskz_loadu_ps(k1, o.bias + 16);
  }
  for (int i = 0; i < m; ++i) {
    float* ci = c + size_t(i) * ldc;
    if (add_bias && o.bias_per_row) bias0 = bias1 = _mm512_set1_ps(o.bias[i]);
    __m512 r[2] = {acc[i][0], acc[i][1]};
    const __mmask16 km[2] = {k0, k1};
    for (int v = 0; v < 2; ++v) {
      if (km[v] == 0) continue;
      if (scale) r[v] = _mm512_mul_ps(r[v], alpha);
      if (o.accumulate) r[v] = _mm512_add_ps(r[v], _mm512_maskz_loadu_ps(km[v], ci + 16 * v));
      else if (use_beta) r[v] = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(km[v], ci + 16 * v), r[v]);
      if (o.last) {
        r[v] = _mm512_add_ps(r[v], v == 0 ? bias0 : bias1);
        if (o.tile_residual != nullptr)  // (acc + bias) + residual, as in the reference
          r[v] = _mm512_add_ps(r[v], _mm512_maskz_loadu_ps(km[v], o.tile_residual + size_t(i) * o.ldr + 16 * v));
        r[v] = _mm512_min_ps(_mm512_max_ps(r[v], lo), hi);
      }
      _mm512_mask_storeu_ps(ci + 16 * v, km[v], r[v]);
    }
  }
}


// Stride-2 shifted-window convolution, transposed (AVX-512 only): output pixels on the broadcast
// side (6 per tile), output channels on the vector side (32 per tile, the packed weights). In the
// phase images of shifted_copy_channel, tap k of output pixel (oy, ox) is xp[koff[k] + oy*Wph + ox],
// so the broadcasts read xp in place (no A packing), one base pointer per tile row: a tile is 6
// consecutive valid pixels (it may span output rows; phase columns past OW are never computed, e.g.
// 49 pixels take 9 tiles instead of 10 for 7 rows of 8). The weight loads are aligned, M = 32 / 64
// fill whole NR tiles and koff is made once in pack. The tile C[p][m] goes to T (ldc = M), then to y
// (add the residual, clamp).
// (Tried for the 1x1 stride-2 shortcuts with a subsampled copy: slower, 2.8 -> 4.0 us and
// 2.35 -> 2.6 us, the transposing copy-out of T costs more than the K = 16 / 32 GEMM saves.)
inline bool s2t_fits(const ConvGeom& g) {
  return g.group == 1 && g.M >= 16 && conv_kc(g) <= 1024 && g.sh == 2 && g.sw == 2 &&
         conv_algo(g) == ConvAlgo::ShiftedWindow;
}
struct S2tLayout {
  int wq, Q;  // phase-image row width; output pixels computed (OH * OW: junk phase columns skipped)
  size_t xp_off, xp_floats, t_off;
};
inline S2tLayout s2t_layout(const ConvGeom& g) {
  S2tLayout t;
  const ShiftedLayout l = shifted_layout(g);
  t.wq = l.wph;
  t.xp_off = l.xp_off;
  t.xp_floats = l.xp_floats;
  t.Q = g.OH * g.OW;
  t.t_off = t.xp_off + align64(sizeof(float) * t.xp_floats);
  return t;
}
inline size_t s2t_packed_floats(const ConvGeom& g) { return size_t(ceil_div(g.M, Ukr::NR)) * Ukr::NR * conv_kc(g); }
inline size_t s2t_scratch(const ConvGeom& g) {
  const S2tLayout t = s2t_layout(g);
  return t.t_off + sizeof(float) * size_t(ceil_div(t.Q, Ukr::MR)) * Ukr::MR * g.M;
}
// Packed: the weights in NR-column panels over the whole K, then koff[K] (int32, depends only on g).
inline void s2t_pack(const ConvGeom& g, const float* w, float* p) {
  const int K = conv_kc(g);
  int32_t* koff = reinterpret_cast<int32_t*>(p + s2t_packed_floats(g));
  const ShiftedLayout l = shifted_layout(g);
  for (int k = 0; k < K; ++k) {
    const int kx = k % g.kw, ky = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
    const int dy = ky * g.dh, dx = kx * g.dw;
    koff[k] = int32_t((size_t(c * l.s + dy % l.s) * l.s + dx % l.s) * l.hph * l.wph + size_t(dy / l.s) * l.wph + dx / l.s);
  }
  for (int j = 0; j < g.M; j += Ukr::NR) pack_b_panel(w, 1, size_t(K), j, g.M, K, p + size_t(j / Ukr::NR) * K * Ukr::NR);
}

// shifted_copy_channel for stride 2 with phase rows <= 16 and input rows <= 32 floats (resnet's
// 28x28 and 14x14 planes): each input row is split into its two column phases by one masked
// vpermt2ps each, straight from x (no row buffer, no memset); rows outside the input store zeros.
inline bool s2t_copy16_fits(const ConvGeom& g, const ShiftedLayout& l) { return l.s == 2 && l.wph <= 16 && g.W <= 32; }
inline void s2t_copy16(const ConvGeom& g, const ShiftedLayout& l, const float* xc, float* d) {
  const size_t phase = size_t(l.hph) * l.wph;
  const __mmask16 kw = __mmask16((1u << l.wph) - 1);
  const __mmask16 klo = g.W >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << g.W) - 1);
  const __mmask16 khi = g.W <= 16 ? __mmask16(0) : g.W >= 32 ? __mmask16(0xFFFF) : __mmask16((1u << (g.W - 16)) - 1);
  __m512i idx[2];
  __mmask16 kv[2];
  for (int px = 0; px < 2; ++px) {
    alignas(64) int32_t iv[16];
    unsigned m = 0;
    for (int j = 0; j < 16; ++j) {
      const int q = 2 * j + px - g.pad_l;  // input column of phase column j
      iv[j] = q >= 0 && q < g.W ? q : 0;
      if (q >= 0 && q < g.W && j < l.wph) m |= 1u << j;
    }
    idx[px] = _mm512_load_si512(iv);
    kv[px] = __mmask16(m);
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int R = 0; R < 2 * l.hph; ++R) {
    const int r = R - g.pad_t;
    float* dst = d + size_t((R % 2) * 2) * phase + size_t(R / 2) * l.wph;  // phase (py, px = 0), row R / 2
    if (r < 0 || r >= g.H) {
      _mm512_mask_storeu_ps(dst, kw, zero);
      _mm512_mask_storeu_ps(dst + phase, kw, zero);
      continue;
    }
    const float* xr = xc + size_t(r) * g.W;
    const __m512 lo = _mm512_maskz_loadu_ps(klo, xr), hi = _mm512_maskz_loadu_ps(khi, xr + 16);
    _mm512_mask_storeu_ps(dst, kw, _mm512_maskz_permutex2var_ps(kv[0], lo, idx[0], hi));
    _mm512_mask_storeu_ps(dst + phase, kw, _mm512_maskz_permutex2var_ps(kv[1], lo, idx[1], hi));
  }
}

// xa[r]: the phase-image column of the tile's pixel r (valid pixels only, so a tile may span rows).
template <int R, int NV>
void s2t_tile(int K, const float* const* xa, const int32_t* koff, const float* b, float* c, int ldc, int n,
              const TileOut& o) {
  __m512 acc[Ukr::MR][2];
  const float* xr[Ukr::MR];
#pragma GCC unroll 6
  for (int r = 0; r < Ukr::MR; ++r) {
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    xr[r] = xa[r < R ? r : 0];
  }
#pragma GCC unroll 4
  for (int k = 0; k < K; ++k, b += Ukr::NR) {
    const int32_t ko = koff[k];
    const __m512 b0 = _mm512_load_ps(b), b1 = NV == 2 ? _mm512_load_ps(b + 16) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(xr[r][ko]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (NV == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  Ukr::store(acc, c, ldc, R, n, o);
}

template <int NV>
inline void s2t_tile_rows(int R, int K, const float* const* xa, const int32_t* koff, const float* b, float* c, int ldc, int n,
                          const TileOut& o) {
  switch (R) {
    case 1: return s2t_tile<1, NV>(K, xa, koff, b, c, ldc, n, o);
    case 2: return s2t_tile<2, NV>(K, xa, koff, b, c, ldc, n, o);
    case 3: return s2t_tile<3, NV>(K, xa, koff, b, c, ldc, n, o);
    case 4: return s2t_tile<4, NV>(K, xa, koff, b, c, ldc, n, o);
    case 5: return s2t_tile<5, NV>(K, xa, koff, b, c, ldc, n, o);
    default: return s2t_tile<6, NV>(K, xa, koff, b, c, ldc, n, o);
  }
}

inline void s2t_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y, void* scratch,
                    const ParallelFor* pf) {
  const S2tLayout t = s2t_layout(g);
  const int K = conv_kc(g), P = g.OH * g.OW, Q = t.Q, M = g.M;
  const int nqp = ceil_div(Q, Ukr::MR), njp = ceil_div(M, Ukr::NR);
  char* base_ptr = static_cast<char*>(scratch);
  float* xp = reinterpret_cast<float*>(base_ptr + t.xp_off);
  float* T = reinterpret_cast<float*>(base_ptr + t.t_off);
  const float* Wp = static_cast<const float*>(packed);
  const int32_t* koff = reinterpret_cast<const int32_t*>(Wp + s2t_packed_floats(g));  // made in pack
  TileOut base;
  base.bias_per_row = false;
  base.lo = ep.residual ? -INFINITY : ep.lo;
  base.hi = ep.residual ? INFINITY : ep.hi;
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + size_t(n) * g.C * g.H * g.W;
    float* yn = y + size_t(n) * M * P;
    const float* rn = ep.residual ? ep.residual + size_t(n) * M * P : nullptr;
    const ShiftedLayout l = shifted_layout(g);
    const size_t chan = size_t(l.s) * l.s * l.hph * l.wph;  // floats per channel in xp
    parallel_for(pf, g.C, [&](int64_t c0, int64_t c1) {
      if (s2t_copy16_fits(g, l)) {
        for (int64_t c = c0; c < c1; ++c) s2t_copy16(g, l, xn + size_t(c) * g.H * g.W, xp + size_t(c) * chan);
      } else {
        for (int64_t c = c0; c < c1; ++c) shifted_copy_channel(g, l, xn + size_t(c) * g.H * g.W, xp + size_t(c) * chan);
      }
    });
    const size_t used = size_t(g.C) * chan;
    std::memset(xp + used, 0, sizeof(float) * (t.xp_floats - used));
    parallel_for(pf, nqp, [&](int64_t q0, int64_t q1) {
      for (int jp = 0; jp < njp; ++jp) {
        const int j = jp * Ukr::NR, nn = std::min(Ukr::NR, M - j);
        TileOut o = base;
        o.bias = ep.bias ? ep.bias + j : nullptr;
        const float* b = Wp + size_t(jp) * K * Ukr::NR;
        for (int64_t qp = q0; qp < q1; ++qp) {
          const int q = int(qp) * Ukr::MR, R = std::min(Ukr::MR, Q - q);
          const float* xa[Ukr::MR];
          for (int r = 0; r < R; ++r) xa[r] = xp + size_t((q + r) / g.OW) * t.wq + (q + r) % g.OW;
          float* c = T + size_t(q) * M + j;
          if (nn > 16) s2t_tile_rows<2>(R, K, xa, koff, b, c, M, nn, o);
          else s2t_tile_rows<1>(R, K, xa, koff, b, c, M, nn, o);
        }
      }
    });
    parallel_for(pf, M, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m)
        for (int oy = 0; oy < g.OH; ++oy) {
          float* __restrict yr = yn + (size_t(m) * g.OH + oy) * g.OW;
          const float* __restrict tr = T + size_t(oy) * g.OW * M + m;
          if (rn) {
            const float* __restrict rr = rn + (size_t(m) * g.OH + oy) * g.OW;
            for (int ox = 0; ox < g.OW; ++ox) yr[ox] = std::min(std::max(tr[size_t(ox) * M] + rr[ox], ep.lo), ep.hi);
          } else {
            for (int ox = 0; ox < g.OW; ++ox) yr[ox] = tr[size_t(ox) * M];
          }
        }
    });
  }
}

}  // namespace

namespace avx512 {

size_t sgemm_scratch_size(int M, int N, int K) { return sgemm_scratch_size_impl(M, N, K); }
void sgemm(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,
           bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf) {
  sgemm_impl(M, N, K, alpha, A, lda, transA, B, ldb, transB, beta, C, ldc, scratch, pf);
}
size_t fc_packed_size(int K, int N) { return fc_packed_size_impl(K, N); }
void fc_pack(int K, int N, const float* w, bool w_is_nk, void* packed) { fc_pack_impl(K, N, w, w_is_nk, packed); }
void fc_run(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y, int ldy,
            const ParallelFor* pf) {
  fc_run_impl(M, N, K, x, ldx, packed, ep, y, ldy, pf);
}
// After the transposed shifted window, one-input-channel 3x3 convs (stems) take the depthwise
// kernel per output plane (one_channel_3x3_run): 3.0 -> 2.2 us on mobile's and resnet's stems. The
// AVX2 set does not opt in: its GEMM path is as fast there (3.8-3.9 us against 3.9-4.2).
size_t conv2d_packed_size(const ConvGeom& g) {
  if (s2t_fits(g)) return sizeof(float) * s2t_packed_floats(g) + sizeof(int32_t) * size_t(conv_kc(g));
  return one_channel_3x3_fits(g) ? ref::conv2d_packed_size(g) : conv2d_packed_size_impl(g);
}
void conv2d_pack(const ConvGeom& g, const float* w, void* packed) {
  if (s2t_fits(g)) return s2t_pack(g, w, static_cast<float*>(packed));
  if (one_channel_3x3_fits(g)) return ref::conv2d_pack(g, w, packed);
  conv2d_pack_impl(g, w, packed);
}
size_t conv2d_scratch_size(const ConvGeom& g) {
  if (s2t_fits(g)) return s2t_scratch(g);
  return one_channel_3x3_fits(g) ? 0 : conv2d_scratch_size_impl(g);
}
void conv2d_run(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y, void* scratch,
                const ParallelFor* pf) {
  if (s2t_fits(g)) return s2t_run(g, packed, ep, x, y, scratch, pf);
  if (one_channel_3x3_fits(g))
    return one_channel_3x3_run(g, static_cast<const float*>(packed), ep, x, y, pf, conv2d_depthwise_3x3);
  conv2d_run_impl(g, packed, ep, x, y, scratch, pf, conv2d_depthwise_3x3);
}

}  // namespace avx512
}  // namespace mcrt
