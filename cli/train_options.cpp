#include "cli/train_options.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/before_after.h"
#include "compress/error.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"

namespace mc::cli {

void add_train_options(CLI::App& sub, TrainArgs& a) {
  sub.add_option("--epochs", a.epochs, "Epochs to train (default 1)");
  sub.add_option("--lr", a.lr, "Peak learning rate (default 0.01)");
  sub.add_option("--batch-size", a.batch_size, "Samples per step (default 64)");
  sub.add_option("--optimizer", a.optimizer, "sgd (momentum 0.9) or adam (default sgd)");
  sub.add_option("--schedule", a.schedule,
                 "cosine (per step, to 0), step (x0.1 at 50% and 75% of the epochs) or constant (default cosine)");
  sub.add_option("--momentum", a.momentum, "SGD momentum (default 0.9)");
  sub.add_option("--weight-decay", a.weight_decay, "L2 weight decay (default 0)");
  sub.add_option("--seed", a.seed, "Seed of the shuffles and of torch (default 0); same seed, same weights");
  sub.add_option("--checkpoint", a.checkpoint, "Write a checkpoint here after every epoch");
  sub.add_flag("--resume", a.resume, "Continue from --checkpoint (same model and options)");
  sub.add_option("--world-size", a.world_size, "Processes in a c10d (Gloo) run; each runs this command (default 1)");
  sub.add_option("--rank", a.rank, "This process's rank in [0, --world-size); rank 0 serves the store and writes -o");
  sub.add_option("--master-addr", a.master_addr, "Address of rank 0 (default 127.0.0.1)");
  sub.add_option("--master-port", a.master_port, "TCP port of rank 0's store (default 29500)");
  sub.add_option("--dist-timeout", a.dist_timeout, "Seconds to wait for the others, per rendezvous and all-reduce (default 60)");
}

distill::TrainOptions to_train_options(const TrainArgs& a, const Globals& g) {
  distill::TrainOptions o;
  o.epochs = a.epochs;
  o.lr = a.lr;
  o.batch_size = a.batch_size;
  o.optimizer = distill::parse_optimizer(a.optimizer);
  o.schedule = distill::parse_schedule(a.schedule);
  o.momentum = a.momentum;
  o.weight_decay = a.weight_decay;
  o.seed = a.seed;
  o.checkpoint = a.checkpoint;
  o.resume = a.resume;
  if (a.epochs < 1 || a.epochs > 100000) throw Error(ErrorKind::Input, "--epochs must be in [1, 100000]");
  if (a.batch_size < 1 || a.batch_size > (1 << 20)) throw Error(ErrorKind::Input, "--batch-size must be in [1, 2^20]");
  if (!(a.lr > 0) || a.lr > 100) throw Error(ErrorKind::Input, "--lr must be in (0, 100]");
  if (!(a.momentum >= 0 && a.momentum < 1)) throw Error(ErrorKind::Input, "--momentum must be in [0, 1)");
  if (!(a.weight_decay >= 0 && a.weight_decay < 1)) throw Error(ErrorKind::Input, "--weight-decay must be in [0, 1)");
  if (a.world_size < 1 || a.world_size > 1024) throw Error(ErrorKind::Input, "--world-size must be in [1, 1024]");
  if (a.rank < 0 || a.rank >= a.world_size) throw Error(ErrorKind::Input, "--rank must be in [0, --world-size)");
  if (a.master_port < 1 || a.master_port > 65535) throw Error(ErrorKind::Input, "--master-port must be in [1, 65535]");
  if (a.dist_timeout < 1 || a.dist_timeout > 86400) throw Error(ErrorKind::Input, "--dist-timeout must be in [1, 86400]");
  o.dist.world_size = a.world_size;
  o.dist.rank = a.rank;
  o.dist.master_addr = a.master_addr;
  o.dist.master_port = a.master_port;
  o.dist.timeout_seconds = a.dist_timeout;
  if (a.resume && a.checkpoint.empty()) throw Error(ErrorKind::Input, "--resume needs --checkpoint");
  const bool tty = isatty(2) && g.verbosity >= 0 && a.rank == 0;
  const int epochs = a.epochs;
  if (tty)
    o.on_batch = [epochs](int e, size_t done, size_t total) {
      if (done != total && done % 16 != 0) return;
      const int width = 30;
      const int fill = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total));
      std::fprintf(stderr, "\repoch %d/%d [%s%s] %zu/%zu", e, epochs, std::string(static_cast<size_t>(fill), '#').c_str(),
                   std::string(static_cast<size_t>(width - fill), '.').c_str(), done, total);
      if (done == total) std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    };
  const bool json = g.json;
  if (g.verbosity >= 0 || !json)
    o.on_epoch = [epochs, json](const distill::EpochReport& r) {
      char buf[160];
      if (r.accuracy >= 0)
        std::snprintf(buf, sizeof buf, "epoch %d/%d: loss %.4f, train accuracy %.2f%%, lr %.3g", r.epoch, epochs, r.loss,
                      100.0 * r.accuracy, r.lr);
      else
        std::snprintf(buf, sizeof buf, "epoch %d/%d: loss %.4f, lr %.3g", r.epoch, epochs, r.loss, r.lr);
      (json ? std::cerr : std::cout) << buf << std::endl;
    };
  return o;
}

std::vector<int64_t> model_input_shape(const Model& m, const std::string& file) {
  const auto ins = m.graph.real_inputs();
  if (ins.size() != 1 || !ins[0]->has_shape)
    throw_input_error(file, "training needs a model with one input of known rank");
  std::vector<int64_t> s;
  for (const Dim& d : ins[0]->shape) s.push_back(d.is_known() ? d.value : -1);
  return s;
}

int write_trained(const std::string& verb, const Model& before_model, Model& m, const std::string& output,
                  const std::vector<std::string>& inputs, const distill::TrainReport& r, nlohmann::ordered_json extra,
                  const Globals& g, int rank) {
  if (rank != 0) {
    std::cout << verb << ": rank " << rank << " done (rank 0 writes " << output << ")\n";
    return 0;
  }
  const ModelFigures before = measure_model(before_model, before_model.source_files);
  export_onnx_file(m, output, {}, inputs);
  const Model written = import_onnx_file(output);
  const ModelFigures after = measure_model(written, written.source_files);
  if (g.json) {
    nlohmann::ordered_json j = std::move(extra);
    j["output"] = output;
    j["trainable"] = r.trainable;
    j["masked"] = r.masked;
    j["first_epoch"] = r.first_epoch;
    j["epochs"] = nlohmann::ordered_json::array();
    for (const auto& e : r.epochs) {
      nlohmann::ordered_json x{{"epoch", e.epoch}, {"loss", e.loss}, {"lr", e.lr}};
      if (e.accuracy >= 0) x["train_accuracy"] = e.accuracy;
      j["epochs"].push_back(x);
    }
    j["before"] = {{"params", before.params}, {"nonzero_params", before.nonzero_params}, {"bytes", before.bytes}};
    j["after"] = {{"params", after.params}, {"nonzero_params", after.nonzero_params}, {"bytes", after.bytes}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << verb << ": " << r.trainable << " trainable weights, " << r.masked
            << " held at zero (pruned); wrote " << output << "\n";
  std::cout << before_after_line(verb, {{"params", before.params, after.params, false},
                                        {"nonzero params", before.nonzero_params, after.nonzero_params, false},
                                        {"bytes", before.bytes, after.bytes, false}})
            << "\n";
  return 0;
}

}  // namespace mc::cli
