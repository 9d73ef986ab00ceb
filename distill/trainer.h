// Training an IR model on LibTorch: fine-tuning (cross-entropy) and knowledge
// distillation (Hinton et al. 2015). Torch-free: cli/ includes this.
//
// Determinism: ATen runs single-threaded with deterministic algorithms, torch's
// generator is seeded with `seed`, and each epoch's shuffle is a Fisher-Yates pass
// driven by std::mt19937_64(seed + epoch), so the same model, data and options give
// the same weights bit for bit. Checkpoints hold the weights, the optimizer state and
// the number of finished epochs; resuming continues exactly where the run stopped.
// Compression is kept: see ir_executor.h (masks; factors are separate layers).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compress/data/dataset.h"
#include "compress/ir/graph.h"

namespace mc::distill {

enum class Optimizer { kSgd, kAdam };
enum class Schedule { kConstant, kCosine, kStep };

Optimizer parse_optimizer(const std::string& s);  // "sgd" | "adam"; mc::Error(Input) otherwise
Schedule parse_schedule(const std::string& s);    // "constant" | "cosine" | "step"

// Multi-process training over c10d (ProcessGroupGloo + TCPStore). Every process runs
// the same command with its own rank; each global batch of batch_size samples (the
// same shuffle everywhere) is split into world_size contiguous slices, slice `rank`
// is this process's; gradients are summed with all-reduce after each local loss is
// scaled by (local samples / global samples), so the update is the one of a single
// process on the global batch. Rank 0 serves the store and writes outputs.
struct DistOptions {
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int timeout_seconds = 60;  // rendezvous and every collective
};

struct TrainOptions {
  int epochs = 1;
  double lr = 0.01;
  int64_t batch_size = 64;
  Optimizer optimizer = Optimizer::kSgd;
  Schedule schedule = Schedule::kCosine;  // cosine: per step to 0; step: x0.1 at 50% and 75% of the epochs
  double momentum = 0.9;                  // sgd
  double weight_decay = 0.0;
  uint64_t seed = 0;
  std::string checkpoint;  // written (atomically) after every epoch when non-empty
  bool resume = false;     // start from `checkpoint`
  // Progress: after each batch (done, total batches in the epoch) and after each epoch.
  std::function<void(int epoch, size_t done, size_t total)> on_batch;
  std::function<void(const struct EpochReport&)> on_epoch;
  DistOptions dist;
};

struct EpochReport {
  int epoch = 0;          // 1-based
  double loss = 0;        // mean training loss
  double accuracy = -1;   // top-1 on the training batches (vs labels, or the teacher's argmax); -1 if neither
  double lr = 0;          // learning rate at the end of the epoch
};

struct TrainReport {
  std::vector<EpochReport> epochs;  // the epochs run by this call (not those before a resume)
  int first_epoch = 1;              // > 1 after --resume
  uint64_t trainable = 0;           // trainable elements
  uint64_t masked = 0;              // of those, held at zero by masks
};

struct DistillOptions {
  double temperature = 4.0;
  double alpha = 0.7;  // weight of the soft-target term; 1 - alpha on the labels
  uint64_t cache_bytes = 256ull << 20;  // teacher logits are cached when they fit
};

// Fine-tunes m in place with cross-entropy on data's labels (required).
void finetune(Model& m, const data::Dataset& data, const TrainOptions& opts, TrainReport* report);

// Trains student in place: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels);
// pure soft targets when data has no labels. Teacher and student outputs must have the
// same shape (mc::Error(Input) otherwise).
void distill(Model& student, const Model& teacher, const data::Dataset& data, const TrainOptions& opts,
             const DistillOptions& dopts, TrainReport* report);

}  // namespace mc::distill
