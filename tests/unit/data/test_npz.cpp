// mc_data NPZ reader: a real numpy.savez_compressed archive as golden, plus zip
// archives built here (stored members) and patched field by field, each giving
// its own error (security.md: bounds-check every zip header field).
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "compress/data/npz.h"
#include "tests/unit/data/numpy_npz_golden.h"
#include "compress/error.h"
#include "tests/support/input_error.h"

using mc::data::NpzArrays;
using mc::data::read_npz_buffer;
using mc::data::test::kNpzDeflate;

namespace {


std::vector<uint8_t> npy_bytes(const mcrt::NpyArray& a) {
  std::vector<uint8_t> out;
  REQUIRE(mcrt::npy_write_buffer(a, &out).ok());
  return out;
}

mcrt::NpyArray f32_array() {
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = {3};
  const float v[3] = {1.0f, 2.0f, 3.0f};
  a.bytes.assign(reinterpret_cast<const uint8_t*>(v), reinterpret_cast<const uint8_t*>(v) + 12);
  return a;
}

void put16(std::vector<uint8_t>* b, uint16_t v) {
  b->push_back(uint8_t(v));
  b->push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>* b, uint32_t v) {
  put16(b, uint16_t(v));
  put16(b, uint16_t(v >> 16));
}
void set32(std::vector<uint8_t>* b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[off + i] = uint8_t(v >> (8 * i));
}
void set16(std::vector<uint8_t>* b, size_t off, uint16_t v) {
  (*b)[off] = uint8_t(v);
  (*b)[off + 1] = uint8_t(v >> 8);
}

struct Zip {
  std::vector<uint8_t> bytes;
  std::vector<size_t> local;    // offset of each local header
  std::vector<size_t> central;  // offset of each central entry
  size_t eocd = 0;
};

// A zip with stored (method 0) members, laid out like Python's zipfile writes it.
Zip make_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
  Zip z;
  std::vector<uint32_t> crcs;
  for (const auto& [name, data] : members) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size())));
    crcs.push_back(crc);
    z.local.push_back(z.bytes.size());
    put32(&z.bytes, 0x04034b50);
    put16(&z.bytes, 20);
    put16(&z.bytes, 0);  // flags
    put16(&z.bytes, 0);  // method
    put32(&z.bytes, 0);  // time/date
    put32(&z.bytes, crc);
    put32(&z.bytes, uint32_t(data.size()));
    put32(&z.bytes, uint32_t(data.size()));
    put16(&z.bytes, uint16_t(name.size()));
    put16(&z.bytes, 0);
    z.bytes.insert(z.bytes.end(), name.begin(), name.end());
    z.bytes.insert(z.bytes.end(), data.begin(), data.end());
  }
  const size_t cd = z.bytes.size();
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& [name, data] = members[i];
    z.central.push_back(z.bytes.size());
    put32(&z.bytes, 0x02014b50);
    put16(&z.bytes, 20);
    put16(&z.bytes, 20);
    put16(&z.bytes, 0);  // flags
    put16(&z.bytes, 0);  // method
    put32(&z.bytes, 0);
    put32(&z.bytes, crcs[i]);
    put32(&z.bytes, uint32_t(data.size()));
    put32(&z.bytes, uint32_t(data.size()));
    put16(&z.bytes, uint16_t(name.size()));
    put16(&z.bytes, 0);
    put16(&z.bytes, 0);
    put16(&z.bytes, 0);
    put16(&z.bytes, 0);
    put32(&z.bytes, 0);
    put32(&z.bytes, uint32_t(z.local[i]));
    z.bytes.insert(z.bytes.end(), name.begin(), name.end());
  }
  z.eocd = z.bytes.size();
  put32(&z.bytes, 0x06054b50);
  put16(&z.bytes, 0);
  put16(&z.bytes, 0);
  put16(&z.bytes, uint16_t(members.size()));
  put16(&z.bytes, uint16_t(members.size()));
  put32(&z.bytes, uint32_t(z.eocd - cd));
  put32(&z.bytes, uint32_t(cd));
  put16(&z.bytes, 0);
  return z;
}

