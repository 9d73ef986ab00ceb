// The int8 ops through the whole runtime (writer -> load -> prepare -> run): goldens computed by hand
// from the one requantization rule (docs/quantization.md §2), the quant carried by layout ops, the
// reference and the best int8 set giving the same bytes, 1 vs 2 threads, and every rejection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace {

using mcrt::Attribute;
using mcrt::DType;
using mcrt::ModelWriter;
using mcrt::QuantParams;
namespace fb = mcrt::fb;

QuantParams pt(float s, int64_t z) { return QuantParams{{s}, {z}, 0}; }

int act_i8(ModelWriter& w, const std::string& name, std::vector<int64_t> shape, float s, int64_t z) {
  const int t = w.add_tensor(name, DType::kI8, std::move(shape));
  w.set_quantization(t, pt(s, z));
  return t;
}

int weight_i8(ModelWriter& w, const std::string& name, std::vector<int64_t> shape, const std::vector<int8_t>& v,
              std::vector<float> scales, int axis) {
  const int t = w.add_weight(name, DType::kI8, std::move(shape), v.data(), v.size());
  w.set_quantization(t, QuantParams{std::move(scales), {}, axis});
  return t;
}

int bias_i32(ModelWriter& w, const std::string& name, const std::vector<int32_t>& v) {
  return w.add_weight(name, DType::kI32, {(int64_t)v.size()}, v.data(), v.size() * 4);
}

struct Run {
  mcrt::Status status;
  std::vector<uint8_t> out;
  std::string kernel;
};

// Loads, prepares (options), feeds the inputs' bytes in order, runs; out = output 0's bytes.
Run run(const ModelWriter& w, const std::vector<std::vector<uint8_t>>& inputs, mcrt::PrepareOptions opt = {}) {
  Run r;
  std::vector<uint8_t> bytes;
  r.status = w.finish(&bytes);
  std::unique_ptr<mcrt::Model> m;
  if (r.status.ok()) r.status = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
  std::unique_ptr<mcrt::Interpreter> it;
  if (r.status.ok()) r.status = mcrt::Interpreter::prepare(*m, opt, &it);
  if (!r.status.ok()) return r;
  for (size_t i = 0; i < inputs.size(); ++i) {
    mcrt::TensorInfo t = it->input(i);
    REQUIRE(t.bytes == inputs[i].size());
    std::memcpy(t.data, inputs[i].data(), t.bytes);
  }
  r.status = it->run();
  mcrt::TensorInfo o = it->output(0);
  r.out.assign(static_cast<uint8_t*>(o.data), static_cast<uint8_t*>(o.data) + o.bytes);
  r.kernel = it->step(0).kernel;
  return r;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::vector<int8_t> as_i8(const std::vector<uint8_t>& b) { return std::vector<int8_t>(b.begin(), b.end()); }

}  // namespace

TEST_CASE("QLinearConv: hand-computed golden with per-channel scales, ties to even, fused Relu", "[int8][ops]") {
  // x [1,1,2,2] = {1, 2, 3, 4}, s_x = 0.5, z_x = 1 -> x - z_x = {0, 1, 2, 3}.
  // W [2,1,2,2]: channel 0 all 1 (s_w 0.25), channel 1 = {1,-1,1,-1} (s_w 1.0). bias {1, -4}.
  // acc0 = 0+1+2+3 + 1 = 7; acc1 = 0-1+2-3 - 4 = -6. s_y = 1, z_y = -3.
  // M0 = 0.5*0.25/1 = 0.125 -> 7*0.125 = 0.875 -> 1 -> y0 = -2.
  // M1 = 0.5*1/1 = 0.5 -> -6*0.5 = -3 -> y1 = -6; with act_min = z_y (Relu) -> -3.
  for (bool relu : {false, true}) {
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 1, 2, 2}, 0.5f, 1);
    const int W = weight_i8(w, "w", {2, 1, 2, 2}, {1, 1, 1, 1, 1, -1, 1, -1}, {0.25f, 1.f}, 0);
    const int b = bias_i32(w, "b", {1, -4});
    const int y = act_i8(w, "y", {1, 2, 1, 1}, 1.f, -3);
    std::vector<Attribute> attrs;
    if (relu) attrs.push_back(Attribute::Int(fb::AttrKey_act_min, -3));
    w.add_node(fb::OpType_QLinearConv, {x, W, b}, {y}, attrs, "qconv");
    w.set_inputs({x});
    w.set_outputs({y});
    const Run r = run(w, {bytes_of(std::vector<int8_t>{1, 2, 3, 4})});
    INFO(r.status.to_string());
    REQUIRE(r.status.ok());
    REQUIRE(as_i8(r.out) == std::vector<int8_t>{-2, (int8_t)(relu ? -3 : -6)});
    REQUIRE(r.kernel.find("qconv2d_") == 0);
  }
  // Tie: acc = 5 with M = 0.5 -> 2.5 -> 2 (even), y = 2 + 0.
  ModelWriter w;
  const int x = act_i8(w, "x", {1, 1, 1, 1}, 1.f, 0);
  const int W = weight_i8(w, "w", {1, 1, 1, 1}, {1}, {0.5f}, 0);
  const int y = act_i8(w, "y", {1, 1, 1, 1}, 1.f, 0);
  w.add_node(fb::OpType_QLinearConv, {x, W}, {y}, {}, "qconv");
  w.set_inputs({x});
  w.set_outputs({y});
  REQUIRE(as_i8(run(w, {bytes_of(std::vector<int8_t>{5})}).out) == std::vector<int8_t>{2});
  REQUIRE(as_i8(run(w, {bytes_of(std::vector<int8_t>{7})}).out) == std::vector<int8_t>{4});   // 3.5 -> 4
  REQUIRE(as_i8(run(w, {bytes_of(std::vector<int8_t>{-3})}).out) == std::vector<int8_t>{-2}); // -1.5 -> -2
}

