#include "compress/ir/tensor.h"

#include <cmath>

#include "compress/error.h"
#include "compress/io/checked_math.h"

namespace mc {

uint64_t Tensor::numel() const {
  uint64_t n = 0;
  if (!checked_numel(dims, &n)) throw Error(ErrorKind::Internal, "tensor '" + name + "' has an invalid shape");
  return n;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

uint16_t float_to_half(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00);  // NaN
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflow -> inf
  if (abs < 0x38800000) {  // subnormal or zero in half
    const float a = std::fabs(f);
    const float scaled = a * 16777216.f;  // 2^24
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t e = ((abs >> 23) - 127 + 15);
  uint32_t m = abs & 0x7fffff;
  uint32_t h = (e << 10) | (m >> 13);
  const uint32_t rem = m & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float bf16_to_float(uint16_t h) {
  uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

namespace {
template <typename T>
T load(const std::vector<uint8_t>& d, uint64_t i) {
  T v;
  std::memcpy(&v, d.data() + i * sizeof(T), sizeof(T));
  return v;
}
}  // namespace

double Tensor::get_f64(uint64_t i) const {
  switch (dtype) {
    case DType::F32: return load<float>(data, i);
    case DType::F64: return load<double>(data, i);
    case DType::F16: return half_to_float(load<uint16_t>(data, i));
    case DType::BF16: return bf16_to_float(load<uint16_t>(data, i));
    default: return static_cast<double>(get_i64(i));
  }
}

int64_t Tensor::get_i64(uint64_t i) const {
  switch (dtype) {
    case DType::I8: return load<int8_t>(data, i);
    case DType::U8: return load<uint8_t>(data, i);
    case DType::Bool: return load<uint8_t>(data, i) != 0;
    case DType::I16: return load<int16_t>(data, i);
    case DType::U16: return load<uint16_t>(data, i);
    case DType::I32: return load<int32_t>(data, i);
    case DType::U32: return load<uint32_t>(data, i);
    case DType::I64: return load<int64_t>(data, i);
    case DType::U64: return static_cast<int64_t>(load<uint64_t>(data, i));
    case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
      return static_cast<int64_t>(get_f64(i));
    case DType::I4: { const uint8_t b = data[i / 2]; int v = (i & 1) ? (b >> 4) : (b & 15); return v >= 8 ? v - 16 : v; }
    case DType::U4: { const uint8_t b = data[i / 2]; return (i & 1) ? (b >> 4) : (b & 15); }
    default: throw Error(ErrorKind::Internal, "tensor '" + name + "': element access on " + dtype_name(dtype));
  }
}

Tensor Tensor::zeros(std::string name, DType t, std::vector<int64_t> dims) {
  Tensor r;
  r.name = std::move(name);
  r.dtype = t;
  r.dims = std::move(dims);
  uint64_t n = 0, bytes = 0;
  if (!checked_numel(r.dims, &n) || !dtype_storage_bytes(t, n, &bytes))
    throw Error(ErrorKind::Input, "tensor '" + r.name + "': size overflows");
  r.data.assign(bytes, 0);
  return r;
}

Tensor Tensor::make_f32(std::string name, std::vector<int64_t> dims, const std::vector<float>& v) {
  Tensor r = zeros(std::move(name), DType::F32, std::move(dims));
  if (r.data.size() != v.size() * 4) throw Error(ErrorKind::Internal, "make_f32: size mismatch for " + r.name);
  std::memcpy(r.data.data(), v.data(), r.data.size());
  return r;
}

Tensor Tensor::make_i64(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
  Tensor r = zeros(std::move(name), DType::I64, std::move(dims));
  if (r.data.size() != v.size() * 8) throw Error(ErrorKind::Internal, "make_i64: size mismatch for " + r.name);
  std::memcpy(r.data.data(), v.data(), r.data.size());
  return r;
}

}  // namespace mc
