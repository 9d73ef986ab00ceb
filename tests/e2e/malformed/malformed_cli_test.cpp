// The malformed corpus through the command line, as a user meets it: each file
// gives exit code 2 and exactly one line on stderr that names the file, for both
// a reading verb (inspect) and a writing verb (optimize), which must leave no
// output behind. Runs under ASan+UBSan in CI (label "loader").
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
