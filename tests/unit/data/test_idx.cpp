// mc_data IDX reader: golden values of the Fashion-MNIST test set (computed with
// numpy from the same Debian files), big-endian conversion, and malformed / hostile
// files (raw and gzip) each giving its own error; reads of the first rows only (max_rows).
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "compress/data/idx.h"
#include "compress/error.h"
#include "tests/support/input_error.h"
#include "tests/support/temp_dir.h"

using mc::data::IdxArray;
using mc::data::IdxType;
using mc::data::read_idx_buffer;
using mc::data::read_idx_file;

namespace {

const std::string kFmnist = "/usr/share/datasets/fashion-mnist/";

std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims) {
    b.push_back(uint8_t(d >> 24));
    b.push_back(uint8_t(d >> 16));
    b.push_back(uint8_t(d >> 8));
    b.push_back(uint8_t(d));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// gzip-compress with zlib (windowBits 15 + 16 = gzip wrapper).
std::vector<uint8_t> gzip(const std::vector<uint8_t>& in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes, uint64_t max_bytes = mc::data::kIdxDefaultMaxBytes) {
  return mc::test::input_error([&] { read_idx_buffer(bytes.data(), bytes.size(), "t.idx", max_bytes); });
}

std::string file_error_of(const std::string& path, uint64_t max_rows) {
  return mc::test::input_error([&] { read_idx_file(path, mc::data::kIdxDefaultMaxBytes, max_rows); });
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

}  // namespace

TEST_CASE("idx: Fashion-MNIST test set golden values", "[idx]") {
  const IdxArray y = read_idx_file(kFmnist + "t10k-labels-idx1-ubyte.gz");
  CHECK(y.type == IdxType::kU8);
  REQUIRE(y.dims == std::vector<int64_t>{10000});
  const std::vector<uint8_t> first10(y.bytes.begin(), y.bytes.begin() + 10);
  CHECK(first10 == std::vector<uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  CHECK(y.bytes.back() == 5);
  std::vector<int> count(10, 0);
  for (uint8_t l : y.bytes) count.at(l)++;
  CHECK(count == std::vector<int>(10, 1000));

  const IdxArray x = read_idx_file(kFmnist + "t10k-images-idx3-ubyte.gz");
  REQUIRE(x.dims == std::vector<int64_t>{10000, 28, 28});
  REQUIRE(x.bytes.size() == 7840000u);
  CHECK(std::accumulate(x.bytes.begin(), x.bytes.begin() + 784, 0) == 33456);
  CHECK(std::accumulate(x.bytes.end() - 784, x.bytes.end(), 0) == 24390);
  CHECK(std::accumulate(x.bytes.begin(), x.bytes.end(), uint64_t{0}) == 573469082u);
  const std::vector<uint8_t> row14(x.bytes.begin() + 14 * 28, x.bytes.begin() + 15 * 28);
  CHECK(row14 == std::vector<uint8_t>{0,   0,   0,   0,   0,   0,   2,   4,   1,   0,   0,   0,   98,  136,
                                      110, 109, 110, 162, 135, 144, 149, 159, 167, 144, 158, 169, 119, 0});
}

TEST_CASE("idx: raw and gzip give the same array; big-endian types convert", "[idx]") {
  // int32 [3] = {1, -2, 65536}, big-endian on disk.
  const std::vector<uint8_t> raw =
      idx_bytes(0x0C, {3}, {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 1, 0, 0});
  for (const auto& bytes : {raw, gzip(raw)}) {
    const IdxArray a = read_idx_buffer(bytes.data(), bytes.size(), "t.idx");
    CHECK(a.type == IdxType::kI32);
    int32_t v[3];
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(v, a.bytes.data(), sizeof v);
    CHECK(v[0] == 1);
    CHECK(v[1] == -2);
    CHECK(v[2] == 65536);
  }
  // float32 1.5 = 0x3FC00000; float64 -2 = 0xC000000000000000
  IdxArray f = read_idx_buffer(idx_bytes(0x0D, {1}, {0x3f, 0xc0, 0, 0}).data(), 8 + 4, "f.idx");
  float fv;
  std::memcpy(&fv, f.bytes.data(), 4);
  CHECK(fv == 1.5f);
  const auto d = idx_bytes(0x0E, {1}, {0xc0, 0, 0, 0, 0, 0, 0, 0});
  IdxArray g = read_idx_buffer(d.data(), d.size(), "d.idx");
  double dv;
  std::memcpy(&dv, g.bytes.data(), 8);
  CHECK(dv == -2.0);
  // Concatenated gzip members decode as one stream (as gzip -d does).
  const std::vector<uint8_t> labels = idx_bytes(0x08, {4}, {3, 1, 4, 1});
  std::vector<uint8_t> two = gzip(std::vector<uint8_t>(labels.begin(), labels.begin() + 7));
  const std::vector<uint8_t> second = gzip(std::vector<uint8_t>(labels.begin() + 7, labels.end()));
  two.insert(two.end(), second.begin(), second.end());
  CHECK(read_idx_buffer(two.data(), two.size(), "t.idx").bytes == std::vector<uint8_t>{3, 1, 4, 1});
}

TEST_CASE("idx: malformed files", "[idx][loader]") {
  CHECK(error_of({}).find("expected 4 bytes of IDX magic, got 0") != std::string::npos);
  CHECK(error_of({1, 0, 8, 1}).find("not an IDX file") != std::string::npos);
  CHECK(error_of(idx_bytes(0x0A, {1}, {0})).find("unknown IDX data type code 0x0a") != std::string::npos);
  CHECK(error_of({0, 0, 8, 0}).find("expected 1 to 8 IDX dimensions, got 0") != std::string::npos);
  CHECK(error_of({0, 0, 8, 9}).find("got 9") != std::string::npos);
  CHECK(error_of({0, 0, 8, 2, 0, 0, 0, 1}).find("IDX dimensions") != std::string::npos);  // dims cut short
  // data shorter / longer than dims × element size (raw: checked before allocating)
  CHECK(error_of(idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5})) == "t.idx: expected 6 data bytes for IDX dims, got 5");
  CHECK(error_of(idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6, 7})) == "t.idx: expected 6 data bytes for IDX dims, got 7");
  CHECK(error_of(idx_bytes(0x0C, {2}, {0, 0, 0, 1, 0, 0, 0})).find("expected 8 data bytes") != std::string::npos);
  // dims whose product overflows 64 bits, and dims beyond the budget: no allocation
  CHECK(error_of(idx_bytes(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {})).find("overflow") != std::string::npos);
  CHECK(error_of(idx_bytes(0x08, {60000, 1000, 1000}, {})).find("exceeds the limit") != std::string::npos);
}

