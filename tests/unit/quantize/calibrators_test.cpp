// Calibrators against hand-computed goldens on small histograms.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "compress/error.h"
#include "quantize/calibrators.h"

using namespace mc::quant;

namespace {
HistogramObserver observe(size_t bins, const std::vector<float>& x) {
  HistogramObserver h(bins);
  h.observe(x.data(), x.size());
  return h;
}
}  // namespace

TEST_CASE("calibrator names parse; bad ones are input errors", "[quantize][calibrators]") {
  CHECK(parse_calibrator("minmax").kind == CalibratorKind::MinMax);
  CHECK(parse_calibrator("entropy").kind == CalibratorKind::Entropy);
  CHECK(parse_calibrator("mse").kind == CalibratorKind::Mse);
  CHECK(parse_calibrator("percentile").percentile == 99.99);
  CHECK(parse_calibrator("percentile:99.9").percentile == 99.9);
  CHECK(calibrator_name(parse_calibrator("percentile:99.5")) == "percentile:99.5");
  CHECK_THROWS_AS(parse_calibrator("percentile:101"), mc::Error);
  CHECK_THROWS_AS(parse_calibrator("percentile:x"), mc::Error);
  CHECK_THROWS_AS(parse_calibrator("kl"), mc::Error);
}

TEST_CASE("minmax: observed extremes, widened to contain 0", "[quantize][calibrators]") {
  const auto h = observe(8, {1.f, 2.f, 7.f});
  CHECK(calibrate_range(h, parse_calibrator("minmax"), false) == std::pair<float, float>{0.f, 7.f});
  const auto e = observe(8, {0.f, 0.f});
  CHECK(calibrate_range(e, parse_calibrator("minmax"), false) == std::pair<float, float>{0.f, 0.f});
}

TEST_CASE("percentile: clips the tail share per side at bin edges", "[quantize][calibrators]") {
  // 100 values: 0.5 x 99 and one outlier 10 -> histogram [0, 10], width 1.25 (8 bins)
  std::vector<float> x(99, 0.5f);
  x.push_back(10.f);
  const auto h = observe(8, x);
  // P = 99: tail 1 value; from the top bin 7 holds 1 (not > 1), bins 6..1 hold 0, bin 0 holds 99 -> edge 1.25
  CHECK(calibrate_range(h, parse_calibrator("percentile:99"), false).second == 1.25f);
  // P = 99.5: tail 0.5 value; bin 7 (count 1 > 0.5) -> edge 10 (the max)
  CHECK(calibrate_range(h, parse_calibrator("percentile:99.5"), false).second == 10.f);
  // lower side: all positive, lo stays 0
  CHECK(calibrate_range(h, parse_calibrator("percentile:99"), false).first == 0.f);
}

TEST_CASE("entropy: KL threshold on a small histogram (hand-computed)", "[quantize][calibrators]") {
  // levels 2, hist {4, 4, 0, 1}:
  //  i=2: P={4,5} Q={4,4}/.. merged 1 per group -> q={4,4}; KL = 4/9 ln((4/9)/(1/2)) + 5/9 ln((5/9)/(1/2)) = 0.00617
  //  i=3: P={4,4,1}; groups {0},{1,2}: q0=4, group 2 sum 4 over nonzero bins {1,2} -> 2,2; q={4,2,2}
  //       KL = 4/9 ln(1) + 4/9 ln((4/9)/(2/8)) + 1/9 ln((1/9)/(2/8)) = 0.2557 - 0.0901 = 0.1656
  //  i=4: P={4,4,0,1}; groups {0,1},{2,3}: q = {4,4,0,1}: KL 0
  CHECK(kl_threshold_bins({4, 4, 0, 1}, 2) == 4);
  //  hist {8, 0, 0, 1}, levels 2:
  //  i=2: P={8,1}, q={8,0} smoothed {8-1e-4, 1e-4}: KL ~ 1/9 ln((1/9)/(1e-4/8)) = 1.01
  //  i=3: P={8,0,1}, groups {0},{1,2}: q={8,0,0} smoothed: KL ~ 1.01 again
  //  i=4: P={8,0,0,1}, groups {0,1},{2,3}: q = {8, 0, 0, 1}: smoothed alike, KL 0
  CHECK(kl_threshold_bins({8, 0, 0, 1}, 2) == 4);
  // hist {10, 10, 10, 10, 1}, levels 4: i=4: P={10,10,10,11}, Q={10,10,10,10}: KL ~ 0.00054
  //  i=5: groups of 1 bin, the last {3,4}: q = {10,10,10,5.5,5.5}: KL = 10/41 ln((10/41)/(5.5/41)) + 1/41 ln((1/41)/(5.5/41)) > 0.1
  CHECK(kl_threshold_bins({10, 10, 10, 10, 1}, 4) == 4);
  CHECK(kl_threshold_bins({1, 2}, 4) == 2);  // fewer bins than levels: all of them
}

TEST_CASE("entropy on an observer: ReLU-like data with a far outlier is clipped", "[quantize][calibrators]") {
  std::vector<float> x;
  for (int i = 0; i < 10000; ++i) x.push_back(static_cast<float>(i % 100) / 100.f);  // uniform [0, 1)
  x.push_back(100.f);
  const auto h = observe(2048, x);
  const auto r = calibrate_range(h, parse_calibrator("entropy"), false);
  CHECK(r.first == 0.f);
  // 2048 bins over [0, 100]: candidates start at 255 bins (12.45); the choice is far below the outlier
  CHECK(r.second < 30.f);
  CHECK(r.second >= 0.99f);  // but keeps the bulk
}

TEST_CASE("mse: quantization error of a histogram, and the chosen clip", "[quantize][calibrators]") {
  // values at centres {0.5, 1.5}, counts {1, 1}; range [0, 2]: scale 2/255, zp -128:
  // 0.5/s = 63.75 -> 64 -> 64*s = 0.50196, error 0.00196^2; 1.5/s = 191.25 -> 191 -> 1.49804, error 0.00196^2
  const double e = histogram_quant_error({1, 1}, {0.5, 1.5}, 0.f, 2.f, false);
  const float s = 2.f / 255.f;
  const double d0 = 0.5 - static_cast<double>(64.f * s), d1 = 1.5 - static_cast<double>(191.f * s);
  CHECK(e == Approx(d0 * d0 + d1 * d1).epsilon(1e-9));
  // The chosen range is the least-error candidate [k/128·min, k/128·max]: Gaussian-like data
  // (sum of 4 uniforms), where clipping the rare tails pays.
  std::vector<float> x;
  uint32_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    float v = 0;
    for (int k = 0; k < 4; ++k) {
      state = state * 1664525u + 1013904223u;
      v += static_cast<float>(state >> 8) / 16777216.f - 0.5f;
    }
    x.push_back(v);
  }
  const auto h = observe(2048, x);
  const auto r = calibrate_range(h, parse_calibrator("mse"), false);
  std::vector<double> centres(2048);
  for (size_t i = 0; i < 2048; ++i) centres[i] = h.lo() + h.bin_width() * (static_cast<double>(i) + 0.5);
  const double chosen = histogram_quant_error(h.bins(), centres, r.first, r.second, false);
  for (int k = 1; k <= 128; ++k) {
    const float f = static_cast<float>(k) / 128.f;
    CHECK(chosen <= histogram_quant_error(h.bins(), centres, h.min() * f, h.max() * f, false));
  }
  CHECK(r.second < h.max());  // the tails are clipped
}
