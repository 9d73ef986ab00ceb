// Reference element-wise kernels: one scalar definition per op (ONNX semantics, see kernels.h).
#include <algorithm>
#include <cmath>

#include "reference_kernels.h"

namespace mcrt {
namespace ref {

float binary_one(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Max: return a < b ? b : a;
    case BinaryOp::Min: return b < a ? b : a;
  }
  return 0.0f;
}

float unary_one(UnaryOp op, float x, float alpha, float beta) {
  switch (op) {
    case UnaryOp::Relu: return x > 0.0f ? x : 0.0f;
    case UnaryOp::LeakyRelu: return x >= 0.0f ? x : alpha * x;
    case UnaryOp::Clip: return std::min(std::max(x, alpha), beta);
    case UnaryOp::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case UnaryOp::HardSigmoid: return std::max(0.0f, std::min(1.0f, alpha * x + beta));
    case UnaryOp::HardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Erf: return std::erf(x);
    case UnaryOp::Gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Neg: return -x;
    case UnaryOp::Abs: return std::fabs(x);
  }
  return 0.0f;
}

void binary(BinaryOp op, int64_t n, const float* a, int a_stride, const float* b, int b_stride, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = binary_one(op, a[i * a_stride], b[i * b_stride]);
}

void unary(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_one(op, x[i], alpha, beta);
}

}  // namespace ref
}  // namespace mcrt
