// mcrt_npy: golden bytes written by numpy 1.24 (np.save), round trips, and one
// malformed input per rejection class of security.md, each with its status code.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime-check/npy/npy.h"

using mcrt::NpyArray;
using mcrt::NpyDtype;
using mcrt::NpyStatusCode;

namespace {

// np.save(f, np.array([[0, 1.5, -2], [3, 4, 5]], dtype='<f4')), all 152 bytes.
const char kNumpyF32[] =
    "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    "                                                          \x0a"
    "\x00\x00\x00\x00\x00\x00\xc0?\x00\x00\x00\xc0\x00\x00@@\x00\x00\x80@\x00\x00\xa0@";

std::vector<uint8_t> golden_f32() { return std::vector<uint8_t>(kNumpyF32, kNumpyF32 + sizeof(kNumpyF32) - 1); }

// A v1.0 file with the given header text (padded like numpy) and `data_bytes` zero bytes.
std::vector<uint8_t> make_npy(const std::string& header, size_t data_bytes, uint8_t major = 1) {
  std::string h = header;
  const size_t pre = major == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const uint32_t n = static_cast<uint32_t>(h.size());
  out.push_back(uint8_t(n));
  out.push_back(uint8_t(n >> 8));
  if (major != 1) {
    out.push_back(uint8_t(n >> 16));
    out.push_back(uint8_t(n >> 24));
  }
  out.insert(out.end(), h.begin(), h.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

NpyStatusCode parse_code(const std::vector<uint8_t>& bytes, std::string* msg = nullptr) {
  NpyArray a;
  mcrt::NpyStatus st = mcrt::npy_read_buffer(bytes.data(), bytes.size(), &a);
  if (msg) *msg = st.message();
  if (!st.ok()) {
    CHECK(a.bytes.empty());
    CHECK(a.shape.empty());
  }
  return st.code();
}

std::string temp_path(const char* name) { return std::string(MC_BINARY_DIR) + "/test_npy_" + name; }

}  // namespace

TEST_CASE("npy: reads numpy's own bytes", "[npy]") {
  const std::vector<uint8_t> bytes = golden_f32();
  REQUIRE(bytes.size() == 152);
  NpyArray a;
  REQUIRE(mcrt::npy_read_buffer(bytes.data(), bytes.size(), &a).ok());
  CHECK(a.dtype == NpyDtype::kF32);
  CHECK(a.shape == std::vector<int64_t>{2, 3});
  REQUIRE(a.bytes.size() == 24);
  float v[6];
  std::memcpy(v, a.bytes.data(), 24);
  CHECK(v[0] == 0.0f);
  CHECK(v[1] == 1.5f);
  CHECK(v[2] == -2.0f);
  CHECK(v[5] == 5.0f);
}

TEST_CASE("npy: writes exactly what numpy writes", "[npy]") {
  NpyArray a;
  a.dtype = NpyDtype::kF32;
  a.shape = {2, 3};
  const float v[6] = {0, 1.5f, -2, 3, 4, 5};
  a.bytes.assign(reinterpret_cast<const uint8_t*>(v), reinterpret_cast<const uint8_t*>(v) + 24);
  std::vector<uint8_t> out;
  REQUIRE(mcrt::npy_write_buffer(a, &out).ok());
  CHECK(out == golden_f32());
}

TEST_CASE("npy: header layouts numpy writes for other shapes", "[npy]") {
  // Lengths observed from numpy 1.24: (3,) int64 -> 152 bytes, bool scalar -> 129, (0, 4) uint8 -> 128.
  struct Case {
    NpyDtype dt;
    std::vector<int64_t> shape;
    size_t bytes;
    size_t file;
    const char* descr;
  } cases[] = {{NpyDtype::kI64, {3}, 24, 152, "'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"},
               {NpyDtype::kBool, {}, 1, 129, "'descr': '|b1', 'fortran_order': False, 'shape': (), }"},
               {NpyDtype::kU8, {0, 4}, 0, 128, "'descr': '|u1', 'fortran_order': False, 'shape': (0, 4), }"}};
  for (const Case& c : cases) {
    NpyArray a;
    a.dtype = c.dt;
    a.shape = c.shape;
    a.bytes.assign(c.bytes, 1);
    std::vector<uint8_t> out;
    REQUIRE(mcrt::npy_write_buffer(a, &out).ok());
    CHECK(out.size() == c.file);
    CHECK(std::string(out.begin() + 11, out.begin() + 11 + std::strlen(c.descr)) == c.descr);
    CHECK(out[out.size() - c.bytes - 1] == '\n');
    NpyArray b;
    REQUIRE(mcrt::npy_read_buffer(out.data(), out.size(), &b).ok());
    CHECK(b.dtype == a.dtype);
    CHECK(b.shape == a.shape);
    CHECK(b.bytes == a.bytes);
    CHECK(b.numel() == static_cast<uint64_t>(c.shape.empty() ? 1 : c.shape[0] * (c.shape.size() > 1 ? c.shape[1] : 1)));
  }
}

TEST_CASE("npy: accepts the header variants numpy and others produce", "[npy]") {
  NpyArray a;
  // keys in another order, no trailing comma, double quotes, '=' byte order, v2.0
  auto v = make_npy("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"=i4\"}", 8);
  REQUIRE(mcrt::npy_read_buffer(v.data(), v.size(), &a).ok());
  CHECK(a.dtype == NpyDtype::kI32);
  v = make_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2, 3), }", 12, 2);
  REQUIRE(mcrt::npy_read_buffer(v.data(), v.size(), &a).ok());
  CHECK(a.dtype == NpyDtype::kF16);
  CHECK(a.shape == std::vector<int64_t>{1, 2, 3});
  v = make_npy("{'descr': '>u1', 'fortran_order': False, 'shape': (5,), }", 5);  // byte order irrelevant for 1 byte
  REQUIRE(mcrt::npy_read_buffer(v.data(), v.size(), &a).ok());
  CHECK(a.dtype == NpyDtype::kU8);
}

