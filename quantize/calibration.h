// Calibration: the fp32 model runs on the bundled runtime over the calibration samples,
// in batches and in file order, and one HistogramObserver per observed value sees every
// batch as it comes (streaming: nothing is kept per sample). Ranges then come from a
// calibrator (calibrators.h). Deterministic: fixed order, no reductions across threads.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compress/data/dataset.h"
#include "compress/ir/graph.h"
#include "quantize/calibrators.h"
#include "quantize/observer.h"

namespace mc::quant {

struct CalibrationOptions {
  size_t samples = 1000;  // the first `samples` of the data set (all when fewer)
  size_t batch = 50;
  int threads = 1;
  size_t bins = 2048;
};

// Observers for `values` (float32 values of m's main graph), in the order given.
// Error(Gate) when a value holds NaN or Inf on the calibration samples.
std::vector<HistogramObserver> observe_values(const Model& m, const std::vector<std::string>& values,
                                              const data::Dataset& ds, const CalibrationOptions& o);

// Ranges of `values` from their observers.
std::map<std::string, std::pair<float, float>> calibrate_ranges(const std::vector<std::string>& values,
                                                                const std::vector<HistogramObserver>& obs,
                                                                const Calibrator& c, bool symmetric);

}  // namespace mc::quant
