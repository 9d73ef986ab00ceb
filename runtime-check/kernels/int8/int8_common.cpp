// Shared parts of the int8 kernels: the X packers (rows and im2col), the literal requantization
// rule, and the set registry (reference table; one-time choice of the best set).
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "int8_kernels.h"
#include "int8_pack.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif
#include "reference/int8_reference.h"

namespace mcrt {

int8_t int8_requantize_ref(int32_t acc, float mult, int32_t zero_point, int32_t act_min, int32_t act_max) {
  const float f = (float)acc * mult;                       // float32 product
  const double r = (double)std::nearbyint(f) + zero_point;  // round half to even (default mode)
  return (int8_t)(r < act_min ? act_min : (r > act_max ? act_max : (int32_t)r));
}

void int8_quantize_f32_ref(int64_t n, const float* x, float scale, int32_t zp, bool s8, uint8_t* y) {
  const float lo = s8 ? -128.f : 0.f, hi = s8 ? 127.f : 255.f;
  for (int64_t i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] / scale) + (float)zp;  // default FE rounding: half to even
    v = std::isnan(v) ? 0.f : (v < lo ? lo : (v > hi ? hi : v));
    if (s8) {
      const int8_t q = (int8_t)v;
      std::memcpy(y + i, &q, 1);
    } else {
      y[i] = (uint8_t)v;
    }
  }
}

#if defined(__SSE2__)
const char* int8_quantize_f32_simd() { return "sse2"; }

void int8_quantize_f32(int64_t n, const float* x, float scale, int32_t zp, bool s8, uint8_t* y) {
  const __m128 vs = _mm_set1_ps(scale);
  const __m128 vlo = _mm_set1_ps((float)((s8 ? -128 : 0) - zp)), vhi = _mm_set1_ps((float)((s8 ? 127 : 255) - zp));
  const __m128i vzp = _mm_set1_epi32(zp);
  // one float32 vector -> int32 lanes of the rule (NaN lanes 0)
  auto q4 = [&](const float* p) {
    const __m128 q = _mm_div_ps(_mm_loadu_ps(p), vs);
    const __m128 c = _mm_min_ps(_mm_max_ps(q, vlo), vhi);  // NaN -> vlo here, masked below
    const __m128i r = _mm_add_epi32(_mm_cvtps_epi32(c), vzp);
    return _mm_and_si128(r, _mm_castps_si128(_mm_cmpord_ps(q, q)));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_packs_epi32(q4(x + i), q4(x + i + 4));  // values already in [lo, hi]
    const __m128i b = _mm_packs_epi32(q4(x + i + 8), q4(x + i + 12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), s8 ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b));
  }
  if (i < n) int8_quantize_f32_ref(n - i, x + i, scale, zp, s8, y + i);
}
#else
const char* int8_quantize_f32_simd() { return nullptr; }

void int8_quantize_f32(int64_t n, const float* x, float scale, int32_t zp, bool s8, uint8_t* y) {
  int8_quantize_f32_ref(n, x, scale, zp, s8, y);
}
#endif

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