namespace {

// A conv model with random data; returns the output bytes under the given options.
ModelWriter conv_model(int N, int C, int H, int Wd, int M, int k, int stride, int pad, int group, uint32_t seed,
                       std::vector<uint8_t>* input) {
  uint32_t s = seed;
  auto rnd = [&](int lo, int hi) {
    s = s * 1664525u + 1013904223u;
    return lo + (int)((s >> 8) % (uint32_t)(hi - lo + 1));
  };
  ModelWriter w;
  const int x = act_i8(w, "x", {N, C, H, Wd}, 0.02f, 3);
  std::vector<int8_t> wv((size_t)M * (C / group) * k * k);
  for (int8_t& v : wv) v = (int8_t)rnd(-127, 127);
  std::vector<float> sc((size_t)M);
  for (float& v : sc) v = 0.001f * (float)rnd(1, 9);
  const int W = weight_i8(w, "w", {M, C / group, k, k}, wv, sc, 0);
  std::vector<int32_t> bv((size_t)M);
  for (int32_t& v : bv) v = rnd(-500, 500);
  const int b = bias_i32(w, "b", bv);
  const int OH = (H + 2 * pad - k) / stride + 1, OW = (Wd + 2 * pad - k) / stride + 1;
  const int y = act_i8(w, "y", {N, M, OH, OW}, 0.05f, -7);
  w.add_node(fb::OpType_QLinearConv, {x, W, b}, {y},
             {Attribute::Ints(fb::AttrKey_strides, {stride, stride}),
              Attribute::Ints(fb::AttrKey_pads, {pad, pad, pad, pad}), Attribute::Int(fb::AttrKey_group, group)},
             "conv");
  w.set_inputs({x});
  w.set_outputs({y});
  input->resize((size_t)N * C * H * Wd);
  for (uint8_t& v : *input) v = (uint8_t)rnd(0, 255);
  return w;
}

}  // namespace

TEST_CASE("QLinearConv: best set == reference set, 1 == 2 threads (GEMM, grouped, depthwise)", "[int8][ops][threads]") {
  struct C {
    int N, C, H, W, M, k, s, p, g;
  };
  for (const C& c : {C{1, 3, 11, 13, 17, 3, 1, 1, 1}, C{2, 8, 9, 9, 12, 3, 2, 1, 2}, C{1, 16, 15, 15, 16, 3, 1, 1, 16},
                     C{1, 5, 7, 7, 5, 5, 2, 2, 5}, C{1, 24, 6, 6, 40, 1, 1, 0, 1}}) {
    std::vector<uint8_t> in;
    const ModelWriter w = conv_model(c.N, c.C, c.H, c.W, c.M, c.k, c.s, c.p, c.g, 7u + (uint32_t)c.M, &in);
    mcrt::PrepareOptions ref;
    ref.int8_kernels = &mcrt::int8_kernels_reference();
    const Run a = run(w, {in}, ref);
    mcrt::PrepareOptions two;
    two.threads = 2;
    const Run b = run(w, {in}), t = run(w, {in}, two);
    INFO(b.kernel << " vs " << a.kernel);
    REQUIRE(a.status.ok());
    REQUIRE(b.status.ok());
    REQUIRE(t.status.ok());
    REQUIRE(a.out == b.out);
    REQUIRE(b.out == t.out);
    if (c.g == c.C && c.g == c.M) REQUIRE(b.kernel.find("qconv2d_depthwise_") == 0);
  }
}

TEST_CASE("QLinearMatMul: golden with batch rows and bias; best == reference", "[int8][ops]") {
  // x [2,3] (s 1, z 0) = {{1,2,3},{-1,0,4}}, B [3,2] = {{1,0},{0,1},{1,1}} s_w {1, 0.5}, bias {0, 1}.
  // row0: acc = {1+3, 2+3+1} = {4, 6}; row1: {-1+4, 0+4+1} = {3, 5}. s_y = 2, z_y = 1:
  // M = {0.5, 0.25}: {2, 1.5->2} -> {3, 3}; {1.5->2, 1.25->1} -> {3, 2}.
  ModelWriter w;
  const int x = act_i8(w, "x", {2, 3}, 1.f, 0);
  const int B = weight_i8(w, "B", {3, 2}, {1, 0, 0, 1, 1, 1}, {1.f, 0.5f}, 1);
  const int b = bias_i32(w, "b", {0, 1});
  const int y = act_i8(w, "y", {2, 2}, 2.f, 1);
  w.add_node(fb::OpType_QLinearMatMul, {x, B, b}, {y}, {}, "mm");
  w.set_inputs({x});
  w.set_outputs({y});
  const Run r = run(w, {bytes_of(std::vector<int8_t>{1, 2, 3, -1, 0, 4})});
  INFO(r.status.to_string());
  REQUIRE(r.status.ok());
  REQUIRE(as_i8(r.out) == std::vector<int8_t>{3, 3, 3, 2});
  // A bigger batched case: the best set equals the reference, 1 == 2 threads.
  ModelWriter w2;
  const int K = 37, N = 29, R = 6;
  std::vector<int8_t> bv((size_t)K * N), xv((size_t)R * K);
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = (int8_t)((int)(i * 37 % 255) - 127);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = (int8_t)((int)(i * 91 % 256) - 128);
  const int x2 = act_i8(w2, "x", {2, 3, K}, 0.1f, -4);
  const int B2 = weight_i8(w2, "B", {K, N}, bv, std::vector<float>((size_t)N, 0.003f), 1);
  const int y2 = act_i8(w2, "y", {2, 3, N}, 0.7f, 2);
  w2.add_node(fb::OpType_QLinearMatMul, {x2, B2}, {y2}, {}, "mm");
  w2.set_inputs({x2});
  w2.set_outputs({y2});
  mcrt::PrepareOptions ref, two;
  ref.int8_kernels = &mcrt::int8_kernels_reference();
  two.threads = 2;
  const Run a = run(w2, {bytes_of(xv)}, ref), b2 = run(w2, {bytes_of(xv)}), t = run(w2, {bytes_of(xv)}, two);
  REQUIRE(a.status.ok());
  REQUIRE(a.out == b2.out);
  REQUIRE(a.out == t.out);
}

