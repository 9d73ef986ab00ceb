// Element types of the IR. The numeric values are ONNX's TensorProto.DataType,
// so import and export are a cast. INT4/UINT4 use the values that ONNX 1.16
// later gave them; they are packed two per byte, low nibble first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mc {

enum class DType : int32_t {
  Undefined = 0,
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  String = 8,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  C64 = 14,
  C128 = 15,
  BF16 = 16,
  U4 = 21,
  I4 = 22,
};

// Traits of one element type: one table, no scattered switches.
struct DTypeInfo {
  DType dtype;
  const char* name;   // ONNX spelling, lower case: "float", "int8", ...
  uint32_t bits;      // storage bits per element (4 for packed int4, 0 for string)
  bool is_float;
  bool is_signed;
};

const DTypeInfo& dtype_info(DType t);        // Undefined for unknown codes
bool dtype_is_known(int32_t onnx_code);
const char* dtype_name(DType t);

// Bytes needed for n elements of t (packed types round up). Returns false on overflow
// or for String/Undefined.
bool dtype_storage_bytes(DType t, uint64_t n, uint64_t* bytes);

}  // namespace mc