// Four taps (one K-quad) at a time: per output row, each tap is a source row (or the zero point when
// the row is outside the input) read at ox * sw + offset; the four bytes of a column are written as
// one 32-bit store. Columns whose source is inside the row for all four taps take the branch-free loop.
void int8_im2col(const ConvGeom& g, int cg, const int8_t* x, int8_t zx, int8_t* xp) {
  const int64_t N = (int64_t)g.OH * g.OW, Np = int8_gemm_cols(N);
  const int K = cg * g.kh * g.kw, Kq = (K + 3) / 4;
  const int8_t zrow_val = zx;
  for (int q = 0; q < Kq; ++q) {
    int c[4], ky[4], kx[4];
    bool present[4];
    for (int j = 0; j < 4; ++j) {
      const int k = q * 4 + j;
      present[j] = k < K;
      const int kk = present[j] ? k : 0;
      c[j] = kk / (g.kh * g.kw);
      ky[j] = kk / g.kw % g.kh;
      kx[j] = kk % g.kw;
    }
    uint8_t* dst = reinterpret_cast<uint8_t*>(xp) + (int64_t)q * Np * 4;
    for (int oy = 0; oy < g.OH; ++oy) {
      const int8_t* src[4];
      int ix0[4];
      int lo = 0, hi = g.OW;  // columns where every present tap is inside its row
      for (int j = 0; j < 4; ++j) {
        const int iy = oy * g.sh - g.pad_t + ky[j] * g.dh;
        ix0[j] = -g.pad_l + kx[j] * g.dw;
        if (!present[j] || iy < 0 || iy >= g.H) {
          src[j] = nullptr;
          continue;
        }
        src[j] = x + ((int64_t)c[j] * g.H + iy) * g.W;
        // ox * sw + ix0 >= 0  and  ox * sw + ix0 < W
        const int first = ix0[j] >= 0 ? 0 : (-ix0[j] + g.sw - 1) / g.sw;
        const int last = g.W - 1 - ix0[j] < 0 ? -1 : (g.W - 1 - ix0[j]) / g.sw;  // inclusive
        lo = first > lo ? first : lo;
        hi = last + 1 < hi ? last + 1 : hi;
      }
      uint8_t* d = dst + (int64_t)oy * g.OW * 4;
      auto one = [&](int ox) {
        uint8_t b[4];
        for (int j = 0; j < 4; ++j) {
          const int ix = ox * g.sw + ix0[j];
          b[j] = (uint8_t)((src[j] && ix >= 0 && ix < g.W) ? src[j][ix] : (present[j] ? zrow_val : 0));
        }
        std::memcpy(d + ox * 4, b, 4);
      };
      if (hi <= lo) {
        for (int ox = 0; ox < g.OW; ++ox) one(ox);
        continue;
      }
      for (int ox = 0; ox < lo; ++ox) one(ox);
      // Inside: rows outside the input (src null) read the zero point; absent taps read 0.
      const uint8_t fill[4] = {(uint8_t)(present[0] ? zrow_val : 0), (uint8_t)(present[1] ? zrow_val : 0),
                               (uint8_t)(present[2] ? zrow_val : 0), (uint8_t)(present[3] ? zrow_val : 0)};
      const uint8_t* s0 = src[0] ? reinterpret_cast<const uint8_t*>(src[0] + ix0[0]) : nullptr;
      const uint8_t* s1 = src[1] ? reinterpret_cast<const uint8_t*>(src[1] + ix0[1]) : nullptr;
      const uint8_t* s2 = src[2] ? reinterpret_cast<const uint8_t*>(src[2] + ix0[2]) : nullptr;
      const uint8_t* s3 = src[3] ? reinterpret_cast<const uint8_t*>(src[3] + ix0[3]) : nullptr;
      const int sw = g.sw;
      if (s0 && s1 && s2 && s3) {
        for (int ox = lo; ox < hi; ++ox) {
          const int o = ox * sw;
          const uint32_t v = (uint32_t)s0[o] | (uint32_t)s1[o] << 8 | (uint32_t)s2[o] << 16 | (uint32_t)s3[o] << 24;
          std::memcpy(d + ox * 4, &v, 4);
        }
      } else {
        for (int ox = lo; ox < hi; ++ox) {
          const int o = ox * sw;
          const uint32_t v = (uint32_t)(s0 ? s0[o] : fill[0]) | (uint32_t)(s1 ? s1[o] : fill[1]) << 8 |
                             (uint32_t)(s2 ? s2[o] : fill[2]) << 16 | (uint32_t)(s3 ? s3[o] : fill[3]) << 24;
          std::memcpy(d + ox * 4, &v, 4);
        }
      }
      for (int ox = hi; ox < g.OW; ++ox) one(ox);
    }
  }
}

