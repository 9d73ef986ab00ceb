#include "bench/common/bench_args.h"

#include <cstdlib>
#include <sstream>

namespace mc::bench {

bool take_bench_arg(int argc, char** argv, int& i, BenchArgs& args) {
  const std::string a = argv[i];
  auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
  if (a == "--runs") args.runs = std::atoi(value().c_str());
  else if (a == "--warmup") args.warmup = std::atoi(value().c_str());
  else if (a == "--node") args.node = value();
  else if (a == "--batches") {
    args.batches.clear();
    std::stringstream ss(value());
    std::string t;
    while (std::getline(ss, t, ',')) args.batches.push_back(std::atoll(t.c_str()));
  } else if (!a.empty() && a[0] != '-') args.models.push_back(a);
  else return false;
  return true;
}

bool bench_args_valid(const BenchArgs& args) {
  if (args.runs < 1 || args.warmup < 0 || args.batches.empty()) return false;
  for (int64_t b : args.batches)
    if (b < 1) return false;
  return true;
}

}  // namespace mc::bench