TEST_CASE("DynamicQuantizeMatMul: x quantized per run as DynamicQuantizeLinear, fp32 output", "[int8][ops]") {
  // x = {-1, 0, 1, 2.5}: range [-1, 2.5], scale = 3.5/255, zp = rhe(1/scale) = rhe(72.857) = 73.
  // q = rhe(x/scale) + zp = {-73+73 = 0, 73, 72.857->73 +73 = 146, 182.14->182 +73 = 255}.
  // B [4,1] = {1,1,1,1} s_w 0.5: acc = Σ(q - 73) = -73 + 0 + 73 + 182 = 182 -> y = 182 * (scale*0.5) + 0.25.
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {1, 4});
  const int B = weight_i8(w, "B", {4, 1}, {1, 1, 1, 1}, {0.5f}, 1);
  const int b = w.add_weight_f32("b", {1}, {0.25f});
  const int y = w.add_tensor("y", DType::kF32, {1, 1});
  w.add_node(fb::OpType_DynamicQuantizeMatMul, {x, B, b}, {y}, {}, "dqmm");
  w.set_inputs({x});
  w.set_outputs({y});
  const Run r = run(w, {bytes_of(std::vector<float>{-1.f, 0.f, 1.f, 2.5f})});
  INFO(r.status.to_string());
  REQUIRE(r.status.ok());
  float got;
  std::memcpy(&got, r.out.data(), 4);
  const float scale = 3.5f / 255.f;
  const float want = (float)182 * (scale * 0.5f) + 0.25f;
  REQUIRE(got == want);
  REQUIRE(std::fabs(got - 1.5f) < 0.01f);  // ≈ the fp32 result (-1 + 0 + 1 + 2.5)*0.5 + 0.25
}

TEST_CASE("QLinearAdd: golden with broadcasting and a fused Relu", "[int8][ops]") {
  // a [2,2] (s 0.5, z 0) = {2, 4, -6, 8}; b [2] (s 0.25, z 2) = {6, -2}; y s 1, z -1.
  // a' = {1, 2, -3, 4}; b' = {1, -1} -> sums {2, 1, -2, 3} -> y = {1, 0, -3, 2}; Relu (act_min -1): {1, 0, -1, 2}.
  for (bool relu : {false, true}) {
    ModelWriter w;
    const int a = act_i8(w, "a", {2, 2}, 0.5f, 0);
    const int b = act_i8(w, "b", {2}, 0.25f, 2);
    const int y = act_i8(w, "y", {2, 2}, 1.f, -1);
    std::vector<Attribute> attrs;
    if (relu) attrs.push_back(Attribute::Int(fb::AttrKey_act_min, -1));
    w.add_node(fb::OpType_QLinearAdd, {a, b}, {y}, attrs, "add");
    w.set_inputs({a, b});
    w.set_outputs({y});
    const Run r = run(w, {bytes_of(std::vector<int8_t>{2, 4, -6, 8}), bytes_of(std::vector<int8_t>{6, -2})});
    INFO(r.status.to_string());
    REQUIRE(r.status.ok());
    REQUIRE(as_i8(r.out) == (relu ? std::vector<int8_t>{1, 0, -1, 2} : std::vector<int8_t>{1, 0, -3, 2}));
  }
}

TEST_CASE("QLinearAveragePool, QLinearGlobalAveragePool, int8 MaxPool: goldens", "[int8][ops]") {
  // x [1,1,2,3] (s 1, z 1) = {1, 2, 3, 4, 5, 6} -> x - z = {0, 1, 2, 3, 4, 5}.
  const std::vector<int8_t> xv = {1, 2, 3, 4, 5, 6};
  {  // GAP: Σ = 15, count 6, s_y 2 z_y 0: 15 * (1/(2*6)) = 1.25 -> 1.
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 1, 2, 3}, 1.f, 1);
    const int y = act_i8(w, "y", {1, 1, 1, 1}, 2.f, 0);
    w.add_node(fb::OpType_QLinearGlobalAveragePool, {x}, {y}, {}, "gap");
    w.set_inputs({x});
    w.set_outputs({y});
    const Run r = run(w, {bytes_of(xv)});
    REQUIRE(r.status.ok());
    REQUIRE(as_i8(r.out) == std::vector<int8_t>{1});
  }
  {  // AveragePool 2x2 stride 1: windows {0,1,3,4} = 8 -> 8/4 = 2 ; {1,2,4,5} = 12 -> 3. s_y 0.8, z_y 5:
     // 8 * (1/(0.8*4)) = 2.5 -> 2 -> 7; 12 * 0.3125 = 3.75 -> 4 -> 9.
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 1, 2, 3}, 1.f, 1);
    const int y = act_i8(w, "y", {1, 1, 1, 2}, 0.8f, 5);
    w.add_node(fb::OpType_QLinearAveragePool, {x}, {y}, {Attribute::Ints(fb::AttrKey_kernel_shape, {2, 2})}, "ap");
    w.set_inputs({x});
    w.set_outputs({y});
    const Run r = run(w, {bytes_of(xv)});
    INFO(r.status.to_string());
    REQUIRE(r.status.ok());
    REQUIRE(as_i8(r.out) == std::vector<int8_t>{7, 9});
  }
  {  // MaxPool 2x2 then Flatten: {5, 6}; both outputs keep the input's quant.
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 1, 2, 3}, 1.f, 1);
    const int m = w.add_tensor("m", DType::kI8, {1, 1, 1, 2});
    const int f = w.add_tensor("f", DType::kI8, {1, 2});
    const int y = act_i8(w, "y", {1, 2}, 1.f, 0);
    const int B = weight_i8(w, "B", {2, 2}, {1, 0, 0, 1}, {1.f}, 1);
    w.add_node(fb::OpType_MaxPool, {x}, {m}, {Attribute::Ints(fb::AttrKey_kernel_shape, {2, 2})}, "mp");
    w.add_node(fb::OpType_Flatten, {m}, {f}, {}, "flat");
    // QLinearMatMul with the identity reads f's carried quant (s 1, z 1): y = f - 1 = {4, 5}.
    w.add_node(fb::OpType_QLinearMatMul, {f, B}, {y}, {}, "mm");
    w.set_inputs({x});
    w.set_outputs({y});
    const Run r = run(w, {bytes_of(xv)});
    INFO(r.status.to_string());
    REQUIRE(r.status.ok());
    REQUIRE(as_i8(r.out) == std::vector<int8_t>{4, 5});
  }
}