TEST_CASE("npy: malformed inputs give the right status", "[npy][loader]") {
  std::string msg;
  const std::string ok_hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

  SECTION("bad magic") {
    auto v = golden_f32();
    v[1] = 'X';
    CHECK(parse_code(v) == NpyStatusCode::kBadMagic);
    CHECK(parse_code({}) == NpyStatusCode::kBadMagic);
  }
  SECTION("truncated preamble") {
    auto v = golden_f32();
    v.resize(9);
    CHECK(parse_code(v) == NpyStatusCode::kTruncated);
  }
  SECTION("unsupported version") {
    auto v = golden_f32();
    v[6] = 4;
    CHECK(parse_code(v) == NpyStatusCode::kUnsupportedVersion);
  }
  SECTION("header length beyond the file") {
    auto v = golden_f32();
    v.resize(100);  // ends inside the 118-byte header
    CHECK(parse_code(v, &msg) == NpyStatusCode::kTruncated);
    CHECK(msg.find("runs past the end") != std::string::npos);
  }
  SECTION("absurd header length") {
    std::vector<uint8_t> v = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0x01, 0x00, 0x01, 0x00};  // 65537
    v.resize(70000, ' ');
    CHECK(parse_code(v, &msg) == NpyStatusCode::kHeaderTooLarge);
    std::vector<uint8_t> w = {0x93, 'N', 'U', 'M', 'P', 'Y', 3, 0, 0xff, 0xff, 0xff, 0xff};
    CHECK(parse_code(w) == NpyStatusCode::kHeaderTooLarge);
  }
  SECTION("object dtype (pickle)") {
    CHECK(parse_code(make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16), &msg) ==
          NpyStatusCode::kObjectDtype);
    CHECK(msg.find("pickle") != std::string::npos);
    CHECK(parse_code(make_npy("{'descr': 'O', 'fortran_order': False, 'shape': (2,), }", 16)) ==
          NpyStatusCode::kObjectDtype);
  }
  SECTION("structured, string and complex dtypes") {
    CHECK(parse_code(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)) ==
          NpyStatusCode::kUnsupportedDtype);
    CHECK(parse_code(make_npy("{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", 32)) ==
          NpyStatusCode::kUnsupportedDtype);
    CHECK(parse_code(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16)) ==
          NpyStatusCode::kUnsupportedDtype);
  }
  SECTION("big-endian") {
    CHECK(parse_code(make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24)) ==
          NpyStatusCode::kBigEndian);
  }
  SECTION("Fortran order") {
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24)) ==
          NpyStatusCode::kFortranOrder);
  }
  SECTION("negative and non-integer dims") {
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", 0), &msg) ==
          NpyStatusCode::kBadShape);
    CHECK(msg.find("negative") != std::string::npos);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 8)) ==
          NpyStatusCode::kBadShape);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8)) ==
          NpyStatusCode::kBadShape);
  }
  SECTION("element count overflow") {
    // 2^32 × 2^32 elements wraps a 64-bit product; tflite-micro #3588 class.
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0)) ==
          NpyStatusCode::kSizeOverflow);
    // numel fits, × itemsize does not
    CHECK(parse_code(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", 0)) ==
          NpyStatusCode::kSizeOverflow);
  }
  SECTION("data shorter or longer than the shape") {
    CHECK(parse_code(make_npy(ok_hdr, 23), &msg) == NpyStatusCode::kSizeMismatch);
    CHECK(msg == "expected 24 data bytes for shape [2,3] float32, got 23");
    CHECK(parse_code(make_npy(ok_hdr, 25)) == NpyStatusCode::kSizeMismatch);
    CHECK(parse_code(make_npy(ok_hdr, 24)) == NpyStatusCode::kOk);
  }
  SECTION("not the dict numpy writes") {
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False}", 4)) == NpyStatusCode::kBadHeader);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4)) ==
          NpyStatusCode::kBadHeader);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4)) ==
          NpyStatusCode::kBadHeader);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4)) == NpyStatusCode::kBadHeader);
    CHECK(parse_code(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4)) ==
          NpyStatusCode::kBadHeader);
    CHECK(parse_code(make_npy("", 0)) == NpyStatusCode::kBadHeader);
  }
}

