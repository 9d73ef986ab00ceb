// Canonical Huffman coding of weight buffers (runtime/huffman.h, docs/runtime-format.md §3.1):
// round trips (single symbol, all 256 symbols, skewed counts that need the 15-bit limit), every
// decoder rejection, and the loader's §3.1 checks on Model.codings.
#include <random>

#include "runtime/huffman.h"
#include "runtime_test_support.h"

using namespace mcrt_test;
using mcrt::StatusCode;

namespace {

std::vector<uint8_t> round_trip(const std::vector<uint8_t>& raw) {
  const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
  std::vector<uint8_t> back(raw.size(), 0xAA);
  const char* err = mcrt::huffman_decode(c.data(), c.size(), back.data(), back.size());
  INFO((err ? err : "ok"));
  REQUIRE(err == nullptr);
  return back;
}

int code_length(const std::vector<uint8_t>& coded, int s) { return (coded[s / 2] >> (s % 2 ? 4 : 0)) & 0x0F; }

const char* decode(const std::vector<uint8_t>& c, uint64_t raw) {
  std::vector<uint8_t> out(raw ? raw : 1);
  return mcrt::huffman_decode(c.data(), c.size(), out.data(), raw);
}

}  // namespace

TEST_CASE("huffman: round trips", "[unit][runtime][huffman]") {
  SECTION("one symbol: length 1, one bit per byte") {
    const std::vector<uint8_t> raw(1000, 7);
    const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    CHECK(code_length(c, 7) == 1);
    CHECK(c.size() == mcrt::kHuffmanTableBytes + 125);
    CHECK(round_trip(raw) == raw);
  }
  SECTION("all 256 symbols equally often: 8 bits each") {
    std::vector<uint8_t> raw(256 * 4);
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = (uint8_t)(i * 37);
    const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    for (int s = 0; s < 256; ++s) REQUIRE(code_length(c, s) == 8);
    CHECK(c.size() == mcrt::kHuffmanTableBytes + raw.size());
    CHECK(round_trip(raw) == raw);
  }
  SECTION("two symbols, odd count, hand-checked bits") {
    // counts: 'a' x3, 'b' x1 -> both length 1; canonical: a = 0, b = 1. Bits 0 0 1 0 -> 0x20.
    const std::vector<uint8_t> raw = {'a', 'a', 'b', 'a'};
    const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    REQUIRE(c.size() == mcrt::kHuffmanTableBytes + 1);
    CHECK(c[mcrt::kHuffmanTableBytes] == 0x20);
    CHECK(round_trip(raw) == raw);
  }
  SECTION("Fibonacci counts would need > 15 bits: lengths are limited and it still round trips") {
    std::vector<uint8_t> raw;
    uint64_t a = 1, b = 1;
    for (int s = 0; s < 24; ++s) {
      for (uint64_t k = 0; k < a; ++k) raw.push_back((uint8_t)s);
      const uint64_t n = a + b;
      a = b;
      b = n;
    }
    const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    for (int s = 0; s < 256; ++s) REQUIRE(code_length(c, s) <= 15);
    CHECK(round_trip(raw) == raw);
  }
  SECTION("random skewed bytes, many lengths") {
    std::mt19937_64 rng(5);
    std::vector<uint8_t> raw(100000);
    for (auto& v : raw) {
      const uint64_t r = rng();
      v = (uint8_t)(__builtin_ctzll(r | (1ull << 40)) * 5 + (r >> 60));
    }
    const std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    CHECK(c.size() < raw.size());
    CHECK(round_trip(raw) == raw);
  }
}

TEST_CASE("huffman: the decoder rejects every malformed stream", "[unit][runtime][huffman][loader]") {
  const std::vector<uint8_t> raw = {'a', 'a', 'b', 'a', 'c', 'c'};
  const std::vector<uint8_t> good = mcrt::huffman_encode(raw.data(), raw.size());
  REQUIRE(decode(good, raw.size()) == nullptr);
  CHECK(std::string(decode(std::vector<uint8_t>(good.begin(), good.begin() + 100), 1)).find("shorter") !=
        std::string::npos);
  CHECK(std::string(decode(good, 0)).find("raw_size is 0") != std::string::npos);
  CHECK(std::string(decode(good, (good.size() - 128) * 8 + 1)).find("exceeds") != std::string::npos);
  // Over-run: more symbols than the bits hold. (The 7 zero padding bits decode as 'a', code 0:
  // a raw_size up to 7 too large is caught by the tensor's size check, §4.2, not here.)
  CHECK(decode(good, raw.size() + 7) == nullptr);
  CHECK(std::string(decode(good, raw.size() + 8)).find("over-run") != std::string::npos);
  // Under-run: a whole byte left.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  CHECK(std::string(decode(longer, raw.size())).find("under-run") != std::string::npos);
  // Non-zero padding bits.
  std::vector<uint8_t> pad = good;
  pad.back() |= 0x01;
  const char* e = decode(pad, raw.size());
  REQUIRE(e != nullptr);
  // Oversubscribed: three symbols of length 1.
  std::vector<uint8_t> over(128 + 1, 0);
  over[0] = 0x11;  // symbols 0, 1: length 1
  over[1] = 0x01;  // symbol 2: length 1
  CHECK(std::string(decode(over, 1)).find("oversubscribed") != std::string::npos);
  // Incomplete: lengths 1 and 2.
  std::vector<uint8_t> inc(128 + 1, 0);
  inc[0] = 0x21;
  CHECK(std::string(decode(inc, 1)).find("incomplete") != std::string::npos);
  // No symbol at all.
  CHECK(std::string(decode(std::vector<uint8_t>(129, 0), 1)).find("no symbol") != std::string::npos);
  // A single symbol must have length 1; and its unused code "1" matches nothing.
  std::vector<uint8_t> single(128 + 1, 0);
  single[0] = 0x02;
  CHECK(std::string(decode(single, 1)).find("length 1") != std::string::npos);
  single[0] = 0x01;
  single[128] = 0x80;
  CHECK(std::string(decode(single, 1)).find("matches no code") != std::string::npos);
}

