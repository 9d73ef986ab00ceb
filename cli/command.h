// The contract between cli/main.cpp and one file per verb.
// A verb file adds its subcommand to the root app and stores the action to run
// after parsing. Actions return an exit code; they throw mc::Error for failures,
// which main.cpp turns into one line on stderr and the matching exit code.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace mc::cli {

struct Globals {
  bool json = false;  // machine-readable result on stdout; logs stay on stderr
  int verbosity = 0;  // -q: -1, -v: 1, -vv: 2
};

using Action = std::function<int(const Globals&)>;

// One entry per verb: the explicit registration table lives in main.cpp.
struct Verb {
  const char* name;
  CLI::App* (*add)(CLI::App& root, Action* action);
};

// Verb files.
CLI::App* add_inspect(CLI::App& root, Action* action);
CLI::App* add_optimize(CLI::App& root, Action* action);
CLI::App* add_export(CLI::App& root, Action* action);
CLI::App* add_check(CLI::App& root, Action* action);
CLI::App* add_lowrank(CLI::App& root, Action* action);
CLI::App* add_prune(CLI::App& root, Action* action);
CLI::App* add_sensitivity(CLI::App& root, Action* action);
CLI::App* add_finetune(CLI::App& root, Action* action);
CLI::App* add_distill(CLI::App& root, Action* action);
CLI::App* add_quantize(CLI::App& root, Action* action);

}  // namespace mc::cli