Int8ConvImage int8_conv_image_layout(const ConvGeom& g) {
  Int8ConvImage im;
  im.Cq = (g.C + 3) / 4;
  im.taps = g.kh * g.kw;
  im.Hph = g.OH + ((g.kh - 1) * g.dh) / g.sh;
  im.Wph = g.OW + ((g.kw - 1) * g.dw) / g.sw;
  im.row_step = (int64_t)im.Wph * 4;
  im.bytes = (size_t)g.sw * g.sh * im.Cq * im.Hph * im.Wph * 4 + 512;  // tiles read up to 32 columns past a row
  return im;
}

void int8_conv_qoffsets(const ConvGeom& g, const Int8ConvImage& im, int64_t* qoff) {
  for (int t = 0; t < im.taps; ++t) {
    const int ky = t / g.kw, kx = t % g.kw, ox = kx * g.dw, oy = ky * g.dh;
    for (int cq = 0; cq < im.Cq; ++cq)
      qoff[t * im.Cq + cq] =
          ((((int64_t)(ox % g.sw) * g.sh + oy % g.sh) * im.Cq + cq) * im.Hph + oy / g.sh) * im.Wph * 4 +
          (int64_t)(ox / g.sw) * 4;
  }
}

void int8_conv_reorder_weights(const ConvGeom& g, const int8_t* w, int8_t* w2) {
  const int Cq = (g.C + 3) / 4, taps = g.kh * g.kw, Kd = taps * Cq * 4;
  for (int m = 0; m < g.M; ++m)
    for (int t = 0; t < taps; ++t)
      for (int c = 0; c < Cq * 4; ++c)
        w2[(int64_t)m * Kd + (t * Cq + c / 4) * 4 + c % 4] = c < g.C ? w[((int64_t)m * g.C + c) * taps + t] : 0;
}

namespace {

// w[i] = s0[i] | s1[i] << 8 | s2[i] << 16 | s3[i] << 24 for i in [0, n): 4 channels per 32-bit word.
void interleave4(const int8_t* const s[4], int64_t n, uint32_t* w) {
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[0] + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[1] + i));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[2] + i));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s[3] + i));
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i ce0 = _mm_unpacklo_epi8(c, e), ce1 = _mm_unpackhi_epi8(c, e);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w + i), _mm_unpacklo_epi16(ab0, ce0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w + i + 4), _mm_unpackhi_epi16(ab0, ce0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w + i + 8), _mm_unpacklo_epi16(ab1, ce1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w + i + 12), _mm_unpackhi_epi16(ab1, ce1));
  }
#elif defined(__ARM_NEON)
  for (; i + 16 <= n; i += 16) {
    uint8x16x4_t v;
    v.val[0] = vld1q_u8(reinterpret_cast<const uint8_t*>(s[0] + i));
    v.val[1] = vld1q_u8(reinterpret_cast<const uint8_t*>(s[1] + i));
    v.val[2] = vld1q_u8(reinterpret_cast<const uint8_t*>(s[2] + i));
    v.val[3] = vld1q_u8(reinterpret_cast<const uint8_t*>(s[3] + i));
    vst4q_u8(reinterpret_cast<uint8_t*>(w + i), v);
  }
#endif
  for (; i < n; ++i)
    w[i] = (uint32_t)(uint8_t)s[0][i] | (uint32_t)(uint8_t)s[1][i] << 8 | (uint32_t)(uint8_t)s[2][i] << 16 |
           (uint32_t)(uint8_t)s[3][i] << 24;
}

