// Seeded uniform float inputs and weights for tests: n values in [lo, hi) from std::mt19937(seed),
// the same values on every run and machine. Header-only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace mc::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace mc::test
