// Overflow-checked size arithmetic for everything a file asks us to allocate
// (security.md: "Size arithmetic"). All functions return false on overflow and
// leave *out unspecified.
#pragma once
#include <cstdint>
#include <vector>

namespace mc {

inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Element count of a shape. Rejects negative dims (unknown or symbolic dims must be
// resolved before anything is allocated). Zero dims are allowed and give 0.
inline bool checked_numel(const std::vector<int64_t>& dims, uint64_t* out) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return false;
    if (!checked_mul(n, static_cast<uint64_t>(d), &n)) return false;
  }
  *out = n;
  return true;
}

}  // namespace mc