TEST_CASE("idx: malformed and hostile gzip streams", "[idx][loader]") {
  const std::vector<uint8_t> raw = idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6});
  SECTION("truncated data inside the stream") {
    const auto gz = gzip(std::vector<uint8_t>(raw.begin(), raw.end() - 2));
    CHECK(error_of(gz) == "t.idx: expected 6 bytes of IDX data, got 4 (stream ended)");
  }
  SECTION("trailing data inside the stream") {
    std::vector<uint8_t> more = raw;
    more.push_back(7);
    CHECK(error_of(gzip(more)).find("got more") != std::string::npos);
  }
  SECTION("truncated compressed file") {
    auto gz = gzip(raw);
    gz.resize(gz.size() - 12);
    CHECK(error_of(gz).find("t.idx:") == 0);
  }
  SECTION("corrupt deflate data") {
    auto gz = gzip(raw);
    for (size_t i = 10; i < gz.size() - 8; ++i) gz[i] ^= 0x5a;
    CHECK(error_of(gz).find("t.idx:") == 0);
  }
  SECTION("bomb: header within budget, stream far larger") {
    // 1 MiB of declared data followed by 64 MiB of zeros: decoding stops after
    // header + 1 MiB + 1 byte and reports the extra data.
    std::vector<uint8_t> bomb = idx_bytes(0x08, {1024, 1024}, std::vector<uint8_t>(64u << 20, 0));
    const auto gz = gzip(bomb);
    CHECK(gz.size() < (1u << 20));
    CHECK(error_of(gz, 2u << 20).find("got more") != std::string::npos);
  }
  SECTION("bomb: header beyond the budget") {
    std::vector<uint8_t> bomb = idx_bytes(0x08, {64, 1024, 1024}, std::vector<uint8_t>(64u << 20, 0));
    CHECK(error_of(gzip(bomb), 1u << 20).find("exceeds the limit of 1048576") != std::string::npos);
  }
}

