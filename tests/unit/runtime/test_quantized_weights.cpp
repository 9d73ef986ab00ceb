// Weight-only quantized constants (docs/runtime-format.md §4.1 INT4, §4.3 per-block scales):
// hand-computed dequantization goldens through an Add with a zero input, and the loader's
// rejections of each malformed form.
#include "runtime_test_support.h"

using namespace mcrt_test;
using mcrt::StatusCode;

namespace {

// x[shape] + w[shape] with w a quantized constant of `dtype`; returns the writer.
ModelWriter add_model(DType dtype, std::vector<int64_t> shape, const std::vector<uint8_t>& bytes, mcrt::QuantParams q,
                      bool with_quant = true) {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, shape);
  const int c = w.add_weight("w", dtype, shape, bytes.data(), bytes.size());
  if (with_quant) w.set_quantization(c, std::move(q));
  const int y = w.add_tensor("y", DType::kF32, shape);
  w.add_node(fb::OpType_Add, {x, c}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  return w;
}

std::vector<float> dequantized(const ModelWriter& w, size_t n) {
  Loaded l = build(w);
  set_input(*l.it, 0, std::vector<float>(n, 0.f));
  run_ok(*l.it);
  return get_output<float>(*l.it, 0);
}

mcrt::QuantParams qp(std::vector<float> s, std::vector<int64_t> zp, int axis, int block) {
  mcrt::QuantParams q;
  q.scale = std::move(s);
  q.zero_point = std::move(zp);
  q.axis = axis;
  q.block_size = block;
  return q;
}

}  // namespace

TEST_CASE("INT4 per channel: nibbles low first, sign extended, scaled per row", "[unit][runtime]") {
  // w [2, 3] = {-8, 7, -1 | 0, 3, 1}: bytes 0x78, 0x0F, 0x13 (odd element of each byte in the high nibble)
  const ModelWriter w = add_model(DType::kI4, {2, 3}, {0x78, 0x0F, 0x13}, qp({0.5f, 2.f}, {}, 0, 0));
  CHECK(dequantized(w, 6) == std::vector<float>({-4.f, 3.5f, -0.5f, 0.f, 6.f, 2.f}));
}

TEST_CASE("INT4 with zero points and an odd element count", "[unit][runtime]") {
  // w [3] = {1, -2, 5}, zero point -1: (q + 1) * 0.25
  const ModelWriter w = add_model(DType::kI4, {3}, {0xE1, 0x05}, qp({0.25f}, {-1}, 0, 0));
  CHECK(dequantized(w, 3) == std::vector<float>({0.5f, -0.25f, 1.5f}));
}

TEST_CASE("INT8 blocks along axis 1 with a partial last block", "[unit][runtime]") {
  // w [2, 5], blocks of 2 along axis 1: 3 blocks per row (the last holds one element), 6 scales.
  const std::vector<int8_t> v = {1, 2, 3, 4, 5, -1, -2, -3, -4, -5};
  std::vector<uint8_t> bytes(v.begin(), v.end());
  const ModelWriter w = add_model(DType::kI8, {2, 5}, bytes, qp({1, 10, 100, 2, 20, 200}, {}, 1, 2));
  CHECK(dequantized(w, 10) == std::vector<float>({1, 2, 30, 40, 500, -2, -4, -60, -80, -1000}));
}

TEST_CASE("INT4 blocks along axis 0 (MatMul B[K, N] layout)", "[unit][runtime]") {
  // w [3, 2] = {1, 2 | 3, 4 | 5, 6}, blocks of 2 along axis 0: scales [2 blocks, 2 columns].
  const ModelWriter w = add_model(DType::kI4, {3, 2}, {0x21, 0x43, 0x65}, qp({1, 2, 10, 20}, {}, 0, 2));
  CHECK(dequantized(w, 6) == std::vector<float>({1, 4, 3, 8, 50, 120}));
}

TEST_CASE("§4.1/§4.3 loader rejects malformed quantized constants", "[unit][runtime][loader]") {
  auto rejected = [](const ModelWriter& w, const char* section, const char* needle) {
    const mcrt::Status s = load_and_prepare(w);
    INFO(s.to_string());
    REQUIRE(s.code() == StatusCode::kInvalidModel);
    CHECK(s.message().find(section) != std::string::npos);
    CHECK(s.message().find(needle) != std::string::npos);
  };
  SECTION("INT4 without quantization") {
    rejected(add_model(DType::kI4, {2}, {0x21}, {}, false), "§4.3", "INT4 constant without quantization");
  }
  SECTION("INT4 buffer of the int8 size") {
    rejected(add_model(DType::kI4, {4}, {1, 2, 3, 4}, qp({1}, {}, 0, 0)), "§4.2", "needs 2 bytes");
  }
  SECTION("INT4 activation") {
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kI4, {2});
    const int y = w.add_tensor("y", DType::kI4, {2});
    w.add_node(fb::OpType_Relu, {x}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    rejected(w, "§4.1", "constants only");
  }
  SECTION("INT4 zero point out of [-8, 7]") {
    rejected(add_model(DType::kI4, {2}, {0x21}, qp({1}, {8}, 0, 0)), "§4.3", "zero point");
  }
  SECTION("block scale count does not match the blocks") {
    std::vector<uint8_t> b(10, 1);
    rejected(add_model(DType::kI8, {2, 5}, b, qp({1, 1, 1, 1}, {}, 1, 2)), "§4.3", "6 blocks");
  }
  SECTION("negative block size") {
    rejected(add_model(DType::kI8, {2}, {1, 1}, qp({1}, {}, 0, -4)), "§4.3", "negative");
  }
  SECTION("blocks on a float tensor") {
    std::vector<uint8_t> b(8, 0);
    rejected(add_model(DType::kF32, {2}, b, qp({1}, {}, 0, 2)), "§4.3", "INT8/UINT8/INT4");
  }
  SECTION("block axis out of range") {
    rejected(add_model(DType::kI8, {2}, {1, 1}, qp({1}, {}, 3, 2)), "§4.3", "axis");
  }
}
