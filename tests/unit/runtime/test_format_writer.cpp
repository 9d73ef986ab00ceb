// Format and writer: layout, alignment, versions, weight encodings (fp16, int8 + quant,
// sparse, palette), file round trip, dynamic batch, plan introspection.
#include <cmath>
#include <cstdio>

#include "format/file_header.h"
#include "runtime/dtype.h"
#include "runtime_test_support.h"

using namespace mcrt_test;

namespace {

// y = x + w for a constant w built by `add_w`; returns y for input x.
template <class AddW>
std::vector<float> add_const(const std::vector<int64_t>& shape, const std::vector<float>& x, AddW add_w) {
  ModelWriter w;
  const int xi = w.add_tensor("x", DType::kF32, shape);
  const int wi = add_w(w);
  const int yi = w.add_tensor("y", DType::kF32, shape);
  w.add_node(fb::OpType_Add, {xi, wi}, {yi});
  w.set_inputs({xi});
  w.set_outputs({yi});
  Loaded l = build(w);
  set_input(*l.it, 0, x);
  run_ok(*l.it);
  return get_output<float>(*l.it, 0);
}

}  // namespace

TEST_CASE("file header and every weight buffer are 64-byte aligned", "[unit][runtime][format]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {3});
  const int a = w.add_weight_f32("a", {3}, {1, 2, 3});   // 12 bytes: next buffer must still be aligned
  const int b = w.add_weight_f32("b", {3}, {4, 5, 6});
  const int t = w.add_tensor("t", DType::kF32, {3});
  const int y = w.add_tensor("y", DType::kF32, {3});
  w.add_node(fb::OpType_Add, {x, a}, {t});
  w.add_node(fb::OpType_Mul, {t, b}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  std::vector<uint8_t> bytes;
  REQUIRE(w.finish(&bytes).ok());
  REQUIRE(std::memcmp(bytes.data(), "MCRT", 4) == 0);
  mcrt::FileHeader h;
  REQUIRE(mcrt::decode_file_header(bytes.data(), &h));
  CHECK(h.major == mcrt::kFormatMajor);
  CHECK(h.minor == mcrt::kFormatMinor);
  CHECK(h.weights_offset % 64 == 0);
  CHECK(h.weights_offset + h.weights_size == bytes.size());
  std::unique_ptr<mcrt::Model> m;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m).ok());
  for (uint32_t i = 1; i < m->graph().buffers()->size(); ++i)
    CHECK(reinterpret_cast<uintptr_t>(m->buffer_data(i)) % 64 == 0);
  Loaded l = build(w);
  set_input(*l.it, 0, std::vector<float>{1, 1, 1});
  run_ok(*l.it);
  CHECK(get_output<float>(*l.it, 0) == std::vector<float>{8, 15, 24});
}

TEST_CASE("write_file then load_file (mmap) gives the same results", "[unit][runtime][format]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {-1, 2});
  const int a = w.add_weight_f32("a", {2}, {10, 20});
  const int y = w.add_tensor("y", DType::kF32, {-1, 2});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  const std::string path = std::string(MCRT_TEST_TMPDIR) + "/roundtrip.mcrt";
  REQUIRE(w.write_file(path).ok());
  std::unique_ptr<mcrt::Model> m;
  mcrt::Status s = mcrt::Model::load_file(path, &m);
  INFO(s.to_string());
  REQUIRE(s.ok());
  CHECK(reinterpret_cast<uintptr_t>(m->buffer_data(1)) % 64 == 0);
  mcrt::PrepareOptions opt;
  opt.batch = 3;  // resolves the -1 batch dim
  std::unique_ptr<mcrt::Interpreter> it;
  REQUIRE(mcrt::Interpreter::prepare(*m, opt, &it).ok());
  CHECK(it->input(0).shape == std::vector<int64_t>{3, 2});
  CHECK(it->output(0).shape == std::vector<int64_t>{3, 2});
  set_input(*it, 0, std::vector<float>{1, 2, 3, 4, 5, 6});
  run_ok(*it);
  CHECK(get_output<float>(*it, 0) == std::vector<float>{11, 22, 13, 24, 15, 26});
  std::remove(path.c_str());
}

TEST_CASE("a missing file is an I/O error naming the file", "[unit][runtime][format]") {
  std::unique_ptr<mcrt::Model> m;
  mcrt::Status s = mcrt::Model::load_file("/nonexistent/dir/x.mcrt", &m);
  CHECK(s.code() == mcrt::StatusCode::kIoError);
  CHECK(s.message().find("/nonexistent/dir/x.mcrt") != std::string::npos);
}

TEST_CASE("fp16 weights are converted to fp32 at prepare", "[unit][runtime][format]") {
  const std::vector<float> vals = {0.5f, -2.f, 65504.f, 1e-7f};
  auto got = add_const({4}, {0, 0, 0, 0}, [&](ModelWriter& w) {
    std::vector<uint16_t> h;
    for (float v : vals) h.push_back(mcrt::float_to_half(v));
    return w.add_weight("w", DType::kF16, {4}, h.data(), h.size() * 2);
  });
  CHECK(got[0] == 0.5f);
  CHECK(got[1] == -2.f);
  CHECK(got[2] == 65504.f);
  CHECK(got[3] == Approx(1.1920929e-7f).margin(1e-9));  // nearest half subnormal: 2 * 2^-24
  CHECK(mcrt::half_to_float(0x7C00) == INFINITY);
  CHECK(mcrt::float_to_half(1e6f) == 0x7C00);
  CHECK(mcrt::float_to_half(1.0f) == 0x3C00);
}

