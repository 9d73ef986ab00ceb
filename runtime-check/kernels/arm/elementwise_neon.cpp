// Element-wise kernels on AArch64 NEON: 4 lanes per step, the scalar reference for tails.
// Vectorised: Add Sub Mul Div Max Min; Relu LeakyRelu Clip HardSigmoid HardSwish Neg Abs Sqrt, and
// Exp Sigmoid Tanh (Cephes-style polynomials, as in the AVX2 set). Pow, Erf and Gelu call the scalar
// reference per element.
#include <arm_neon.h>

#include <cmath>

#include "../reference/reference_kernels.h"
#include "neon_kernels.h"

namespace mcrt {
namespace neon {
namespace {

inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t big = vdupq_n_f32(88.7228390f), small = vdupq_n_f32(-87.3365448f);
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, small), big);
  const float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
  // 2^n in two halves so that n = 128 does not overflow the exponent field.
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t h1 = vshrq_n_s32(ni, 1), h2 = vsubq_s32(ni, h1);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h1, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h2, vdupq_n_s32(127)), 23));
  float32x4_t y = vmulq_f32(vmulq_f32(p, s1), s2);
  y = vbslq_f32(vcgtq_f32(x, big), vdupq_n_f32(INFINITY), y);
  y = vbslq_f32(vcltq_f32(x, small), vdupq_n_f32(0.0f), y);
  return y;
}

inline float32x4_t sigmoid4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  return vdivq_f32(one, vaddq_f32(one, exp4(vnegq_f32(x))));
}

inline float32x4_t tanh4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t ax = vabsq_f32(x), z = vmulq_f32(x, x);
  float32x4_t p = vdupq_n_f32(-5.70498872745e-3f);
  p = vfmaq_f32(vdupq_n_f32(2.06390887954e-2f), p, z);
  p = vfmaq_f32(vdupq_n_f32(-5.37397155531e-2f), p, z);
  p = vfmaq_f32(vdupq_n_f32(1.33314422036e-1f), p, z);
  p = vfmaq_f32(vdupq_n_f32(-3.33332819422e-1f), p, z);
  const float32x4_t small = vfmaq_f32(x, vmulq_f32(p, z), x);
  const float32x4_t e = exp4(vaddq_f32(ax, ax));
  float32x4_t large = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
  large = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vnegq_f32(large), large);
  return vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.625f)), small, large);
}

template <class V>
void binary_loop(int64_t n, const float* a, int as, const float* b, int bs, float* y, V vop, BinaryOp op) {
  int64_t i = 0;
  if (as == 1 && bs == 1) {
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vop(vld1q_f32(a + i), vld1q_f32(b + i)));
  } else if (as == 1) {
    const float32x4_t vb = vdupq_n_f32(b[0]);
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vop(vld1q_f32(a + i), vb));
  } else if (bs == 1) {
    const float32x4_t va = vdupq_n_f32(a[0]);
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vop(va, vld1q_f32(b + i)));
  }
  for (; i < n; ++i) y[i] = ref::binary_one(op, a[i * as], b[i * bs]);
}

template <class V>
void unary_loop(int64_t n, const float* x, float* y, V vop, UnaryOp op, float alpha, float beta) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vop(vld1q_f32(x + i)));
  for (; i < n; ++i) y[i] = ref::unary_one(op, x[i], alpha, beta);
}

}  // namespace

void binary(BinaryOp op, int64_t n, const float* a, int as, const float* b, int bs, float* y) {
  using V = float32x4_t;
  switch (op) {
    case BinaryOp::Add: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vaddq_f32(u, v); }, op);
    case BinaryOp::Sub: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vsubq_f32(u, v); }, op);
    case BinaryOp::Mul: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vmulq_f32(u, v); }, op);
    case BinaryOp::Div: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vdivq_f32(u, v); }, op);
    // Select forms keep the reference's a < b ? b : a exactly (vmaxq differs on signed zeros).
    case BinaryOp::Max: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vbslq_f32(vcltq_f32(u, v), v, u); }, op);
    case BinaryOp::Min: return binary_loop(n, a, as, b, bs, y, [](V u, V v) { return vbslq_f32(vcltq_f32(v, u), v, u); }, op);
    case BinaryOp::Pow: return ref::binary(op, n, a, as, b, bs, y);
  }
}

void unary(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta) {
  using V = float32x4_t;
  const V zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f), va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
  switch (op) {
    case UnaryOp::Relu: return unary_loop(n, x, y, [&](V v) { return vbslq_f32(vcgtq_f32(v, zero), v, zero); }, op, alpha, beta);
    case UnaryOp::LeakyRelu:
      return unary_loop(n, x, y, [&](V v) { return vbslq_f32(vcgeq_f32(v, zero), v, vmulq_f32(v, va)); }, op, alpha, beta);
    case UnaryOp::Clip: return unary_loop(n, x, y, [&](V v) { return vminq_f32(vmaxq_f32(v, va), vb); }, op, alpha, beta);
    case UnaryOp::HardSigmoid:
      return unary_loop(n, x, y, [&](V v) { return vmaxq_f32(zero, vminq_f32(one, vfmaq_f32(vb, va, v))); }, op, alpha, beta);
    case UnaryOp::HardSwish:
      return unary_loop(n, x, y, [&](V v) {
        const V t = vaddq_f32(vdivq_f32(v, vdupq_n_f32(6.0f)), vdupq_n_f32(0.5f));
        return vmulq_f32(v, vmaxq_f32(zero, vminq_f32(one, t)));
      }, op, alpha, beta);
    case UnaryOp::Neg: return unary_loop(n, x, y, [&](V v) { return vnegq_f32(v); }, op, alpha, beta);
    case UnaryOp::Abs: return unary_loop(n, x, y, [&](V v) { return vabsq_f32(v); }, op, alpha, beta);
    case UnaryOp::Sqrt: return unary_loop(n, x, y, [&](V v) { return vsqrtq_f32(v); }, op, alpha, beta);
    case UnaryOp::Exp: return unary_loop(n, x, y, [&](V v) { return exp4(v); }, op, alpha, beta);
    case UnaryOp::Sigmoid: return unary_loop(n, x, y, [&](V v) { return sigmoid4(v); }, op, alpha, beta);
    case UnaryOp::Tanh: return unary_loop(n, x, y, [&](V v) { return tanh4(v); }, op, alpha, beta);
    case UnaryOp::Erf:
    case UnaryOp::Gelu: return ref::unary(op, n, x, y, alpha, beta);
  }
}

}  // namespace neon
}  // namespace mcrt
