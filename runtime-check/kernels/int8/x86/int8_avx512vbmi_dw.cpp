// AVX-512 VBMI gather kernels: int8 depthwise conv (group == C == M) and one-input-channel conv (C == 1,
// group 1: a stem on a grey image). Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vbmi;
// reached only through the AVX-512 VNNI set when int8_x86_avx512vbmi() (cpuid).
//
// How it works. Outputs go 16 at a time over the flattened output plane (o = oy * OW + ox), so 14-wide,
// 7x7 and 4x4 planes fill the lanes; when a group's input footprint is too wide, groups stay within one
// output row instead. The kernel rows are split into blocks of r rows; per group and block, one 64-byte
// window of the raw input plane (a masked load of the bytes inside the plane only: nothing outside the
// tensor is read, no padded copy is built) holds every byte that the group's outputs read through that
// block's taps. The block's taps go 4 at a time ("quads"): per group and quad, a vpermb index vector
// gathers for output lane l the bytes of its 4 taps into dword l, and its byte mask puts z_x where a tap
// falls in the padding (or past the block). One vpdpbusd per quad multiplies them, as x + 128 (xor 0x80,
// unsigned), by the output channel's 4 weights (a broadcast dword, zero past the block), so
//   acc = Σ (x - z_x) · w + bias  =  vpdpbusd sums + bias - (z_x + 128) · Σw   (exact int32)
// with Σw precomputed at pack. The index tables depend only on the geometry and are built at pack (the
// plan: flattened groups before row groups, then the largest r whose windows fit). Requantization: the
// output stage of int8_avx512::store16 (the rule of int8_kernels.h) with its constants hoisted.
// A one-input-channel conv gathers a group's quads once and runs all M output channels on them.
// Where it stops (plan_size 0, the caller keeps its other kernel): more than 16 quads or 8 blocks, a window
// wider than 64 bytes even for r = 1 and row groups (e.g. stride 5 with 16 outputs per row), or tables
// (index vectors and group records) past 8 MiB.
#include <immintrin.h>

#include <climits>
#include <cstdint>
#include <cstring>

#include "../../parallel_for.h"
#include "../int8_sets.h"
#include "int8_avx512_store.h"

