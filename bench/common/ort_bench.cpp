#include "bench/common/ort_bench.h"

#include <nlohmann/json.hpp>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>

#include "runtime-check/npy/npy.h"
#include "tests/support/run_process.h"

namespace fs = std::filesystem;

namespace mc::bench {

std::string find_node(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("MC_NODE")) return env;
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const fs::path p = fs::path(dir) / "node";
    if (fs::exists(p)) return p.string();
  }
  return "";
}

OrtTiming time_ort(const std::string& node, const std::string& model, const std::string& input_name,
                   const std::vector<int64_t>& shape, int runs, int warmup, const fs::path& tmp, const fs::path& profile) {
  mcrt::NpyArray x;
  x.dtype = mcrt::NpyDtype::kF32;
  x.shape = shape;
  std::vector<float> v(x.numel());
  std::mt19937_64 rng(0);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  for (float& f : v) f = uf(rng);
  x.bytes.assign(reinterpret_cast<const uint8_t*>(v.data()), reinterpret_cast<const uint8_t*>(v.data() + v.size()));
  const fs::path in = tmp / "input.npy";
  if (!mcrt::npy_write_file(in.string(), x).ok()) throw std::runtime_error("cannot write " + in.string());
  std::vector<std::string> argv = {node, std::string(MC_SOURCE_DIR) + "/tests/peers/ort_run.js", model, "--in",
                                   input_name + "=" + in.string(), "--bench", "--runs", std::to_string(runs),
                                   "--warmup", std::to_string(warmup)};
  if (!profile.empty()) argv.insert(argv.end(), {"--profile", profile.string()});
  const auto p = mc::test::run_process(argv, 1800);
  if (p.exit_code != 0) throw std::runtime_error("ort_run.js: " + p.err);
  const auto j = nlohmann::json::parse(p.out);
  OrtTiming t;
  t.p50_ms = j["p50_ms"].get<double>();
  t.min_ms = j["min_ms"].get<double>();
  if (!profile.empty()) {
    const auto& pj = j.at("profile");
    t.profile_model_run_ms = pj.at("model_run_p50_ms").get<double>();
    t.profile_kernels = pj.at("kernels_per_run").get<double>();
    t.profile_kernel_ms = pj.at("kernel_ms_per_run").get<double>();
  }
  return t;
}

}  // namespace mc::bench