TEST_CASE("int8 weights with per-channel quantization dequantize at prepare", "[unit][runtime][format]") {
  auto got = add_const({2, 2}, {0, 0, 0, 0}, [&](ModelWriter& w) {
    const int8_t q[] = {1, -2, 3, 4};
    const int t = w.add_weight("w", DType::kI8, {2, 2}, q, 4);
    w.set_quantization(t, {{0.5f, 2.f}, {0, 1}, 0});
    return t;
  });
  CHECK(got == std::vector<float>{0.5f, -1.f, 4.f, 6.f});
}

TEST_CASE("sparse bitmask and CSR weights densify at prepare", "[unit][runtime][format]") {
  // dense = [[0, 7, 0], [8, 0, 9]]
  auto bm = add_const({2, 3}, std::vector<float>(6, 0.f), [&](ModelWriter& w) {
    const float v[] = {7, 8, 9};
    return w.add_sparse_bitmask_weight("w", DType::kF32, {2, 3}, {0x2 | 0x8 | 0x20}, v, sizeof v);
  });
  CHECK(bm == std::vector<float>{0, 7, 0, 8, 0, 9});
  auto csr = add_const({2, 3}, std::vector<float>(6, 1.f), [&](ModelWriter& w) {
    const float v[] = {7, 8, 9};
    return w.add_sparse_csr_weight("w", DType::kF32, {2, 3}, {0, 1, 3}, {1, 0, 2}, v, sizeof v);
  });
  CHECK(csr == std::vector<float>{1, 8, 1, 9, 1, 10});
}

TEST_CASE("palettized weights expand through the codebook", "[unit][runtime][format]") {
  for (int bits : {1, 2, 4, 8}) {
    const std::vector<float> cb = {-1.f, 0.25f};
    std::vector<uint32_t> idx = {1, 0, 0, 1, 1};
    auto got = add_const({5}, std::vector<float>(5, 0.f), [&](ModelWriter& w) {
      return w.add_palettized_weight("w", {5}, bits, cb, ModelWriter::pack_indices(idx, bits));
    });
    INFO("bits " << bits);
    CHECK(got == std::vector<float>{0.25f, -1.f, -1.f, 0.25f, 0.25f});
  }
}

TEST_CASE("plan exposes kernels, fused activations, weight and arena bytes", "[unit][runtime][format]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {1, 1, 3, 3});
  const int k = w.add_weight_f32("k", {1, 1, 2, 2}, {1, 1, 1, 1});
  const int b = w.add_weight_f32("b", {1}, {-20});
  const int c = w.add_tensor("c", DType::kF32, {1, 1, 2, 2});
  const int y = w.add_tensor("y", DType::kF32, {1, 1, 2, 2});
  w.add_node(fb::OpType_Conv, {x, k, b}, {c});
  w.add_node(fb::OpType_Relu, {c}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  Loaded l = build(w);
  REQUIRE(l.it->num_steps() == 1);
  const mcrt::StepInfo st = l.it->step(0);
  CHECK(st.op == "Conv");
  CHECK(st.fused_node == 1);
  CHECK(st.kernel.find("conv2d_") == 0);
  CHECK(st.kernel.find("+relu") != std::string::npos);
  CHECK(l.it->weights_bytes_in_memory() >= 16);
  CHECK(l.it->arena_bytes() >= 36 + 16);
  set_input(*l.it, 0, iota_f(9, 1.f));
  run_ok(*l.it);
  CHECK(get_output<float>(*l.it, 0) == std::vector<float>{0, 0, 4, 8});

  mcrt::PrepareOptions nofuse;
  nofuse.fuse_activations = false;
  Loaded l2 = build(w, nofuse);
  CHECK(l2.it->num_steps() == 2);
  set_input(*l2.it, 0, iota_f(9, 1.f));
  run_ok(*l2.it);
  CHECK(get_output<float>(*l2.it, 0) == std::vector<float>{0, 0, 4, 8});
}

TEST_CASE("an activation read by two nodes is not fused", "[unit][runtime][format]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {1, 2});
  const int wt = w.add_weight_f32("w", {2, 2}, {1, 0, 0, 1});
  const int g = w.add_tensor("g", DType::kF32, {1, 2});
  const int r = w.add_tensor("r", DType::kF32, {1, 2});
  const int y = w.add_tensor("y", DType::kF32, {1, 2});
  w.add_node(fb::OpType_Gemm, {x, wt}, {g});
  w.add_node(fb::OpType_Relu, {g}, {r});
  w.add_node(fb::OpType_Add, {g, r}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  Loaded l = build(w);
  CHECK(l.it->num_steps() == 3);
  set_input(*l.it, 0, std::vector<float>{-1, 2});
  run_ok(*l.it);
  CHECK(get_output<float>(*l.it, 0) == std::vector<float>{-1, 4});
}

TEST_CASE("Clip with constant bounds fuses into Gemm (Relu6)", "[unit][runtime][format]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {1, 3});
  const int wt = w.add_weight_f32("w", {3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  const int lo = w.add_weight_f32("lo", {}, {0});
  const int hi = w.add_weight_f32("hi", {}, {6});
  const int g = w.add_tensor("g", DType::kF32, {1, 3});
  const int y = w.add_tensor("y", DType::kF32, {1, 3});
  w.add_node(fb::OpType_Gemm, {x, wt}, {g});
  w.add_node(fb::OpType_Clip, {g, lo, hi}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  Loaded l = build(w);
  REQUIRE(l.it->num_steps() == 1);
  CHECK(l.it->step(0).kernel.find("+clip") != std::string::npos);
  set_input(*l.it, 0, std::vector<float>{-3, 2, 9});
  run_ok(*l.it);
  CHECK(get_output<float>(*l.it, 0) == std::vector<float>{0, 2, 6});
}
