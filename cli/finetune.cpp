// mcompress finetune: train a (compressed) model on labelled data with LibTorch,
// keeping its sparsity and factorization (distill/trainer.h); a QDQ model (quantize
// --mode static) trains quantization-aware (distill/ir_executor.h). Parsing and printing only.
#include <memory>

#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/train_options.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/io/model_loader.h"

namespace mc::cli {
namespace {

struct FinetuneArgs {
  std::string model, output;
  DataArgs data;
  TrainArgs train;
};

int run_finetune(const FinetuneArgs& a, const Globals& g) {
  const distill::TrainOptions o = to_train_options(a.train, g);
  if (a.model == a.output || same_file(a.model, a.output))
    throw Error(ErrorKind::Input, "finetune: the output '" + a.output + "' is the input model; write to another file (-o)");
  const data::DatasetOptions dopt = to_dataset_options(a.data, "finetune").value();
  const Model before = load_model_file(a.model);
  Model m = before;
  const data::Dataset ds = data::load_dataset(dopt, model_input_shape(m, a.model));
  distill::TrainReport r;
  distill::finetune(m, ds, o, &r);
  nlohmann::ordered_json j{{"model", a.model}, {"data", dopt.data_path}, {"samples", ds.num_samples()}};
  return write_trained("finetune", before, m, a.output, before.source_files, r, j, g, a.train.rank);
}

}  // namespace

CLI::App* add_finetune(CLI::App& root, Action* action) {
  auto args = std::make_shared<FinetuneArgs>();
  CLI::App* sub = root.add_subcommand("finetune", "Train a model on labelled data (LibTorch); pruned weights stay zero, "
                                          "a QDQ int8 model trains quantization-aware");
  sub->add_option("MODEL", args->model, "Model (.onnx or TorchScript .pt)")->required();
  sub->add_option("-o,--output", args->output, "Output ONNX file")->required();
  add_data_options(*sub, args->data, DataRequirement::Required, "Train on the first N samples only");
  add_train_options(*sub, args->train);
  sub->footer(
      "Example:\n"
      "  mcompress finetune mlp80.onnx --data train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\\n"
      "      --mean 0.286 --std 0.353 --epochs 2 --lr 0.01 -o mlp80.ft.onnx\n"
      "Quantization-aware training: give it the output of quantize --mode static (QDQ ONNX);\n"
      "the result is QDQ with re-quantized int8 weights and new scales (export --format runtime, check).");
  sub->callback([args, action]() { *action = [args](const Globals& g) { return run_finetune(*args, g); }; });
  return sub;
}

}  // namespace mc::cli