namespace mcrt {
namespace int8_avx512vbmi {
namespace {

constexpr int kMaxQ = 16, kMaxWin = 8;
constexpr int32_t kPlanTag = 1;  // first int32 of a packed plan (the VNNI set's other depthwise layout: 0)

struct Quads {
  int Q = 0, nwin = 0;
  int8_t qwin[kMaxQ];       // block (window) of quad q; quads are ordered by block
  int16_t ky[kMaxQ][4], kx[kMaxQ][4];  // tap of byte i of quad q, ky -1: none
};

struct Hdr {
  int32_t tag, M, mult, Q, nwin, ngroups, mode;  // mode 0: group gi holds outputs 16 gi .. 16 gi + 15
  int8_t qwin[kMaxQ];
  int64_t off_bias, off_wsum, off_w, off_rec, off_idx, bytes;
};
constexpr int64_t kHdrBytes = (sizeof(Hdr) + 63) / 64 * 64;

struct GroupRec {
  int32_t o0, n;                // outputs o0 .. o0 + n - 1 of the flattened plane
  int64_t woff[kMaxWin];        // window start of each block: the first plane byte a tap of the block reads
  uint64_t lmask[kMaxWin];      // window bytes inside the plane
  uint64_t pmask[kMaxQ];        // quad bytes that are real taps inside the input
};

inline int64_t round64(int64_t v) { return (v + 63) / 64 * 64; }

bool make_quads(const ConvGeom& g, int r, Quads* qd) {
  qd->Q = 0;
  qd->nwin = (g.kh + r - 1) / r;
  if (qd->nwin > kMaxWin) return false;
  for (int b = 0; b < qd->nwin; ++b) {
    const int y0 = b * r, y1 = y0 + r < g.kh ? y0 + r : g.kh, nt = (y1 - y0) * g.kw;
    for (int t = 0; t < nt; t += 4) {
      if (qd->Q == kMaxQ) return false;
      const int q = qd->Q++;
      qd->qwin[q] = (int8_t)b;
      for (int i = 0; i < 4; ++i) {
        const bool tap = t + i < nt;
        qd->ky[q][i] = (int16_t)(tap ? y0 + (t + i) / g.kw : -1);
        qd->kx[q][i] = (int16_t)(tap ? (t + i) % g.kw : -1);
      }
    }
  }
  return true;
}

// Groups: mode 0 over the flattened plane, mode 1 within output rows.
int64_t group_count(const ConvGeom& g, int mode) {
  return mode == 0 ? ((int64_t)g.OH * g.OW + 15) / 16 : (int64_t)g.OH * ((g.OW + 15) / 16);
}
void group_span(const ConvGeom& g, int mode, int64_t gi, int64_t* o0, int* n) {
  const int64_t P = (int64_t)g.OH * g.OW;
  if (mode == 0) {
    *o0 = gi * 16;
    *n = (int)(P - *o0 < 16 ? P - *o0 : 16);
    return;
  }
  const int64_t per = (g.OW + 15) / 16, oy = gi / per, ox0 = gi % per * 16;
  *o0 = oy * g.OW + ox0;
  *n = (int)(g.OW - ox0 < 16 ? g.OW - ox0 : 16);
}

// Group record and index bytes (Q * 64); false when a block's footprint exceeds 64 bytes.
bool plan_group(const ConvGeom& g, const Quads& qd, int64_t o0, int n, GroupRec* rec, uint8_t* idx) {
  int64_t lo[kMaxWin], hi[kMaxWin];
  for (int w = 0; w < qd.nwin; ++w) lo[w] = INT64_MAX, hi[w] = INT64_MIN;
  auto each = [&](auto&& f) {
    for (int l = 0; l < n; ++l) {
      const int64_t o = o0 + l, oy = o / g.OW, ox = o % g.OW;
      for (int q = 0; q < qd.Q; ++q)
        for (int i = 0; i < 4; ++i) {
          if (qd.ky[q][i] < 0) continue;
          const int64_t iy = oy * g.sh - g.pad_t + (int64_t)qd.ky[q][i] * g.dh;
          const int64_t ix = ox * g.sw - g.pad_l + (int64_t)qd.kx[q][i] * g.dw;
          if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;  // padding: z_x through the mask
          f(l, q, i, iy * g.W + ix);
        }
    }
  };
  each([&](int, int q, int, int64_t pos) {
    const int w = qd.qwin[q];
    lo[w] = pos < lo[w] ? pos : lo[w];
    hi[w] = pos > hi[w] ? pos : hi[w];
  });
  std::memset(rec, 0, sizeof *rec);
  rec->o0 = (int32_t)o0;
  rec->n = n;
  const int64_t plane = (int64_t)g.H * g.W;
  for (int w = 0; w < qd.nwin; ++w) {
    if (lo[w] > hi[w]) continue;  // every tap of the block in the padding: nothing loaded
    if (hi[w] - lo[w] >= 64) return false;
    rec->woff[w] = lo[w];
    for (int p = 0; p < 64; ++p)
      if (lo[w] + p < plane) rec->lmask[w] |= 1ull << p;
  }
  std::memset(idx, 0, (size_t)qd.Q * 64);
  each([&](int l, int q, int i, int64_t pos) {
    idx[q * 64 + 4 * l + i] = (uint8_t)(pos - rec->woff[qd.qwin[q]]);
    rec->pmask[q] |= 1ull << (4 * l + i);
  });
  return true;
}

struct Choice {
  int mode = 0;
  Quads qd;
  int64_t ngroups = 0;
};

bool choose(const ConvGeom& g, Choice* ch) {
  const bool dw = g.group == g.C && g.M == g.C;
  const bool conv1 = g.C == 1 && g.group == 1;
  if (!dw && !conv1) return false;
  GroupRec rec;
  alignas(64) uint8_t idx[kMaxQ * 64];
  for (int mode = 0; mode < 2; ++mode)
    for (int r = g.kh; r >= 1; --r) {
      if (!make_quads(g, r, &ch->qd)) continue;
      ch->mode = mode;
      ch->ngroups = group_count(g, mode);
      // tables (index vectors and group records) past 8 MiB: a plane of ~300k outputs and more
      if (ch->ngroups > INT32_MAX || ch->ngroups * (ch->qd.Q * 64 + (int64_t)sizeof(GroupRec)) > (int64_t)8 << 20)
        continue;
      bool ok = true;
      for (int64_t gi = 0; gi < ch->ngroups && ok; ++gi) {
        int64_t o0;
        int n;
        group_span(g, mode, gi, &o0, &n);
        ok = plan_group(g, ch->qd, o0, n, &rec, idx);
      }
      if (ok) return true;
    }
  return false;
}

Hdr layout(const ConvGeom& g, const Choice& ch) {
  Hdr h;
  std::memset(&h, 0, sizeof h);
  h.tag = kPlanTag;
  h.M = g.M;
  h.mult = g.M / g.C;
  h.Q = ch.qd.Q;
  h.nwin = ch.qd.nwin;
  h.ngroups = (int32_t)ch.ngroups;
  h.mode = ch.mode;
  std::memcpy(h.qwin, ch.qd.qwin, sizeof h.qwin);
  h.off_bias = kHdrBytes;
  h.off_wsum = round64(h.off_bias + 4 * (int64_t)g.M);
  h.off_w = round64(h.off_wsum + 4 * (int64_t)g.M);
  h.off_rec = round64(h.off_w + 4 * (int64_t)g.M * h.Q);
  h.off_idx = round64(h.off_rec + (int64_t)sizeof(GroupRec) * h.ngroups);
  h.bytes = h.off_idx + (int64_t)h.ngroups * h.Q * 64;
  return h;
}

// Gathers the Q quads of group `rec` from the input plane at xc (bytes as x + 128; padding z_x + 128).
// kNW 1: one window for all quads; else the window changes where qwin does.
template <int QM, bool kExact, int kNW>
inline void gather(const Hdr& h, const GroupRec& rec, const int8_t* xc, const __m512i* idx, const __mmask64* pm,
                   __m512i zxu, __m512i* quad) {
  const int Q = kExact ? QM : h.Q;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  const uintptr_t base = reinterpret_cast<uintptr_t>(xc);
  auto window = [&](int w) {
    // woff >= 0 and lmask keeps the load inside the plane: nothing outside the tensor is read
    return _mm512_xor_si512(
        _mm512_maskz_loadu_epi8(rec.lmask[w], reinterpret_cast<const void*>(base + (uintptr_t)rec.woff[w])), flip);
  };
  __m512i win = window(0);
  int w = 0;
  for (int q = 0; q < QM && q < Q; ++q) {
    if (kNW != 1 && h.qwin[q] != w) win = window(w = h.qwin[q]);
    quad[q] = _mm512_mask_permutexvar_epi8(zxu, pm[q], idx[q], win);
  }
}

// The output stage of int8_avx512::store16 on 4 vectors of one channel (64 consecutive outputs, the first
// `valid` stored): the rule up to the clamped int32 (in [act_min - z_y, act_max - z_y]), then saturating packs
// that change nothing in that range (int32 -> int16, + z_y, int16 -> int8: the values are in [act_min,
// act_max]), one vpermd back to output order (packs interleave the vectors per 128-bit lane) and one store.
inline void store64(const __m512i* acc, float mult, __m512 flo, __m512 fhi, __m512i zy16, __m512i perm, int8_t* y,
                    int valid) {
  __m512i v[4];
  for (int j = 0; j < 4; ++j) {
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[j]), _mm512_set1_ps(mult));
    v[j] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(f, flo), fhi));
  }
  const __m512i p01 = _mm512_add_epi16(_mm512_packs_epi32(v[0], v[1]), zy16);
  const __m512i p23 = _mm512_add_epi16(_mm512_packs_epi32(v[2], v[3]), zy16);
  const __m512i b = _mm512_permutexvar_epi32(perm, _mm512_packs_epi16(p01, p23));
  if (valid >= 64) _mm512_storeu_si512(y, b);
  else _mm512_mask_storeu_epi8(y, (__mmask64)((1ull << valid) - 1), b);
}

