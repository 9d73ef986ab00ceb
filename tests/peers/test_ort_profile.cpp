// tests/peers/ort_run.js --profile: ONNX Runtime's profiler trace is written to the given
// file (and nothing else is left behind), the summary printed with --bench is recomputed
// here from that file, and each bad --profile target is exit 2 with one line.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runtime-check/npy/npy.h"
#include "tests/support/ort_peer.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kModel = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/mobile.onnx";
const std::string kTool = std::string(MC_SOURCE_DIR) + "/tests/peers/ort_run.js";

std::string node_path() {
  if (const char* env = std::getenv("MC_NODE")) return env;
  std::stringstream ss(std::getenv("PATH") ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(ss, dir, ':');)
    if (::access((dir + "/node").c_str(), X_OK) == 0) return dir + "/node";
  return "";
}

// A temp dir holding the model's input x.npy (a fixed [1,1,28,28] ramp).
struct ProfileDir : mc::test::TempDir {
  ProfileDir() : mc::test::TempDir("mc_ort_profile") {
    mcrt::NpyArray x;
    x.dtype = mcrt::NpyDtype::kF32;
    x.shape = {1, 1, 28, 28};
    x.bytes.assign(784 * 4, 0);
    for (size_t i = 0; i < 784; ++i) reinterpret_cast<float*>(x.bytes.data())[i] = static_cast<float>(i % 17) / 17.f;
    REQUIRE(mcrt::npy_write_file((path / "x.npy").string(), x).ok());
  }
  std::set<std::string> files() const {
    std::set<std::string> s;
    for (const auto& e : fs::directory_iterator(path)) s.insert(e.path().filename().string());
    return s;
  }
};

mc::test::ProcessResult ort_run(const ProfileDir& d, std::vector<std::string> extra) {
  std::vector<std::string> argv = {node_path(), kTool, kModel, "--in", "input=" + (d.path / "x.npy").string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return mc::test::run_process(argv, 300);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void expect_bad_profile(const ProfileDir& d, const std::vector<std::string>& extra, const std::string& needle) {
  const auto before = d.files();
  const auto r = ort_run(d, extra);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(d.files() == before);
}

}  // namespace

TEST_CASE("ort_run.js --bench --profile: the trace file holds every run, the printed summary matches it", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  const fs::path prof = d.path / "p.json";
  const auto r = ort_run(d, {"--bench", "--runs", "20", "--warmup", "5", "--profile", prof.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(d.files() == std::set<std::string>{"x.npy", "p.json"});  // no temporary profile left
  const json line = json::parse(r.out);
  CHECK(line["runs"] == 20);
  const json& p = line["profile"];
  CHECK(p["file"] == prof.string());

  std::ifstream f(prof);
  const json trace = json::parse(f);
  REQUIRE(trace.is_array());
  std::vector<json> runs, kernels;
  for (const auto& e : trace) {
    if (e.value("cat", "") == "Session" && e.value("name", "") == "model_run") runs.push_back(e);
    if (e.value("cat", "") == "Node" && e.value("name", "").size() > 12 &&
        e["name"].get<std::string>().rfind("_kernel_time") == e["name"].get<std::string>().size() - 12)
      kernels.push_back(e);
  }
  REQUIRE(runs.size() == 25);  // warm-up + timed runs, all profiled
  // Every run executes the same kernels: their count is a whole multiple of the runs.
  REQUIRE(kernels.size() % runs.size() == 0);
  std::set<std::string> names;
  for (const auto& k : kernels) names.insert(k["name"].get<std::string>());
  CHECK(kernels.size() / runs.size() == names.size());
  CHECK(p["kernels_per_run"].get<double>() == static_cast<double>(names.size()));
  // mobile has 13 Convs; whatever layout ORT picks, at least those run, and Gemm.
  CHECK(names.size() >= 14);
  std::vector<double> run_us;
  for (size_t i = 5; i < runs.size(); ++i) run_us.push_back(runs[i]["dur"].get<double>());
  CHECK(p["model_run_p50_ms"].get<double>() == Approx(median(run_us) / 1000).epsilon(1e-9));
  // The per-run kernel sum lies inside the run it belongs to.
  CHECK(p["kernel_ms_per_run"].get<double>() > 0);
  CHECK(p["kernel_ms_per_run"].get<double>() <= p["model_run_p50_ms"].get<double>() * 2);
}

TEST_CASE("ort_run.js --out-dir --profile: one profiled run next to the outputs", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  const fs::path prof = d.path / "p.json", out = d.path / "out";
  const auto r = ort_run(d, {"--out-dir", out.string(), "--profile", prof.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(out / "logits.npy"));
  std::ifstream f(prof);
  const json trace = json::parse(f);
  int runs = 0;
  for (const auto& e : trace) runs += e.value("cat", "") == "Session" && e.value("name", "") == "model_run";
  CHECK(runs == 1);
}

TEST_CASE("ort_run.js --profile without a file is exit 2", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  expect_bad_profile(d, {"--bench", "--runs", "2", "--profile"}, "--profile needs a file");
}

TEST_CASE("ort_run.js --profile in a folder that does not exist is exit 2", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  expect_bad_profile(d, {"--bench", "--runs", "2", "--profile", (d.path / "no" / "p.json").string()},
                     "cannot write the profile there (ENOENT)");
}

TEST_CASE("ort_run.js --profile naming a folder is exit 2", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  expect_bad_profile(d, {"--bench", "--runs", "2", "--profile", d.path.string()}, "is a directory");
}

TEST_CASE("ort_run.js --profile naming the model is exit 2 and leaves the model alone", "[peer][profile]") {
  REQUIRE(mc::test::ort_available());
  ProfileDir d;
  const fs::path copy = d.path / "m.onnx";
  fs::copy_file(kModel, copy);
  const auto size = fs::file_size(copy);
  const auto r = mc::test::run_process({node_path(), kTool, copy.string(), "--in", "input=" + (d.path / "x.npy").string(),
                                        "--bench", "--runs", "2", "--profile", copy.string()},
                                       300);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("is the model") != std::string::npos);
  CHECK(fs::file_size(copy) == size);
  CHECK(d.files() == std::set<std::string>{"x.npy", "m.onnx"});
}
