#include "cli/command.h"
CLI::App* mc::cli::add_optimize(CLI::App& root, Action*) { return root.add_subcommand("optimize", "(being written)"); }
