#include "quantize/observer.h"

#include <algorithm>
#include <cmath>

#include "compress/error.h"

namespace mc::quant {

HistogramObserver::HistogramObserver(size_t bins) : hist_(bins, 0) {
  if (bins < 2 || bins % 2 != 0) throw Error(ErrorKind::Internal, "HistogramObserver: bins must be even and >= 2");
}

size_t HistogramObserver::bin_of(double v) const {
  const double f = std::floor((v - lo_) / width_);
  if (f < 0) return 0;
  const size_t b = static_cast<size_t>(f);
  return std::min(b, hist_.size() - 1);
}

void HistogramObserver::start_range(float mn, float mx) {
  const double lo = std::min(0.0, static_cast<double>(mn));
  const double hi = std::max(0.0, static_cast<double>(mx));
  lo_ = lo;
  width_ = (hi - lo) / static_cast<double>(hist_.size());
  if (zeros_pending_) {
    hist_[bin_of(0.0)] += zeros_pending_;
    zeros_pending_ = 0;
  }
}

// Doubles the width until v fits: growing upwards keeps lo (bins 2i, 2i+1 -> i),
// downwards keeps the right edge (old bins land in the upper half).
void HistogramObserver::grow_to(double v) {
  const size_t B = hist_.size();
  for (int guard = 0; guard < 2100; ++guard) {
    const double hi = lo_ + width_ * static_cast<double>(B);
    if (v >= lo_ && v <= hi) return;  // the right edge belongs to the last bin
    std::vector<uint64_t> merged(B, 0);
    if (v > hi) {
      for (size_t i = 0; i < B; ++i) merged[i / 2] += hist_[i];
    } else {
      for (size_t i = 0; i < B; ++i) merged[B / 2 + i / 2] += hist_[i];
      lo_ = hi - 2.0 * width_ * static_cast<double>(B);
    }
    width_ *= 2.0;
    hist_.swap(merged);
  }
}

void HistogramObserver::observe(const float* x, size_t n) {
  if (n == 0) return;
  // Range of this call's finite values first, so that one call grows the histogram at
  // most once per side (the result is the same as growing value by value).
  float mn = 0, mx = 0;
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) continue;
    if (!any) mn = mx = v, any = true;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  non_finite_ += n;
  if (!any) return;
  if (count_ == 0) min_ = mn, max_ = mx;
  min_ = std::min(min_, mn);
  max_ = std::max(max_, mx);
  if (width_ == 0 && (mn != 0 || mx != 0)) start_range(mn, mx);
  if (width_ > 0) {
    grow_to(mn);
    grow_to(mx);
  }
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) continue;
    --non_finite_;
    ++count_;
    if (width_ == 0) ++zeros_pending_;
    else ++hist_[bin_of(v)];
  }
}

}  // namespace mc::quant