TEST_CASE("QLinearConcat: copy when parameters match, requantize otherwise", "[int8][ops]") {
  // a [1,2] (s 1, z 0) = {3, -4} copied (y s 1, z 0); b [1,1] (s 0.5, z 2) = {7}: 0.5*(7-2) = 2.5 -> 2.
  ModelWriter w;
  const int a = act_i8(w, "a", {1, 2}, 1.f, 0);
  const int b = act_i8(w, "b", {1, 1}, 0.5f, 2);
  const int y = act_i8(w, "y", {1, 3}, 1.f, 0);
  w.add_node(fb::OpType_QLinearConcat, {a, b}, {y}, {Attribute::Int(fb::AttrKey_axis, 1)}, "cat");
  w.set_inputs({a, b});
  w.set_outputs({y});
  const Run r = run(w, {bytes_of(std::vector<int8_t>{3, -4}), bytes_of(std::vector<int8_t>{7})});
  INFO(r.status.to_string());
  REQUIRE(r.status.ok());
  REQUIRE(as_i8(r.out) == std::vector<int8_t>{3, -4, 2});
}

namespace {

mcrt::Status conv_status(std::vector<int64_t> wshape, std::vector<int8_t> wv, std::vector<float> ws, int axis,
                         bool out_quant = true, std::vector<Attribute> attrs = {}, int64_t C = 1) {
  ModelWriter w;
  const int x = act_i8(w, "x", {1, C, 4, 4}, 1.f, 0);
  const int W = weight_i8(w, "w", std::move(wshape), wv, std::move(ws), axis);
  const int y = out_quant ? act_i8(w, "y", {}, 1.f, 0) : w.add_tensor("y", DType::kI8, {});
  w.add_node(fb::OpType_QLinearConv, {x, W}, {y}, std::move(attrs), "qconv");
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  mcrt::Status s = w.finish(&bytes);
  std::unique_ptr<mcrt::Model> m;
  if (s.ok()) s = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
  std::unique_ptr<mcrt::Interpreter> it;
  if (s.ok()) s = mcrt::Interpreter::prepare(*m, {}, &it);
  return s;
}

}  // namespace

TEST_CASE("int8 ops: rejections at load and prepare", "[int8][ops][errors]") {
  using mcrt::StatusCode;
  SECTION("weight scales on the wrong axis (§5.1, load)") {
    const mcrt::Status s = conv_status({2, 1, 1, 1}, {1, 1}, {1.f, 1.f}, 1 /*axis 1 has 1 channel*/);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
  }
  SECTION("per-channel scale count differs from the channels (§4.3, load)") {
    const mcrt::Status s = conv_status({2, 1, 1, 1}, {1, 1}, {1.f, 1.f, 1.f}, 0);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
    REQUIRE(s.to_string().find("§4.3") != std::string::npos);
  }
  SECTION("weight -128 outside [-127, 127]") {
    const mcrt::Status s = conv_status({1, 1, 1, 1}, {-128}, {1.f}, 0);
    REQUIRE(s.code() == StatusCode::kUnsupported);
    REQUIRE(s.to_string().find("-127") != std::string::npos);
  }
  SECTION("output without quantization parameters") {
    const mcrt::Status s = conv_status({1, 1, 1, 1}, {1}, {1.f}, 0, false);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
  }
  SECTION("act_min > act_max") {
    const mcrt::Status s = conv_status({1, 1, 1, 1}, {1}, {1.f}, 0, true,
                                       {Attribute::Int(fb::AttrKey_act_min, 5), Attribute::Int(fb::AttrKey_act_max, 4)});
    REQUIRE(s.code() == StatusCode::kInvalidModel);
  }
  SECTION("K that could overflow int32 (K*255*127 >= 2^31)") {
    const int64_t C = 66400;  // K = C = 66400 > 66311
    const mcrt::Status s = conv_status({1, C, 1, 1}, std::vector<int8_t>((size_t)C, 1), {1.f}, 0, true, {}, C);
    REQUIRE(s.code() == StatusCode::kUnsupported);
    REQUIRE(s.to_string().find("overflow") != std::string::npos);
  }
  SECTION("multiplier not finite") {
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 1}, 3e38f, 0);
    const int B = weight_i8(w, "B", {1, 1}, {1}, {3e38f}, 1);
    const int y = act_i8(w, "y", {1, 1}, 1e-30f, 0);
    w.add_node(fb::OpType_QLinearMatMul, {x, B}, {y}, {}, "mm");
    w.set_inputs({x});
    w.set_outputs({y});
    REQUIRE(run(w, {{0}}).status.code() == StatusCode::kUnsupported);
  }
  SECTION("int8 layout op whose output declares other parameters") {
    ModelWriter w;
    const int x = act_i8(w, "x", {1, 4}, 1.f, 0);
    const int y = act_i8(w, "y", {4}, 2.f, 0);
    const int shape = w.add_weight_i64("s", {1}, {4});
    w.add_node(fb::OpType_Reshape, {x, shape}, {y}, {}, "r");
    w.set_inputs({x});
    w.set_outputs({y});
    REQUIRE(run(w, {{0, 0, 0, 0}}).status.code() == StatusCode::kInvalidModel);
  }
  SECTION("QLinearAdd input that is not int8") {
    ModelWriter w;
    const int a = w.add_tensor("a", DType::kF32, {2});
    const int b = act_i8(w, "b", {2}, 1.f, 0);
    const int y = act_i8(w, "y", {2}, 1.f, 0);
    w.add_node(fb::OpType_QLinearAdd, {a, b}, {y}, {}, "add");
    w.set_inputs({a, b});
    w.set_outputs({y});
    REQUIRE(run(w, {std::vector<uint8_t>(8), {0, 0}}).status.code() == StatusCode::kUnsupported);
  }
}

