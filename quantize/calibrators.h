// Calibrators: the range [lo, hi] an activation is quantized to, chosen from its
// HistogramObserver. All work on the observer's fixed histogram (bin centres stand for
// the values in a bin), in a fixed order, so they are deterministic.
//
//  * minmax:          [min, max] of everything seen.
//  * percentile:P     each side clipped where at most (100 - P)% of all values lie beyond:
//                     the upper bound is the right edge of the first bin (from the top)
//                     whose cumulative count from the top exceeds that share; the lower
//                     likewise from the bottom. Bounds never leave [min, max].
//  * entropy (KL):    TensorRT's method per side of 0: for each candidate end bin i (from
//                     `levels` up to the side's bin count), P = the side's first i bins with
//                     everything beyond added to bin i-1; Q = those i bins (without the
//                     outliers) merged into `levels` groups and spread back uniformly over
//                     each group's non-empty bins; both smoothed as ONNX Runtime does (empty
//                     bins get 1e-4, taken evenly from the others); the i with the least
//                     KL(P||Q) wins (the first on ties). levels = 255 for a one-sided
//                     distribution, else 128 per side.
//  * mse:             the range [k/128·min, k/128·max], k = 1..128, whose quantize-dequantize
//                     error Σ count·(centre − dq(q(centre)))² under activation_params is least
//                     (the first on ties).
// Ranges are widened to contain 0. An observer without values (or only zeros) gives [0, 0].
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "quantize/observer.h"

namespace mc::quant {

enum class CalibratorKind { MinMax, Percentile, Entropy, Mse };

struct Calibrator {
  CalibratorKind kind = CalibratorKind::Mse;  // the default: see docs/quantization.md (measured table)
  double percentile = 99.99;  // percentile only, in (0, 100]
};

// "minmax", "percentile", "percentile:P", "entropy", "mse"; Error(Input) otherwise.
Calibrator parse_calibrator(const std::string& s);
std::string calibrator_name(const Calibrator& c);  // "percentile:99.99"

std::pair<float, float> calibrate_range(const HistogramObserver& h, const Calibrator& c, bool symmetric);

// Exposed for tests: the KL-optimal number of bins of a one-sided histogram (bin 0 at
// zero), merging into `levels` groups; hist.size() when it has at most `levels` bins.
size_t kl_threshold_bins(const std::vector<uint64_t>& hist, size_t levels);
// Exposed for tests: the squared quantization error of a histogram whose bin i holds
// values at `centres[i]`, under activation_params(lo, hi, symmetric).
double histogram_quant_error(const std::vector<uint64_t>& hist, const std::vector<double>& centres, float lo, float hi,
                             bool symmetric);

}  // namespace mc::quant
