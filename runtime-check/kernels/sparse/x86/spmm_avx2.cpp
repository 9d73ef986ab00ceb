// AVX2+FMA twins of the sparse kernels (compiled with -mavx2 -mfma; handed out only after cpuid).
//   fc, rows of x taken 8 at a time: fc_blocks_avx2.h.
//   fc, the remaining M % 8 rows (batch 1 included): 8 outputs per ymm over a sliced-ELL copy of W
//     (sell_pack.h; segments of 16 columns read with vpermps, not gathers, which measured slower than
//     the dense GEMV here).
//   pointwise: per output channel, 32-wide tiles of P, one broadcast FMA per stored weight;
//     tiles of P outside, channels inside, so an x tile stays in cache.
// Orders depend on the row lengths only, never on the thread split.
#include <immintrin.h>

#include <cmath>

#include "fc_blocks_avx2.h"
#include "parallel_for.h"
#include "sell_pack.h"

namespace mcrt {
namespace sparse_avx2 {
namespace {

using Sell8 = Sell<8, 16>;

// Outputs 8g..8g+7 of one batch row from the sliced-ELL form (sell_pack.h, groups of 8 outputs,
// segments of 16 columns): a step is two vpermps of the segment's 16 x values (2 ymm), a blend on
// bit 3 of the column, and an FMA kept only in the lanes that hold a weight.
void sell_row(int64_t g, const CsrMatrix& w, const uint8_t* base, const Sell8::Layout& l, const float* xr,
              const Epilogue& ep, float* yr) {
  const uint32_t* entry_start = reinterpret_cast<const uint32_t*>(base + l.entry_start);
  const uint32_t* entries = reinterpret_cast<const uint32_t*>(base + l.entries);
  const uint16_t* masks = reinterpret_cast<const uint16_t*>(base + l.masks);
  const uint8_t* cols = base + l.cols;
  const float* vals = reinterpret_cast<const float*>(base + l.values);
  int64_t t = reinterpret_cast<const uint32_t*>(base + l.step_start)[g];
  const int K = w.cols;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  auto step = [&](__m256 acc, int64_t ts, __m256 xlo, __m256 xhi) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(cols + ts * 8)));
    const __m256 lo = _mm256_permutevar8x32_ps(xlo, idx), hi = _mm256_permutevar8x32_ps(xhi, idx);
    const __m256 xg = _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    const __m256 on =
        _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(masks[ts]), lane_bit), lane_bit));
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(_mm256_load_ps(vals + ts * 8), xg, acc), on);
  };
  for (uint32_t en = entry_start[g]; en < entry_start[g + 1]; ++en) {
    const int64_t c0 = (int64_t)entries[2 * en] * 16;
    const uint32_t count = entries[2 * en + 1];
    const int64_t rem = K - c0;
    __m256 xlo, xhi;
    if (rem >= 16) {
      xlo = _mm256_loadu_ps(xr + c0);
      xhi = _mm256_loadu_ps(xr + c0 + 8);
    } else {
      const __m256i r = _mm256_set1_epi32((int)rem);
      xlo = _mm256_maskload_ps(xr + c0, _mm256_cmpgt_epi32(r, iota));
      xhi = _mm256_maskload_ps(xr + c0 + 8, _mm256_cmpgt_epi32(_mm256_sub_epi32(r, _mm256_set1_epi32(8)), iota));
    }
    uint32_t s = 0;
    for (; s + 2 <= count; s += 2, t += 2) {
      a0 = step(a0, t, xlo, xhi);
      a1 = step(a1, t + 1, xlo, xhi);
    }
    if (s < count) a0 = step(a0, t++, xlo, xhi);
  }
  const int64_t n0 = g * 8;
  const __m256i mo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w.rows - n0 < 8 ? w.rows - n0 : 8)), iota);
  __m256 acc = _mm256_add_ps(a0, a1);
  if (ep.bias) acc = _mm256_add_ps(acc, _mm256_maskload_ps(ep.bias + n0, mo));
  acc = _mm256_min_ps(_mm256_max_ps(acc, _mm256_set1_ps(ep.lo)), _mm256_set1_ps(ep.hi));
  _mm256_maskstore_ps(yr + n0, mo, acc);
}

}  // namespace

size_t fc_extra_size(const CsrMatrix& w) { return Sell8::layout(w).bytes; }
void fc_extra_pack(const CsrMatrix& w, void* extra) { Sell8::pack(w, extra); }
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
  const Sell8::Layout l = Sell8::layout_header(extra);
  parallel_for(pf, l.groups, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g)
      for (int m = full; m < M; ++m)
        sell_row(g, w, static_cast<const uint8_t*>(extra), l, x + (int64_t)m * ldx, ep, y + (int64_t)m * ldy);
  });
}

void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf) {
  constexpr int kTile = 32;
  parallel_for(pf, w.rows, [&](int64_t r0, int64_t r1) {
    int p = 0;
    for (; p + kTile <= P; p += kTile)
      for (int64_t r = r0; r < r1; ++r) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j) {
          const __m256 v = _mm256_set1_ps(w.values[j]);
          const float* xr = x + (int64_t)w.col_idx[j] * P + p;
          a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr), a0);
          a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 8), a1);
          a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 16), a2);
          a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 24), a3);
        }
        float* yr = y + r * P + p;
        _mm256_storeu_ps(yr, epilogue8(a0, ep, (int)r));
        _mm256_storeu_ps(yr + 8, epilogue8(a1, ep, (int)r));
        _mm256_storeu_ps(yr + 16, epilogue8(a2, ep, (int)r));
        _mm256_storeu_ps(yr + 24, epilogue8(a3, ep, (int)r));
      }
    for (; p + 8 <= P; p += 8)
      for (int64_t r = r0; r < r1; ++r) {
        __m256 a0 = _mm256_setzero_ps();
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          a0 = _mm256_fmadd_ps(_mm256_set1_ps(w.values[j]), _mm256_loadu_ps(x + (int64_t)w.col_idx[j] * P + p), a0);
        _mm256_storeu_ps(y + r * P + p, epilogue8(a0, ep, (int)r));
      }
    for (; p < P; ++p)
      for (int64_t r = r0; r < r1; ++r) {
        float acc = 0.f;
        for (int32_t j = w.row_ptr[r]; j < w.row_ptr[r + 1]; ++j)
          acc = std::fma(w.values[j], x[(int64_t)w.col_idx[j] * P + p], acc);
        y[r * P + p] = sparse_epilogue(acc, ep, (int)r);
      }
  });
}

}  // namespace sparse_avx2

}  // namespace mcrt