TEST_CASE("idx: file errors name the file", "[idx][loader]") {
  const std::string what = mc::test::input_error([&] { read_idx_file("/nonexistent/t10k.gz"); });
  CHECK(what.find("/nonexistent/t10k.gz: cannot open") == 0);
  try {
    read_idx_file(kFmnist + "t10k-images-idx3-ubyte.gz", 1000);
    FAIL("no error");
  } catch (const mc::Error& e) {
    CHECK(std::string(e.what()).find("over the limit of 1000") != std::string::npos);
  }
}

TEST_CASE("idx: the first rows of a file equal the first rows of a whole read", "[idx]") {
  const IdxArray all = read_idx_file(kFmnist + "t10k-images-idx3-ubyte.gz");
  const IdxArray all_y = read_idx_file(kFmnist + "t10k-labels-idx1-ubyte.gz");
  for (uint64_t n : {1u, 7u, 1000u, 9999u}) {
    INFO("first " << n);
    const IdxArray x = read_idx_file(kFmnist + "t10k-images-idx3-ubyte.gz", mc::data::kIdxDefaultMaxBytes, n);
    CHECK(x.type == IdxType::kU8);
    CHECK(x.dims == std::vector<int64_t>{static_cast<int64_t>(n), 28, 28});
    CHECK(x.rows_in_file == 10000);
    CHECK(x.bytes == std::vector<uint8_t>(all.bytes.begin(), all.bytes.begin() + n * 784));
    const IdxArray y = read_idx_file(kFmnist + "t10k-labels-idx1-ubyte.gz", mc::data::kIdxDefaultMaxBytes, n);
    CHECK(y.dims == std::vector<int64_t>{static_cast<int64_t>(n)});
    CHECK(y.bytes == std::vector<uint8_t>(all_y.bytes.begin(), all_y.bytes.begin() + n));
  }
  // As many rows as the file has, or more, is a whole read (0 too).
  for (uint64_t n : {0u, 10000u, 60000u}) {
    const IdxArray x = read_idx_file(kFmnist + "t10k-images-idx3-ubyte.gz", mc::data::kIdxDefaultMaxBytes, n);
    CHECK(x.dims == all.dims);
    CHECK(x.rows_in_file == 10000);
    CHECK(x.bytes == all.bytes);
  }
  // Big-endian rows, raw and gzip: int32 [3,2], the first 2 rows.
  const std::vector<uint8_t> raw = idx_bytes(0x0C, {3, 2}, {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 1, 0, 0,
                                                           0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4});
  for (const auto& bytes : {raw, gzip(raw)}) {
    const IdxArray a = read_idx_buffer(bytes.data(), bytes.size(), "t.idx", mc::data::kIdxDefaultMaxBytes, 2);
    CHECK(a.dims == std::vector<int64_t>{2, 2});
    CHECK(a.rows_in_file == 3);
    int32_t v[4];
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(v, a.bytes.data(), sizeof v);
    CHECK(v[0] == 1);
    CHECK(v[1] == -2);
    CHECK(v[2] == 65536);
    CHECK(v[3] == 2);
  }
}

