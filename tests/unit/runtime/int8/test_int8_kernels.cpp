// Every int8 kernel set against the reference, bit for bit: GEMM on prime / tail shapes (M, N, K
// around the SIMD widths), zero points at the extremes, narrowed output ranges, the fp32 output stage;
// depthwise with odd sizes, strides, pads and dilations; 1 vs 2 threads. Plus hand-computed goldens of
// the rounding rule (ties to even) that every set must reproduce.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/int8/int8_kernels.h"
#include "runtime/thread_pool.h"

namespace {

using mcrt::ConvGeom;
using mcrt::Int8KernelSet;
using mcrt::Int8Out;

// Deterministic generator (same sequence on every platform).
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s >> 33);
  }
  int range(int lo, int hi) { return lo + (int)(next() % (uint32_t)(hi - lo + 1)); }
  float unit() { return (float)(next() & 0xFFFFFF) / 16777216.f; }
};

std::vector<const Int8KernelSet*> optimized_sets() {
  std::vector<const Int8KernelSet*> v;
  for (const Int8KernelSet* s : {mcrt::int8_kernels_avx2(), mcrt::int8_kernels_avx512vnni(), mcrt::int8_kernels_neon(),
                                 mcrt::int8_kernels_neon_dotprod()})
    if (s) v.push_back(s);
  return v;
}

struct Aligned {
  void* p = nullptr;
  explicit Aligned(size_t n) {
    if (posix_memalign(&p, 64, n ? n : 64) != 0) p = nullptr;
    std::memset(p, 0x5A, n ? n : 64);  // garbage: kernels must not read what they do not own
  }
  ~Aligned() { std::free(p); }
};

struct GemmCase {
  int M, N, K;
  int32_t zx, zy, lo, hi;
  bool f32;
  float mult_scale = 1.f;  // multipliers scaled past the usual range (saturation, float overflow)
};

// Runs the GEMM of `ks` on X [K][N] (row-major int8), returns the output bytes.
std::vector<uint8_t> run_gemm(const Int8KernelSet& ks, const GemmCase& c, const std::vector<int8_t>& w,
                              const std::vector<int32_t>& bias, const std::vector<int8_t>& x,
                              const std::vector<float>& mult, const std::vector<float>& fbias,
                              const mcrt::ParallelFor* pf) {
  Aligned packed(ks.gemm_packed_size(c.M, c.K));
  ks.gemm_pack(c.M, c.K, w.data(), bias.empty() ? nullptr : bias.data(), packed.p);
  Aligned xp(mcrt::int8_gemm_x_size(c.K, c.N));
  // X^T rows = columns n; pack as rows (the MatMul path) from a transposed copy.
  std::vector<int8_t> xt((size_t)c.N * c.K);
  for (int k = 0; k < c.K; ++k)
    for (int n = 0; n < c.N; ++n) xt[(size_t)n * c.K + k] = x[(size_t)k * c.N + n];
  mcrt::int8_pack_rows(c.N, c.K, xt.data(), c.K, static_cast<int8_t*>(xp.p));
  Int8Out o;
  o.mult = mult.data();
  o.zero_point = c.zy;
  o.act_min = c.lo;
  o.act_max = c.hi;
  o.f32 = c.f32;
  o.fbias = fbias.empty() ? nullptr : fbias.data();
  const size_t esz = c.f32 ? 4 : 1;
  // A row stride wider than N (nothing may be written past N); one column with even M: contiguous (ldy 1).
  const int64_t ldy = (c.N == 1 && c.M % 2 == 0) ? 1 : c.N + 3;
  std::vector<uint8_t> y((size_t)(c.M * ldy) * esz, 0xEE);
  ks.gemm_run(c.M, c.N, c.K, packed.p, static_cast<int8_t*>(xp.p), c.zx, o, y.data(), ldy, pf);
  return y;
}

void check_gemm(const GemmCase& c, uint64_t seed, bool with_bias, const mcrt::ParallelFor* pf = nullptr) {
  Lcg r(seed);
  std::vector<int8_t> w((size_t)c.M * c.K), x((size_t)c.K * c.N);
  for (int8_t& v : w) v = (int8_t)r.range(-127, 127);
  for (int8_t& v : x) v = (int8_t)r.range(-128, 127);
  std::vector<int32_t> bias;
  if (with_bias) {
    bias.resize((size_t)c.M);
    for (int32_t& b : bias) b = r.range(-20000, 20000);
  }
  // Multipliers that spread the accumulators over the int8 range (and past it, to hit the clamp).
  std::vector<float> mult((size_t)c.M), fbias;
  const float typical = 1.f / (float)(60 * c.K + 1);
  for (float& m : mult) m = typical * (0.25f + 8.f * r.unit()) * c.mult_scale;
  if (c.f32) {
    fbias.resize((size_t)c.M);
    for (float& b : fbias) b = r.unit() * 10.f - 5.f;
  }
  const std::vector<uint8_t> ref =
      run_gemm(mcrt::int8_kernels_reference(), c, w, bias, x, mult, fbias, nullptr);
  for (const Int8KernelSet* ks : optimized_sets()) {
    INFO("set " << ks->name << " M=" << c.M << " N=" << c.N << " K=" << c.K << " zx=" << c.zx << " zy=" << c.zy
                << " range [" << c.lo << "," << c.hi << "] f32=" << c.f32 << " bias=" << with_bias);
    const std::vector<uint8_t> got = run_gemm(*ks, c, w, bias, x, mult, fbias, pf);
    REQUIRE(got == ref);
  }
}

}  // namespace

TEST_CASE("int8 GEMM: every set equals the reference on awkward shapes", "[int8][kernels]") {
  INFO("sets compiled in and supported here: " << optimized_sets().size());
  const int Ms[] = {1, 3, 4, 5, 8, 9, 17};
  const int Ns[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 47, 64};
  const int Ks[] = {1, 3, 4, 5, 8, 13, 31, 64, 97};
  uint64_t seed = 1;
  for (int M : Ms)
    for (int N : Ns)
      for (int K : Ks) {
        const GemmCase c{M, N, K, (int32_t)((seed * 37) % 256) - 128, (int32_t)((seed * 11) % 256) - 128, -128, 127,
                         false};
        check_gemm(c, seed, (seed & 1) != 0);
        ++seed;
      }
}

