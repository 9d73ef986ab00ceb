// What a runtime file (.mcrt) holds, per constant tensor and in total: its storage form, its
// bytes on disk (the buffers it references, as stored: entropy-coded buffers count their coded
// size) and its bytes in memory (decoded at load, then materialized at prepare). Used by
// `inspect` on .mcrt files and by `check` for the disk/memory split.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace mc::check {

struct RuntimeTensorStats {
  std::string name;
  std::string dtype;          // storage dtype: float32, float16, int8, int4, ...
  std::vector<int64_t> shape;
  std::string storage;        // "dense", "bitmask", "csr", "palette 4-bit (16)", "+ per-channel" ...
  bool coded = false;         // some buffer of it is entropy-coded (§3.1)
  uint64_t disk_bytes = 0;    // its buffers as stored in the file
  uint64_t raw_bytes = 0;     // its buffers after decoding at load (= disk_bytes when not coded)
  uint64_t memory_bytes = 0;  // after prepare: the dense tensor the ops read (fp32 unless int8 op weight)
};

struct RuntimeFileStats {
  uint64_t file_bytes = 0;
  uint64_t graph_bytes = 0;         // the FlatBuffer section
  uint64_t weights_section_bytes = 0;
  uint64_t nodes = 0;
  uint64_t coded_buffers = 0;
  uint64_t weight_disk_bytes = 0;   // sum over constants of disk_bytes
  uint64_t weight_raw_bytes = 0;    // sum of raw_bytes
  uint64_t decoded_bytes = 0;       // held by the model after load (Model::decoded_bytes)
  uint64_t weight_memory_bytes = 0; // the prepared interpreter at batch 1 (weights_bytes_in_memory)
  std::vector<RuntimeTensorStats> tensors;  // constants, in file order
};

// Loads and prepares (batch 1) the file's bytes; Error(Input) naming `name` when the runtime
// refuses them.
RuntimeFileStats runtime_file_stats(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace mc::check
