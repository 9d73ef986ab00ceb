// runtime-check/kernels/kernels.h -- the contract between the runtime and its fp32 compute kernels.
//
// The runtime chooses one KernelSet in prepare (kernels_best(), or a named one for tests) and calls
// only through its function pointers. Every set computes the same mathematics as the reference set;
// optimised sets differ from it only by floating-point rounding (summation order, FMA contraction,
// polynomial exp), which tests/unit/runtime/kernels/ bounds.
//
// General rules for every function below:
//  * Tensors are fp32, dense, row-major (C order); NCHW for images. Pointers are never owned by the
//    kernel. Inputs and outputs must not overlap unless a function says so.
//  * `packed` and `scratch` buffers are owned by the caller (the arena). They must be 64-byte aligned
//    and at least as large as the matching *_size() function returns. A size of 0 means the buffer is
//    unused and may be nullptr. Sizes depend only on shapes, so prepare can plan them.
//  * A packed buffer is private to the KernelSet that filled it: pack and run with the same set.
//    After pack returns, the original weights are no longer read; the packed buffer is read-only
//    during run and may be shared by concurrent runs.
//  * Scratch contents are undefined on entry and on return; a scratch buffer must not be used by two
//    calls at the same time.
//  * No function allocates, throws, does I/O or validates shapes: prepare validates (ConvGeom must
//    satisfy conv2d_geom_valid()).
//  * Threads: when `pf` is non-null, work is split through pf->run over independent outputs only; the
//    summation order of every output is fixed, so results are bit-identical for any thread count
//    (and for pf == nullptr).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace mcrt {

// The runtime's thread-pool hook. run() must call body(body_ctx, b, e) for disjoint chunks [b, e)
// that cover [0, n) exactly once, may run them concurrently, and returns when all have finished.
// A chunk may be any size >= 1. pf == nullptr (or run == nullptr) means: run serially on the caller.
struct ParallelFor {
  void (*run)(void* pool, int64_t n, void* body_ctx, void (*body)(void* body_ctx, int64_t begin, int64_t end));
  void* pool;
};

// Fused output stage: y = min(max(acc + bias + residual, lo), hi).
//   Relu: lo = 0.  Relu6: lo = 0, hi = 6.  Clip(min,max): lo = min, hi = max.  None: defaults.
// bias: one value per output channel (conv: per M; fc: per N); nullptr = no bias.
// residual: a tensor added element-wise before the clamp (a fused residual Add), laid out exactly
//   like the output: conv [N, M, OH, OW] dense NCHW; fc [M, N] rows ldy floats apart. nullptr = none.
//   It must not overlap y. Order of the sum: (acc + bias) + residual, so with a residual the result
//   may differ from an unfused Conv then Add only by that one rounding (the unfused path computes the
//   same two additions in the same order, so in practice it is bit-identical).
//   Paths that cannot add it in registers add it in a post-pass over the just-written output tile
//   (GEMM tiles, Winograd output planes, depthwise planes) before clamping.
struct Epilogue {
  const float* bias = nullptr;
  float lo = -INFINITY;
  float hi = INFINITY;
  const float* residual = nullptr;
};

// 2-D convolution, ONNX Conv semantics, NCHW fp32.
//   x: [N, C, H, W]   w: [M, C/group, kh, kw]   y: [N, M, OH, OW]
//   y[n,m,oy,ox] = sum_{c in group(m), ky, kx} x[n, c, oy*sh - pad_t + ky*dh, ox*sw - pad_l + kx*dw] * w[m, c', ky, kx]
//   (out-of-range x is 0), then the Epilogue.
// OH = (H + pad_t + pad_b - dh*(kh-1) - 1) / sh + 1, likewise OW; use conv2d_geom_finish() to fill them.
struct ConvGeom {
  int N, C, H, W;         // input
  int M;                  // output channels
  int kh, kw;             // kernel
  int sh, sw;             // strides (>= 1)
  int dh, dw;             // dilations (>= 1)
  int pad_t, pad_l, pad_b, pad_r;  // >= 0
  int group;              // C % group == 0 && M % group == 0; depthwise: group == C == M
  int OH, OW;             // output
};

// Fills OH and OW from the other fields.
inline void conv2d_geom_finish(ConvGeom& g) {
  g.OH = (g.H + g.pad_t + g.pad_b - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.OW = (g.W + g.pad_l + g.pad_r - g.dw * (g.kw - 1) - 1) / g.sw + 1;
}

// The checks prepare must have made before any conv2d_* call.
inline bool conv2d_geom_valid(const ConvGeom& g) {
  return g.N >= 1 && g.C >= 1 && g.H >= 1 && g.W >= 1 && g.M >= 1 && g.kh >= 1 && g.kw >= 1 && g.sh >= 1 &&
         g.sw >= 1 && g.dh >= 1 && g.dw >= 1 && g.pad_t >= 0 && g.pad_l >= 0 && g.pad_b >= 0 && g.pad_r >= 0 &&
         g.group >= 1 && g.C % g.group == 0 && g.M % g.group == 0 &&
         g.H + g.pad_t + g.pad_b >= g.dh * (g.kh - 1) + 1 && g.W + g.pad_l + g.pad_r >= g.dw * (g.kw - 1) + 1 &&
         g.OH == (g.H + g.pad_t + g.pad_b - g.dh * (g.kh - 1) - 1) / g.sh + 1 &&
         g.OW == (g.W + g.pad_l + g.pad_r - g.dw * (g.kw - 1) - 1) / g.sw + 1;
}

// Element-wise ops, ONNX semantics: Pow = std::pow, Div = IEEE division,
// Max(a, b) = a < b ? b : a, Min(a, b) = b < a ? b : a (results with NaN inputs are unspecified).
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Max, Min };

