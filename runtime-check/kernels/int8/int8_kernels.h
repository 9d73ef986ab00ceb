// runtime-check/kernels/int8/int8_kernels.h -- int8 kernels of the runtime (library mcrt_int8_kernels).
//
// Two computations, each with a scalar reference (the specification) and SIMD twins that must
// produce exactly the reference's bytes (docs/quantization.md §2):
//   * GEMM  Y[m, n] = out(acc[m, n]),  acc = Σ_k (X[k, n] - zx) · W[m, k] + bias[m]      (int32, exact)
//     QLinearConv (im2col or 1x1: X = the image's columns), QLinearMatMul and DynamicQuantizeMatMul
//     (X = x transposed). W is a constant packed once at prepare; X comes packed (int8_pack_*).
//   * depthwise conv (group == C == M), NCHW, one image at a time, any kernel/stride/pad/dilation.
// Output stage, int8 (the one requantization rule, float32, no FMA):
//     y = clamp(round_half_even((float)acc * mult[m]) + zero_point, act_min, act_max)
//   Twins compute rhe(min(max((float)acc*mult, act_min - zp), act_max - zp)) + zp: the same integer,
//   since clamping to integer bounds commutes with rounding. fp32 (DynamicQuantizeMatMul):
//     y = (float)acc * mult[m] + fbias[m]     (a float32 product, then a float32 add).
//
// Contract (as kernels.h): no allocation, no validation, no exceptions; packed and scratch buffers are
// 64-byte aligned and owned by the caller; a packed buffer is private to the set that filled it.
// The caller guarantees (checked at prepare): K · 255 · 127 < 2^31 (no int32 overflow of the sum),
// weights in [-127, 127] (the NEON smull/smlal pairing adds two products in int16), mult finite.
// Threads: work is split over output tiles / channels only; every output's sum has a fixed order
// (and is an exact integer anyway), so results are bit-identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace mcrt {

// X for the GEMM: [ceil(K/4)][Np][4] int8, Np = int8_gemm_cols(N); element (k, n) at
// ((k / 4) * Np + n) * 4 + k % 4. Bytes of padding rows (k >= K) and columns (n >= N) may hold
// anything: their weights are 0 and their outputs are not stored.
constexpr int kInt8ColAlign = 16;
inline int64_t int8_gemm_cols(int64_t N) { return (N + kInt8ColAlign - 1) / kInt8ColAlign * kInt8ColAlign; }
inline size_t int8_gemm_x_size(int64_t K, int64_t N) { return (size_t)((K + 3) / 4) * (size_t)int8_gemm_cols(N) * 4; }

// Packs rows x[r, 0..K) (rows ldx bytes apart) as columns n = r of X (MatMul: X = x^T).
void int8_pack_rows(int rows, int K, const int8_t* x, int64_t ldx, int8_t* xp);
// Same for uint8 input: stores x - 128 (so X - (zx - 128) == x - zx).
void int8_pack_rows_u8(int rows, int K, const uint8_t* x, int64_t ldx, int8_t* xp);

// im2col of one group of one image for QLinearConv: K = cg * kh * kw (c-major, then ky, kx), N = OH * OW.
// x points at the group's first channel plane [cg][H][W]; taps outside the input read zx.
void int8_im2col(const ConvGeom& g, int cg, const int8_t* x, int8_t zx, int8_t* xp);

// Implicit GEMM for QLinearConv with group 1 (no im2col): the image re-laid out once per run as
// [sw column phases][sh row phases][Cq = ceil(C/4)][Hph][Wph][4] (4 channels per 32-bit word, padding = z_x;
// padded row r is row r / sh of row phase r % sh, padded column c is column c / sw of column phase c % sw),
// so that for K-quad q = tap * Cq + cq (tap = ky * kw + kx) the columns of one output row are contiguous
// and consecutive output rows are consecutive phase rows (row_step = Wph * 4, also for sh > 1):
//   output (oy, ox) reads quad q at image + oy * row_step + ox * 4 + qoff[q].
// The weight is reordered to the same K order (W'[m][(tap * Cq + cq) * 4 + j] = W[m][cq*4+j][ky][kx], 0 past
// C) and packed with gemm_pack(M, taps * Cq * 4, W'). Loads past a row's end read the next row (their
// outputs are not stored); the buffer has slack for the last row.
struct Int8ConvImage {
  int Cq = 0, Hph = 0, Wph = 0, taps = 0;  // Hph, Wph: rows and columns of one phase plane
  int64_t row_step = 0;  // bytes between output rows (Wph * 4)
  size_t bytes = 0;      // image bytes, plus slack for the last row's over-read
};
Int8ConvImage int8_conv_image_layout(const ConvGeom& g);
void int8_conv_image(const ConvGeom& g, const Int8ConvImage& im, const int8_t* x, int8_t zx, int8_t* img);
void int8_conv_qoffsets(const ConvGeom& g, const Int8ConvImage& im, int64_t* qoff);  // taps * Cq entries
// W'[M][taps * Cq * 4] from W[M][C][kh][kw] (w2 must hold M * taps * Cq * 4 bytes).
void int8_conv_reorder_weights(const ConvGeom& g, const int8_t* w, int8_t* w2);

// QLinearAdd on runs: y[i] = clamp(rhe(ma * (float)(a[i*as] - za) + mb * (float)(b[i*bs] - zb)) + zy, lo, hi),
// each product rounded to float32, then the sum (no FMA); strides 0 (broadcast) or 1.
struct Int8AddParams {
  float ma = 1.f, mb = 1.f;
  int32_t za = 0, zb = 0, zy = 0, lo = -128, hi = 127;
};

