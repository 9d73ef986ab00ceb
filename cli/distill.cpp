// mcompress distill: train a student on a teacher's soft targets (Hinton et al. 2015)
// with LibTorch (distill/trainer.h). Parsing and printing only.
#include <memory>

#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/train_options.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/io/model_loader.h"

namespace mc::cli {
namespace {

struct DistillArgs {
  std::string teacher, student, output;
  double temperature = 4.0, alpha = 0.7;
  DataArgs data;
  TrainArgs train;
};

int run_distill(const DistillArgs& a, const Globals& g) {
  const distill::TrainOptions o = to_train_options(a.train, g);
  distill::DistillOptions d;
  d.temperature = a.temperature;
  d.alpha = a.alpha;
  for (const auto* in : {&a.teacher, &a.student})
    if (*in == a.output || same_file(*in, a.output))
      throw Error(ErrorKind::Input, "distill: the output '" + a.output + "' is an input model; write to another file (-o)");
  const data::DatasetOptions dopt = to_dataset_options(a.data, "distill").value();
  const Model teacher = load_model_file(a.teacher);
  const Model before = load_model_file(a.student);
  Model student = before;
  const data::Dataset ds = data::load_dataset(dopt, model_input_shape(student, a.student));
  distill::TrainReport r;
  distill::distill(student, teacher, ds, o, d, &r);
  nlohmann::ordered_json j{{"teacher", a.teacher}, {"student", a.student}, {"data", dopt.data_path},
                           {"samples", ds.num_samples()}, {"temperature", d.temperature}, {"alpha", d.alpha},
                           {"labels", ds.has_labels()}};
  std::vector<std::string> inputs = before.source_files;
  inputs.insert(inputs.end(), teacher.source_files.begin(), teacher.source_files.end());
  return write_trained("distill", before, student, a.output, inputs, r, j, g, a.train.rank);
}

}  // namespace

CLI::App* add_distill(CLI::App& root, Action* action) {
  auto args = std::make_shared<DistillArgs>();
  CLI::App* sub = root.add_subcommand("distill", "Train a student on a teacher's soft targets (knowledge distillation)");
  sub->add_option("--teacher", args->teacher, "Teacher model (.onnx or .pt)")->required();
  sub->add_option("--student", args->student, "Student model (.onnx or .pt), trained from its current weights")->required();
  sub->add_option("-o,--output", args->output, "Output ONNX file (the trained student)")->required();
  sub->add_option("--temperature", args->temperature, "Softmax temperature T (default 4)");
  sub->add_option("--alpha", args->alpha, "Loss = alpha*T^2*KL + (1-alpha)*CE (default 0.7; 1 = soft targets only)");
  add_data_options(*sub, args->data, DataRequirement::Required, "Train on the first N samples only");
  add_train_options(*sub, args->train);
  sub->footer(
      "Example:\n"
      "  mcompress distill --teacher resnet.onnx --student student.onnx --data train-images-idx3-ubyte.gz \\\n"
      "      --labels train-labels-idx1-ubyte.gz --mean 0.286 --std 0.353 --epochs 2 -o student.kd.onnx");
  sub->callback([args, action]() { *action = [args](const Globals& g) { return run_distill(*args, g); }; });
  return sub;
}

}  // namespace mc::cli