TEST_CASE("npy: writer refuses arrays whose bytes disagree with the shape", "[npy]") {
  NpyArray a;
  a.dtype = NpyDtype::kI32;
  a.shape = {2, 2};
  a.bytes.resize(15);
  std::vector<uint8_t> out;
  CHECK(mcrt::npy_write_buffer(a, &out).code() == NpyStatusCode::kInvalidArgument);
  a.shape = {-2, -2};
  a.bytes.resize(16);
  CHECK(mcrt::npy_write_buffer(a, &out).code() == NpyStatusCode::kInvalidArgument);
}

TEST_CASE("npy: file round trip, limits and errors", "[npy][loader]") {
  const std::string path = temp_path("roundtrip.npy");
  NpyArray a;
  a.dtype = NpyDtype::kI64;
  a.shape = {3, 2};
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t v = (i - 3) * 1000000007LL;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    a.bytes.insert(a.bytes.end(), p, p + 8);
  }
  REQUIRE(mcrt::npy_write_file(path, a).ok());
  REQUIRE(mcrt::npy_write_file(path, a).ok());  // replaces, never appends
  NpyArray b;
  REQUIRE(mcrt::npy_read_file(path, &b).ok());
  CHECK(b.dtype == a.dtype);
  CHECK(b.shape == a.shape);
  CHECK(b.bytes == a.bytes);

  mcrt::NpyStatus st = mcrt::npy_read_file(path, &b, 47);
  CHECK(st.code() == NpyStatusCode::kLimitExceeded);
  CHECK(b.bytes.empty());
  CHECK(mcrt::npy_read_file(path, &b, 48).ok());

  st = mcrt::npy_read_file(temp_path("does_not_exist.npy"), &b);
  CHECK(st.code() == NpyStatusCode::kIoError);

  // A truncated file: the message names the file.
  std::vector<uint8_t> bytes;
  REQUIRE(mcrt::npy_write_buffer(a, &bytes).ok());
  const std::string cut = temp_path("truncated.npy");
  std::FILE* f = std::fopen(cut.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size() - 3, f) == bytes.size() - 3);
  std::fclose(f);
  st = mcrt::npy_read_file(cut, &b);
  CHECK(st.code() == NpyStatusCode::kSizeMismatch);
  CHECK(st.message().rfind(cut + ": expected 48 data bytes", 0) == 0);
  std::remove(cut.c_str());
  std::remove(path.c_str());

  CHECK(mcrt::npy_write_file("/nonexistent-dir/x.npy", a).code() == NpyStatusCode::kIoError);
}
