// The malformed corpus through the command line, as a user meets it: each file
// gives exit code 2 and exactly one line on stderr that names the file, for both
// a reading verb (inspect) and a writing verb (optimize), which must leave no
// output behind. Runs under ASan+UBSan in CI (label "loader").
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/run_process.h"

namespace fs = std::filesystem;

namespace {
const fs::path kCorpus = fs::path(MC_SOURCE_DIR) / "tests" / "malformed";

std::vector<std::pair<std::string, std::string>> cases() {
  std::vector<std::pair<std::string, std::string>> rows;
  std::ifstream f(kCorpus / "cases.tsv");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    std::string file, expect;
    std::getline(ss, file, '\t');
    std::getline(ss, expect, '\t');
    rows.emplace_back(file, expect);
  }
  return rows;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}
}  // namespace

TEST_CASE("every malformed file: exit 2 and one line naming the file", "[e2e][loader]") {
  const auto rows = cases();
  REQUIRE(rows.size() >= 25);
  const fs::path out_dir = fs::temp_directory_path() / ("mc_malformed_out_" + std::to_string(::getpid()));
  fs::create_directories(out_dir);
  for (const auto& [file, expect] : rows) {
    const std::string path = (kCorpus / file).string();
    for (const char* verb : {"inspect", "optimize"}) {
      INFO(verb << " " << file);
      std::vector<std::string> argv{MC_BIN, verb, path};
      const fs::path out = out_dir / (fs::path(file).filename().string() + ".out.onnx");
      if (std::string(verb) == "optimize") {
        argv.push_back("-o");
        argv.push_back(out.string());
      }
      const auto r = mc::test::run_process(argv, 60.0);
      CHECK_FALSE(r.timed_out);
      CHECK(r.term_signal == 0);
      CHECK(r.exit_code == 2);
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find(path) != std::string::npos);
      CHECK(r.err.find(expect) != std::string::npos);
      CHECK(r.out.empty());
      CHECK_FALSE(fs::exists(out));
    }
  }
  // No temp files were left next to the outputs either.
  CHECK(fs::is_empty(out_dir));
  fs::remove_all(out_dir);
}

// A FIFO given where a file is read (model, reference, data, config, labels) must not block the
// open waiting for a writer: exit 2 at once, one line naming it. Every path below used to hang.
TEST_CASE("a FIFO in place of any input file: exit 2 naming it, no hang", "[e2e][loader]") {
  const fs::path dir = fs::temp_directory_path() / ("mc_malformed_fifo_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string fifo = (dir / "pipe").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string model = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/mlp.onnx";
  const std::string data = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  const fs::path out = dir / "out.onnx";
  const std::vector<std::vector<std::string>> cmds = {
      {"inspect", fifo},
      {"check", fifo},
      {"optimize", fifo, "-o", out.string()},
      {"prune", fifo, "--ratio", "0.5", "-o", out.string()},
      {"check", model, "--reference", fifo},
      {"check", model, "--data", data, "--labels", fifo},
      {"quantize", model, "--mode", "static", "--calib-data", fifo, "-o", out.string()},
      {"prune", model, "--config", fifo, "-o", out.string()},
      {"check", model, "--data", data, "--limit", "4", "--reference-outputs", fifo},  // the runtime's npy reader
  };
  for (const auto& c : cmds) {
    std::vector<std::string> argv{MC_BIN};
    argv.insert(argv.end(), c.begin(), c.end());
    INFO(c[0] << " " << c[1] << " " << (c.size() > 2 ? c[2] : ""));
    const auto r = mc::test::run_process(argv, 20.0);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(fifo + ": not a regular file") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  fs::remove_all(dir);
}