Zip good_zip() { return make_zip({{"a.npy", npy_bytes(f32_array())}, {"b.npy", npy_bytes(f32_array())}}); }

// The message of the mc::Error thrown by parsing `bytes` (the test fails if it parses).
std::string error_of(const std::vector<uint8_t>& bytes) {
  return mc::test::input_error([&] { read_npz_buffer(bytes.data(), bytes.size(), "t.npz"); });
}

}  // namespace

TEST_CASE("npz: reads numpy's savez_compressed output", "[npz]") {
  NpzArrays a = read_npz_buffer(kNpzDeflate, sizeof kNpzDeflate, "golden.npz");
  REQUIRE(a.size() == 2);
  CHECK(a[0].first == "x");
  CHECK(a[1].first == "y");
  CHECK(a[0].second.dtype == mcrt::NpyDtype::kF32);
  CHECK(a[0].second.shape == std::vector<int64_t>{2, 3});
  float x[6];
  REQUIRE(a[0].second.bytes.size() == sizeof x);
  std::memcpy(x, a[0].second.bytes.data(), sizeof x);
  CHECK(x[1] == 1.5f);
  CHECK(x[2] == -2.0f);
  CHECK(x[5] == 5.0f);
  int64_t y[2];
  REQUIRE(a[1].second.bytes.size() == sizeof y);
  std::memcpy(y, a[1].second.bytes.data(), sizeof y);
  CHECK(y[0] == 7);
  CHECK(y[1] == -1);
}

TEST_CASE("npz: stored members built here parse", "[npz]") {
  Zip z = good_zip();
  NpzArrays a = read_npz_buffer(z.bytes.data(), z.bytes.size(), "t.npz");
  REQUIRE(a.size() == 2);
  CHECK(a[1].first == "b");
  CHECK(a[1].second.bytes == f32_array().bytes);
}

