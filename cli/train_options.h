// The options and output shared by the training verbs (finetune, distill): one way to
// add --epochs/--lr/--batch-size/--optimizer/--schedule/--seed/--checkpoint/--resume,
// one progress display, one way to write the trained model.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "compress/ir/graph.h"
#include "distill/trainer.h"

namespace mc::cli {

struct TrainArgs {
  int epochs = 1;
  double lr = 0.01, momentum = 0.9, weight_decay = 0;
  int64_t batch_size = 64;
  std::string optimizer = "sgd", schedule = "cosine", checkpoint;
  uint64_t seed = 0;
  bool resume = false;
  int world_size = 1, rank = 0, master_port = 29500, dist_timeout = 60;
  std::string master_addr = "127.0.0.1";
};

void add_train_options(CLI::App& sub, TrainArgs& a);

// Validated options with the progress callbacks: a bar on stderr when it is a
// terminal, one line per epoch (loss, accuracy, lr) on stdout, or stderr under --json.
distill::TrainOptions to_train_options(const TrainArgs& a, const Globals& g);

// The model input's shape (batch dim first, -1 where symbolic) for load_dataset.
std::vector<int64_t> model_input_shape(const Model& m, const std::string& file);

// Writes m to `output` (ONNX, atomically; never over one of `inputs`) and prints the
// result: the before/after line and the epochs, or JSON. Returns the exit code. A rank
// other than 0 of a multi-process run writes nothing and prints one line.
int write_trained(const std::string& verb, const Model& before, Model& m, const std::string& output,
                  const std::vector<std::string>& inputs, const distill::TrainReport& r, nlohmann::ordered_json extra,
                  const Globals& g, int rank);

}  // namespace mc::cli
