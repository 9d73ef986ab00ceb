// HistogramObserver: ranges, exact re-binning when the range grows, zeros before any
// range, NaN/Inf counted apart, and independence of how values are split into calls.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "quantize/observer.h"

using mc::quant::HistogramObserver;

TEST_CASE("observer: first range contains 0, values land in their bins", "[quantize][observer]") {
  HistogramObserver h(4);
  const float x[] = {1.f, 2.f, 3.f, 4.f};
  h.observe(x, 4);
  CHECK(h.lo() == 0.0);
  CHECK(h.bin_width() == 1.0);
  CHECK(h.bins() == std::vector<uint64_t>{0, 1, 1, 2});  // 4 is the right edge: last bin
  CHECK(h.min() == 1.f);
  CHECK(h.max() == 4.f);
  CHECK(h.count() == 4);
}

TEST_CASE("observer: growing upwards merges pairs of bins exactly", "[quantize][observer]") {
  HistogramObserver h(4);
  const float a[] = {0.5f, 1.5f, 2.5f, 3.5f, 4.f};
  h.observe(a, 5);  // [0, 4), width 1: {1, 1, 1, 2}
  const float b[] = {7.f};
  h.observe(b, 1);  // width 2, [0, 8): {2, 3, 0, 1}
  CHECK(h.bin_width() == 2.0);
  CHECK(h.lo() == 0.0);
  CHECK(h.bins() == std::vector<uint64_t>{2, 3, 0, 1});
  CHECK(h.count() == 6);
}

TEST_CASE("observer: growing downwards keeps the right edge", "[quantize][observer]") {
  HistogramObserver h(4);
  const float a[] = {1.f, 4.f};
  h.observe(a, 2);  // [0, 4] width 1: {0, 1, 0, 1}
  const float b[] = {-3.f};
  h.observe(b, 1);  // [-4, 4] width 2: old bins land in 2..3: {0, 0, 1, 1} then -3 -> bin 0
  CHECK(h.lo() == -4.0);
  CHECK(h.bin_width() == 2.0);
  CHECK(h.bins() == std::vector<uint64_t>{1, 0, 1, 1});
  CHECK(h.min() == -3.f);
}

TEST_CASE("observer: zeros before any range, then placed in the zero bin; all-zero stays rangeless", "[quantize][observer]") {
  HistogramObserver z(8);
  const float zeros[] = {0.f, 0.f, 0.f};
  z.observe(zeros, 3);
  CHECK_FALSE(z.has_histogram());
  CHECK(z.zeros_pending() == 3);
  const float v[] = {-1.f, 1.f};
  z.observe(v, 2);
  REQUIRE(z.has_histogram());
  CHECK(z.zeros_pending() == 0);
  CHECK(z.bins()[4] == 3);  // [-1, 1], width 0.25: the three zeros -> bin 4, -1 -> bin 0, 1 -> bin 7
  CHECK(z.bins()[0] == 1);
}

TEST_CASE("observer: NaN and Inf are counted, not binned", "[quantize][observer]") {
  HistogramObserver h(8);
  const float x[] = {1.f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), -2.f};
  h.observe(x, 4);
  CHECK(h.non_finite() == 2);
  CHECK(h.count() == 2);
  CHECK(h.max() == 1.f);
  CHECK(h.min() == -2.f);
  const uint64_t total = std::accumulate(h.bins().begin(), h.bins().end(), uint64_t{0});
  CHECK(total == 2);
}

TEST_CASE("observer: memory is fixed and the counts do not depend on the batch split", "[quantize][observer]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(20000);
  for (auto& v : x) v = nd(rng);
  HistogramObserver one(2048), many(2048);
  one.observe(x.data(), x.size());
  for (size_t i = 0; i < x.size(); i += 100) many.observe(x.data() + i, 100);
  CHECK(one.bins().size() == 2048);
  CHECK(many.bins().size() == 2048);
  CHECK(one.count() == many.count());
  CHECK(one.min() == many.min());
  CHECK(one.max() == many.max());
  // The ranges differ (grown vs set at once) but every value is in exactly one bin.
  CHECK(std::accumulate(many.bins().begin(), many.bins().end(), uint64_t{0}) == 20000);
  // Same split twice: identical.
  HistogramObserver again(2048);
  for (size_t i = 0; i < x.size(); i += 100) again.observe(x.data() + i, 100);
  CHECK(again.bins() == many.bins());
  CHECK(again.lo() == many.lo());
}
