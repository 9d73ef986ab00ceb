// The data-set options a verb that runs a model on real samples takes (--data,
// --labels, --mean, --std, --layout, --limit), added to its CLI11 subcommand in one
// way and turned into the compress/data DatasetOptions in one way (check, sensitivity).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "compress/data/dataset.h"

namespace mc::cli {

// The options as parsed, before validation.
struct DataArgs {
  std::string data, labels, layout = "nchw";
  float mean = 0, std_dev = 0;
  bool has_mean = false, has_std = false;  // --mean / --std were given
  uint64_t limit = 0;                      // 0: all samples
};

enum class DataRequirement { Optional, Required };

// Adds the six options to `sub`, storing into `args`. `args` must outlive `sub`'s
// parsing (verbs keep it in the shared_ptr their callback holds). Required makes
// --data a required option. `limit_help` is the verb's own meaning of --limit.
void add_data_options(CLI::App& sub, DataArgs& args, DataRequirement requirement, const std::string& limit_help);

// The DatasetOptions for `args`, or nullopt when --data was not given. Throws
// mc::Error(Input) "<verb>: --labels, --mean and --std need --data" when one of those
// comes without --data, and parse_layout's error for a bad --layout.
std::optional<data::DatasetOptions> to_dataset_options(const DataArgs& args, const std::string& verb);

}  // namespace mc::cli
