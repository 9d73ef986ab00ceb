// AVX-512F twins of the sparse kernels (compiled with -mavx512f -mavx2 -mfma; handed out only after cpuid).
//   fc, rows of x taken 8 at a time: the AVX2 block path (fc_blocks_avx2.h).
//   fc, the remaining M % 8 rows (batch 1 included): 16 outputs per zmm over a sliced-ELL copy of W
//     (fc_extra_pack, below); x is read through permutes of 32-column segments, not gathers (gathers
//     are microcoded and slower than the dense GEMV on the CPUs we measured).
//   pointwise: per output channel, 64-wide tiles of P (4 zmm), one broadcast FMA per stored weight;
//     16-wide tiles, then one masked tile for the rest.
// Orders depend on the row lengths only, never on the thread split.
#include <immintrin.h>

#include "fc_blocks_avx2.h"
#include "parallel_for.h"
#include "sell_pack.h"

namespace mcrt {
namespace sparse_avx512 {
namespace {

inline __m512 epilogue16(__m512 acc, const Epilogue& ep, int channel) {
  if (ep.bias) acc = _mm512_add_ps(acc, _mm512_set1_ps(ep.bias[channel]));
  acc = _mm512_max_ps(acc, _mm512_set1_ps(ep.lo));
  return _mm512_min_ps(acc, _mm512_set1_ps(ep.hi));
}

}  // namespace

// ---- fc for the rows outside 8-row blocks (batch 1): 16 outputs per zmm, x read by permutes ----
// sell_pack.h with groups of 16 outputs and segments of 32 columns: a step is one vpermt2ps of the
// segment's 32 x values (2 zmm) and one masked FMA.
namespace {

using Sell16 = Sell<16, 32>;
constexpr int kGroup = 16, kSeg = 32;

void sell_row(int64_t g, const CsrMatrix& w, const uint8_t* base, const Sell16::Layout& l, const float* xr,
              const Epilogue& ep, float* yr) {
  const uint32_t* entry_start = reinterpret_cast<const uint32_t*>(base + l.entry_start);
  const uint32_t* entries = reinterpret_cast<const uint32_t*>(base + l.entries);
  const uint16_t* masks = reinterpret_cast<const uint16_t*>(base + l.masks);
  const uint8_t* cols = base + l.cols;
  const float* vals = reinterpret_cast<const float*>(base + l.values);
  int64_t t = reinterpret_cast<const uint32_t*>(base + l.step_start)[g];
  const int K = w.cols;
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  for (uint32_t en = entry_start[g]; en < entry_start[g + 1]; ++en) {
    const int64_t c0 = (int64_t)entries[2 * en] * kSeg;
    const uint32_t count = entries[2 * en + 1];
    const int64_t rem = K - c0;
    const __mmask16 mlo = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1u);
    const __mmask16 mhi = rem >= 32 ? (__mmask16)0xffff : rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1u) : 0;
    const __m512 xlo = _mm512_maskz_loadu_ps(mlo, xr + c0), xhi = _mm512_maskz_loadu_ps(mhi, xr + c0 + 16);
    uint32_t s = 0;
    for (; s + 2 <= count; s += 2, t += 2) {
      const __m512i i0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cols + t * kGroup)));
      const __m512i i1 =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cols + (t + 1) * kGroup)));
      a0 = _mm512_mask3_fmadd_ps(_mm512_load_ps(vals + t * kGroup), _mm512_permutex2var_ps(xlo, i0, xhi), a0, masks[t]);
      a1 = _mm512_mask3_fmadd_ps(_mm512_load_ps(vals + (t + 1) * kGroup), _mm512_permutex2var_ps(xlo, i1, xhi), a1,
                                 masks[t + 1]);
    }
    if (s < count) {
      const __m512i i0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cols + t * kGroup)));
      a0 = _mm512_mask3_fmadd_ps(_mm512_load_ps(vals + t * kGroup), _mm512_permutex2var_ps(xlo, i0, xhi), a0, masks[t]);
      ++t;
    }
  }
  const int64_t n0 = g * kGroup;
  const __mmask16 mo = w.rows - n0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (w.rows - n0)) - 1u);
  __m512 acc = _mm512_add_ps(a0, a1);
  if (ep.bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mo, ep.bias + n0));
  acc = _mm512_min_ps(_mm512_max_ps(acc, _mm512_set1_ps(ep.lo)), _mm512_set1_ps(ep.hi));
  _mm512_mask_storeu_ps(yr + n0, mo, acc);
}

}  // namespace

size_t fc_extra_size(const CsrMatrix& w) { return Sell16::layout(w).bytes; }

void fc_extra_pack(const CsrMatrix& w, void* extra) { Sell16::pack(w, extra); }

size_t fc_scratch_size(int M, int K) { return (size_t)(M / kBlockRows) * kBlockRows * (size_t)K * 4; }

void fc_run(int M, const CsrMatrix& w, const void* extra, const float* x, int ldx, const Epilogue& ep, float* y,
            int ldy, void* scratch, const ParallelFor* pf) {
  fc_transpose_blocks8(M, w.cols, x, ldx, static_cast<float*>(scratch));
  const float* xt = static_cast<const float*>(scratch);
  const int full = M / kBlockRows * kBlockRows;
  if (full > 0)
    parallel_for(pf, w.rows, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) fc_row_blocks8(n, M, w, xt, ep, y, ldy);
    });
  if (full == M) return;
  const Sell16::Layout l = Sell16::layout_header(extra);
  parallel_for(pf, l.groups, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g)
      for (int m = full; m < M; ++m)
        sell_row(g, w, static_cast<const uint8_t*>(extra), l, x + (int64_t)m * ldx, ep, y + (int64_t)m * ldy);
  });
}

void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf) {
  constexpr int kTile = 64;
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    int p = 0;
    for (; p + kTile <= P; p += kTile)
      for (int64_t r = r0; r < r1; ++r) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j) {
          const __m512 v = _mm512_set1_ps(w.values[j]);
          const float* xr = x + (int64_t)w.col_idx[j] * P + p;
          a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(xr), a0);
          a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(xr + 16), a1);
          a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(xr + 32), a2);
          a3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(xr + 48), a3);
        }
        float* yr = y + r * P + p;
        _mm512_storeu_ps(yr, epilogue16(a0, ep, (int)r));
        _mm512_storeu_ps(yr + 16, epilogue16(a1, ep, (int)r));
        _mm512_storeu_ps(yr + 32, epilogue16(a2, ep, (int)r));
        _mm512_storeu_ps(yr + 48, epilogue16(a3, ep, (int)r));
      }
    for (; p < P; p += 16) {
      const __mmask16 m = P - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (P - p)) - 1u);
      for (int64_t r = r0; r < r1; ++r) {
        __m512 a0 = _mm512_setzero_ps();
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          a0 = _mm512_fmadd_ps(_mm512_set1_ps(w.values[j]), _mm512_maskz_loadu_ps(m, x + (int64_t)w.col_idx[j] * P + p),
                               a0);
        _mm512_mask_storeu_ps(y + r * P + p, m, epilogue16(a0, ep, (int)r));
      }
    }
  });
}

}  // namespace sparse_avx512
}  // namespace mcrt