// A gzip file is read (and decoded) only as far as the rows asked for, so what lies after
// them is not seen; a raw file's size is checked against its dims whatever is read.
TEST_CASE("idx: a file damaged after the rows read", "[idx][loader]") {
  mc::test::TempDir dir("mc_idx_rows");
  const std::string full = kFmnist + "t10k-images-idx3-ubyte.gz";
  const IdxArray first = read_idx_file(full, mc::data::kIdxDefaultMaxBytes, 100);
  SECTION("gzip cut in half: the first 100 rows read, a whole read is an error naming the file") {
    std::vector<uint8_t> gz = slurp(full);
    REQUIRE(gz.size() > 1000000);
    gz.resize(gz.size() / 2);
    const std::string cut = (dir.path / "cut.gz").string();
    write_file(cut, gz);
    const IdxArray x = read_idx_file(cut, mc::data::kIdxDefaultMaxBytes, 100);
    CHECK(x.rows_in_file == 10000);
    CHECK(x.bytes == first.bytes);
    CHECK(file_error_of(cut, 0) == cut + ": truncated gzip stream");
    CHECK(file_error_of(cut, 9000) == cut + ": truncated gzip stream");
  }
  SECTION("gzip stream with rows missing: an error only for a read that reaches them") {
    const std::vector<uint8_t> raw = idx_bytes(0x08, {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8});  // 2 of 4 rows
    const std::string short_rows = (dir.path / "short.gz").string();
    write_file(short_rows, gzip(raw));
    CHECK(read_idx_file(short_rows, mc::data::kIdxDefaultMaxBytes, 2).bytes == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
    CHECK(file_error_of(short_rows, 3) == short_rows + ": expected 9 bytes of IDX data, got 8 (stream ended)");
    CHECK(file_error_of(short_rows, 0) == short_rows + ": expected 12 bytes of IDX data, got 8 (stream ended)");
  }
  SECTION("gzip stream with extra data: seen by a whole read only") {
    std::vector<uint8_t> raw = idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6});
    raw.push_back(7);
    const std::string more = (dir.path / "more.gz").string();
    write_file(more, gzip(raw));
    CHECK(read_idx_file(more, mc::data::kIdxDefaultMaxBytes, 1).bytes == std::vector<uint8_t>{1, 2, 3});
    CHECK(file_error_of(more, 2) == more + ": expected 6 data bytes for IDX dims, got more");
  }
  SECTION("raw file shorter or longer than its dims: an error for any read") {
    const std::string cut = (dir.path / "cut.idx").string();
    write_file(cut, idx_bytes(0x08, {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(file_error_of(cut, 1) == cut + ": expected 12 data bytes for IDX dims, got 8");
    const std::string more = (dir.path / "more.idx").string();
    write_file(more, idx_bytes(0x08, {1, 3}, {1, 2, 3, 4}));
    CHECK(file_error_of(more, 1) == more + ": expected 3 data bytes for IDX dims, got 4");
    const std::string good = (dir.path / "good.idx").string();
    write_file(good, idx_bytes(0x08, {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    CHECK(read_idx_file(good, mc::data::kIdxDefaultMaxBytes, 2).bytes == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  }
  SECTION("the budget applies to the declared data, also when the first rows would fit") {
    std::vector<uint8_t> bomb = idx_bytes(0x08, {64, 1024, 1024}, std::vector<uint8_t>(1024, 0));
    CHECK(error_of(gzip(bomb), 1u << 20).find("exceeds the limit of 1048576") != std::string::npos);
    try {
      read_idx_buffer(bomb.data(), bomb.size(), "t.idx", 1u << 20, 1);
      FAIL("no error");
    } catch (const mc::Error& e) {
      CHECK(std::string(e.what()) == "t.idx: IDX data of 67108864 bytes exceeds the limit of 1048576");
    }
  }
}
