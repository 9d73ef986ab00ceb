// The options of how a runtime file (.mcrt) is written (--entropy-coding, --strip-names), for the verbs
// that can write one (export, quantize): added to their CLI11 subcommand in one way, checked against the
// chosen --format in one way, and carried into RuntimeExportOptions in one way.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "export/runtime_export.h"

namespace mc::cli {

struct RuntimeFileArgs {
  bool entropy_coding = false;
  bool strip_names = false;
};

// `args` must outlive `sub`'s parsing (verbs keep it in the shared_ptr their callback holds).
void add_runtime_file_options(CLI::App& sub, RuntimeFileArgs& args);

// Throws mc::Error(Input) "--X applies to --format runtime only" when a flag is given for another format.
void check_runtime_file_options(const RuntimeFileArgs& args, const std::string& format);

// Sets the matching fields of `eo`.
void apply_runtime_file_options(const RuntimeFileArgs& args, RuntimeExportOptions& eo);

}  // namespace mc::cli
