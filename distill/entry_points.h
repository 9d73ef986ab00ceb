// The boundary between the torch-free part of distill/ (linked into mcompress and the
// tests: lazy_entry.cpp) and the LibTorch part (the module libmc_distill_torch.so,
// loaded with dlopen on first use). Loading LibTorch costs seconds of start-up (its
// operator registry), so verbs that never touch torch never load it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/data/dataset.h"
#include "compress/ir/graph.h"
#include "compress/onnx/onnx_import.h"
#include "distill/trainer.h"

namespace mc::distill {

constexpr int kEntryPointsVersion = 1;

struct EntryPoints {
  int version;
  Model (*import_torchscript_file)(const std::string&, const ImportOptions&);
  std::vector<float> (*run_torchscript_file)(const std::string&, const std::vector<int64_t>&, const std::vector<float>&,
                                             std::vector<int64_t>*);
  std::vector<float> (*run_ir_on_libtorch)(const Model&, const std::vector<int64_t>&, const std::vector<float>&,
                                           std::vector<int64_t>*);
  void (*finetune)(Model&, const data::Dataset&, const TrainOptions&, TrainReport*);
  void (*distill)(Model&, const Model&, const data::Dataset&, const TrainOptions&, const DistillOptions&,
                  TrainReport*);
  void (*export_torchscript_file)(const Model&, const std::string&, const std::vector<std::string>&);
  std::string (*torchscript_source)(const Model&, const std::string&);
};

}  // namespace mc::distill

// Defined by the module (entry_points.cpp).
extern "C" const mc::distill::EntryPoints* mc_distill_entry_points();
