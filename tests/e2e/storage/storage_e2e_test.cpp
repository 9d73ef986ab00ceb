// Weight storage end to end, in process: kmeans 4 bits on LeNet-300-100 (examples/fashion-mnist/
// mlp.onnx), exported as a runtime file with palettes and Huffman-coded buffers, then measured by
// the `check` harness on the full 10,000-image Fashion-MNIST test set: >= 8x smaller than the
// fp32 ONNX file and <= 1 point of top-1 lost, without fine-tuning (issue #4 acceptance).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "check/check_harness.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "quantize/weight_storage.h"
#include "tests/support/run_process.h"

namespace fs = std::filesystem;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mc_e2e_storage_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

mc::check::CheckOptions accuracy_options(const std::string& model) {
  mc::check::CheckOptions o;
  o.model = model;
  mc::data::DatasetOptions d;
  d.data_path = kData + "t10k-images-idx3-ubyte.gz";
  d.labels_path = kData + "t10k-labels-idx1-ubyte.gz";
  d.mean = 0.286f;
  d.std = 0.353f;
  o.data = d;
  o.runs = 1;
  o.warmup = 0;
  return o;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

fs::path kmeans_runtime_file(const fs::path& dir, const std::string& name, uint64_t seed) {
  mc::Model m = mc::import_onnx_file(kExamples + "mlp.onnx");
  mc::quant::WeightStorageOptions o;
  o.mode = mc::quant::WeightStorageMode::KMeans;
  o.bits = 4;
  o.seed = seed;
  o.entropy_coding = true;
  const mc::quant::WeightStorageReport rep = mc::quant::apply_weight_storage(m, o);
  REQUIRE(rep.layers_applied == 3);
  mc::PassContext ctx;
  mc::optimize_for_runtime(m, ctx);
  mc::RuntimeExportOptions eo;
  eo.entropy_coding = o.entropy_coding;
  const fs::path out = dir / name;
  mc::export_runtime_file(m, out.string(), eo);
  return out;
}

}  // namespace

TEST_CASE("kmeans 4 bits + entropy coding: LeNet-300-100 >= 8x smaller, top-1 loss <= 1 point", "[e2e][storage]") {
  TempDir d;
  const fs::path out = kmeans_runtime_file(d.path, "mlp_k4.mcrt", 0);
  const uint64_t onnx_bytes = fs::file_size(kExamples + "mlp.onnx");
  const uint64_t rt_bytes = fs::file_size(out);
  const double ratio = static_cast<double>(onnx_bytes) / static_cast<double>(rt_bytes);
  const mc::check::CheckReport fp32 = mc::check::run_check(accuracy_options(kExamples + "mlp.onnx"));
  const mc::check::CheckReport k4 = mc::check::run_check(accuracy_options(out.string()));
  REQUIRE(fp32.accuracy);
  REQUIRE(k4.accuracy);
  WARN("fp32 ONNX " << onnx_bytes << " B, top-1 " << fp32.accuracy->top1 << "%; kmeans4+huffman " << rt_bytes
                    << " B (" << ratio << "x), top-1 " << k4.accuracy->top1 << "%");
  CHECK(k4.accuracy->samples == 10000);
  CHECK(ratio >= 8.0);
  CHECK(fp32.accuracy->top1 - k4.accuracy->top1 <= 1.0);
  // The decoded weights are what the runtime holds in memory: fp32 dense after prepare.
  CHECK(k4.weight_bytes >= 266610u * 4u);
}

TEST_CASE("kmeans runtime files are byte-identical for the same seed", "[e2e][storage]") {
  TempDir d;
  const fs::path a = kmeans_runtime_file(d.path, "a.mcrt", 7);
  const fs::path b = kmeans_runtime_file(d.path, "b.mcrt", 7);
  CHECK(slurp(a) == slurp(b));
}

TEST_CASE("inspect and check on an entropy-coded runtime file: bytes on disk and in memory apart", "[e2e][storage]") {
  TempDir d;
  const fs::path f = kmeans_runtime_file(d.path, "mlp_k4.mcrt", 0);
  const auto r = mc::test::run_process({MC_BIN, "inspect", f.string(), "--json"}, 120);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "mcrt");
  CHECK(j["size"]["file_bytes"] == fs::file_size(f));
  CHECK(j["size"]["coded_buffers"].get<uint64_t>() >= 2);  // fc1 and fc2 indices
  uint64_t disk = 0, raw = 0, palettes = 0;
  for (const auto& c : j["constants"]) {
    disk += c["disk_bytes"].get<uint64_t>();
    raw += c["raw_bytes"].get<uint64_t>();
    palettes += c["storage"].get<std::string>().rfind("palette 4-bit", 0) == 0 ? 1 : 0;
  }
  CHECK(palettes == 3);
  CHECK(disk == j["size"]["weight_disk_bytes"].get<uint64_t>());
  CHECK(disk < raw);  // Huffman made the coded buffers smaller
  CHECK(j["size"]["weights_section_bytes"].get<uint64_t>() >= disk);
  const uint64_t in_memory = j["memory"]["weight_bytes"].get<uint64_t>();
  CHECK(in_memory >= 266610u * 4u + j["memory"]["decoded_bytes"].get<uint64_t>());

  const auto c = mc::test::run_process({MC_BIN, "check", f.string(), "--json", "--runs", "2", "--warmup", "0"}, 120);
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  const nlohmann::json cj = nlohmann::json::parse(c.out);
  CHECK(cj["size"]["weight_disk_bytes"] == disk);
  CHECK(cj["memory"]["decoded_bytes"] == j["memory"]["decoded_bytes"]);
  CHECK(cj["memory"]["weight_bytes"] == in_memory);
}

TEST_CASE("inspect of a corrupt runtime file: exit 2, one line naming the file", "[e2e][storage]") {
  TempDir d;
  const fs::path f = kmeans_runtime_file(d.path, "bad.mcrt", 0);
  std::string bytes = slurp(f);
  bytes.resize(bytes.size() - 100);  // truncated
  {
    std::ofstream o(f, std::ios::binary | std::ios::trunc);
    o << bytes;
  }
  const auto r = mc::test::run_process({MC_BIN, "inspect", f.string()}, 60);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(f.string()) != std::string::npos);
  CHECK(r.err.find("§2") != std::string::npos);
}