// d[j] = w[j * sw] for j in [0, n), 4 words per step for strides 1 and 2 (a tail of 1-3 words redoes the
// last 4, same values). Stride 2 reads one word past the last one it uses (w[2n - 1]).
void gather_words(const uint32_t* w, int sw, int n, uint32_t* d) {
#if defined(__SSE2__) || defined(__ARM_NEON)
  if ((sw == 1 || sw == 2) && n >= 4) {
    auto block = [&](int j) {
#if defined(__SSE2__)
      if (sw == 1) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + j), _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j)));
      } else {
        const __m128 a = _mm_loadu_ps(reinterpret_cast<const float*>(w + 2 * j));
        const __m128 b = _mm_loadu_ps(reinterpret_cast<const float*>(w + 2 * j + 4));
        _mm_storeu_ps(reinterpret_cast<float*>(d + j), _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
      }
#else
      vst1q_u32(d + j, sw == 1 ? vld1q_u32(w + j) : vld2q_u32(w + 2 * j).val[0]);
#endif
    };
    int j = 0;
    for (; j + 4 <= n; j += 4) block(j);
    if (j < n) block(n - 4);
    return;
  }
#endif
  for (int j = 0; j < n; ++j) d[j] = w[(int64_t)j * sw];
}

}  // namespace