namespace {

// The QLinearConv rule written directly (no im2col, no packing): the specification the GEMM path
// must reproduce for any geometry.
std::vector<int8_t> direct_qconv(const std::vector<int8_t>& x, int N, int C, int H, int W, const std::vector<int8_t>& w,
                                 int M, int kh, int kw, int s, int d, int pt, int pl, int pb, int pr, int group,
                                 const std::vector<int32_t>& bias, float sx, int zx, const std::vector<float>& sw,
                                 float sy, int zy, int* OHo, int* OWo) {
  const int OH = (H + pt + pb - d * (kh - 1) - 1) / s + 1, OW = (W + pl + pr - d * (kw - 1) - 1) / s + 1;
  *OHo = OH;
  *OWo = OW;
  const int cg = C / group, mg = M / group;
  std::vector<int8_t> y((size_t)N * M * OH * OW);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m)
      for (int oy = 0; oy < OH; ++oy)
        for (int ox = 0; ox < OW; ++ox) {
          int64_t acc = bias[(size_t)m];
          for (int c = 0; c < cg; ++c)
            for (int ky = 0; ky < kh; ++ky)
              for (int kx = 0; kx < kw; ++kx) {
                const int iy = oy * s - pt + ky * d, ix = ox * s - pl + kx * d;
                const int ci = (m / mg) * cg + c;
                const int xv = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? zx : x[(((size_t)n * C + ci) * H + iy) * W + ix];
                acc += (int64_t)(xv - zx) * w[(((size_t)m * cg + c) * kh + ky) * kw + kx];
              }
          const float mult = (sx * sw[(size_t)m]) / sy;
          const double r = (double)std::nearbyint((float)acc * mult) + zy;
          y[(((size_t)n * M + m) * OH + oy) * OW + ox] = (int8_t)std::max(-128.0, std::min(127.0, r));
        }
  return y;
}

}  // namespace

