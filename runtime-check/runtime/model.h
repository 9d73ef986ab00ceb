// Model: a loaded and verified .mcrt file (phase 1 of load -> prepare -> run).
//
// Load checks everything in docs/runtime-format.md before a Model exists: the header,
// the FlatBuffers structure (Verifier), and the graph's meaning (tensor indices, shape
// vs buffer size, quantization, sparse and palette encodings, op arity and attributes,
// topological order). A Model that loaded is safe to prepare; prepare may still reject
// unsupported attribute combinations (kUnsupported).
//
// Memory: load_file maps the file read-only (mmap); load_buffer uses the caller's bytes
// directly when they are 64-byte aligned and `copy` is false (the caller keeps them alive
// for the Model's lifetime), otherwise copies them into an aligned allocation.
// Weight buffers are 64-byte aligned in memory in both cases.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mcrt_generated.h"
#include "runtime/coded_body.h"
#include "runtime/status.h"

namespace mcrt {

// Limits enforced at load (§7). Defaults are generous for edge models.
struct LoadLimits {
  uint32_t max_tensors = 1u << 20;
  uint32_t max_nodes = 1u << 20;
  uint32_t max_rank = 8;
  uint64_t max_file_bytes = 4ull << 30;
  // Bytes decoded at load (a coded body's image, §2.1, plus entropy-coded buffers, §3.1) per byte
  // of the file, checked before anything is decoded or allocated (kLimitExceeded). The codecs
  // alone allow 2040 per coded byte, so a 2 MB file could otherwise ask for 4 GiB. The coded
  // files the toolchain writes for the examples decode to at most 3.4 bytes per file byte
  // (docs/runtime-format.md §7); a model of mostly constant bytes may need a higher limit.
  uint64_t max_decode_ratio = 64;
};

class Model {
 public:
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  static Status load_file(const std::string& path, std::unique_ptr<Model>* out, const LoadLimits& limits = {});
  static Status load_buffer(const void* data, size_t size, std::unique_ptr<Model>* out, bool copy = true,
                            const LoadLimits& limits = {});

  const fb::Model& graph() const { return *graph_; }
  uint16_t version_major() const { return major_; }
  uint16_t version_minor() const { return minor_; }
  // Bytes of weight buffer `index` (0 = empty). Valid for indices checked at load.
  const uint8_t* buffer_data(uint32_t index) const;
  uint64_t buffer_size(uint32_t index) const;
  size_t file_bytes() const { return disk_size_; }
  // Coded body (§2.1): the segments the file held; they were decoded at load into one aligned
  // image of image_bytes() (header included), which the model then reads as an uncoded file.
  bool coded_body() const { return !segments_.empty(); }
  const std::vector<BodySegment>& body_segments() const { return segments_; }
  size_t image_bytes() const { return size_; }
  // Bytes decoded at load from entropy-coded buffers (§3.1), held in owned aligned memory.
  uint64_t decoded_bytes() const { return decoded_bytes_; }
  bool buffer_is_decoded(uint32_t index) const { return index < decoded_.size() && decoded_[index].data; }

 private:
  Model() = default;
  static Status finish_load(std::unique_ptr<Model> m, std::unique_ptr<Model>* out, const LoadLimits& limits);
  Status decode_codings(const LoadLimits& limits);  // §3.1
  Status decode_body(const LoadLimits& limits);     // §2.1

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;       // bytes of the (decoded) image
  size_t disk_size_ = 0;  // bytes of the file
  std::vector<BodySegment> segments_;
  void* owned_ = nullptr;    // aligned copy (load_buffer)
  void* mapped_ = nullptr;   // mmap (load_file)
  size_t mapped_size_ = 0;
  const fb::Model* graph_ = nullptr;
  const uint8_t* weights_ = nullptr;
  uint16_t major_ = 0, minor_ = 0;
  struct Decoded {
    void* data = nullptr;  // owned, 64-byte aligned
    uint64_t size = 0;
  };
  std::vector<Decoded> decoded_;  // per buffer index; empty when the file has no codings
  uint64_t decoded_bytes_ = 0;
};

// Largest dim, and largest product of the non-zero dims times the element size (§4.1).
constexpr int64_t kMaxDim = 0x7FFFFFFF;
constexpr uint64_t kMaxShapeBytes = 1ull << 62;

// Byte size of a shape, overflow-checked: false when a dim is < 0 or > kMaxDim, or the
// product of the non-zero dims times elem_size exceeds kMaxShapeBytes. Used by the
// loader and by prepare for every tensor.
bool checked_bytes(const int64_t* dims, size_t rank, uint64_t elem_size, uint64_t* bytes);

}  // namespace mcrt
