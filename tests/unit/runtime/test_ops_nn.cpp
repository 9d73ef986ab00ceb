// Conv, ConvTranspose, Gemm, MatMul, pooling, Softmax, LayerNormalization, reductions:
// hand-computed goldens, plus a naive direct implementation in this file for the larger
// awkward shapes (groups, depthwise, dilation, stride, asymmetric pads).
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>

#include "runtime_test_support.h"

using namespace mcrt_test;
using A = Attribute;

namespace {

std::vector<float> rnd(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// Independent direct convolution (NCHW) for checking.
std::vector<float> naive_conv(const std::vector<float>& x, int N, int C, int H, int W, const std::vector<float>& w,
                              int M, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr,
                              int group, const std::vector<float>& bias, int* OH, int* OW) {
  *OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  *OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  const int Cg = C / group, Mg = M / group;
  std::vector<float> y((size_t)N * M * *OH * *OW);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m)
      for (int oy = 0; oy < *OH; ++oy)
        for (int ox = 0; ox < *OW; ++ox) {
          double acc = bias.empty() ? 0.0 : bias[(size_t)m];
          const int g = m / Mg;
          for (int c = 0; c < Cg; ++c)
            for (int ky = 0; ky < kh; ++ky)
              for (int kx = 0; kx < kw; ++kx) {
                const int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += (double)x[(((size_t)n * C + g * Cg + c) * H + iy) * W + ix] *
                       w[(((size_t)m * Cg + c) * kh + ky) * kw + kx];
              }
          y[(((size_t)n * M + m) * *OH + oy) * *OW + ox] = (float)acc;
        }
  return y;
}

}  // namespace

TEST_CASE("Conv: hand-computed goldens (bias, SAME_UPPER, SAME_LOWER)", "[unit][runtime][ops]") {
  // x = 1..9 (3x3), 2x2 ones kernel: window sums.
  auto r = run_ok_op(fb::OpType_Conv,
                     {act<float>({1, 1, 3, 3}, iota_f(9, 1.f)), cst<float>({1, 1, 2, 2}, {1, 1, 1, 1}),
                      cst<float>({1}, {1})},
                     {}, DType::kF32, {1, 1, 2, 2});
  CHECK(r.as<float>() == std::vector<float>{13, 17, 25, 29});
  // x = 0..15 (4x4), 3x3 ones kernel, stride 2: total pad 1.
  const std::vector<float> k9(9, 1.f);
  auto up = run_ok_op(fb::OpType_Conv, {act<float>({1, 1, 4, 4}, iota_f(16)), cst<float>({1, 1, 3, 3}, k9)},
                      {A::String(fb::AttrKey_auto_pad, "SAME_UPPER"), A::Ints(fb::AttrKey_strides, {2, 2})},
                      DType::kF32, {1, 1, 2, 2});
  CHECK(up.as<float>() == std::vector<float>{45, 39, 66, 50});
  auto lo = run_ok_op(fb::OpType_Conv, {act<float>({1, 1, 4, 4}, iota_f(16)), cst<float>({1, 1, 3, 3}, k9)},
                      {A::String(fb::AttrKey_auto_pad, "SAME_LOWER"), A::Ints(fb::AttrKey_strides, {2, 2})},
                      DType::kF32, {1, 1, 2, 2});
  CHECK(lo.as<float>() == std::vector<float>{10, 24, 51, 90});
  auto valid = run_ok_op(fb::OpType_Conv, {act<float>({1, 1, 4, 4}, iota_f(16)), cst<float>({1, 1, 3, 3}, k9)},
                         {A::String(fb::AttrKey_auto_pad, "VALID")}, DType::kF32, {1, 1, 2, 2});
  CHECK(valid.as<float>() == std::vector<float>{45, 54, 81, 90});
}

