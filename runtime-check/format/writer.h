// ModelWriter: the one C++ builder of .mcrt files (docs/runtime-format.md). Tests use it
// to build models; the toolchain's exporter uses it to write them. It does no semantic
// validation beyond what it needs to lay the file out: load the result with
// mcrt::Model::load_buffer to check it. Writing deliberately broken files (for loader
// tests) is allowed on purpose.
//
// Usage:
//   mcrt::ModelWriter w;
//   int x = w.add_tensor("x", mcrt::DType::kF32, {-1, 3, 8, 8});       // graph input
//   int k = w.add_weight_f32("k", {4, 3, 3, 3}, kernel_values);
//   int y = w.add_tensor("y", mcrt::DType::kF32, {-1, 4, 6, 6});
//   w.add_node(mcrt::fb::OpType_Conv, {x, k}, {y}, {mcrt::Attribute::Ints(mcrt::fb::AttrKey_strides, {1, 1})});
//   w.set_inputs({x}); w.set_outputs({y});
//   std::vector<uint8_t> bytes; mcrt::Status st = w.finish(&bytes);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mcrt_generated.h"
#include "runtime/dtype.h"
#include "runtime/status.h"

namespace mcrt {

struct Attribute {
  fb::AttrKey key = fb::AttrKey_axis;
  fb::AttrKind kind = fb::AttrKind_INT;
  int64_t i = 0;
  float f = 0.f;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;

  static Attribute Int(fb::AttrKey k, int64_t v);
  static Attribute Float(fb::AttrKey k, float v);
  static Attribute Ints(fb::AttrKey k, std::vector<int64_t> v);
  static Attribute Floats(fb::AttrKey k, std::vector<float> v);
  static Attribute String(fb::AttrKey k, std::string v);
};

struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;  // empty = all zero
  int32_t axis = 0;
  int32_t block_size = 0;  // > 0: one scale per block of block_size elements along axis (§4.3)
};

class ModelWriter {
 public:
  // A tensor without data: graph input, activation or graph output. Returns its index.
  int add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape);
  // A constant tensor; the bytes are copied (raw little-endian element data).
  int add_weight(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                 size_t bytes);
  int add_weight_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
  int add_weight_i64(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v);
  // Attaches quantization parameters (§4.3) to a tensor.
  void set_quantization(int tensor, QuantParams q);
  // Sparse constant (§4.4): BITMASK with `mask` (ceil(numel/8) bytes) + stored values.
  int add_sparse_bitmask_weight(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                const std::vector<uint8_t>& mask, const void* values, size_t value_bytes);
  // Sparse constant (§4.4): CSR over rows = shape[0].
  int add_sparse_csr_weight(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const std::vector<int32_t>& row_ptr, const std::vector<int32_t>& col_idx,
                            const void* values, size_t value_bytes);
  // Palettized float32 constant (§4.5): packed `bits`-bit indices into `codebook`.
  int add_palettized_weight(const std::string& name, std::vector<int64_t> shape, int bits,
                            const std::vector<float>& codebook, const std::vector<uint8_t>& packed_indices);
  // Packs indices LSB-first with `bits` bits each (helper for the call above).
  static std::vector<uint8_t> pack_indices(const std::vector<uint32_t>& indices, int bits);

  // Entropy coding (§3.1): stores buffer `buffer` as `coded` (HUFFMAN), recorded in
  // Model.codings with the raw size; the loader decodes it once at load.
  void set_buffer_coding(uint32_t buffer, std::vector<uint8_t> coded, uint64_t raw_size);
  size_t num_buffers() const { return buffers_.size(); }
  // Coded body (§2.1): the graph section and the weights blob are stored as entropy-coded
  // segments after the header (version 1.1, header flag kFlagCodedBody). The blob then groups
  // the buffers by element width (1, 2, 4, 8 bytes), one segment per group.
  void set_coded_body(bool on) { coded_body_ = on; }
  // Names are for debugging: with strip_names, finish() writes no tensor names except those of
  // the graph inputs and outputs, and no node names (tools then label them "#index").
  void set_strip_names(bool on) { strip_names_ = on; }
  const std::vector<uint8_t>& buffer_bytes(uint32_t buffer) const { return buffers_[buffer]; }

  // Appends a node; inputs may contain -1 for an absent optional input. Returns its index.
  int add_node(fb::OpType op, std::vector<int> inputs, std::vector<int> outputs,
               std::vector<Attribute> attrs = {}, const std::string& name = "");
  void set_inputs(std::vector<int> inputs) { inputs_ = std::move(inputs); }
  void set_outputs(std::vector<int> outputs) { outputs_ = std::move(outputs); }
  void set_producer(std::string p) { producer_ = std::move(p); }

  // Lays the file out: header, FlatBuffer graph, 64-byte aligned weights blob.
  Status finish(std::vector<uint8_t>* out) const;
  // finish() + crash-safe write: temp file in the target folder, fsync, rename, fsync dir.
  Status write_file(const std::string& path) const;

  // For loader tests only: raw access to tensors and the header version.
  int add_raw_buffer(const void* data, size_t bytes);
  void set_tensor_buffer(int tensor, uint32_t buffer) { tensors_[tensor].buffer = buffer; }
  void set_version(uint16_t major, uint16_t minor) { major_ = major; minor_ = minor; }
  // A Model.codings entry as given (no check, buffer bytes untouched).
  void add_raw_coding(uint32_t buffer, uint8_t codec, uint64_t raw_size) { codings_.push_back({buffer, codec, raw_size}); }
  int num_tensors() const { return (int)tensors_.size(); }

 private:
  struct SparseSpec {
    fb::SparseFormat format = fb::SparseFormat_BITMASK;
    uint32_t values = 0, mask = 0, row_ptr = 0, col_idx = 0;
  };
  struct PaletteSpec {
    int bits = 0;
    uint32_t size = 0, codebook = 0, indices = 0;
  };
  struct TensorSpec {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    uint32_t buffer = 0;
    bool has_quant = false;
    QuantParams quant;
    bool has_sparse = false;
    SparseSpec sparse;
    bool has_palette = false;
    PaletteSpec palette;
  };
  struct NodeSpec {
    fb::OpType op;
    std::vector<int> inputs, outputs;
    std::vector<Attribute> attrs;
    std::string name;
  };
  struct CodingSpec {
    uint32_t buffer;
    uint8_t codec;
    uint64_t raw_size;
  };
  uint32_t add_buffer(const void* data, size_t bytes);

  std::vector<TensorSpec> tensors_;
  std::vector<NodeSpec> nodes_;
  std::vector<std::vector<uint8_t>> buffers_ = {{}};  // buffers_[0] = empty buffer
  std::vector<int> inputs_, outputs_;
  std::vector<CodingSpec> codings_;
  std::string producer_ = "mcrt-writer";
  uint16_t major_ = 0, minor_ = 0;  // 0 = current version
  bool coded_body_ = false;
  bool strip_names_ = false;
  std::vector<uint8_t> buffer_widths() const;
};

}  // namespace mcrt
