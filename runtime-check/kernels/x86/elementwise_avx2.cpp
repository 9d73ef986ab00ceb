// Element-wise kernels on AVX2+FMA: 8 lanes per step, the scalar reference for tails.
// Vectorised: Add Sub Mul Div Max Min; Relu LeakyRelu Clip HardSigmoid HardSwish Neg Abs Sqrt (exact
// lane-wise), Exp Sigmoid Tanh (Cephes-style polynomials, about 2 ulp for exp; tanh absolute error
// < 2e-7). Pow, Erf and Gelu call the scalar reference per element (exact, not fast).
#include <immintrin.h>

#include "../reference/reference_kernels.h"
#include "avx2_kernels.h"

namespace mcrt {
namespace avx2 {
namespace {

// exp(x): x = n*ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n through the exponent bits.
inline __m256 exp8(__m256 x) {
  const __m256 big = _mm256_set1_ps(88.7228390f), small = _mm256_set1_ps(-87.3365448f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, small), big);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n in two halves so that n = 128 (x near 88.72) does not overflow the exponent field.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i h1 = _mm256_srai_epi32(ni, 1), h2 = _mm256_sub_epi32(ni, h1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h2, _mm256_set1_epi32(127)), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, big, _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, small, _CMP_LT_OQ));
  return y;
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh: odd polynomial for |x| < 0.625 (Cephes tanhf), else sign(x) * (1 - 2 / (exp(2|x|) + 1)).
inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

template <class V>
void binary_loop(int64_t n, const float* a, int as, const float* b, int bs, float* y, V vop, BinaryOp op) {
  int64_t i = 0;
  if (as == 1 && bs == 1) {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vop(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  } else if (as == 1) {
    const __m256 vb = _mm256_set1_ps(b[0]);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vop(_mm256_loadu_ps(a + i), vb));
  } else if (bs == 1) {
    const __m256 va = _mm256_set1_ps(a[0]);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vop(va, _mm256_loadu_ps(b + i)));
  }
  for (; i < n; ++i) y[i] = ref::binary_one(op, a[i * as], b[i * bs]);
}

template <class V>
void unary_loop(int64_t n, const float* x, float* y, V vop, UnaryOp op, float alpha, float beta) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vop(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = ref::unary_one(op, x[i], alpha, beta);
}

}  // namespace

void binary(BinaryOp op, int64_t n, const float* a, int as, const float* b, int bs, float* y) {
  switch (op) {
    case BinaryOp::Add: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_add_ps(u, v); }, op);
    case BinaryOp::Sub: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_sub_ps(u, v); }, op);
    case BinaryOp::Mul: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_mul_ps(u, v); }, op);
    case BinaryOp::Div: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_div_ps(u, v); }, op);
    // _mm256_max_ps(v, u) = v > u ? v : u, exactly the reference's a < b ? b : a (signed zeros, NaN).
    case BinaryOp::Max: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_max_ps(v, u); }, op);
    case BinaryOp::Min: return binary_loop(n, a, as, b, bs, y, [](__m256 u, __m256 v) { return _mm256_min_ps(v, u); }, op);
    case BinaryOp::Pow: return ref::binary(op, n, a, as, b, bs, y);
  }
}

void unary(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), va = _mm256_set1_ps(alpha),
               vb = _mm256_set1_ps(beta), sign = _mm256_set1_ps(-0.0f);
  switch (op) {
    case UnaryOp::Relu: return unary_loop(n, x, y, [&](__m256 v) { return _mm256_max_ps(v, zero); }, op, alpha, beta);
    case UnaryOp::LeakyRelu:
      return unary_loop(n, x, y, [&](__m256 v) {
        return _mm256_blendv_ps(_mm256_mul_ps(v, va), v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
      }, op, alpha, beta);
    case UnaryOp::Clip:
      return unary_loop(n, x, y, [&](__m256 v) { return _mm256_min_ps(_mm256_max_ps(v, va), vb); }, op, alpha, beta);
    case UnaryOp::HardSigmoid:
      return unary_loop(n, x, y, [&](__m256 v) {
        return _mm256_max_ps(zero, _mm256_min_ps(one, _mm256_fmadd_ps(va, v, vb)));
      }, op, alpha, beta);
    case UnaryOp::HardSwish:
      return unary_loop(n, x, y, [&](__m256 v) {
        const __m256 t = _mm256_add_ps(_mm256_div_ps(v, _mm256_set1_ps(6.0f)), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(v, _mm256_max_ps(zero, _mm256_min_ps(one, t)));
      }, op, alpha, beta);
    case UnaryOp::Neg: return unary_loop(n, x, y, [&](__m256 v) { return _mm256_xor_ps(v, sign); }, op, alpha, beta);
    case UnaryOp::Abs: return unary_loop(n, x, y, [&](__m256 v) { return _mm256_andnot_ps(sign, v); }, op, alpha, beta);
    case UnaryOp::Sqrt: return unary_loop(n, x, y, [&](__m256 v) { return _mm256_sqrt_ps(v); }, op, alpha, beta);
    case UnaryOp::Exp: return unary_loop(n, x, y, [&](__m256 v) { return exp8(v); }, op, alpha, beta);
    case UnaryOp::Sigmoid: return unary_loop(n, x, y, [&](__m256 v) { return sigmoid8(v); }, op, alpha, beta);
    case UnaryOp::Tanh: return unary_loop(n, x, y, [&](__m256 v) { return tanh8(v); }, op, alpha, beta);
    case UnaryOp::Erf:
    case UnaryOp::Gelu: return ref::unary(op, n, x, y, alpha, beta);
  }
}

}  // namespace avx2
}  // namespace mcrt