TEST_CASE("Conv: groups, depthwise, dilation, strides, asymmetric pads vs direct", "[unit][runtime][ops]") {
  struct Case {
    int N, C, H, W, M, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
  };
  const Case cases[] = {
      {1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   {2, 4, 9, 11, 6, 3, 2, 2, 1, 1, 2, 0, 1, 2, 0, 2},
      {1, 8, 13, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8},  {1, 5, 6, 6, 10, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 5},
      {1, 6, 17, 3, 6, 5, 1, 3, 1, 2, 1, 2, 0, 1, 0, 6},  {3, 2, 5, 5, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1},
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    const auto x = rnd((size_t)c.N * c.C * c.H * c.W, seed++);
    const auto w = rnd((size_t)c.M * (c.C / c.group) * c.kh * c.kw, seed++);
    const auto b = rnd((size_t)c.M, seed++);
    int OH, OW;
    const auto want = naive_conv(x, c.N, c.C, c.H, c.W, w, c.M, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb,
                                 c.pr, c.group, b, &OH, &OW);
    for (int threads : {1, 2}) {
      auto r = run_ok_op(fb::OpType_Conv,
                         {act<float>({c.N, c.C, c.H, c.W}, x), cst<float>({c.M, c.C / c.group, c.kh, c.kw}, w),
                          cst<float>({c.M}, b)},
                         {A::Int(fb::AttrKey_group, c.group), A::Ints(fb::AttrKey_strides, {c.sh, c.sw}),
                          A::Ints(fb::AttrKey_dilations, {c.dh, c.dw}),
                          A::Ints(fb::AttrKey_pads, {c.pt, c.pl, c.pb, c.pr})},
                         DType::kF32, {c.N, c.M, OH, OW}, threads);
      INFO("case C=" << c.C << " M=" << c.M << " group=" << c.group << " kernel " << r.kernel);
      require_close(r.as<float>(), want, 1e-4f);
    }
  }
}

TEST_CASE("Conv 1-D", "[unit][runtime][ops]") {
  auto r = run_ok_op(fb::OpType_Conv, {act<float>({1, 1, 5}, {1, 2, 3, 4, 5}), cst<float>({1, 1, 2}, {1, -1})},
                     {A::Ints(fb::AttrKey_pads, {1, 0})}, DType::kF32, {1, 1, 5});
  CHECK(r.as<float>() == std::vector<float>{-1, -1, -1, -1, -1});
}

TEST_CASE("ConvTranspose: goldens for stride 1 and 2, output_padding, group", "[unit][runtime][ops]") {
  auto s1 = run_ok_op(fb::OpType_ConvTranspose, {act<float>({1, 1, 2, 2}, {1, 2, 3, 4}), cst<float>({1, 1, 2, 2}, {1, 1, 1, 1})},
                      {}, DType::kF32, {1, 1, 3, 3});
  CHECK(s1.as<float>() == std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4});
  auto s2 = run_ok_op(fb::OpType_ConvTranspose, {act<float>({1, 1, 2, 2}, {1, 2, 3, 4}), cst<float>({1, 1, 2, 2}, {1, 1, 1, 1})},
                      {A::Ints(fb::AttrKey_strides, {2, 2})}, DType::kF32, {1, 1, 4, 4});
  CHECK(s2.as<float>() == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  auto op = run_ok_op(fb::OpType_ConvTranspose,
                      {act<float>({1, 1, 1, 2}, {1, 2}), cst<float>({1, 1, 1, 1}, {2}), cst<float>({1}, {0.5f})},
                      {A::Ints(fb::AttrKey_strides, {1, 2}), A::Ints(fb::AttrKey_output_padding, {0, 1})},
                      DType::kF32, {1, 1, 1, 4});
  CHECK(op.as<float>() == std::vector<float>{2.5f, 0.5f, 4.5f, 0.5f});
  // group 2: each input channel feeds its own output channel.
  auto g = run_ok_op(fb::OpType_ConvTranspose, {act<float>({1, 2, 1, 1}, {3, 5}), cst<float>({2, 1, 1, 2}, {1, 2, 10, 20})},
                     {A::Int(fb::AttrKey_group, 2)}, DType::kF32, {1, 2, 1, 2});
  CHECK(g.as<float>() == std::vector<float>{3, 6, 50, 100});
  // pads crop the full output; output_shape picks the same size.
  auto p = run_ok_op(fb::OpType_ConvTranspose, {act<float>({1, 1, 2, 2}, {1, 2, 3, 4}), cst<float>({1, 1, 2, 2}, {1, 1, 1, 1})},
                     {A::Ints(fb::AttrKey_pads, {1, 1, 0, 0})}, DType::kF32, {1, 1, 2, 2});
  CHECK(p.as<float>() == std::vector<float>{10, 6, 7, 4});
  auto os = run_ok_op(fb::OpType_ConvTranspose, {act<float>({1, 1, 2, 2}, {1, 2, 3, 4}), cst<float>({1, 1, 2, 2}, {1, 1, 1, 1})},
                      {A::Ints(fb::AttrKey_output_shape, {2, 2})}, DType::kF32, {1, 1, 2, 2});
  CHECK(os.as<float>() == std::vector<float>{10, 6, 7, 4});  // total pad 1 each: NOTSET puts the extra at the start
}

TEST_CASE("Gemm: fc path and sgemm path, alpha, beta, transA, transB, C broadcast", "[unit][runtime][ops]") {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // [2,3]
  const std::vector<float> b = {1, 2, 3, 4, 5, 6};  // [3,2]
  auto fc = run_ok_op(fb::OpType_Gemm, {act<float>({2, 3}, a), cst<float>({3, 2}, b)}, {}, DType::kF32, {2, 2});
  CHECK(fc.kernel.find("fc_") == 0);
  CHECK(fc.as<float>() == std::vector<float>{22, 28, 49, 64});
  auto sg = run_ok_op(fb::OpType_Gemm, {act<float>({2, 3}, a), act<float>({3, 2}, b)}, {}, DType::kF32, {2, 2});
  CHECK(sg.kernel.find("sgemm_") == 0);
  CHECK(sg.as<float>() == std::vector<float>{22, 28, 49, 64});
  // B^T stored [2,3]; alpha 2, beta 0.5, C per column.
  const std::vector<float> bt = {1, 3, 5, 2, 4, 6};
  for (bool b_const : {true, false}) {
    auto r = run_ok_op(fb::OpType_Gemm,
                       {act<float>({2, 3}, a), b_const ? cst<float>({2, 3}, bt) : act<float>({2, 3}, bt),
                        cst<float>({2}, {10, 20})},
                       {A::Int(fb::AttrKey_transB, 1), A::Float(fb::AttrKey_alpha, 2.f), A::Float(fb::AttrKey_beta, 0.5f)},
                       DType::kF32, {2, 2});
    CHECK(r.as<float>() == std::vector<float>{49, 66, 103, 138});
  }
  // transA with a full [2,2] C activation.
  const std::vector<float> at = {1, 4, 2, 5, 3, 6};  // A^T stored [3,2]
  auto ta = run_ok_op(fb::OpType_Gemm, {act<float>({3, 2}, at), cst<float>({3, 2}, b), act<float>({2, 2}, {1, 2, 3, 4})},
                      {A::Int(fb::AttrKey_transA, 1)}, DType::kF32, {2, 2});
  CHECK(ta.as<float>() == std::vector<float>{23, 30, 52, 68});
  // C as a column [2,1] constant (not per-column: sgemm path).
  auto col = run_ok_op(fb::OpType_Gemm, {act<float>({2, 3}, a), cst<float>({3, 2}, b), cst<float>({2, 1}, {100, 200})}, {},
                       DType::kF32, {2, 2});
  CHECK(col.as<float>() == std::vector<float>{122, 128, 249, 264});
}

TEST_CASE("MatMul: 2-D, batched, broadcast, 1-D operands", "[unit][runtime][ops]") {
  const auto a = rnd(2 * 3 * 4 * 5, 11), b = rnd(3 * 5 * 2, 12);
  // A [2,3,4,5] x B [3,5,2] -> [2,3,4,2], B broadcast over the first dim.
  std::vector<float> want(2 * 3 * 4 * 2);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int m = 0; m < 4; ++m)
        for (int n = 0; n < 2; ++n) {
          double s = 0;
          for (int k = 0; k < 5; ++k) s += (double)a[(size_t)(((i * 3 + j) * 4 + m) * 5 + k)] * b[(size_t)((j * 5 + k) * 2 + n)];
          want[(size_t)(((i * 3 + j) * 4 + m) * 2 + n)] = (float)s;
        }
  for (int threads : {1, 2}) {
    auto r = run_ok_op(fb::OpType_MatMul, {act<float>({2, 3, 4, 5}, a), act<float>({3, 5, 2}, b)}, {}, DType::kF32,
                       {2, 3, 4, 2}, threads);
    require_close(r.as<float>(), want, 1e-5f);
  }
  // Constant 2-D B: fc path over all batch rows.
  const auto b2 = rnd(5 * 3, 13);
  std::vector<float> want2(2 * 3 * 4 * 3);
  for (int r = 0; r < 24; ++r)
    for (int n = 0; n < 3; ++n) {
      double s = 0;
      for (int k = 0; k < 5; ++k) s += (double)a[(size_t)(r * 5 + k)] * b2[(size_t)(k * 3 + n)];
      want2[(size_t)(r * 3 + n)] = (float)s;
    }
  auto fc = run_ok_op(fb::OpType_MatMul, {act<float>({2, 3, 4, 5}, a), cst<float>({5, 3}, b2)}, {}, DType::kF32, {2, 3, 4, 3});
  CHECK(fc.kernel.find("fc_") == 0);
  require_close(fc.as<float>(), want2, 1e-5f);
  // 1-D x 2-D and 2-D x 1-D.
  auto v1 = run_ok_op(fb::OpType_MatMul, {act<float>({2}, {1, 2}), act<float>({2, 3}, {1, 2, 3, 4, 5, 6})}, {}, DType::kF32, {3});
  CHECK(v1.as<float>() == std::vector<float>{9, 12, 15});
  auto v2 = run_ok_op(fb::OpType_MatMul, {act<float>({2, 3}, {1, 2, 3, 4, 5, 6}), act<float>({3}, {1, 0, -1})}, {}, DType::kF32, {2});
  CHECK(v2.as<float>() == std::vector<float>{-2, -2});
}