// Output channels [m0, m1): per group, the tables stay in registers while the channels run; kConv1: one
// input channel, gathered once per group for all output channels (else output channel m reads channel m).
// kConv1 with up to 4 quads per group (3x3 stems): flattened groups (mode 0) go 4 at a time where 4 remain, 64
// consecutive outputs per channel, one store64 (stem 1.10 -> 0.79 us; measured slower for depthwise, which
// reloads the tables per channel, and for 8 quads, which spill).
template <int QM, bool kExact, int kNW, bool kConv1>
void run_groups(const ConvGeom& g, const Hdr& h, const uint8_t* base, const int8_t* x, int32_t zx, const Int8Out& out,
                int8_t* y, int64_t m0, int64_t m1) {
  const int Q = kExact ? QM : h.Q;
  const GroupRec* recs = reinterpret_cast<const GroupRec*>(base + h.off_rec);
  const uint8_t* idxs = base + h.off_idx;
  const int32_t* bias = reinterpret_cast<const int32_t*>(base + h.off_bias);
  const int32_t* wsum = reinterpret_cast<const int32_t*>(base + h.off_wsum);
  const int32_t* wq = reinterpret_cast<const int32_t*>(base + h.off_w);
  const float* mult = out.mult;
  const __m512i zxu = _mm512_set1_epi8((char)(uint8_t)((uint32_t)zx ^ 0x80u));
  const uint32_t zoff = (uint32_t)zx + 128u;
  const int64_t plane = (int64_t)g.H * g.W, P = (int64_t)g.OH * g.OW;
  const int ngroups = h.ngroups;
  const __m512 flo = _mm512_set1_ps((float)(out.act_min - out.zero_point));
  const __m512 fhi = _mm512_set1_ps((float)(out.act_max - out.zero_point));
  const __m512i zy = _mm512_set1_epi32(out.zero_point);
  const __m512i zy16 = _mm512_set1_epi16((short)out.zero_point);
  alignas(64) static const int32_t kPerm[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  const __m512i perm = _mm512_load_si512(kPerm);
  auto comp = [&](int64_t m) { return _mm512_set1_epi32((int32_t)((uint32_t)bias[m] - zoff * (uint32_t)wsum[m])); };
  auto load_tables = [&](int gi, __m512i* idx, __mmask64* pm) {
    for (int q = 0; q < QM && q < Q; ++q) {
      idx[q] = _mm512_load_si512(idxs + ((int64_t)gi * Q + q) * 64);
      pm[q] = recs[gi].pmask[q];
    }
  };
  auto dot = [&](__m512i acc, const __m512i* quad, const int32_t* wm) {
    for (int q = 0; q < QM && q < Q; ++q) acc = _mm512_dpbusd_epi32(acc, quad[q], _mm512_set1_epi32(wm[q]));
    return acc;
  };
  int gi = 0;
  if (kConv1 && QM <= 4 && h.mode == 0 && !out.f32) {  // 4 x QM quads stay in registers
    for (; gi + 4 <= ngroups; gi += 4) {
      const int64_t o0 = recs[gi].o0;
      const int valid = P - o0 < 64 ? (int)(P - o0) : 64;
      __m512i quad[4][QM];
      for (int j = 0; j < 4; ++j) {
        __m512i idx[QM];
        __mmask64 pm[QM];
        load_tables(gi + j, idx, pm);
        gather<QM, kExact, kNW>(h, recs[gi + j], x, idx, pm, zxu, quad[j]);
      }
      for (int64_t m = m0; m < m1; ++m) {
        const __m512i c = comp(m);
        const int32_t* wm = wq + m * Q;
        const __m512i acc[4] = {dot(c, quad[0], wm), dot(c, quad[1], wm), dot(c, quad[2], wm), dot(c, quad[3], wm)};
        store64(acc, mult[m], flo, fhi, zy16, perm, y + m * P + o0, valid);
      }
    }
  }
  for (; gi < ngroups; ++gi) {
    const GroupRec& rec = recs[gi];
    const int64_t o0 = rec.o0;
    const int n = rec.n;
    const __mmask16 k = (__mmask16)((1u << n) - 1);
    __m512i idx[QM], quad[QM];
    __mmask64 pm[QM];
    load_tables(gi, idx, pm);
    if (kConv1) gather<QM, kExact, kNW>(h, rec, x, idx, pm, zxu, quad);
    for (int64_t m = m0; m < m1; ++m) {
      if (!kConv1) gather<QM, kExact, kNW>(h, rec, x + m * plane, idx, pm, zxu, quad);
      const __m512i acc = dot(comp(m), quad, wq + m * Q);
      int8_t* ym = y + m * P + o0;
      if (out.f32) {  // not produced by QLinearConv; kept for the Int8Out contract
        int8_avx512::store16(acc, (int)m, out, y, m * P + o0, n);
        continue;
      }
      // the output stage of int8_avx512::store16 with the constants hoisted
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(mult[m]));
      f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
      const __m128i v = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zy));
      int8_avx512::store_bytes(ym, k, n, v);
    }
  }
}