// Unary ops and the meaning of (alpha, beta):
//   Relu         max(x, 0)
//   LeakyRelu    x >= 0 ? x : alpha * x                       (ONNX default alpha = 0.01)
//   Clip         min(max(x, alpha), beta)                     (alpha = min, beta = max)
//   Sigmoid      1 / (1 + exp(-x))
//   HardSigmoid  max(0, min(1, alpha * x + beta))             (ONNX defaults 0.2, 0.5)
//   HardSwish    x * max(0, min(1, x / 6 + 0.5))
//   Tanh, Erf, Sqrt, Exp, Neg, Abs: the usual functions
//   Gelu         0.5 * x * (1 + erf(x / sqrt(2)))             (ONNX Gelu, approximate = "none")
enum class UnaryOp { Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu, Sqrt, Exp, Neg, Abs };

struct KernelSet {
  const char* name;  // "reference", "avx2", "avx512", "neon"

  // --- Conv (weights are constants: packed once in prepare) ---------------------------------------
  size_t (*conv2d_packed_size)(const ConvGeom& g);                              // bytes
  void (*conv2d_pack)(const ConvGeom& g, const float* w, void* packed);         // w: [M, C/group, kh, kw]
  size_t (*conv2d_scratch_size)(const ConvGeom& g);                             // bytes (im2col etc.)
  void (*conv2d_run)(const ConvGeom& g, const void* packed, const Epilogue& ep, const float* x, float* y,
                     void* scratch, const ParallelFor* pf);

  // --- Fully connected: y[M,N] = x[M,K] * W[K,N] + bias[N], clamped (Gemm with constant B) ---------
  // w is [K, N] row-major, or [N, K] when w_is_nk (ONNX Gemm transB = 1, PyTorch Linear).
  // x rows are ldx >= K floats apart, y rows ldy >= N floats apart. M = 1 (batch 1) is the fast path.
  size_t (*fc_packed_size)(int K, int N);
  void (*fc_pack)(int K, int N, const float* w, bool w_is_nk, void* packed);
  void (*fc_run)(int M, int N, int K, const float* x, int ldx, const void* packed, const Epilogue& ep, float* y,
                 int ldy, const ParallelFor* pf);

  // --- General SGEMM on two activations (MatMul; batching is the caller's loop) -------------------
  // C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. op(A) = A (lda >= K) or A^T when transA
  // (A stored [K,M], lda >= M); likewise B ([K,N], ldb >= N, or [N,K], ldb >= K when transB).
  // beta == 0: C is write-only (NaN/garbage in C is ignored). K == 0: C = beta * C.
  void (*sgemm)(int M, int N, int K, float alpha, const float* A, int lda, bool transA, const float* B, int ldb,
                bool transB, float beta, float* C, int ldc, void* scratch, const ParallelFor* pf);
  size_t (*sgemm_scratch_size)(int M, int N, int K);

  // --- Element-wise on contiguous runs ------------------------------------------------------------
  // y[i] = op(a[i * a_stride], b[i * b_stride]) for i in [0, n); strides are 0 (scalar) or 1.
  // The caller resolves broadcasting into such runs. y may alias a or b when that stride is 1.
  void (*binary)(BinaryOp op, int64_t n, const float* a, int a_stride, const float* b, int b_stride, float* y);
  // y[i] = op(x[i]) for i in [0, n); y may alias x.
  void (*unary)(UnaryOp op, int64_t n, const float* x, float* y, float alpha, float beta);
};

// The specification: scalar, readable, always available.
const KernelSet& kernels_reference();
// x86-64 AVX2+FMA set; nullptr when not compiled in or when the CPU lacks AVX2 or FMA (checked at run time).
const KernelSet* kernels_avx2();
// x86-64 AVX-512F set (6x32 zmm GEMM for conv / fc / sgemm; AVX2 depthwise and element-wise); nullptr
// when not compiled in or when the CPU (or OS) lacks AVX-512F.
const KernelSet* kernels_avx512();
// AArch64 NEON set; nullptr when not built for aarch64.
const KernelSet* kernels_neon();
// The fastest set this CPU supports (neon, else avx512, else avx2, else reference), chosen once from
// CPU feature bits. The environment variable MCRT_KERNELS=reference|avx2, read at the first call,
// caps the choice (e.g. to compare sets, or to match machines without AVX-512).
const KernelSet& kernels_best();

}  // namespace mcrt