namespace {

// x[64] + a[64] -> y[64], with `a` Huffman-coded; returns the writer and a's buffer index.
ModelWriter coded_model(const std::vector<float>& a, uint32_t* buf_out) {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {(int64_t)a.size()});
  const int t = w.add_weight_f32("a", {(int64_t)a.size()}, a);
  const int y = w.add_tensor("y", DType::kF32, {(int64_t)a.size()});
  w.add_node(fb::OpType_Add, {x, t}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  const uint32_t buf = (uint32_t)w.num_buffers() - 1;
  const std::vector<uint8_t> raw = w.buffer_bytes(buf);
  w.set_buffer_coding(buf, mcrt::huffman_encode(raw.data(), raw.size()), raw.size());
  if (buf_out) *buf_out = buf;
  return w;
}

std::vector<float> small_values() {
  std::vector<float> a(64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = (float)(i % 3);
  return a;
}

void require_rejected31(const mcrt::Status& s, const char* needle) {
  INFO(s.to_string());
  REQUIRE(s.code() == StatusCode::kInvalidModel);
  CHECK(s.message().find("§3.1") != std::string::npos);
  CHECK(s.message().find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("a Huffman-coded weight buffer is decoded at load and computes as dense", "[unit][runtime][loader]") {
  const std::vector<float> a = small_values();
  Loaded l = build(coded_model(a, nullptr));
  CHECK(l.model->decoded_bytes() == a.size() * 4);
  std::vector<float> x(a.size(), 0.5f);
  set_input(*l.it, 0, x);
  run_ok(*l.it);
  const std::vector<float> y = get_output<float>(*l.it, 0);
  for (size_t i = 0; i < a.size(); ++i) CHECK(y[i] == a[i] + 0.5f);
}

TEST_CASE("§3.1 coding checks at load", "[unit][runtime][loader]") {
  const std::vector<float> a = small_values();
  SECTION("buffer index out of range") {
    ModelWriter w = coded_model(a, nullptr);
    w.add_raw_coding(99, 0, 8);
    require_rejected31(load_and_prepare(w), "out of range");
  }
  SECTION("buffer 0") {
    ModelWriter w = coded_model(a, nullptr);
    w.add_raw_coding(0, 0, 8);
    require_rejected31(load_and_prepare(w), "out of range");
  }
  SECTION("the same buffer coded twice") {
    uint32_t buf = 0;
    ModelWriter w = coded_model(a, &buf);
    w.add_raw_coding(buf, 0, a.size() * 4);
    require_rejected31(load_and_prepare(w), "coded twice");
  }
  SECTION("unknown codec") {
    ModelWriter w = coded_model(a, nullptr);
    const int extra = w.add_raw_buffer("abcdefgh", 8);
    w.add_raw_coding((uint32_t)extra, 7, 8);
    require_rejected31(load_and_prepare(w), "unknown codec");
  }
  SECTION("raw_size beyond 8 symbols per coded byte (amplification)") {
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kF32, {2});
    const int t = w.add_weight_f32("a", {2}, {1, 2});
    const int y = w.add_tensor("y", DType::kF32, {2});
    w.add_node(fb::OpType_Add, {x, t}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    std::vector<uint8_t> coded(130, 0);
    coded[0] = 0x01;
    w.set_buffer_coding(1, coded, 1ull << 40);
    require_rejected31(load_and_prepare(w), "raw_size");
  }
  SECTION("raw_size that does not match the tensor is a §4.2 error after decoding") {
    uint32_t buf = 0;
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kF32, {4});
    const int t = w.add_weight_f32("a", {4}, {1, 2, 3, 4});
    const int y = w.add_tensor("y", DType::kF32, {4});
    w.add_node(fb::OpType_Add, {x, t}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    buf = 1;
    std::vector<uint8_t> raw(12, 0);  // 3 floats, tensor needs 4
    w.set_buffer_coding(buf, mcrt::huffman_encode(raw.data(), raw.size()), raw.size());
    const mcrt::Status s = load_and_prepare(w);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
    CHECK(s.message().find("§4.2") != std::string::npos);
  }
  SECTION("corrupt coded bytes") {
    uint32_t buf = 0;
    ModelWriter w = coded_model(a, &buf);
    std::vector<uint8_t> c = w.buffer_bytes(buf);
    c.push_back(0);  // one byte too many
    w.set_buffer_coding(buf, c, a.size() * 4);
    // set_buffer_coding appended a second entry for the same buffer: the first failure wins.
    const mcrt::Status s = load_and_prepare(w);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
    CHECK(s.message().find("§3.1") != std::string::npos);
  }
}
