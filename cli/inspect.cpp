#include "cli/command.h"
CLI::App* mc::cli::add_inspect(CLI::App& root, Action*) { return root.add_subcommand("inspect", "(being written)"); }