TEST_CASE("npz: every header field is bounds-checked", "[npz][loader]") {
  Zip z = good_zip();
  std::vector<uint8_t> b = z.bytes;
  SECTION("not a zip") {
    CHECK(error_of({'P', 'K'}).find("too short") != std::string::npos);
    std::vector<uint8_t> junk(100, 'x');
    CHECK(error_of(junk).find("no end-of-central-directory") != std::string::npos);
  }
  SECTION("truncated archive loses the end record") {
    b.resize(b.size() - 5);
    CHECK(error_of(b).find("no end-of-central-directory") != std::string::npos);
  }
  SECTION("central directory offset past the end") {
    set32(&b, z.eocd + 16, 0xFFFFFF00u);
    CHECK(error_of(b).find("central directory") != std::string::npos);
  }
  SECTION("central directory size past the end record") {
    set32(&b, z.eocd + 12, uint32_t(b.size()));
    CHECK(error_of(b).find("overlaps") != std::string::npos);
  }
  SECTION("more entries than the directory holds") {
    set16(&b, z.eocd + 10, 50);
    CHECK(error_of(b).find("truncated") != std::string::npos);
  }
  SECTION("name length beyond the directory") {
    set16(&b, z.central[1] + 28, 60000);
    CHECK(error_of(b).find("truncated") != std::string::npos);
  }
  SECTION("local header offset out of range") {
    set32(&b, z.central[0] + 42, 0x7FFFFFF0u);
    CHECK(error_of(b).find("local header offset") != std::string::npos);
  }
  SECTION("local header signature") {
    b[z.local[1]] = 'X';
    CHECK(error_of(b).find("bad local header signature") != std::string::npos);
  }
  SECTION("local extra length pushes the data past the members") {
    set16(&b, z.local[1] + 28, 0xFFFF);
    CHECK(error_of(b).find("runs past the member area") != std::string::npos);
  }
  SECTION("compressed size past the members") {
    set32(&b, z.central[1] + 20, 0x10000000u);
    set32(&b, z.central[1] + 24, 0x10000000u);
    CHECK(error_of(b).find("runs past the member area") != std::string::npos);
  }
  SECTION("stored sizes disagree") {
    set32(&b, z.central[0] + 24, 1000);
    CHECK(error_of(b).find("stored member") != std::string::npos);
  }
  SECTION("CRC mismatch") {
    set32(&b, z.central[0] + 16, 0x12345678u);
    CHECK(error_of(b).find("CRC-32 mismatch") != std::string::npos);
  }
  SECTION("unsupported method and encryption") {
    set16(&b, z.central[0] + 10, 12);
    CHECK(error_of(b).find("compression method 12") != std::string::npos);
    b = z.bytes;
    set16(&b, z.central[0] + 8, 1);
    CHECK(error_of(b).find("encrypted") != std::string::npos);
  }
  SECTION("zip64 marker without its extra field") {
    set32(&b, z.central[0] + 24, 0xFFFFFFFFu);
    CHECK(error_of(b).find("zip64") != std::string::npos);
  }
  SECTION("huge uncompressed size is refused before decoding") {
    mc::data::NpzLimits lim;
    lim.max_total_bytes = 100;
    try {
      read_npz_buffer(b.data(), b.size(), "t.npz", lim);
      FAIL("no error");
    } catch (const mc::Error& e) {
      CHECK(std::string(e.what()).find("exceed the limit") != std::string::npos);
    }
  }
  SECTION("members that are not .npy, duplicates") {
    Zip t = make_zip({{"a.txt", {1, 2, 3}}});
    CHECK(error_of(t.bytes).find("not a .npy") != std::string::npos);
    t = make_zip({{"a.npy", npy_bytes(f32_array())}, {"a.npy", npy_bytes(f32_array())}});
    CHECK(error_of(t.bytes).find("duplicate") != std::string::npos);
  }
  SECTION("a malformed member names the member and the npy problem") {
    std::vector<uint8_t> npy = npy_bytes(f32_array());
    const std::string hdr(npy.begin(), npy.end());
    const size_t d = hdr.find("'<f4'");
    REQUIRE(d != std::string::npos);
    npy[d + 1] = '|';
    npy[d + 2] = 'O';
    Zip t = make_zip({{"x.npy", npy}});
    const std::string msg = error_of(t.bytes);
    CHECK(msg.find("t.npz: x.npy: object dtype") == 0);
  }
}

TEST_CASE("npz: deflate members with a wrong declared size or corrupt data", "[npz][loader]") {
  std::vector<uint8_t> b(kNpzDeflate, kNpzDeflate + sizeof kNpzDeflate);
  // Central directory entries: find them by signature.
  std::vector<size_t> cd;
  for (size_t i = 0; i + 4 <= b.size(); ++i)
    if (b[i] == 0x50 && b[i + 1] == 0x4b && b[i + 2] == 0x01 && b[i + 3] == 0x02) cd.push_back(i);
  REQUIRE(cd.size() == 2);
  SECTION("declared uncompressed size too small") {
    set32(&b, cd[0] + 24, 100);
    CHECK(error_of(b).find("more than the declared 100 bytes") != std::string::npos);
  }
  SECTION("declared uncompressed size too large") {
    set32(&b, cd[0] + 24, 1000);
    CHECK(error_of(b).find("expected 1000 bytes") != std::string::npos);
  }
  SECTION("corrupt deflate stream") {
    // The first member's data starts after its 30-byte local header + "x.npy" + 20-byte zip64 extra.
    for (size_t i = 30 + 5 + 20; i < 30 + 5 + 20 + 8; ++i) b[i] ^= 0xA5;
    CHECK(!error_of(b).empty());
  }
}
