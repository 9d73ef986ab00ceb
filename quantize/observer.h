// Streaming observer of one activation tensor for calibration: min, max and a
// fixed-size histogram, so memory does not grow with the number of samples.
//
// The histogram covers [lo, lo + bins·width), always containing 0 (activation ranges
// are widened to contain 0 anyway, docs/quantization.md §1). Its range is set by the
// first non-zero values seen; when later values fall outside, the width doubles
// (repeatedly) towards the side that overflowed and pairs of adjacent bins merge
// exactly (counts are added, never interpolated), so the result depends only on the
// values and their order, never on batch sizes or threads. Values that are exactly 0
// before any range exists are counted and placed in the bin holding 0 when it appears.
// NaN and Inf are not binned; they are counted in non_finite() and the caller decides.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc::quant {

class HistogramObserver {
 public:
  explicit HistogramObserver(size_t bins = 2048);  // bins: even, >= 2

  void observe(const float* x, size_t n);

  uint64_t count() const { return count_; }          // finite values observed
  uint64_t non_finite() const { return non_finite_; }
  float min() const { return min_; }                 // of finite values; 0 when count() == 0
  float max() const { return max_; }
  bool has_histogram() const { return width_ > 0; }  // false: every value was 0 (or none)
  double lo() const { return lo_; }                  // histogram left edge (<= 0)
  double bin_width() const { return width_; }
  const std::vector<uint64_t>& bins() const { return hist_; }
  uint64_t zeros_pending() const { return zeros_pending_; }

 private:
  void start_range(float mn, float mx);
  void grow_to(double v);
  size_t bin_of(double v) const;

  std::vector<uint64_t> hist_;
  double lo_ = 0, width_ = 0;  // width_ == 0: no range yet
  float min_ = 0, max_ = 0;
  uint64_t count_ = 0, non_finite_ = 0, zeros_pending_ = 0;
};

}  // namespace mc::quant