TEST_CASE("int8 GEMM: zero points at the extremes, fused ranges, fp32 output, long K", "[int8][kernels]") {
  check_gemm({6, 23, 29, -128, 127, -128, 127, false}, 101, true);
  check_gemm({6, 23, 29, 127, -128, -128, 127, false}, 102, true);
  check_gemm({13, 40, 57, 3, -5, -5, 127, false}, 103, true);   // Relu: act_min = z_y
  check_gemm({13, 40, 57, 3, 10, -20, 60, false}, 104, false);  // Clip
  check_gemm({11, 19, 37, -7, 0, -128, 127, true}, 105, true);  // DynamicQuantizeMatMul's fp32 stage
  check_gemm({11, 1, 37, -7, 0, -128, 127, true}, 106, false);
  check_gemm({9, 35, 4099, 0, 0, -128, 127, false}, 107, true);  // K not a multiple of 4, long sums
}

TEST_CASE("int8 GEMM: the AVX2 set's blocks, GEMV chunks and in-place long K against the reference", "[int8][kernels]") {
  // The AVX2 GEMM widens X to int16 in column blocks of 49152 / (8 * ceil(K/4)) columns (a multiple of 8, at
  // most 256); with K past 3072 not even 8 columns fit and X is read in place. One column (GEMV) widens the
  // column in chunks of 2048 K-quads. Shapes around those limits, every set against the reference.
  uint64_t seed = 1100;
  for (int N : {167, 168, 169, 337})  // K 144: blocks of 168 columns
    check_gemm({9, N, 144, 17, -3, -128, 127, false}, seed++, true);
  check_gemm({12, 24, 3072, -5, 2, -128, 127, false}, seed++, true);   // blocks of 8 columns
  check_gemm({5, 70, 3076, 100, 2, -128, 127, false}, seed++, false);  // no block: in place
  for (int M : {1, 7, 8, 9, 17, 300})
    for (int K : {1, 5, 784, 8192, 8195, 8200}) {  // one column; past 8192 the column in two chunks
      check_gemm({M, 1, K, (int32_t)(seed % 256) - 128, 3, -128, 127, false}, seed, (seed & 1) != 0);
      ++seed;
    }
  check_gemm({17, 1, 8200, -9, 0, -128, 127, true}, seed++, true);  // fp32 output stage, one column
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  check_gemm({300, 1, 784, -20, 4, -128, 127, false}, seed++, true, pool.hook());
  check_gemm({33, 500, 200, 7, -1, -128, 127, false}, seed++, false, pool.hook());
}

TEST_CASE("int8 GEMM: products past int16, int32 and float range saturate like the rule", "[int8][kernels]") {
  // acc * mult far outside [-128, 127]: the SIMD output stages pack through int16 and guard vcvtps2dq;
  // at 1e36 most products overflow float32 to +-inf (the rule then clamps to act_min / act_max).
  for (float scale : {300.f, 1e5f, 1e9f, 1e36f}) {
    GemmCase c{16, 70, 24, -3, 5, -128, 127, false};
    c.mult_scale = scale;
    check_gemm(c, 301, true);
    c = GemmCase{9, 33, 40, 120, -128, -128, 40, false};  // z_y at -128, narrowed top
    c.mult_scale = scale;
    check_gemm(c, 302, true);
    c = GemmCase{5, 17, 8, -128, 127, 0, 127, false};  // z_y at 127
    c.mult_scale = scale;
    check_gemm(c, 303, false);
  }
}

TEST_CASE("int8 GEMM: results do not depend on the thread count", "[int8][kernels][threads]") {
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  REQUIRE(pool.hook() != nullptr);
  check_gemm({37, 97, 75, 5, -3, -128, 127, false}, 201, true, pool.hook());
  check_gemm({8, 250, 9, -100, 20, -128, 127, false}, 202, true, pool.hook());
}

TEST_CASE("int8 requantization: ties round to even, in every set", "[int8][kernels][golden]") {
  // Hand-computed: acc * 0.5 for acc = -5..5 is -2.5, -2, -1.5, ..., 2.5 -> rhe gives
  // -2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2 (ties to even), then + zp 10.
  REQUIRE(mcrt::int8_requantize_ref(5, 0.5f, 10, -128, 127) == 12);
  REQUIRE(mcrt::int8_requantize_ref(7, 0.5f, 10, -128, 127) == 14);
  REQUIRE(mcrt::int8_requantize_ref(-5, 0.5f, 10, -128, 127) == 8);
  REQUIRE(mcrt::int8_requantize_ref(1000, 0.5f, 10, -128, 127) == 127);
  REQUIRE(mcrt::int8_requantize_ref(-1000, 0.5f, 10, -128, 127) == -128);
  REQUIRE(mcrt::int8_requantize_ref(3, 0.5f, 10, 12, 127) == 12);  // fused Relu-like floor
  // GEMM with K = 1, W = 1, bias 0, zx = 0: acc = x. Columns x = -5..5 (N = 11).
  const std::vector<int8_t> want = {8, 8, 8, 9, 10, 10, 10, 11, 12, 12, 12};
  for (const Int8KernelSet* ks : [] {
         std::vector<const Int8KernelSet*> v = optimized_sets();
         v.push_back(&mcrt::int8_kernels_reference());
         return v;
       }()) {
    INFO("set " << ks->name);
    Aligned packed(ks->gemm_packed_size(1, 1));
    const int8_t w = 1;
    ks->gemm_pack(1, 1, &w, nullptr, packed.p);
    std::vector<int8_t> x(11);
    for (int i = 0; i < 11; ++i) x[(size_t)i] = (int8_t)(i - 5);
    Aligned xp(mcrt::int8_gemm_x_size(1, 11));
    mcrt::int8_pack_rows(11, 1, x.data(), 1, static_cast<int8_t*>(xp.p));
    const float mult = 0.5f;
    Int8Out o;
    o.mult = &mult;
    o.zero_point = 10;
    std::vector<int8_t> y(11);
    ks->gemm_run(1, 11, 1, packed.p, static_cast<int8_t*>(xp.p), 0, o, y.data(), 11, nullptr);
    REQUIRE(y == want);
  }
}