template <int QM, bool kExact, int kNW>
void run_kind(const ConvGeom& g, const Hdr& h, const uint8_t* base, const int8_t* x, int32_t zx, const Int8Out& out,
              int8_t* y, int64_t m0, int64_t m1) {
  if (h.mult == 1) run_groups<QM, kExact, kNW, false>(g, h, base, x, zx, out, y, m0, m1);
  else run_groups<QM, kExact, kNW, true>(g, h, base, x, zx, out, y, m0, m1);
}

}  // namespace

size_t plan_size(const ConvGeom& g) {
  Choice ch;
  if (!choose(g, &ch)) return 0;
  return (size_t)layout(g, ch).bytes;
}

void plan_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  Choice ch;
  if (!choose(g, &ch)) return;  // the caller checked plan_size(g) != 0
  const Hdr h = layout(g, ch);
  uint8_t* base = static_cast<uint8_t*>(packed);
  std::memset(base, 0, (size_t)h.bytes);
  std::memcpy(base, &h, sizeof h);
  int32_t* b = reinterpret_cast<int32_t*>(base + h.off_bias);
  int32_t* ws = reinterpret_cast<int32_t*>(base + h.off_wsum);
  int32_t* wq = reinterpret_cast<int32_t*>(base + h.off_w);
  const int taps = g.kh * g.kw;
  for (int m = 0; m < g.M; ++m) {
    const int8_t* wm = w + (int64_t)m * taps;
    b[m] = bias ? bias[m] : 0;
    int32_t s = 0;
    for (int t = 0; t < taps; ++t) s += wm[t];
    ws[m] = s;
    for (int q = 0; q < h.Q; ++q) {
      int8_t d[4] = {0, 0, 0, 0};
      for (int i = 0; i < 4; ++i)
        if (ch.qd.ky[q][i] >= 0) d[i] = wm[ch.qd.ky[q][i] * g.kw + ch.qd.kx[q][i]];
      std::memcpy(wq + (int64_t)m * h.Q + q, d, 4);
    }
  }
  GroupRec* recs = reinterpret_cast<GroupRec*>(base + h.off_rec);
  for (int64_t gi = 0; gi < h.ngroups; ++gi) {
    int64_t o0;
    int n;
    group_span(g, ch.mode, gi, &o0, &n);
    plan_group(g, ch.qd, o0, n, recs + gi, base + h.off_idx + gi * h.Q * 64);
  }
}

