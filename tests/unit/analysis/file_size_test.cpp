// compress/analysis/file_size: bytes on disk and gzip bytes, external data included.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "compress/analysis/file_size.h"
#include "compress/error.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/input_error.h"
#include "tests/support/ir_builders.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

// A model whose 64 KiB weight is mostly zeros: very compressible.
mc::Model compressible_model() {
  mc::Model m;
  m.opsets = {{"", 13}};
  m.graph.name = "g";
  m.graph.inputs.push_back(mc::test::known_value_info("X", {1, 128}));
  mc::Tensor w = mc::Tensor::zeros("W", mc::DType::F32, {128, 128});
  for (int i = 0; i < 128; ++i) w.as_mut<float>()[i * 129] = 1.0f;  // identity: 128 non-zeros of 16384
  m.graph.initializers.push_back(w);
  m.graph.nodes.push_back(mc::test::make_node("MatMul", {"X", "W"}, {"Y"}, ""));
  m.graph.outputs.push_back(mc::test::known_value_info("Y", {1, 128}));
  return m;
}

}  // namespace

TEST_CASE("gzip size of buffers", "[analysis][gzip]") {
  // gzip of nothing is a header and trailer only: 10 + 2 (empty deflate block) + 8 = 20 bytes.
  CHECK(mc::gzip_size("") == 20);
  const std::string zeros(1 << 20, '\0');
  const uint64_t gz = mc::gzip_size(zeros);
  CHECK(gz > 20);
  CHECK(gz < 2000);  // deflate's best ratio is about 1:1032
  // Incompressible bytes grow a little, never shrink much.
  std::string noise(1 << 16, '\0');
  uint32_t s = 12345;
  for (auto& c : noise) c = static_cast<char>((s = s * 1664525u + 1013904223u) >> 24);
  CHECK(mc::gzip_size(noise) > noise.size() - 100);
}

TEST_CASE("file bytes and gzip bytes of a model file, external data included", "[analysis][gzip]") {
  mc::test::TempDir dir("mc_analysis");
  const mc::Model m = compressible_model();

  SECTION("one file") {
    const std::string path = (dir.path / "m.onnx").string();
    mc::export_onnx_file(m, path);
    const mc::Model im = mc::import_onnx_file(path);
    REQUIRE(im.source_files == std::vector<std::string>{path});
    const mc::FileSizes sz = mc::measure_files(im.source_files);
    REQUIRE(sz.files.size() == 1);
    CHECK(sz.bytes == fs::file_size(path));
    CHECK(sz.bytes > 128 * 128 * 4);
    CHECK(sz.gzip_bytes > 0);
    CHECK(sz.gzip_bytes < sz.bytes / 10);
  }
  SECTION("model plus external data; duplicates are measured once") {
    const std::string path = (dir.path / "m.onnx").string();
    mc::ExportOptions eo;
    eo.external_data_file = "m.data";
    mc::export_onnx_file(m, path, eo);
    const mc::Model im = mc::import_onnx_file(path);
    REQUIRE(im.source_files.size() == 2);
    std::vector<std::string> files = im.source_files;
    files.push_back(files[1]);
    const mc::FileSizes sz = mc::measure_files(files);
    REQUIRE(sz.files.size() == 2);
    const uint64_t on_disk = fs::file_size(path) + fs::file_size(dir.path / "m.data");
    CHECK(sz.bytes == on_disk);
    CHECK(sz.files[0].bytes < 1024);                 // the weights left the model file
    CHECK(sz.files[1].bytes == 128 * 128 * 4);
    CHECK(sz.gzip_bytes == sz.files[0].gzip_bytes + sz.files[1].gzip_bytes);
    CHECK(sz.gzip_bytes < sz.bytes);
  }
  SECTION("a file larger than the 1 MiB read chunk gives the same size as the in-memory gzip") {
    const std::string path = (dir.path / "big.bin").string();
    std::string bytes(3 * (1 << 20) + 17, 'a');
    for (size_t i = 0; i < bytes.size(); i += 97) bytes[i] = static_cast<char>(i & 0xff);
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const mc::FileSizes sz = mc::measure_files({path});
    CHECK(sz.bytes == bytes.size());
    CHECK(sz.gzip_bytes == mc::gzip_size(bytes));
  }
  SECTION("a missing file is an input error naming it") {
    const std::string path = (dir.path / "missing.onnx").string();
    const std::string what = mc::test::input_error([&] { mc::measure_files({path}); });
    CHECK(what.find(path) != std::string::npos);
  }
}