TEST_CASE("QLinearConv equals the rule written directly (groups, strides, pads, dilations, 1-D)", "[int8][ops]") {
  struct G {
    int N, C, H, W, M, kh, kw, s, d, pt, pl, pb, pr, group;
  };
  uint32_t seed = 99;
  auto rnd = [&](int lo, int hi) {
    seed = seed * 1664525u + 1013904223u;
    return lo + (int)((seed >> 8) % (uint32_t)(hi - lo + 1));
  };
  for (const G& c : {G{1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1}, G{2, 4, 8, 7, 6, 3, 2, 2, 1, 0, 1, 1, 0, 2},
                     G{1, 5, 11, 11, 7, 3, 3, 1, 2, 2, 2, 2, 2, 1}, G{1, 6, 9, 10, 6, 5, 5, 3, 1, 2, 2, 2, 2, 6},
                     G{1, 2, 1, 17, 3, 1, 5, 2, 1, 0, 2, 0, 1, 1}, G{1, 9, 5, 5, 13, 1, 1, 1, 1, 0, 0, 0, 0, 1},
                     G{1, 8, 6, 6, 8, 3, 3, 2, 1, 1, 1, 0, 0, 8},
                     // strided 1x1 (implicit GEMM on stride phase 0): odd sizes, batch 2, stride 3
                     G{1, 9, 9, 10, 13, 1, 1, 2, 1, 0, 0, 0, 0, 1}, G{2, 5, 8, 8, 4, 1, 1, 3, 1, 0, 0, 0, 0, 1},
                     // one input channel (stems: mobile/resnet, LeNet-5 conv1 at batch 2, 1-D), depthwise on
                     // planes of 7x7 and 4x4 and a stride-2 28x28
                     G{1, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1}, G{2, 1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, 1},
                     G{1, 1, 1, 23, 4, 1, 3, 2, 1, 0, 1, 0, 1, 1}, G{1, 24, 7, 7, 24, 3, 3, 1, 1, 1, 1, 1, 1, 24},
                     G{2, 40, 4, 4, 40, 3, 3, 1, 1, 1, 1, 1, 1, 40}, G{1, 16, 28, 28, 16, 3, 3, 2, 1, 1, 1, 1, 1, 16}}) {
    std::vector<int8_t> x((size_t)c.N * c.C * c.H * c.W), w((size_t)c.M * (c.C / c.group) * c.kh * c.kw);
    for (int8_t& v : x) v = (int8_t)rnd(-128, 127);
    for (int8_t& v : w) v = (int8_t)rnd(-127, 127);
    std::vector<int32_t> bias((size_t)c.M);
    for (int32_t& v : bias) v = rnd(-2000, 2000);
    std::vector<float> sw((size_t)c.M);
    for (float& v : sw) v = 0.002f * (float)rnd(1, 9);
    const float sx = 0.03f, sy = 0.07f;
    const int zx = rnd(-20, 20), zy = rnd(-20, 20);
    int OH, OW;
    const std::vector<int8_t> want = direct_qconv(x, c.N, c.C, c.H, c.W, w, c.M, c.kh, c.kw, c.s, c.d, c.pt, c.pl, c.pb,
                                                  c.pr, c.group, bias, sx, zx, sw, sy, zy, &OH, &OW);
    ModelWriter mw;
    const bool one_d = c.H == 1 && c.kh == 1;
    const int xi = act_i8(mw, "x", one_d ? std::vector<int64_t>{c.N, c.C, c.W} : std::vector<int64_t>{c.N, c.C, c.H, c.W},
                          sx, zx);
    const int wi = weight_i8(mw, "w",
                             one_d ? std::vector<int64_t>{c.M, c.C / c.group, c.kw}
                                   : std::vector<int64_t>{c.M, c.C / c.group, c.kh, c.kw},
                             w, sw, 0);
    const int bi = bias_i32(mw, "b", bias);
    const int yi = act_i8(mw, "y", one_d ? std::vector<int64_t>{c.N, c.M, OW} : std::vector<int64_t>{c.N, c.M, OH, OW},
                          sy, zy);
    std::vector<Attribute> attrs = {Attribute::Int(fb::AttrKey_group, c.group)};
    if (one_d) {
      attrs.push_back(Attribute::Ints(fb::AttrKey_strides, {c.s}));
      attrs.push_back(Attribute::Ints(fb::AttrKey_dilations, {c.d}));
      attrs.push_back(Attribute::Ints(fb::AttrKey_pads, {c.pl, c.pr}));
    } else {
      attrs.push_back(Attribute::Ints(fb::AttrKey_strides, {c.s, c.s}));
      attrs.push_back(Attribute::Ints(fb::AttrKey_dilations, {c.d, c.d}));
      attrs.push_back(Attribute::Ints(fb::AttrKey_pads, {c.pt, c.pl, c.pb, c.pr}));
    }
    mw.add_node(fb::OpType_QLinearConv, {xi, wi, bi}, {yi}, attrs, "conv");
    mw.set_inputs({xi});
    mw.set_outputs({yi});
    for (int mode = 0; mode < 3; ++mode) {  // best set, reference set, best set on 2 threads
      mcrt::PrepareOptions opt;
      if (mode == 1) opt.int8_kernels = &mcrt::int8_kernels_reference();
      if (mode == 2) opt.threads = 2;
      const Run r = run(mw, {bytes_of(x)}, opt);
      INFO(r.status.to_string() << " kernel " << r.kernel << " group " << c.group << " " << c.kh << "x" << c.kw);
      REQUIRE(r.status.ok());
      REQUIRE(as_i8(r.out) == want);
      if (c.kh == 1 && c.kw == 1 && c.s > 1 && c.H > 1) REQUIRE(r.kernel.rfind("qconv2d_1x1_strided_gemm_", 0) == 0);
      // A one-input-channel conv runs the set's conv1 kernel wherever the set has one for the geometry.
      const mcrt::Int8KernelSet& ks = mode == 1 ? mcrt::int8_kernels_reference() : mcrt::int8_kernels_best();
      if (c.C == 1 && c.group == 1 && ks.conv1_packed_size != nullptr) {
        mcrt::ConvGeom g{};
        g.N = c.N;
        g.C = 1;
        g.H = c.H;
        g.W = c.W;
        g.M = c.M;
        g.kh = c.kh;
        g.kw = c.kw;
        g.sh = g.sw = c.s;
        g.dh = g.dw = c.d;
        g.pad_t = one_d ? 0 : c.pt;
        g.pad_b = one_d ? 0 : c.pb;
        g.pad_l = c.pl;
        g.pad_r = c.pr;
        g.group = 1;
        mcrt::conv2d_geom_finish(g);
        if (ks.conv1_packed_size(g) > 0) REQUIRE(r.kernel.rfind("qconv2d_1ch_", 0) == 0);
      }
    }
  }
}

TEST_CASE("int8 MaxPool equals the window maximum (inside windows, pads, overlap, ceil_mode)", "[int8][ops]") {
  struct P {
    int H, W, k, s, pad, ceil;
  };
  uint32_t seed = 5;
  for (const P& c : {P{24, 24, 2, 2, 0, 0}, P{7, 9, 3, 2, 1, 0}, P{6, 6, 3, 1, 0, 0}, P{5, 8, 2, 2, 0, 1}, P{9, 9, 3, 3, 1, 1},
                     P{6, 40, 2, 2, 0, 0}, P{7, 35, 2, 2, 0, 0}, P{8, 8, 2, 2, 0, 0}}) {  // 2x2 s2: SIMD chunks + tails
    const int C = 3;
    std::vector<int8_t> x((size_t)C * c.H * c.W);
    for (int8_t& v : x) {
      seed = seed * 1664525u + 1013904223u;
      v = (int8_t)(seed >> 24);
    }
    auto out_dim = [&](int n) {
      const int span = n + 2 * c.pad - c.k;
      return (c.ceil ? (span + c.s - 1) / c.s : span / c.s) + 1;
    };
    const int OH = out_dim(c.H), OW = out_dim(c.W);
    std::vector<int8_t> want((size_t)C * OH * OW);
    for (int ch = 0; ch < C; ++ch)
      for (int oy = 0; oy < OH; ++oy)
        for (int ox = 0; ox < OW; ++ox) {
          int m = -128;
          for (int ky = 0; ky < c.k; ++ky)
            for (int kx = 0; kx < c.k; ++kx) {
              const int iy = oy * c.s - c.pad + ky, ix = ox * c.s - c.pad + kx;
              if (iy >= 0 && iy < c.H && ix >= 0 && ix < c.W) m = std::max(m, (int)x[((size_t)ch * c.H + iy) * c.W + ix]);
            }
          want[((size_t)ch * OH + oy) * OW + ox] = (int8_t)m;
        }
    ModelWriter w;
    const int xi = act_i8(w, "x", {1, C, c.H, c.W}, 0.1f, 3);
    const int yi = w.add_tensor("y", DType::kI8, {1, C, OH, OW});
    w.add_node(fb::OpType_MaxPool, {xi}, {yi},
               {Attribute::Ints(fb::AttrKey_kernel_shape, {c.k, c.k}), Attribute::Ints(fb::AttrKey_strides, {c.s, c.s}),
                Attribute::Ints(fb::AttrKey_pads, {c.pad, c.pad, c.pad, c.pad}), Attribute::Int(fb::AttrKey_ceil_mode, c.ceil)},
               "mp");
    w.set_inputs({xi});
    w.set_outputs({yi});
    for (int mode = 0; mode < 3; ++mode) {  // best set 1 thread, best set 2 threads, reference set
      mcrt::PrepareOptions opt;
      if (mode == 1) opt.threads = 2;
      if (mode == 2) opt.int8_kernels = &mcrt::int8_kernels_reference();
      const Run r = run(w, {bytes_of(x)}, opt);
      INFO(r.status.to_string() << " " << c.H << "x" << c.W << " k" << c.k << " s" << c.s << " p" << c.pad << " mode "
                                << mode << " kernel " << r.kernel);
      REQUIRE(r.status.ok());
      REQUIRE(as_i8(r.out) == want);
      const bool simd_set = mode != 2 && std::string(mcrt::int8_kernels_best().name) != "reference";
#if defined(__SSE2__)
      if (c.k == 2 && c.s == 2 && c.pad == 0 && c.ceil == 0 && simd_set) REQUIRE(r.kernel == "maxpool_s8_2x2s2_sse2");
#endif
      if (!simd_set) REQUIRE(r.kernel == "maxpool_s8_reference");
    }
  }
}