TEST_CASE("MaxPool and AveragePool: pads, count_include_pad, ceil_mode, dilation", "[unit][runtime][ops]") {
  auto mp = run_ok_op(fb::OpType_MaxPool, {act<float>({1, 1, 4, 4}, iota_f(16))},
                      {A::Ints(fb::AttrKey_kernel_shape, {2, 2}), A::Ints(fb::AttrKey_strides, {2, 2})}, DType::kF32,
                      {1, 1, 2, 2});
  CHECK(mp.as<float>() == std::vector<float>{5, 7, 13, 15});
  const std::vector<float> ones(9, 1.f);
  auto ex = run_ok_op(fb::OpType_AveragePool, {act<float>({1, 1, 3, 3}, ones)},
                      {A::Ints(fb::AttrKey_kernel_shape, {3, 3}), A::Ints(fb::AttrKey_pads, {1, 1, 1, 1})}, DType::kF32,
                      {1, 1, 3, 3});
  CHECK(ex.as<float>() == std::vector<float>(9, 1.f));
  auto inc = run_ok_op(fb::OpType_AveragePool, {act<float>({1, 1, 3, 3}, ones)},
                       {A::Ints(fb::AttrKey_kernel_shape, {3, 3}), A::Ints(fb::AttrKey_pads, {1, 1, 1, 1}),
                        A::Int(fb::AttrKey_count_include_pad, 1)},
                       DType::kF32, {1, 1, 3, 3});
  require_close(inc.as<float>(), {4 / 9.f, 6 / 9.f, 4 / 9.f, 6 / 9.f, 1, 6 / 9.f, 4 / 9.f, 6 / 9.f, 4 / 9.f});
  // 5x5 input, kernel 2 stride 2, ceil_mode: 3x3 output, the last windows hang over the edge.
  auto ceil_avg = run_ok_op(fb::OpType_AveragePool, {act<float>({1, 1, 5, 5}, iota_f(25))},
                            {A::Ints(fb::AttrKey_kernel_shape, {2, 2}), A::Ints(fb::AttrKey_strides, {2, 2}),
                             A::Int(fb::AttrKey_ceil_mode, 1)},
                            DType::kF32, {1, 1, 3, 3});
  require_close(ceil_avg.as<float>(), {3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24});
  auto ceil_max = run_ok_op(fb::OpType_MaxPool, {act<float>({1, 1, 5, 5}, iota_f(25))},
                            {A::Ints(fb::AttrKey_kernel_shape, {2, 2}), A::Ints(fb::AttrKey_strides, {2, 2}),
                             A::Int(fb::AttrKey_ceil_mode, 1)},
                            DType::kF32, {1, 1, 3, 3});
  CHECK(ceil_max.as<float>() == std::vector<float>{6, 8, 9, 16, 18, 19, 21, 23, 24});
  auto dil = run_ok_op(fb::OpType_MaxPool, {act<float>({1, 1, 4, 4}, iota_f(16))},
                       {A::Ints(fb::AttrKey_kernel_shape, {2, 2}), A::Ints(fb::AttrKey_dilations, {2, 2})}, DType::kF32,
                       {1, 1, 2, 2});
  CHECK(dil.as<float>() == std::vector<float>{10, 11, 14, 15});
  auto gap = run_ok_op(fb::OpType_GlobalAveragePool, {act<float>({1, 2, 2, 2}, iota_f(8))}, {}, DType::kF32, {1, 2, 1, 1});
  CHECK(gap.as<float>() == std::vector<float>{1.5f, 5.5f});
  // Planes of 7x7 = 49 (six 8-wide steps and a tail of 1) and 3x3 (tail only): exact means of
  // integers. Plane p holds p*49 + 0..48 (mean p*49 + 24); the 3x3 plane 0..8 (mean 4).
  auto gap49 = run_ok_op(fb::OpType_GlobalAveragePool, {act<float>({1, 3, 7, 7}, iota_f(147))}, {}, DType::kF32,
                         {1, 3, 1, 1});
  CHECK(gap49.as<float>() == std::vector<float>{24.f, 73.f, 122.f});
  auto gap9 = run_ok_op(fb::OpType_GlobalAveragePool, {act<float>({1, 1, 3, 3}, iota_f(9))}, {}, DType::kF32, {1, 1, 1, 1});
  CHECK(gap9.as<float>() == std::vector<float>{4.f});
  auto idx = run_op(fb::OpType_MaxPool, {act<float>({1, 1, 2, 2}, iota_f(4))},
                    {A::Ints(fb::AttrKey_kernel_shape, {2, 2}), A::Int(fb::AttrKey_storage_order, 1)}, DType::kF32,
                    {1, 1, 1, 1});
  CHECK(idx.status.code() == mcrt::StatusCode::kUnsupported);
}

