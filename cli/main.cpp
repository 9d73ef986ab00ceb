// mcompress: one binary, one file per verb. This file only wires them up,
// parses the shared flags and maps errors to exit codes:
//   0 ok, 1 a check or gate failed, 2 bad input or usage, 3 internal error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <new>

#include "cli/command.h"
#include "compress/error.h"
#include "compress/io/model_loader.h"
#include "distill/torchscript_import.h"

#ifndef MC_VERSION
#define MC_VERSION "0.0.0"
#endif

namespace {

const mc::cli::Verb kVerbs[] = {
    {"inspect", mc::cli::add_inspect},
    {"optimize", mc::cli::add_optimize},
    {"export", mc::cli::add_export},
    {"check", mc::cli::add_check},
    {"lowrank", mc::cli::add_lowrank},
    {"prune", mc::cli::add_prune},
    {"sensitivity", mc::cli::add_sensitivity},
    {"finetune", mc::cli::add_finetune},
    {"distill", mc::cli::add_distill},
    {"quantize", mc::cli::add_quantize},
};

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("mcompress");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbosity < 0 ? spdlog::level::warn
                    : verbosity == 0 ? spdlog::level::info
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::trace);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mcompress: shrink ONNX models (prune, low-rank, quantize, distill) and measure the result"};
  app.set_version_flag("--version", std::string("mcompress ") + MC_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  mc::cli::Globals globals;
  int verbose_count = 0;
  bool quiet = false;
  app.add_flag("--json", globals.json, "Print machine-readable results on stdout (logs go to stderr)");
  app.add_flag("-v,--verbose", verbose_count, "More detail on stderr (-vv for trace)");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors on stderr");
  std::vector<std::string> input_shapes;
  app.add_option("--input-shape", input_shapes,
                 "NAME=D1,D2,... (repeatable): shape of a model input the file does not give (TorchScript "
                 "without input_shapes, ONNX inputs without shapes); -1 = batch. For every verb");
  app.footer(
      "Examples:\n"
      "  mcompress inspect model.onnx\n"
      "  mcompress optimize model.onnx -o model.opt.onnx\n"
      "Exit codes: 0 ok, 1 a check failed, 2 bad input or usage, 3 internal error.");

  mc::distill::register_torchscript_loader();  // MODEL may be a .pt (docs/training.md)
  mc::cli::Action action;
  for (const auto& v : kVerbs) v.add(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mcompress: " << e.what() << " (see --help)\n";
    return 2;
  }
  globals.verbosity = quiet ? -1 : verbose_count;
  setup_logging(globals.verbosity);
  if (!action) {
    std::cerr << "mcompress: no command given (see --help)\n";
    return 2;
  }
  try {
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& spec : input_shapes) mc::add_input_shape(shapes, spec);
    mc::set_default_input_shapes(std::move(shapes));
    return action(globals);
  } catch (const mc::Error& e) {
    std::cerr << "mcompress: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::cerr << "mcompress: out of memory\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "mcompress: internal error: " << e.what() << "\n";
    return 3;
  }
}