TEST_CASE("int8 Transpose, Unsqueeze, Squeeze keep the input's quant for the next int8 op", "[int8][ops]") {
  // x [2,3] (s 0.5, z 1) -> Transpose -> [3,2] -> Unsqueeze(0) -> [1,3,2] -> Squeeze(0) -> [3,2]
  // -> QLinearMatMul with B = I (2x2, s 1), y (s 0.5, z 0): y = rhe((0.5*1/0.5) * (x^T - 1)) = x^T - 1.
  ModelWriter w;
  const int x = act_i8(w, "x", {2, 3}, 0.5f, 1);
  const int t = w.add_tensor("t", DType::kI8, {3, 2});
  const int u = w.add_tensor("u", DType::kI8, {1, 3, 2});
  const int s = w.add_tensor("s", DType::kI8, {3, 2});
  const int ax = w.add_weight_i64("ax", {1}, {0});
  const int B = weight_i8(w, "B", {2, 2}, {1, 0, 0, 1}, {1.f}, 1);
  const int y = act_i8(w, "y", {3, 2}, 0.5f, 0);
  w.add_node(fb::OpType_Transpose, {x}, {t}, {}, "tr");
  w.add_node(fb::OpType_Unsqueeze, {t, ax}, {u}, {}, "un");
  w.add_node(fb::OpType_Squeeze, {u, ax}, {s}, {}, "sq");
  w.add_node(fb::OpType_QLinearMatMul, {s, B}, {y}, {}, "mm");
  w.set_inputs({x});
  w.set_outputs({y});
  const Run r = run(w, {bytes_of(std::vector<int8_t>{1, 2, 3, 4, 5, 6})});
  INFO(r.status.to_string());
  REQUIRE(r.status.ok());
  // x^T = {{1,4},{2,5},{3,6}} -> minus 1
  REQUIRE(as_i8(r.out) == std::vector<int8_t>{0, 3, 1, 4, 2, 5});
}

