// The malformed-input corpus (tests/malformed/, written by make_corpus.py):
// every file must be rejected by the ONNX importer with an Input error whose
// message names the file and contains the expected fragment. The valid twins
// must load, so an over-strict loader fails here too. Runs under ASan+UBSan in CI.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"

namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(MC_SOURCE_DIR) / "tests" / "malformed";

std::vector<std::vector<std::string>> read_tsv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) cols.push_back(c);
    rows.push_back(cols);
  }
  return rows;
}

// "" when the import failed as expected, else what went wrong.
std::string expect_rejected(const std::string& path, const std::string& fragment) {
  try {
    mc::import_onnx_file(path);
  } catch (const mc::Error& e) {
    const std::string msg = e.what();
    if (e.kind() != mc::ErrorKind::Input) return "wrong error kind: " + msg;
    if (msg.find(path) != 0) return "message does not start with the file name: " + msg;
    if (msg.find(fragment) == std::string::npos) return "message lacks '" + fragment + "': " + msg;
    if (msg.find('\n') != std::string::npos) return "message is more than one line: " + msg;
    return "";
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "accepted a malformed file";
}

}  // namespace

TEST_CASE("valid twins of the corpus load", "[loader]") {
  CHECK_NOTHROW(mc::import_onnx_file((kCorpus / "valid.onnx").string()));
  mc::Model m = mc::import_onnx_file((kCorpus / "ext" / "valid_external.onnx").string());
  REQUIRE(m.graph.initializer("b"));
  CHECK(m.graph.initializer("b")->numel() == 4);
  CHECK(m.graph.initializer("b")->as<float>()[3] == 3.0f);
}

TEST_CASE("every malformed file is rejected with a clear message", "[loader]") {
  const auto rows = read_tsv(kCorpus / "cases.tsv");
  REQUIRE(rows.size() >= 25);
  for (const auto& r : rows) {
    REQUIRE(r.size() >= 2);
    INFO("case " << r[0] << " (" << (r.size() > 2 ? r[2] : "") << ")");
    CHECK(expect_rejected((kCorpus / r[0]).string(), r[1]) == "");
  }
}

TEST_CASE("external data through links is rejected", "[loader]") {
  const auto rows = read_tsv(kCorpus / "link_cases.tsv");
  REQUIRE(rows.size() == 4);
  fs::path tmp = fs::temp_directory_path() / ("mc_links_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "real");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "weights.bin");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "real" / "weights.bin");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "outside.bin");
  fs::create_directories(tmp / "model");
  fs::copy_file(kCorpus / "ext" / "weights.bin", tmp / "model" / "weights.bin");
  fs::create_symlink(tmp / "model" / "weights.bin", tmp / "model" / "link.bin");
  fs::create_directory_symlink(tmp / "real", tmp / "model" / "linkdir");
  fs::create_symlink(tmp / "outside.bin", tmp / "model" / "escape.bin");
  fs::create_hard_link(tmp / "weights.bin", tmp / "model" / "hard.bin");
  for (const auto& r : rows) {
    REQUIRE(r.size() >= 3);
    INFO("case " << r[0] << " (" << (r.size() > 3 ? r[3] : "") << ")");
    const fs::path model = tmp / "model" / fs::path(r[0]).filename();
    fs::copy_file(kCorpus / r[0], model);
    CHECK(expect_rejected(model.string(), r[2]) == "");
  }
  fs::remove_all(tmp);
}