// MaxPool, 1-D and 2-D without dilation, takes the row-wise path (maxpool2d_rows); dilated
// windows take the reference scan. Both must give exactly the bytes of this naive pool: per
// output, the first tap inside the input, then `v > acc ? v : acc` in row-major tap order.
// Inputs hold NaN, +0 and -0, so the comparison order shows in the bytes.
TEST_CASE("MaxPool row-wise path: bytes of the naive pool over random geometries", "[unit][runtime][ops][maxpool]") {
  std::mt19937 rng(20261127);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int fast = 0, dilated = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const bool one_d = trial % 5 == 4;
    const int rank = one_d ? 1 : 2;
    const int64_t N = pick(1, 2), C = pick(1, 3);
    int64_t in[2], k[2], st[2], d[2], pb[2], pe[2], out[2];
    const bool ceil_mode = pick(0, 3) == 0;
    for (int i = 0; i < rank; ++i) {
      k[i] = pick(1, 4);
      d[i] = trial % 7 == 6 ? pick(1, 2) : 1;
      st[i] = pick(1, 3);
      in[i] = pick((int)((k[i] - 1) * d[i] + 1), 13);
      pb[i] = pick(0, (int)k[i] - 1);
      pe[i] = pick(0, (int)k[i] - 1);
      const int64_t span = in[i] + pb[i] + pe[i] - ((k[i] - 1) * d[i] + 1);
      out[i] = (ceil_mode ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
      // ONNX: with ceil_mode the last window must start inside the input or the begin padding.
      if (ceil_mode && (out[i] - 1) * st[i] >= in[i] + pb[i]) --out[i];
    }
    std::vector<int64_t> xs = {N, C}, ys = {N, C};
    int64_t xn = N * C, yn = N * C;
    for (int i = 0; i < rank; ++i) {
      xs.push_back(in[i]);
      ys.push_back(out[i]);
      xn *= in[i];
      yn *= out[i];
    }
    std::vector<float> x(xn);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    for (float& v : x) {
      const int r = pick(0, 19);
      v = r == 0 ? std::nanf("") : r == 1 ? 0.f : r == 2 ? -0.f : u(rng);
    }
    const int64_t H = one_d ? 1 : in[0], W = in[rank - 1], OH = one_d ? 1 : out[0], OW = out[rank - 1];
    const int64_t kh = one_d ? 1 : k[0], kw = k[rank - 1], sh = one_d ? 1 : st[0], sw = st[rank - 1];
    const int64_t dh = one_d ? 1 : d[0], dw = d[rank - 1], pt = one_d ? 0 : pb[0], pl = pb[rank - 1];
    std::vector<float> want(yn);
    for (int64_t p = 0; p < N * C; ++p)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          float acc = -FLT_MAX;
          bool any = false;
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const float v = x[(p * H + iy) * W + ix];
              if (!any || v > acc) acc = v;
              any = true;
            }
          want[(p * OH + oy) * OW + ox] = acc;
        }
    std::vector<int64_t> kv(k, k + rank), sv(st, st + rank), dv(d, d + rank), pads;
    for (int i = 0; i < rank; ++i) pads.push_back(pb[i]);
    for (int i = 0; i < rank; ++i) pads.push_back(pe[i]);
    const int threads = trial % 2 + 1;
    auto r = run_ok_op(fb::OpType_MaxPool, {act<float>(xs, x)},
                       {A::Ints(fb::AttrKey_kernel_shape, kv), A::Ints(fb::AttrKey_strides, sv),
                        A::Ints(fb::AttrKey_dilations, dv), A::Ints(fb::AttrKey_pads, pads),
                        A::Int(fb::AttrKey_ceil_mode, ceil_mode ? 1 : 0)},
                       DType::kF32, ys, threads);
    const bool has_dilation = dv[0] != 1 || dv[rank - 1] != 1;
    INFO("trial " << trial << " rank " << rank << " kernel " << r.kernel);
    CHECK(r.kernel == (has_dilation ? "maxpool_reference" : "maxpool2d_rows"));
    REQUIRE(r.bytes.size() == want.size() * sizeof(float));
    CHECK(std::memcmp(r.bytes.data(), want.data(), r.bytes.size()) == 0);
    (has_dilation ? dilated : fast) += 1;
  }
  CHECK(fast > 300);
  CHECK(dilated > 20);
}