// Per channel quad: the 4 channels (a channel past C reads a row of z_x) interleaved into 32-bit words,
// the whole plane at once when it fits the stack buffer, else row by row; then each input row's words
// go to padded column iw + pad_l of column phase (iw + pad_l) % sw, in row (ih + pad_t) / sh of row phase
// (ih + pad_t) % sh (gather_words: a copy for stride 1, even/odd words for stride 2).
void int8_conv_image(const ConvGeom& g, const Int8ConvImage& im, const int8_t* x, int8_t zx, int8_t* img) {
  constexpr int64_t kMaxWords = 4096;
  const int64_t plane = (int64_t)g.H * g.W;
  const bool whole = plane <= kMaxWords;
  uint32_t tw[kMaxWords + 8];  // + 8: gather_words' over-read of the last row
  std::memset(tw + kMaxWords, 0, 8 * sizeof(uint32_t));
  int8_t zrow[kMaxWords];      // stands for the channels past C
  const bool pad_channels = g.C % 4 != 0;
  if (pad_channels) std::memset(zrow, (uint8_t)zx, sizeof zrow);
  // Phases that no tap reads (e.g. a 1x1 conv with stride 2 reads only phase 0) are left at z_x.
  auto col_used = [&](int ph) { return int8_pack::conv_col_phase_used(g, ph); };
  auto row_used = [&](int rp) { return int8_pack::conv_row_phase_used(g, rp); };
  // Column phase ph: words j in [j0, j0 + n) hold input columns j * sw + ph - pad_l (word src of the row).
  struct ColRun {
    int j0 = 0, n = 0;
    int64_t src = 0;
  };
  auto col_run = [&](int ph) {
    ColRun c;
    if (!col_used(ph)) return c;
    const int c0 = ph - g.pad_l;
    c.j0 = c0 >= 0 ? 0 : (-c0 + g.sw - 1) / g.sw;
    int j1 = g.W - 1 - c0 < 0 ? 0 : (g.W - 1 - c0) / g.sw + 1;
    if (j1 > im.Wph) j1 = im.Wph;
    c.n = j1 - c.j0;
    c.src = (int64_t)c.j0 * g.sw + c0;
    return c;
  };
  constexpr int kRuns = 8;
  ColRun runs[kRuns];
  for (int ph = 0; ph < g.sw && ph < kRuns; ++ph) runs[ph] = col_run(ph);
  // The image plane is the input plane (pointwise: no pads, no phases, no junk columns): interleave each
  // channel quad straight into it; no z_x to write except the slack.
  const bool direct = g.sw == 1 && g.sh == 1 && g.pad_l == 0 && g.pad_t == 0 && im.Wph == g.W && im.Hph == g.H &&
                      (!pad_channels || plane <= kMaxWords);
  // z_x everywhere a tap may read (padding included), then the input words over it.
  const size_t phase_bytes = (size_t)im.Cq * im.Hph * im.Wph * 4, phases = (size_t)g.sw * g.sh;
  if (!direct)
    for (int ph = 0; ph < g.sw; ++ph)
      for (int rp = 0; rp < g.sh; ++rp)
        if (col_used(ph) && row_used(rp)) std::memset(img + ((size_t)ph * g.sh + rp) * phase_bytes, (uint8_t)zx, phase_bytes);
  std::memset(img + phases * phase_bytes, (uint8_t)zx, im.bytes - phases * phase_bytes);
  for (int cq = 0; cq < im.Cq; ++cq) {
    const int8_t* src[4];
    for (int j = 0; j < 4; ++j) {
      const int c = cq * 4 + j;
      src[j] = c < g.C ? x + c * plane : nullptr;
    }
    if (direct) {
      const int8_t* s[4];
      for (int j = 0; j < 4; ++j) s[j] = src[j] ? src[j] : zrow;
      interleave4(s, plane, reinterpret_cast<uint32_t*>(img) + (int64_t)cq * plane);
      continue;
    }
    if (g.W > kMaxWords) {  // very wide rows: one word per column
      for (int ih = 0; ih < g.H; ++ih) {
        const int r = ih + g.pad_t, rp = r % g.sh, ri = r / g.sh;
        if (ri >= im.Hph) break;
        for (int iw = 0; iw < g.W; ++iw) {
          const int pc = iw + g.pad_l, ph = pc % g.sw, j = pc / g.sw;
          if (j >= im.Wph) continue;
          uint8_t b[4];
          for (int k = 0; k < 4; ++k) b[k] = (uint8_t)(src[k] ? src[k][(int64_t)ih * g.W + iw] : zx);
          std::memcpy(img + (((((int64_t)ph * g.sh + rp) * im.Cq + cq) * im.Hph + ri) * im.Wph + j) * 4, b, 4);
        }
      }
      continue;
    }
    if (whole) {
      const int8_t* s[4];
      for (int j = 0; j < 4; ++j) s[j] = src[j] ? src[j] : zrow;
      interleave4(s, plane, tw);
      if (plane + 8 <= kMaxWords) std::memset(tw + plane, 0, 8 * sizeof(uint32_t));
    }
    int rp = g.pad_t % g.sh, ri = g.pad_t / g.sh;  // padded row ih + pad_t: row ri of row phase rp
    for (int ih = 0; ih < g.H && ri < im.Hph; ++ih) {
      if (row_used(rp)) {
        const uint32_t* wr = tw + (whole ? (int64_t)ih * g.W : 0);
        if (!whole) {
          const int8_t* s[4];
          for (int j = 0; j < 4; ++j) s[j] = src[j] ? src[j] + (int64_t)ih * g.W : zrow;
          interleave4(s, g.W, tw);
          std::memset(tw + g.W, 0, 8 * sizeof(uint32_t));
        }
        for (int ph = 0; ph < g.sw; ++ph) {
          const ColRun c = ph < kRuns ? runs[ph] : col_run(ph);
          if (c.n <= 0) continue;
          uint32_t* d = reinterpret_cast<uint32_t*>(img) + ((((int64_t)ph * g.sh + rp) * im.Cq + cq) * im.Hph + ri) * im.Wph;
          gather_words(wr + c.src, g.sw, c.n, d + c.j0);
        }
      }
      if (++rp == g.sh) rp = 0, ++ri;
    }
  }
}

const Int8KernelSet& int8_kernels_reference() {
  static const Int8KernelSet set = {"reference",           int8_ref::gemm_packed_size, int8_ref::gemm_pack,
                                    int8_ref::gemm_run,    int8_ref::conv_run,         int8_ref::dw_packed_size,
                                    int8_ref::dw_pack,
                                    int8_ref::dw_scratch_size, int8_ref::dw_run,    int8_ref::add_run,
                                    nullptr,                   nullptr,             nullptr,
                                    nullptr};
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