namespace {

// The variant names that dw_pack returned in the optimized sets (e.g. "avx512vbmi"), over all check_dw calls.
std::map<std::string, int>& dw_variants() {
  static std::map<std::string, int> v;
  return v;
}

// Sets whose conv1 kernel exists on this CPU (the VBMI plan of the AVX-512 VNNI set).
bool vbmi_expected() {
#if defined(__x86_64__)
  const char* cap = std::getenv("MCRT_KERNELS");
  return mcrt::int8_kernels_avx512vnni() != nullptr && __builtin_cpu_supports("avx512vbmi") &&
         !(cap != nullptr && std::string(cap) == "avx512vnni");
#else
  return false;
#endif
}

std::vector<int8_t> run_dw(const Int8KernelSet& ks, const ConvGeom& g, const std::vector<int8_t>& w,
                           const std::vector<int32_t>& bias, const std::vector<int8_t>& x, int32_t zx,
                           const Int8Out& o, const mcrt::ParallelFor* pf, std::string* variant = nullptr) {
  Aligned packed(ks.dw_packed_size(g));
  const char* v = ks.dw_pack(g, w.data(), bias.data(), packed.p);
  if (variant) *variant = v;
  Aligned scratch(ks.dw_scratch_size(g));
  std::vector<int8_t> y((size_t)g.C * g.OH * g.OW, (int8_t)0x11);
  ks.dw_run(g, packed.p, x.data(), zx, o, y.data(), scratch.p, pf);
  return y;
}

struct DwOpts {
  int zx = 1000;              // 1000: random
  int act_min = -128, act_max = 127;
  bool extreme_w = false;     // weights only +-127
};

ConvGeom dw_geom(int C, int H, int W, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr) {
  ConvGeom g{};
  g.N = 1;
  g.C = g.M = g.group = C;
  g.H = H;
  g.W = W;
  g.kh = kh;
  g.kw = kw;
  g.sh = sh;
  g.sw = sw;
  g.dh = dh;
  g.dw = dw;
  g.pad_t = pt;
  g.pad_l = pl;
  g.pad_b = pb;
  g.pad_r = pr;
  mcrt::conv2d_geom_finish(g);
  return g;
}

void check_dw_geom(const ConvGeom& g, uint64_t seed, const mcrt::ParallelFor* pf = nullptr, const DwOpts& opt = {}) {
  REQUIRE(mcrt::conv2d_geom_valid(g));
  const int C = g.C, kh = g.kh, kw = g.kw;
  Lcg r(seed);
  std::vector<int8_t> w((size_t)C * kh * kw), x((size_t)C * g.H * g.W);
  for (int8_t& v : w) v = opt.extreme_w ? (int8_t)(r.next() % 2 ? 127 : -127) : (int8_t)r.range(-127, 127);
  for (int8_t& v : x) v = (int8_t)r.range(-128, 127);
  std::vector<int32_t> bias((size_t)C);
  for (int32_t& b : bias) b = r.range(-3000, 3000);
  std::vector<float> mult((size_t)C);
  for (float& m : mult) m = (0.3f + 4.f * r.unit()) / (float)(60 * kh * kw + 1);
  const int32_t zx = opt.zx == 1000 ? r.range(-128, 127) : opt.zx;
  Int8Out o;
  o.mult = mult.data();
  o.zero_point = r.range(-20, 20);
  o.act_min = opt.act_min;
  o.act_max = opt.act_max;
  const std::vector<int8_t> ref = run_dw(mcrt::int8_kernels_reference(), g, w, bias, x, zx, o, nullptr);
  for (const Int8KernelSet* ks : optimized_sets()) {
    std::string variant;
    const std::vector<int8_t> got = run_dw(*ks, g, w, bias, x, zx, o, pf, &variant);
    INFO("set " << ks->name << " (" << variant << ") C=" << C << " " << g.H << "x" << g.W << " k " << kh << "x" << kw
                << " s" << g.sh << "," << g.sw << " d" << g.dh << "," << g.dw << " pads " << g.pad_t << "," << g.pad_l
                << "," << g.pad_b << "," << g.pad_r << " zx " << zx << " act [" << o.act_min << "," << o.act_max
                << "]");
    ++dw_variants()[std::string(ks->name) + ":" + variant];  // which set ran which kernel
    REQUIRE(got == ref);
  }
}

void check_dw(int C, int H, int W, int kh, int kw, int s, int d, int pt, int pl, int pb, int pr, uint64_t seed,
              const mcrt::ParallelFor* pf = nullptr) {
  check_dw_geom(dw_geom(C, H, W, kh, kw, s, s, d, d, pt, pl, pb, pr), seed, pf);
}

}  // namespace

TEST_CASE("int8 depthwise: every set equals the reference (odd sizes, strides, pads, dilations)",
          "[int8][kernels]") {
  uint64_t seed = 300;
  for (int C : {1, 3, 17})
    for (int HW : {1, 5, 7, 13, 28})
      for (int k : {1, 3, 5})
        for (int s : {1, 2, 3}) {
          if (k > HW + 2) continue;
          const int p = k / 2;
          check_dw(C, HW, HW + 2, k, k, s, 1, p, p, p, p, seed++);
        }
  check_dw(5, 9, 11, 3, 3, 1, 2, 2, 2, 2, 2, seed++);   // dilation 2
  check_dw(5, 9, 11, 3, 1, 2, 1, 1, 0, 0, 0, seed++);   // 3x1, asymmetric pads
  check_dw(4, 6, 35, 1, 7, 1, 1, 0, 3, 0, 1, seed++);   // wide 1x7
  check_dw(3, 4, 4, 3, 3, 2, 1, 0, 0, 1, 1, seed++);    // SAME_UPPER-like
}