TEST_CASE("Softmax: opset-13 axis semantics and legacy 2-D coercion", "[unit][runtime][ops]") {
  const float e1 = std::exp(1.f), e2 = std::exp(2.f);
  auto last = run_ok_op(fb::OpType_Softmax, {act<float>({1, 3}, {0, 1, 2})}, {}, DType::kF32, {1, 3});
  const float s = 1 + e1 + e2;
  require_close(last.as<float>(), {1 / s, e1 / s, e2 / s});
  auto ax0 = run_ok_op(fb::OpType_Softmax, {act<float>({2, 2}, {0, 5, 1, 5})}, {A::Int(fb::AttrKey_axis, 0)}, DType::kF32,
                       {2, 2});
  require_close(ax0.as<float>(), {1 / (1 + e1), 0.5f, e1 / (1 + e1), 0.5f});
  // [1,2,2] with axis 1: opset 13 normalises dim 1 only; legacy normalises the last 4 together.
  const std::vector<float> x = {0, 1, 1, 0};
  auto o13 = run_ok_op(fb::OpType_Softmax, {act<float>({1, 2, 2}, x)}, {A::Int(fb::AttrKey_axis, 1)}, DType::kF32, {1, 2, 2});
  require_close(o13.as<float>(), {1 / (1 + e1), e1 / (1 + e1), e1 / (1 + e1), 1 / (1 + e1)});
  auto leg = run_ok_op(fb::OpType_Softmax, {act<float>({1, 2, 2}, x)},
                       {A::Int(fb::AttrKey_axis, 1), A::Int(fb::AttrKey_softmax_legacy_2d, 1)}, DType::kF32, {1, 2, 2});
  const float t = 2 + 2 * e1;
  require_close(leg.as<float>(), {1 / t, e1 / t, e1 / t, 1 / t});
}