struct Int8Out {
  const float* mult = nullptr;  // [M] per output channel
  int32_t zero_point = 0, act_min = -128, act_max = 127;
  bool f32 = false;             // fp32 output: y = (float)acc * mult[m] + fbias[m]
  const float* fbias = nullptr; // [M] or nullptr (fp32 output only)
  // Fused residual QLinearAdd (conv_run only; int8 output): each output v, formed exactly as above, is
  // replaced by add(v, r) of add_run with r = residual[same index as v] (y's layout): v is the add's
  // input A when conv_is_a, else B. Sets apply add_run in place on output runs they just stored.
  const int8_t* residual = nullptr;
  bool conv_is_a = true;
  Int8AddParams add;
};

// Depthwise geometry: one image [C][H][W] -> [C][OH][OW], weight [C][kh][kw]. Uses ConvGeom's
// C, H, W, kh, kw, sh, sw, dh, dw, pad_t, pad_l, OH, OW (pad_b/pad_r only through OH/OW).

struct Int8KernelSet {
  const char* name;  // "reference", "avx2", "avx512vnni", "neon", "neon_dotprod"

  // --- GEMM with constant W [M][K] ---
  size_t (*gemm_packed_size)(int M, int K);
  void (*gemm_pack)(int M, int K, const int8_t* w, const int32_t* bias, void* packed);  // bias may be null
  // y: int8 (or float when out.f32) [M] rows ldy elements apart, N valid columns.
  void (*gemm_run)(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out,
                   void* y, int64_t ldy, const ParallelFor* pf);

  // Implicit-GEMM conv (see Int8ConvImage): y[m * OH * OW + oy * OW + ox], K = taps * Cq * 4.
  void (*conv_run)(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
                   const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf);

  // --- depthwise conv (weight [C][kh][kw]); the packed buffer is for this geometry only ---
  size_t (*dw_packed_size)(const ConvGeom& g);
  // Returns the name of the kernel variant it packed for g (the ISA part of the kernel name: the set's
  // name, or e.g. "avx512vbmi" when the AVX-512 VNNI set runs its VBMI depthwise path).
  const char* (*dw_pack)(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);
  size_t (*dw_scratch_size)(const ConvGeom& g);
  void (*dw_run)(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
                 void* scratch, const ParallelFor* pf);

  // --- QLinearAdd on a run of n elements ---
  void (*add_run)(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y);

  // --- one-input-channel conv (group 1, C == 1: a stem conv on a grey image), optional ---
  // Same semantics as the implicit-GEMM conv of that geometry (weight [M][kh][kw], y [M][OH][OW]), no
  // scratch. nullptr, or conv1_packed_size(g) == 0: the set has no such kernel for g (use conv_run).
  size_t (*conv1_packed_size)(const ConvGeom& g);
  const char* (*conv1_pack)(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);  // variant name
  void (*conv1_run)(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
                    const ParallelFor* pf);

  // --- the implicit-GEMM image (int8_conv_image's bytes exactly), optional: a faster twin or nullptr ---
  void (*conv_image)(const ConvGeom& g, const Int8ConvImage& im, const int8_t* x, int8_t zx, int8_t* img);
};
// The set's conv_image, else the shared int8_conv_image.
inline void int8_conv_image_with(const Int8KernelSet& ks, const ConvGeom& g, const Int8ConvImage& im, const int8_t* x,
                                 int8_t zx, int8_t* img) {
  if (ks.conv_image) ks.conv_image(g, im, x, zx, img);
  else int8_conv_image(g, im, x, zx, img);
}

// The specification: scalar, readable, always available.
const Int8KernelSet& int8_kernels_reference();
// x86-64: AVX2 (vpmovsxbw + vpmaddwd) and AVX-512 VNNI (vpdpbusd with the u8 offset trick);
// nullptr when not compiled in or when the CPU lacks the features (cpuid at run time).
const Int8KernelSet* int8_kernels_avx2();
const Int8KernelSet* int8_kernels_avx512vnni();
// AArch64: NEON baseline (smull/smlal + sadalp) and dotprod (sdot), the latter only when
// getauxval(AT_HWCAP) has HWCAP_ASIMDDP; nullptr otherwise.
const Int8KernelSet* int8_kernels_neon();
const Int8KernelSet* int8_kernels_neon_dotprod();
// The fastest available set, chosen once. MCRT_KERNELS=reference|avx2|avx512vnni|neon caps the choice
// (neon: the baseline even when dotprod exists; avx512vnni: without the VBMI depthwise and one-channel
// conv kernels, which the AVX-512 VNNI set otherwise runs when the CPU has AVX512_VBMI).
const Int8KernelSet& int8_kernels_best();

// QuantizeLinear per tensor, float32 -> int8 (s8) or uint8: y = saturate(rhe(x / scale) + zp), NaN -> 0,
// x / scale a float32 division (no reciprocal). _ref is the rule written literally (std::nearbyint per
// element); int8_quantize_f32 is its SSE2 twin (x86-64) with the same bytes: divps, clamp to
// [lo - zp, hi - zp] before cvtps2dq (clamping to integer bounds commutes with rounding; the bounds also
// keep the conversion in range), NaN masked to 0, + zp, saturating packs. Where there is no twin it runs
// _ref; int8_quantize_f32_simd() names the twin ("sse2") or is nullptr.
void int8_quantize_f32_ref(int64_t n, const float* x, float scale, int32_t zp, bool s8, uint8_t* y);
void int8_quantize_f32(int64_t n, const float* x, float scale, int32_t zp, bool s8, uint8_t* y);
const char* int8_quantize_f32_simd();

// Scalar requantization of one accumulator (the rule, written literally).
int8_t int8_requantize_ref(int32_t acc, float mult, int32_t zero_point, int32_t act_min, int32_t act_max);

}  // namespace mcrt