TEST_CASE("int8 depthwise: kernels 1x1..7x7, strides 1..3, dilations, C 1..130, planes 1x1..40x40, extremes",
          "[int8][kernels][dw]") {
  dw_variants().clear();
  uint64_t seed = 5000;
  Lcg r(4242);
  // Mobile's six depthwise layers (the VBMI plan's targets), then a seeded sweep of geometries.
  check_dw(16, 28, 28, 3, 3, 2, 1, 1, 1, 1, 1, seed++);
  check_dw(32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  check_dw(32, 14, 14, 3, 3, 2, 1, 1, 1, 1, 1, seed++);
  check_dw(64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  check_dw(64, 7, 7, 3, 3, 2, 1, 1, 1, 1, 1, seed++);
  check_dw(128, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  const int vbmi_mobile = dw_variants()["avx512vnni:avx512vbmi"];
  if (vbmi_expected()) REQUIRE(vbmi_mobile == 6);  // the plan fits all six layers
  int checked = 0;
  for (int kh = 1; kh <= 7; ++kh)
    for (int kw = 1; kw <= 7; ++kw) {
      const int sh = r.range(1, 3), sw = r.range(1, 3), dh = r.range(1, 2), dw = r.range(1, 2);
      const int H = r.range(1, 40), W = r.range(1, 40);
      const int pt = r.range(0, kh / 2 + 1), pb = r.range(0, kh / 2 + 1), pl = r.range(0, kw / 2 + 1),
                pr = r.range(0, kw / 2 + 1);
      const ConvGeom g = dw_geom(r.range(1, 130), H, W, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr);
      if (!mcrt::conv2d_geom_valid(g)) continue;  // window larger than the padded input
      check_dw_geom(g, seed++);
      ++checked;
    }
  REQUIRE(checked > 30);
  // Planes 1x1 .. 40x40 at 3x3 (flattened groups, row groups, wide rows).
  for (int hw : {1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 23, 31, 33, 40})
    for (int s : {1, 2, 3}) check_dw_geom(dw_geom(3, hw, hw, 3, 3, s, s, 1, 1, 1, 1, 1, 1), seed++);
  check_dw_geom(dw_geom(130, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), seed++);  // C past the 128 of mobile
  check_dw_geom(dw_geom(5, 40, 40, 7, 7, 1, 1, 2, 2, 6, 6, 6, 6), seed++);  // 7x7 dilation 2
  check_dw_geom(dw_geom(4, 12, 30, 2, 5, 3, 1, 1, 2, 0, 3, 1, 2), seed++);  // non-square, mixed strides
  check_dw_geom(dw_geom(6, 3, 3, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4), seed++);    // outputs entirely in the padding
  // Common kernels whose quad counts have their own unrolled instantiations: 5x5 and 7x7 in one window
  // (7 and 13 quads), 5x5 per row and row pair (10, 8), 7x7 per row (14), 3x5 per row (6).
  check_dw_geom(dw_geom(9, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2), seed++);
  check_dw_geom(dw_geom(9, 7, 7, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3), seed++);
  check_dw_geom(dw_geom(7, 28, 28, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2), seed++);
  check_dw_geom(dw_geom(3, 56, 56, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2), seed++);
  check_dw_geom(dw_geom(5, 28, 28, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3), seed++);
  check_dw_geom(dw_geom(5, 20, 20, 3, 5, 2, 2, 1, 1, 1, 2, 1, 2), seed++);
  // z_x at the extremes and 0, fused activation ranges, weights at +-127.
  for (int zx : {-128, 0, 127}) {
    DwOpts o;
    o.zx = zx;
    check_dw_geom(dw_geom(20, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), seed++, nullptr, o);
    o.extreme_w = true;
    check_dw_geom(dw_geom(20, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), seed++, nullptr, o);
    o.act_min = -5;
    o.act_max = 60;
    check_dw_geom(dw_geom(20, 28, 28, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2), seed++, nullptr, o);
    o.act_min = 0;
    o.act_max = 127;
    check_dw_geom(dw_geom(33, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), seed++, nullptr, o);
  }
  // No plan fits (16 outputs of a row at stride 5 span 76 bytes): the VNNI set runs the AVX2 depthwise
  // kernel (as it does everywhere without VBMI, which mcrt_int8_tests_novbmi covers).
  const int before = dw_variants()["avx512vnni:avx2"];
  check_dw_geom(dw_geom(4, 9, 100, 1, 1, 5, 5, 1, 1, 0, 0, 0, 0), seed++);
  if (vbmi_expected()) REQUIRE(dw_variants()["avx512vnni:avx2"] == before + 1);
  std::string seen;
  for (const auto& kv : dw_variants()) seen += kv.first + ":" + std::to_string(kv.second) + " ";
  INFO("depthwise variants run: " << seen);
  if (vbmi_expected()) REQUIRE(dw_variants()["avx512vnni:avx512vbmi"] > 40);
  SUCCEED();
}

TEST_CASE("int8 depthwise: results do not depend on the thread count", "[int8][kernels][threads]") {
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  check_dw(32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 401, pool.hook());
  check_dw(32, 14, 14, 3, 3, 2, 1, 1, 1, 1, 1, 402, pool.hook());
  check_dw(72, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 403, pool.hook());  // small planes: channels in lanes (3 blocks)
  check_dw(40, 8, 8, 3, 3, 2, 1, 1, 1, 1, 1, 404, pool.hook());
  check_dw(128, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 405, pool.hook());
  check_dw(3, 28, 28, 3, 3, 2, 1, 1, 1, 1, 1, 406, pool.hook());  // 3 channels on 2 threads
}

TEST_CASE("int8 im2col: taps outside the input read the zero point", "[int8][kernels]") {
  // 1 channel 2x2 input, 2x2 kernel, pads 1: 3x3 outputs; K = 4 rows, N = 9 columns.
  ConvGeom g{};
  g.N = g.C = g.M = g.group = 1;
  g.H = g.W = 2;
  g.kh = g.kw = 2;
  g.sh = g.sw = g.dh = g.dw = 1;
  g.pad_t = g.pad_l = g.pad_b = g.pad_r = 1;
  mcrt::conv2d_geom_finish(g);
  const std::vector<int8_t> x = {1, 2, 3, 4};
  std::vector<int8_t> xp(mcrt::int8_gemm_x_size(4, 9));
  mcrt::int8_im2col(g, 1, x.data(), -7, xp.data());
  const int64_t Np = mcrt::int8_gemm_cols(9);
  auto at = [&](int k, int n) { return xp[(size_t)(((k / 4) * Np + n) * 4 + k % 4)]; };
  // tap (0,0) at output (0,0) reads input (-1,-1): the zero point; at output (1,1) reads (0,0) = 1.
  REQUIRE(at(0, 0) == -7);
  REQUIRE(at(0, 4) == 1);
  REQUIRE(at(3, 4) == 4);   // tap (1,1) at output (1,1) reads (1,1)
  REQUIRE(at(3, 8) == -7);  // ... at output (2,2) reads (2,2): outside
  REQUIRE(at(1, 1) == -7);  // tap (0,1) at output (0,1) reads (-1, 1): row outside
  REQUIRE(at(1, 4) == 2);   // ... at output (1,1) reads (0, 1)
}

TEST_CASE("int8 add: every set equals the reference (runs, broadcast operands, tails)", "[int8][kernels]") {
  Lcg r(500);
  for (int64_t n : {1, 7, 8, 15, 16, 17, 33, 100}) {
    for (int as : {0, 1})
      for (int bs : {0, 1}) {
        std::vector<int8_t> a((size_t)n), b((size_t)n);
        for (int8_t& v : a) v = (int8_t)r.range(-128, 127);
        for (int8_t& v : b) v = (int8_t)r.range(-128, 127);
        mcrt::Int8AddParams p;
        p.ma = 0.05f + r.unit();
        p.mb = 0.05f + r.unit() * 2.f;
        p.za = r.range(-128, 127);
        p.zb = r.range(-128, 127);
        p.zy = r.range(-30, 30);
        p.lo = (n % 2) ? p.zy : -128;  // fused Relu on odd sizes
        std::vector<int8_t> want((size_t)n), got((size_t)n);
        mcrt::int8_kernels_reference().add_run(n, a.data(), as, b.data(), bs, p, want.data());
        for (const Int8KernelSet* ks : optimized_sets()) {
          INFO("set " << ks->name << " n=" << n << " strides " << as << "," << bs);
          std::fill(got.begin(), got.end(), (int8_t)0x33);
          ks->add_run(n, a.data(), as, b.data(), bs, p, got.data());
          REQUIRE(got == want);
        }
      }
  }
  // Hand-computed ties: ma = mb = 0.25, a - za = 1, b - zb = 1 -> 0.5 -> 0 (even); 3 and 3 -> 1.5 -> 2.
  mcrt::Int8AddParams p;
  p.ma = p.mb = 0.25f;
  const std::vector<int8_t> a = {1, 3, -1, -3}, b = {1, 3, -1, -3};
  std::vector<int8_t> y(4);
  std::vector<const Int8KernelSet*> all = optimized_sets();
  all.push_back(&mcrt::int8_kernels_reference());
  for (const Int8KernelSet* ks : all) {
    ks->add_run(4, a.data(), 1, b.data(), 1, p, y.data());
    REQUIRE(y == std::vector<int8_t>{0, 2, 0, -2});
  }
}

namespace {

std::map<std::string, int> conv1_runs;  // conv1 kernels compared in check_conv, per set

// Options of check_conv past the geometry: a fixed z_x (else seeded), a narrowed output range (fused
// activation), a vertical stride different from the horizontal one.
struct ConvOpts {
  bool fixed_zx = false;
  int32_t zx = 0, lo = -128, hi = 127;
  int sh = 0;  // 0: same as s
  // Fused residual QLinearAdd (Int8Out::residual): the conv output is the add's input A (or B), the add's
  // output range [add_lo, add_hi]; multipliers 0.5 / 0.75 (ties) or seeded.
  bool residual = false, conv_is_a = true, tie_mults = false;
  int32_t add_lo = -128, add_hi = 127;
  int32_t zy = 1000;  // output zero point; 1000: seeded in [-20, 20]
};

void check_conv(int C, int H, int W, int M, int kh, int kw, int s, int d, int pt, int pl, int pb, int pr, uint64_t seed,
                const mcrt::ParallelFor* pf = nullptr, const ConvOpts& opt = ConvOpts()) {
  ConvGeom g{};
  g.N = 1;
  g.C = C;
  g.M = M;
  g.group = 1;
  g.H = H;
  g.W = W;
  g.kh = kh;
  g.kw = kw;
  g.sh = opt.sh ? opt.sh : s;
  g.sw = s;
  g.dh = g.dw = d;
  g.pad_t = pt;
  g.pad_l = pl;
  g.pad_b = pb;
  g.pad_r = pr;
  mcrt::conv2d_geom_finish(g);
  REQUIRE(mcrt::conv2d_geom_valid(g));
  Lcg r(seed);
  std::vector<int8_t> w((size_t)M * C * kh * kw), x((size_t)C * H * W);
  for (int8_t& v : w) v = (int8_t)r.range(-127, 127);
  for (int8_t& v : x) v = (int8_t)r.range(-128, 127);
  std::vector<int32_t> bias((size_t)M);
  for (int32_t& b : bias) b = r.range(-3000, 3000);
  std::vector<float> mult((size_t)M);
  for (float& m : mult) m = (0.3f + 4.f * r.unit()) / (float)(60 * C * kh * kw + 1);
  const int32_t zx = opt.fixed_zx ? opt.zx : r.range(-128, 127);
  Int8Out o;
  o.mult = mult.data();
  o.zero_point = r.range(-20, 20);
  if (opt.zy != 1000) o.zero_point = opt.zy;
  o.act_min = opt.lo;
  o.act_max = opt.hi;
  const mcrt::Int8ConvImage im = mcrt::int8_conv_image_layout(g);
  std::vector<int64_t> qoff((size_t)im.taps * im.Cq);
  mcrt::int8_conv_qoffsets(g, im, qoff.data());
  const int K = im.taps * im.Cq * 4;
  std::vector<int8_t> w2((size_t)M * K);
  mcrt::int8_conv_reorder_weights(g, w.data(), w2.data());
  Aligned img(im.bytes);
  mcrt::int8_conv_image(g, im, x.data(), (int8_t)zx, static_cast<int8_t*>(img.p));
  for (const Int8KernelSet* ks : optimized_sets()) {  // a set's own image re-layout: the same bytes
    if (!ks->conv_image) continue;
    Aligned img2(im.bytes);
    ks->conv_image(g, im, x.data(), (int8_t)zx, static_cast<int8_t*>(img2.p));
    INFO("set " << ks->name << " conv_image C=" << C << " " << H << "x" << W << " k " << kh << "x" << kw);
    REQUIRE(std::memcmp(img.p, img2.p, im.bytes) == 0);
  }
  auto run = [&](const Int8KernelSet& ks, const mcrt::ParallelFor* p) {
    Aligned packed(ks.gemm_packed_size(M, K));
    ks.gemm_pack(M, K, w2.data(), bias.data(), packed.p);
    std::vector<int8_t> y((size_t)M * g.OH * g.OW, (int8_t)0x44);
    ks.conv_run(M, g.OH, g.OW, K, packed.p, static_cast<int8_t*>(img.p), im.row_step, qoff.data(), zx, o, y.data(), p);
    return y;
  };
  // The reference set on the image equals the rule written directly on x.
  const std::vector<int8_t> ref = run(mcrt::int8_kernels_reference(), nullptr);
  for (int m = 0; m < M; ++m)
    for (int oy = 0; oy < g.OH; ++oy)
      for (int ox = 0; ox < g.OW; ++ox) {
        int64_t acc = bias[(size_t)m];
        for (int c = 0; c < C; ++c)
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * g.sh - pt + ky * d, ix = ox * s - pl + kx * d;
              const int xv = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? zx : x[((size_t)c * H + iy) * W + ix];
              acc += (int64_t)(xv - zx) * w[(((size_t)m * C + c) * kh + ky) * kw + kx];
            }
        INFO("m " << m << " oy " << oy << " ox " << ox);
        REQUIRE(ref[((size_t)m * g.OH + oy) * g.OW + ox] ==
                mcrt::int8_requantize_ref((int32_t)acc, mult[(size_t)m], o.zero_point, opt.lo, opt.hi));
      }
  for (const Int8KernelSet* ks : optimized_sets()) {
    INFO("set " << ks->name << " C=" << C << " " << H << "x" << W << " M=" << M << " k " << kh << "x" << kw << " s"
                << g.sh << "," << s << " d" << d << " zx " << zx << " range [" << opt.lo << "," << opt.hi << "]");
    REQUIRE(run(*ks, pf) == ref);
    // The one-input-channel kernel (where the set has one for g) on the raw input: the same bytes.
    if (ks->conv1_packed_size == nullptr || ks->conv1_packed_size(g) == 0) continue;
    Aligned packed(ks->conv1_packed_size(g));
    const char* variant = ks->conv1_pack(g, w.data(), bias.data(), packed.p);
    std::vector<int8_t> y((size_t)M * g.OH * g.OW, (int8_t)0x44);
    ks->conv1_run(g, packed.p, x.data(), zx, o, y.data(), pf);
    INFO("conv1 variant " << variant);
    REQUIRE(y == ref);
    ++conv1_runs[ks->name];
  }
  if (!opt.residual) return;
  // Fused residual add: every set, the reference included, equals the unfused pair written literally
  // (the conv bytes above, then the QLinearAdd rule: float32 products, then the sum, rhe, + z_y, clamp).
  std::vector<int8_t> res(ref.size());
  for (int8_t& v : res) v = (int8_t)r.range(-128, 127);
  mcrt::Int8AddParams ap;
  ap.ma = opt.tie_mults ? 0.5f : 0.2f + 1.5f * r.unit();
  ap.mb = opt.tie_mults ? 0.75f : 0.2f + 1.5f * r.unit();
  ap.za = r.range(-128, 127);
  ap.zb = r.range(-128, 127);
  ap.zy = r.range(-30, 30);
  ap.lo = opt.add_lo;
  ap.hi = opt.add_hi;
  std::vector<int8_t> want(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    const int32_t a = opt.conv_is_a ? ref[i] : res[i], b = opt.conv_is_a ? res[i] : ref[i];
    const float fa = ap.ma * (float)(a - ap.za), fb = ap.mb * (float)(b - ap.zb);
    const float f = fa + fb;
    const double v = (double)std::nearbyint(f) + ap.zy;
    want[i] = (int8_t)(v < ap.lo ? ap.lo : (v > ap.hi ? ap.hi : v));
  }
  o.residual = res.data();
  o.conv_is_a = opt.conv_is_a;
  o.add = ap;
  {
    INFO("reference set, fused add, conv is A: " << opt.conv_is_a);
    REQUIRE(run(mcrt::int8_kernels_reference(), nullptr) == want);
  }
  for (const Int8KernelSet* ks : optimized_sets()) {
    INFO("set " << ks->name << " fused add C=" << C << " " << H << "x" << W << " M=" << M << " k " << kh << "x" << kw
                << " s" << s << " conv is A: " << opt.conv_is_a);
    REQUIRE(run(*ks, pf) == want);
  }
}

}  // namespace

TEST_CASE("int8 implicit-GEMM conv: every set equals the reference, which equals the rule", "[int8][kernels]") {
  uint64_t seed = 700;
  check_conv(3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  check_conv(16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  check_conv(5, 13, 7, 17, 3, 3, 2, 1, 1, 1, 1, 1, seed++);   // stride 2, C not a multiple of 4
  check_conv(1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, seed++);   // LeNet-5 conv1
  check_conv(6, 12, 12, 16, 5, 5, 1, 1, 0, 0, 0, 0, seed++);  // LeNet-5 conv2
  check_conv(7, 10, 10, 9, 3, 3, 1, 2, 2, 2, 2, 2, seed++);   // dilation 2
  check_conv(8, 9, 9, 8, 1, 1, 2, 1, 0, 0, 0, 0, seed++);     // 1x1 stride 2
  check_conv(4, 5, 40, 3, 3, 5, 3, 1, 1, 2, 0, 1, seed++);    // wide, stride 3, asymmetric pads
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  check_conv(12, 14, 14, 24, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
}

TEST_CASE("int8 implicit-GEMM conv: ResNet-like strided and narrow planes, row phases, z_x extremes, clamps",
          "[int8][kernels]") {
  uint64_t seed = 800;
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  ConvOpts relu;
  relu.lo = -5;  // a fused Relu/Clip narrows the output range
  relu.hi = 90;
  for (int C : {16, 13, 32, 30, 64, 7}) {
    for (int M : {16, 19, 32, 64}) {
      check_conv(C, 28, 28, M, 3, 3, 2, 1, 1, 1, 1, 1, seed++);  // 3x3 s2 to a 14x14 grid (pitch 15)
      check_conv(C, 14, 14, M, 3, 3, 2, 1, 1, 1, 1, 1, seed++);  // 3x3 s2 to 7x7 (pitch 8)
      check_conv(C, 7, 7, M, 3, 3, 1, 1, 1, 1, 1, 1, seed++);    // stride-1 grid (pitch 9)
    }
    check_conv(C, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, relu);
    check_conv(C, 14, 14, 32, 3, 3, 2, 1, 1, 1, 1, 1, seed++, pool.hook(), relu);
    check_conv(C, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
  }
  for (int32_t zx : {-128, 127}) {
    ConvOpts o;
    o.fixed_zx = true;
    o.zx = zx;
    check_conv(16, 28, 28, 32, 3, 3, 2, 1, 1, 1, 1, 1, seed++, nullptr, o);
    check_conv(33, 7, 7, 24, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);
    o.lo = 0;
    check_conv(6, 13, 11, 17, 3, 3, 2, 1, 0, 1, 1, 0, seed++, pool.hook(), o);
  }
  ConvOpts tall;  // vertical stride 2, horizontal 1 (and 3 vs 2): row phases without column phases
  tall.sh = 2;
  check_conv(9, 15, 12, 10, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, tall);
  tall.sh = 3;
  check_conv(5, 17, 19, 8, 3, 5, 2, 1, 2, 1, 0, 2, seed++, nullptr, tall);
  check_conv(6, 11, 13, 7, 3, 3, 2, 2, 2, 2, 2, 2, seed++);     // stride 2 with dilation 2
  // Grid planes smaller than one 16-byte row store (2x3, 3x2 outputs), channels over several 8-channel tasks
  check_conv(5, 3, 5, 20, 3, 3, 2, 1, 1, 1, 1, 1, seed++, pool.hook());
  check_conv(7, 5, 3, 17, 3, 3, 2, 1, 1, 1, 1, 1, seed++);
  check_conv(9, 2, 2, 33, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
  check_conv(5, 70, 70, 6, 3, 3, 1, 1, 1, 1, 1, 1, seed++);     // plane past the whole-plane buffer: row by row
  check_conv(3, 72, 66, 5, 3, 3, 2, 1, 1, 1, 1, 1, seed++);     // same, stride 2
  // Pointwise (1x1, stride 1, no pads): the image is the interleaved input, written in place.
  check_conv(16, 14, 14, 32, 1, 1, 1, 1, 0, 0, 0, 0, seed++);
  check_conv(13, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, seed++, pool.hook());
  check_conv(130, 4, 4, 129, 1, 1, 1, 1, 0, 0, 0, 0, seed++);
  check_conv(6, 70, 70, 9, 1, 1, 1, 1, 0, 0, 0, 0, seed++);    // channels past C on a plane past the z_x row
  check_conv(7, 8, 8, 5, 1, 1, 1, 1, 0, 0, 0, 0, seed++);      // plane of exactly 64 columns
  check_conv(5, 9, 15, 6, 1, 1, 1, 1, 0, 0, 0, 0, seed++);     // 135 = 2 x 64 + a tail
  check_conv(8, 70, 70, 9, 1, 1, 1, 1, 0, 0, 0, 0, seed++);
  // Rows of at most 16 outputs outside the grid (whole 16-row tiles in the AVX-512 set): one row, a kernel much
  // wider than the output, exactly 16 wide; M not a multiple of 16.
  check_conv(20, 1, 16, 40, 1, 1, 1, 1, 0, 0, 0, 0, seed++);
  check_conv(9, 1, 13, 23, 1, 3, 1, 1, 0, 0, 0, 0, seed++, pool.hook());
  check_conv(6, 5, 12, 20, 1, 9, 1, 1, 0, 0, 0, 0, seed++);
  check_conv(8, 16, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
  check_conv(128, 1, 16, 128, 1, 1, 1, 1, 0, 0, 0, 0, seed++);
  check_conv(360, 6, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, seed++);     // K = 9 * 360: no int16 block (AVX2), image in place
  check_conv(200, 5, 9, 13, 3, 3, 2, 1, 1, 1, 1, 1, seed++, pool.hook());  // same near the limit, stride 2
  check_conv(2, 1, 4200, 3, 1, 3, 1, 1, 0, 1, 0, 1, seed++);    // rows wider than the row buffer
  check_conv(5, 2, 4301, 4, 1, 3, 2, 1, 0, 1, 0, 0, seed++);    // same, stride 2
}

TEST_CASE("int8 implicit-GEMM conv with a fused residual QLinearAdd: every set equals conv then add", "[int8][kernels]") {
  uint64_t seed = 900;
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  ConvOpts o;
  o.residual = true;
  o.tie_mults = true;
  check_conv(16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);  // rows of 28 (per-row tiles)
  check_conv(32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);  // grid, pitch 16
  check_conv(64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook(), o);
  o.conv_is_a = false;
  o.tie_mults = false;
  o.add_lo = -3;  // a Relu fused into the add: act_min = z_y-like floor
  check_conv(13, 14, 14, 19, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);
  check_conv(16, 28, 28, 32, 1, 1, 2, 1, 0, 0, 0, 0, seed++, nullptr, o);  // strided 1x1 (flat rows)
  check_conv(9, 5, 40, 7, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook(), o);
  o.add_hi = 50;
  o.lo = 0;  // the conv's own clamp first, then the add's
  check_conv(12, 9, 9, 20, 1, 1, 1, 1, 0, 0, 0, 0, seed++, nullptr, o);  // pointwise
  check_conv(5, 13, 7, 17, 3, 3, 2, 1, 1, 1, 1, 1, seed++, pool.hook(), o);
  check_conv(64, 1, 16, 40, 1, 1, 1, 1, 0, 0, 0, 0, seed++, nullptr, o);  // one row of 16 (16-row tiles)
}

TEST_CASE("int8 one-input-channel conv (stems): every set equals the reference, which equals the rule",
          "[int8][kernels][conv1]") {
  conv1_runs.clear();
  uint64_t seed = 950;
  check_conv(1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++);  // mobile / resnet stem
  check_conv(1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, seed++);   // LeNet-5 conv1
  const std::map<std::string, int> stems = conv1_runs;
  if (vbmi_expected()) REQUIRE(stems.at("avx512vnni") == 2);
  if (mcrt::int8_kernels_avx2() != nullptr) REQUIRE(stems.at("avx2") == 2);  // every plane here fits its stack plane
  check_conv(1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, seed++);     // 1x1 plane
  check_conv(1, 5, 3, 7, 3, 3, 1, 1, 1, 1, 1, 1, seed++);
  check_conv(1, 40, 40, 17, 7, 7, 2, 1, 3, 3, 3, 3, seed++);  // 7x7 stride 2
  check_conv(1, 33, 21, 8, 3, 3, 3, 2, 2, 2, 1, 0, seed++);   // stride 3, dilation 2, asymmetric pads
  check_conv(1, 9, 40, 5, 1, 7, 1, 1, 0, 3, 0, 3, seed++);    // 1x7
  check_conv(1, 16, 16, 33, 4, 2, 2, 1, 1, 0, 2, 1, seed++);  // even kernel, M past 32
  check_conv(1, 6, 10, 5, 3, 3, 1, 1, 1, 1, 1, 1, seed++);    // 60 outputs: 4 groups, the last one 12 wide
  check_conv(1, 4, 31, 3, 3, 3, 1, 1, 1, 1, 1, 1, seed++);    // 124 outputs: a full and a 60-wide block of 4
  ConvOpts tall;
  tall.sh = 2;
  check_conv(1, 15, 12, 10, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, tall);  // vertical stride 2 only
  for (int zx : {-128, 0, 127}) {
    ConvOpts o;
    o.fixed_zx = true;
    o.zx = zx;
    check_conv(1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);
    o.zy = zx;  // output zero point at the extremes too (a ReLU6 output has z_y = -128)
    check_conv(1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);
    o.zy = 1000;
    o.lo = 0;  // fused Relu
    check_conv(1, 14, 14, 8, 3, 3, 2, 1, 1, 1, 1, 1, seed++, nullptr, o);
    o.lo = -7;
    o.hi = 50;
    check_conv(1, 12, 12, 4, 3, 3, 1, 1, 1, 1, 1, 1, seed++, nullptr, o);
  }
  mcrt::ThreadPool pool;
  REQUIRE(pool.set_threads(2).ok());
  check_conv(1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
  check_conv(1, 20, 20, 3, 3, 3, 1, 1, 1, 1, 1, 1, seed++, pool.hook());
  INFO("conv1 kernels compared: avx512vnni " << conv1_runs["avx512vnni"] << ", avx2 " << conv1_runs["avx2"]);
  if (vbmi_expected()) REQUIRE(conv1_runs["avx512vnni"] == 25);
  if (mcrt::int8_kernels_avx2() != nullptr) REQUIRE(conv1_runs["avx2"] == 25);
  SUCCEED();
}

namespace {

// Edge inputs of QuantizeLinear: ties (k + 0.5) at several scales, values around the saturation bounds,
// signed zeros, infinities, NaN, denormals, huge values (past int32), plus seeded random floats.
std::vector<float> quantize_inputs(float scale) {
  std::vector<float> v;
  for (int k = -300; k <= 300; ++k) {
    v.push_back(((float)k + 0.5f) * scale);
    v.push_back((float)k * scale);
    v.push_back(std::nextafter(((float)k + 0.5f) * scale, 1e30f));
    v.push_back(std::nextafter(((float)k + 0.5f) * scale, -1e30f));
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float f : {0.f, -0.f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                  1e-45f, -1e-45f, 3e9f, -3e9f, 1e38f, -1e38f, 2147483520.f, -2147483648.f})
    v.push_back(f);
  Lcg r(77);
  for (int i = 0; i < 2000; ++i) v.push_back((r.unit() * 2.f - 1.f) * 300.f * scale);
  return v;
}

}  // namespace

TEST_CASE("int8 QuantizeLinear per tensor: the SIMD twin equals the literal rule, byte for byte", "[int8][kernels]") {
  for (float scale : {1.f, 0.0123f, 0.5f, 3.0f, 1e-3f})
    for (bool s8 : {true, false})
      for (int32_t zp : s8 ? std::vector<int32_t>{-128, -3, 0, 17, 127} : std::vector<int32_t>{0, 1, 128, 200, 255}) {
        const std::vector<float> x = quantize_inputs(scale);
        for (int64_t n : {(int64_t)x.size(), (int64_t)1, (int64_t)15, (int64_t)16, (int64_t)17, (int64_t)33}) {
          std::vector<uint8_t> ref((size_t)n, 0xAB), got((size_t)n, 0xCD);
          mcrt::int8_quantize_f32_ref(n, x.data(), scale, zp, s8, ref.data());
          mcrt::int8_quantize_f32(n, x.data(), scale, zp, s8, got.data());
          INFO("scale " << scale << " s8 " << s8 << " zp " << zp << " n " << n);
          REQUIRE(ref == got);
        }
      }
}

TEST_CASE("int8 QuantizeLinear per tensor: hand-computed goldens (ties to even, saturation, NaN)", "[int8][kernels][golden]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // 20 inputs so the SIMD body (16) and the scalar tail both run; scale 0.5: x / 0.5 = 2x.
  const std::vector<float> x = {0.25f, 0.75f, -0.25f, -0.75f, 1.25f, 63.5f, 64.f, -64.f, -64.5f, nan,
                                inf,   -inf,  -0.f,   0.2f,   0.3f,  0.25f, 0.75f, nan, 100.f, -100.f};
  // rhe(2x): 0.5->0, 1.5->2, -0.5->-0, -1.5->-2, 2.5->2, 127, 128, -128, -129, NaN, +inf, -inf, 0, 0.4->0, 0.6->1
  const std::vector<int> s8_zp0 = {0, 2, 0, -2, 2, 127, 127, -128, -128, 0, 127, -128, 0, 0, 1, 0, 2, 0, 127, -128};
  const std::vector<int> u8_zp10 = {10, 12, 10, 8, 12, 137, 138, 0, 0, 0, 255, 0, 10, 10, 11, 10, 12, 0, 210, 0};
  for (bool simd : {false, true}) {
    std::vector<uint8_t> y(x.size());
    auto q = simd ? mcrt::int8_quantize_f32 : mcrt::int8_quantize_f32_ref;
    q((int64_t)x.size(), x.data(), 0.5f, 0, true, y.data());
    for (size_t i = 0; i < x.size(); ++i) CHECK((int)(int8_t)y[i] == s8_zp0[i]);
    q((int64_t)x.size(), x.data(), 0.5f, 10, false, y.data());
    for (size_t i = 0; i < x.size(); ++i) CHECK((int)y[i] == u8_zp10[i]);
  }
}
