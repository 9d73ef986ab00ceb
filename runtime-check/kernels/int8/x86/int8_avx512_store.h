// Internal to the AVX-512 int8 kernels (include only from TUs compiled with -mavx512f -mavx512bw
// -mavx512vl): the output stage of int8_kernels.h on 16 int32 accumulators of one output channel m,
// stored at y + idx (valid outputs: the first `valid` lanes).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "../int8_kernels.h"

namespace mcrt {
namespace int8_avx512 {

// 16 bytes (register-form vpmovdb, then a plain or byte-masked store: the memory form of vpmovdb is
// microcoded and slow on some cores).
inline void store_bytes(int8_t* p, __mmask16 k, int valid, __m128i v) {
  if (valid >= 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  else _mm_mask_storeu_epi8(p, k, v);
}

// The int8 output stage of 16 accumulators of channel m: int32 lanes holding the output bytes.
inline __m512i requant16(__m512i acc, int m, const Int8Out& out) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(out.mult[m]));
  f = _mm512_max_ps(f, _mm512_set1_ps((float)(out.act_min - out.zero_point)));
  f = _mm512_min_ps(f, _mm512_set1_ps((float)(out.act_max - out.zero_point)));
  return _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(out.zero_point));
}

inline void store16(__m512i acc, int m, const Int8Out& out, void* y, int64_t idx, int valid) {
  const __mmask16 k = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
  if (out.f32) {
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(out.mult[m]));
    if (out.fbias) f = _mm512_add_ps(f, _mm512_set1_ps(out.fbias[m]));
    _mm512_mask_storeu_ps(static_cast<float*>(y) + idx, k, f);
    return;
  }
  store_bytes(static_cast<int8_t*>(y) + idx, k, valid, _mm512_cvtepi32_epi8(requant16(acc, m, out)));
}

}  // namespace int8_avx512
}  // namespace mcrt
