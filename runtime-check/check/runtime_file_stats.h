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
  uint64_t disk_bytes = 0;    // its buffers as stored in the file (coded body, §2.1: before coding;
                              // the body is coded as a whole, see RuntimeFileStats::segments)
  uint64_t raw_bytes = 0;     // its buffers after decoding at load (= disk_bytes when not coded)
  uint64_t memory_bytes = 0;  // after prepare: the dense tensor the ops read (fp32 unless int8 op weight)
};

// One segment of a coded body (§2.1).
struct RuntimeSegmentStats {
  std::string content;    // "graph" or "weights" (what the image holds where the segment starts)
  std::string codec;      // "stored", "huffman", "lz+huffman"
  int width = 1;          // byte planes (1 = none)
  uint64_t raw_bytes = 0;
  uint64_t coded_bytes = 0;
};

struct RuntimeFileStats {
  uint64_t file_bytes = 0;
  bool coded_body = false;          // §2.1: graph and weights decoded at load from segments
  uint64_t image_bytes = 0;         // the decoded image (= file_bytes without a coded body)
  std::vector<RuntimeSegmentStats> segments;
  uint64_t graph_bytes = 0;         // the FlatBuffer section (decoded)
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
