// A constant tensor of the IR: weights, biases, folded constants.
// The tensor owns its bytes in little-endian element order, exactly as ONNX
// raw_data lays them out, so export is a copy and round trips are byte-identical.
// Compression state lives here, not in side tables: quantization parameters now,
// sparsity masks and palettes with the passes that create them.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "compress/ir/dtype.h"

namespace mc {

// Scale and zero point, per tensor (axis < 0, one entry) or per axis
// (one entry per slice along `axis`).
struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int axis = -1;
};

struct Tensor {
  std::string name;
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;         // all >= 0
  std::vector<uint8_t> data;         // packed little-endian elements (empty for String)
  std::vector<std::string> strings;  // only for DType::String
  std::string doc_string;
  std::optional<QuantParams> quant;

  uint64_t numel() const;            // product of dims (dims are validated at creation)
  uint64_t nbytes() const { return data.size(); }

  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
  template <typename T>
  T* as_mut() { return reinterpret_cast<T*>(data.data()); }

  // Element i as double / int64, whatever the dtype (numeric types only).
  double get_f64(uint64_t i) const;
  int64_t get_i64(uint64_t i) const;

  static Tensor make_f32(std::string name, std::vector<int64_t> dims, const std::vector<float>& v);
  static Tensor make_i64(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& v);
  // Zero-filled tensor of the given type and shape; throws mc::Error on overflow.
  static Tensor zeros(std::string name, DType t, std::vector<int64_t> dims);
};

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);

}  // namespace mc
