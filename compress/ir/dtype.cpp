#include "compress/ir/dtype.h"

#include "compress/io/checked_math.h"

namespace mc {
namespace {
const DTypeInfo kTable[] = {
    {DType::Undefined, "undefined", 0, false, false},
    {DType::F32, "float", 32, true, true},
    {DType::U8, "uint8", 8, false, false},
    {DType::I8, "int8", 8, false, true},
    {DType::U16, "uint16", 16, false, false},
    {DType::I16, "int16", 16, false, true},
    {DType::I32, "int32", 32, false, true},
    {DType::I64, "int64", 64, false, true},
    {DType::String, "string", 0, false, false},
    {DType::Bool, "bool", 8, false, false},
    {DType::F16, "float16", 16, true, true},
    {DType::F64, "double", 64, true, true},
    {DType::U32, "uint32", 32, false, false},
    {DType::U64, "uint64", 64, false, false},
    {DType::C64, "complex64", 64, true, true},
    {DType::C128, "complex128", 128, true, true},
    {DType::BF16, "bfloat16", 16, true, true},
    {DType::U4, "uint4", 4, false, false},
    {DType::I4, "int4", 4, false, true},
};
}  // namespace

const DTypeInfo& dtype_info(DType t) {
  for (const auto& e : kTable)
    if (e.dtype == t) return e;
  return kTable[0];
}

bool dtype_is_known(int32_t code) {
  if (code == 0) return false;
  for (const auto& e : kTable)
    if (static_cast<int32_t>(e.dtype) == code) return true;
  return false;
}

const char* dtype_name(DType t) { return dtype_info(t).name; }

bool dtype_storage_bytes(DType t, uint64_t n, uint64_t* bytes) {
  const uint32_t bits = dtype_info(t).bits;
  if (bits == 0) return false;
  uint64_t total_bits = 0;
  if (!checked_mul(n, bits, &total_bits)) return false;
  *bytes = total_bits / 8 + (total_bits % 8 ? 1 : 0);
  return true;
}

}  // namespace mc