namespace {

// An int8 residual block: x -> conv a (3x3 pad 1, Relu-clamped) -> t -> conv b (k x k, stride s, group g) -> u;
// the shortcut is x itself (s == 1, C == M) or conv c (1x1 stride s) of x -> v; then QLinearAdd(u, shortcut)
// (or the operands swapped), with a Relu (act_min = z_y). u_extra: u is also a graph output (a second reader,
// so nothing may fuse into conv b).
struct Block {
  int N, C, H, W, M, k, s, g;
  bool swap, conv_shortcut, u_extra;
};

ModelWriter block_model(const Block& b, uint32_t seed, std::vector<uint8_t>* input) {
  auto rnd = [&](int lo, int hi) {
    seed = seed * 1664525u + 1013904223u;
    return lo + (int)((seed >> 8) % (uint32_t)(hi - lo + 1));
  };
  auto vec8 = [&](size_t n, int lo, int hi) {
    std::vector<int8_t> v(n);
    for (int8_t& e : v) e = (int8_t)rnd(lo, hi);
    return v;
  };
  auto bias = [&](int n) {
    std::vector<int32_t> v((size_t)n);
    for (int32_t& e : v) e = rnd(-3000, 3000);
    return v;
  };
  auto scales = [&](int n) {
    std::vector<float> v((size_t)n);
    for (float& e : v) e = 0.001f * (float)rnd(2, 9);
    return v;
  };
  ModelWriter w;
  const int OH = (b.H - 1) / b.s + 1, OW = (b.W - 1) / b.s + 1, p = b.k / 2;
  const int x = act_i8(w, "x", {b.N, b.C, b.H, b.W}, 0.04f, rnd(-10, 10));
  const int t = act_i8(w, "t", {b.N, b.C, b.H, b.W}, 0.05f, -20);
  const int u = act_i8(w, "u", {b.N, b.M, OH, OW}, 0.06f, rnd(-10, 10));
  const int y = act_i8(w, "y", {b.N, b.M, OH, OW}, 0.09f, -5);
  const int wa = weight_i8(w, "wa", {b.C, b.C, 3, 3}, vec8((size_t)b.C * b.C * 9, -127, 127), scales(b.C), 0);
  w.add_node(fb::OpType_QLinearConv, {x, wa, bias_i32(w, "ba", bias(b.C))}, {t},
             {Attribute::Ints(fb::AttrKey_pads, {1, 1, 1, 1}), Attribute::Int(fb::AttrKey_act_min, -20)}, "conv_a");
  const int wb = weight_i8(w, "wb", {b.M, b.C / b.g, b.k, b.k}, vec8((size_t)b.M * (b.C / b.g) * b.k * b.k, -127, 127),
                           scales(b.M), 0);
  w.add_node(fb::OpType_QLinearConv, {t, wb, bias_i32(w, "bb", bias(b.M))}, {u},
             {Attribute::Ints(fb::AttrKey_pads, {p, p, p, p}), Attribute::Ints(fb::AttrKey_strides, {b.s, b.s}),
              Attribute::Int(fb::AttrKey_group, b.g)},
             "conv_b");
  int sc = x;
  if (b.conv_shortcut) {
    sc = act_i8(w, "v", {b.N, b.M, OH, OW}, 0.03f, rnd(-10, 10));
    const int wc = weight_i8(w, "wc", {b.M, b.C, 1, 1}, vec8((size_t)b.M * b.C, -127, 127), scales(b.M), 0);
    w.add_node(fb::OpType_QLinearConv, {x, wc, bias_i32(w, "bc", bias(b.M))}, {sc},
               {Attribute::Ints(fb::AttrKey_strides, {b.s, b.s})}, "conv_c");
  }
  w.add_node(fb::OpType_QLinearAdd, b.swap ? std::vector<int>{sc, u} : std::vector<int>{u, sc}, {y},
             {Attribute::Int(fb::AttrKey_act_min, -5)}, "add");
  w.set_inputs({x});
  w.set_outputs(b.u_extra ? std::vector<int>{y, u} : std::vector<int>{y});
  *input = bytes_of(vec8((size_t)b.N * b.C * b.H * b.W, -128, 127));
  return w;
}

struct BlockRun {
  std::vector<uint8_t> out;
  size_t steps = 0;
  std::string fused_kernel;  // the step named "...+add", if any
};

BlockRun run_block(const ModelWriter& w, const std::vector<uint8_t>& in, const mcrt::PrepareOptions& opt) {
  BlockRun r;
  std::vector<uint8_t> bytes;
  REQUIRE(w.finish(&bytes).ok());
  std::unique_ptr<mcrt::Model> m;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  const mcrt::Status s = mcrt::Interpreter::prepare(*m, opt, &it);
  INFO(s.to_string());
  REQUIRE(s.ok());
  mcrt::TensorInfo t = it->input(0);
  REQUIRE(t.bytes == in.size());
  std::memcpy(t.data, in.data(), t.bytes);
  REQUIRE(it->run().ok());
  mcrt::TensorInfo o = it->output(0);
  r.out.assign(static_cast<uint8_t*>(o.data), static_cast<uint8_t*>(o.data) + o.bytes);
  r.steps = it->num_steps();
  for (size_t i = 0; i < r.steps; ++i) {
    const std::string k = it->step(i).kernel;
    if (k.size() >= 4 && k.compare(k.size() - 4, 4, "+add") == 0) r.fused_kernel = k;
  }
  return r;
}

}  // namespace

TEST_CASE("QLinearConv + QLinearAdd fused: the same bytes as unfused (sets, threads, operand order, paths)",
          "[int8][ops][fusion]") {
  for (const Block& b : {Block{1, 16, 14, 14, 16, 3, 1, 1, false, false, false},  // identity shortcut, conv is A
                         Block{2, 16, 14, 14, 16, 3, 1, 1, true, false, false},   // conv is B, batch 2
                         Block{1, 16, 14, 14, 32, 3, 2, 1, false, true, false},   // ResNet downsample: fuses into conv c
                         Block{1, 12, 9, 9, 12, 1, 1, 1, true, false, false},     // pointwise conv b
                         Block{1, 16, 7, 7, 16, 3, 1, 16, false, false, false},   // depthwise conv b (add after the kernel)
                         Block{1, 8, 10, 10, 12, 3, 1, 2, true, true, false},     // grouped conv b (im2col)
                         Block{1, 1, 14, 14, 1, 3, 1, 1, false, false, false},    // one input channel (conv1 kernel)
                         Block{2, 1, 28, 28, 16, 3, 1, 1, true, true, false},     // same, a stem with a 1x1 shortcut
                         Block{1, 16, 14, 14, 16, 3, 1, 1, false, false, true}}) {  // u read twice: no fusion
    INFO("block N" << b.N << " C" << b.C << " " << b.H << "x" << b.W << " M" << b.M << " k" << b.k << " s" << b.s
                   << " g" << b.g << " swap " << b.swap << " conv shortcut " << b.conv_shortcut << " u read twice "
                   << b.u_extra);
    std::vector<uint8_t> in;
    const ModelWriter w = block_model(b, 31u + (uint32_t)(b.M * 7 + b.k + b.g), &in);
    mcrt::PrepareOptions unfused;
    unfused.fuse_activations = false;
    const BlockRun plain = run_block(w, in, unfused);
    REQUIRE(plain.fused_kernel.empty());
    mcrt::PrepareOptions ref, two;
    ref.int8_kernels = &mcrt::int8_kernels_reference();
    two.threads = 2;
    for (const mcrt::PrepareOptions* o : {&ref, &two, static_cast<mcrt::PrepareOptions*>(nullptr)}) {
      const BlockRun f = run_block(w, in, o ? *o : mcrt::PrepareOptions());
      INFO("fused kernel " << f.fused_kernel << (o == &ref ? " (reference set)" : o == &two ? " (2 threads)" : ""));
      REQUIRE(f.out == plain.out);
      if (b.u_extra) {
        REQUIRE(f.fused_kernel.empty());
        REQUIRE(f.steps == plain.steps);
      } else {
        REQUIRE(f.fused_kernel.rfind("qconv2d_", 0) == 0);
        REQUIRE(f.steps + 1 == plain.steps);
      }
    }
  }
}
