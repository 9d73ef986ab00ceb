#include "cli/data_options.h"

#include "compress/error.h"

namespace mc::cli {

void add_data_options(CLI::App& sub, DataArgs& args, DataRequirement requirement, const std::string& limit_help) {
  CLI::Option* data = sub.add_option("--data", args.data, "Data set: IDX (.gz ok), .npy or .npz");
  if (requirement == DataRequirement::Required) data->required();
  sub.add_option("--labels", args.labels, "Labels (IDX or .npy) for --data");
  DataArgs* a = &args;
  sub.add_option("--mean", args.mean, "Subtract this after scaling uint8 data to [0, 1]")
      ->each([a](const std::string&) { a->has_mean = true; });
  sub.add_option("--std", args.std_dev, "Then divide by this (> 0)")->each([a](const std::string&) { a->has_std = true; });
  sub.add_option("--layout", args.layout, "Layout of the data's samples: nchw or nhwc (default nchw)");
  sub.add_option("--limit", args.limit, limit_help);
}

std::optional<data::DatasetOptions> to_dataset_options(const DataArgs& args, const std::string& verb) {
  if (args.data.empty()) {
    if (!args.labels.empty() || args.has_mean || args.has_std)
      throw Error(ErrorKind::Input, verb + ": --labels, --mean and --std need --data");
    return std::nullopt;
  }
  data::DatasetOptions d;
  d.data_path = args.data;
  d.labels_path = args.labels;
  if (args.has_mean) d.mean = args.mean;
  if (args.has_std) d.std = args.std_dev;
  d.layout = data::parse_layout(args.layout);
  d.max_samples = args.limit;
  return d;
}

}  // namespace mc::cli