void plan_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
              const ParallelFor* pf) {
  const uint8_t* base = static_cast<const uint8_t*>(packed);
  Hdr h;
  std::memcpy(&h, base, sizeof h);
  parallel_for(pf, h.M, [&](int64_t m0, int64_t m1) {
    // Exact quad counts of common kernels (one window: 3x3 3, 5x5 7, 7x7 13; windows per row or row pair:
    // 3x3 3, 5x5 8 or 10, 7x7 14): fully unrolled with the quads in registers.
    switch (h.nwin == 1 ? h.Q : 16 + h.Q) {
      case 1: return run_kind<1, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 2: return run_kind<2, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 3: return run_kind<3, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 4: return run_kind<4, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 7: return run_kind<7, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 13: return run_kind<13, true, 1>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 2: return run_kind<2, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 3: return run_kind<3, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 4: return run_kind<4, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 6: return run_kind<6, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 8: return run_kind<8, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 10: return run_kind<10, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      case 16 + 14: return run_kind<14, true, 0>(g, h, base, x, zx, out, y, m0, m1);
      default: break;
    }
    if (h.Q <= 8) run_kind<8, false, 0>(g, h, base, x, zx, out, y, m0, m1);
    else run_kind<16, false, 0>(g, h, base, x, zx, out, y, m0, m1);
  });
}

}  // namespace int8_avx512vbmi

// The AVX-512 VNNI set's one-input-channel conv: the plan above, when the CPU has VBMI and it fits.
namespace int8_avx512vnni {

size_t conv1_packed_size(const ConvGeom& g) {
  if (g.C != 1 || g.group != 1 || !int8_x86_avx512vbmi()) return 0;
  return int8_avx512vbmi::plan_size(g);
}
const char* conv1_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed) {
  int8_avx512vbmi::plan_pack(g, w, bias, packed);
  return "avx512vbmi";
}
void conv1_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
               const ParallelFor* pf) {
  int8_avx512vbmi::plan_run(g, packed, x, zx, out, y, pf);
}

}  // namespace int8_avx512vnni
}  // namespace mcrt