TEST_CASE("LayerNormalization", "[unit][runtime][ops]") {
  const float inv = 1.f / std::sqrt(1.25f + 1e-5f);
  auto r = run_ok_op(fb::OpType_LayerNormalization,
                     {act<float>({2, 4}, {1, 2, 3, 4, 2, 2, 2, 2}), cst<float>({4}, {1, 1, 2, 2}), cst<float>({4}, {0, 0, 0, 1})},
                     {}, DType::kF32, {2, 4});
  require_close(r.as<float>(), {-1.5f * inv, -0.5f * inv, 2 * 0.5f * inv, 2 * 1.5f * inv + 1, 0, 0, 0, 1}, 1e-5f);
  auto ax = run_ok_op(fb::OpType_LayerNormalization, {act<float>({1, 2, 2}, {1, 3, 5, 7}), cst<float>({2, 2}, {1, 1, 1, 1})},
                      {A::Int(fb::AttrKey_axis, 1), A::Float(fb::AttrKey_epsilon, 0.f)}, DType::kF32, {1, 2, 2});
  const float sd = std::sqrt(5.f);
  require_close(ax.as<float>(), {-3 / sd, -1 / sd, 1 / sd, 3 / sd}, 1e-5f);
}

TEST_CASE("ReduceMean and ReduceSum: axes, keepdims, noop_with_empty_axes", "[unit][runtime][ops]") {
  const auto x = iota_f(6, 1.f);  // [[1,2,3],[4,5,6]]
  auto m1 = run_ok_op(fb::OpType_ReduceMean, {act<float>({2, 3}, x)},
                      {A::Ints(fb::AttrKey_axes, {1}), A::Int(fb::AttrKey_keepdims, 0)}, DType::kF32, {2});
  CHECK(m1.as<float>() == std::vector<float>{2, 5});
  auto s0 = run_ok_op(fb::OpType_ReduceSum, {act<float>({2, 3}, x), cst<int64_t>({1}, {-2})}, {}, DType::kF32, {1, 3});
  CHECK(s0.as<float>() == std::vector<float>{5, 7, 9});
  auto all = run_ok_op(fb::OpType_ReduceSum, {act<float>({2, 3}, x)}, {}, DType::kF32, {1, 1});
  CHECK(all.as<float>() == std::vector<float>{21});
  auto noop = run_ok_op(fb::OpType_ReduceSum, {act<float>({2, 3}, x)}, {A::Int(fb::AttrKey_noop_with_empty_axes, 1)},
                        DType::kF32, {2, 3});
  CHECK(noop.as<float>() == x);
  auto both = run_ok_op(fb::OpType_ReduceMean, {act<float>({2, 3, 2}, iota_f(12))},
                        {A::Ints(fb::AttrKey_axes, {0, 2})}, DType::kF32, {1, 3, 1});
  CHECK(both.as<float>() == std::vector<float>{3.5f, 5.5f, 7.5f});
}
