// The command-line arguments every ORT-comparing benchmark takes: --runs N, --warmup W, --batches 1,32,
// --node PATH and the model paths; each benchmark adds its own flags around take_bench_arg.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mc::bench {

struct BenchArgs {
  int runs = 200, warmup = 20;
  std::vector<int64_t> batches;  // the benchmark's default until --batches is given
  std::string node;              // --node (find_node resolves it)
  std::vector<std::string> models;
};

// Consumes argv[i] (and the value after it) when it is one of the shared options or a model path (not
// starting with '-'); false when it is something else (the caller's own flag, or unknown).
bool take_bench_arg(int argc, char** argv, int& i, BenchArgs& args);

// runs >= 1, warmup >= 0, at least one batch and every batch >= 1.
bool bench_args_valid(const BenchArgs& args);

}  // namespace mc::bench
