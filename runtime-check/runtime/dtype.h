// Element types of the runtime: one traits table (size, name) instead of switches
// scattered through the ops. The numeric values equal mcrt.fb::DType.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcrt {

// kI4: signed 4-bit, two per byte (element 2i in the low nibble), weight-only constants only:
// its table size is 1 and the loader sizes its buffer as ceil(numel / 2) (§4.1).
enum class DType : int8_t { kF32 = 0, kF16 = 1, kI8 = 2, kU8 = 3, kI32 = 4, kI64 = 5, kBool = 6, kI4 = 7 };
constexpr int kNumDTypes = 8;

struct DTypeTraits {
  const char* name;   // ONNX-like spelling: "float32", "int8", ...
  size_t size;        // bytes per element
  const char* npy;    // NumPy descr, little-endian: "<f4", "|i1", ...
};

inline const DTypeTraits& dtype_traits(DType t) {
  static const DTypeTraits kTable[kNumDTypes] = {
      {"float32", 4, "<f4"}, {"float16", 2, "<f2"}, {"int8", 1, "|i1"}, {"uint8", 1, "|u1"},
      {"int32", 4, "<i4"},   {"int64", 8, "<i8"},   {"bool", 1, "|b1"},   {"int4", 1, "|i1"},
  };
  return kTable[static_cast<int>(t)];
}
inline size_t dtype_size(DType t) { return dtype_traits(t).size; }
inline const char* dtype_name(DType t) { return dtype_traits(t).name; }
inline bool dtype_valid(int v) { return v >= 0 && v < kNumDTypes; }

// IEEE half <-> float, exact for every half value (subnormals, inf, nan included).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace mcrt
