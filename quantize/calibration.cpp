#include "quantize/calibration.h"

#include <algorithm>

#include "compress/error.h"
#include "quantize/tap_runner.h"

namespace mc::quant {

std::vector<HistogramObserver> observe_values(const Model& m, const std::vector<std::string>& values,
                                              const data::Dataset& ds, const CalibrationOptions& o) {
  std::vector<HistogramObserver> obs(values.size(), HistogramObserver(o.bins));
  if (values.empty()) return obs;
  TapRunner runner(m, values, o.threads, "calibration");
  const size_t n = std::min(o.samples, ds.num_samples());
  std::vector<std::vector<float>> outs;
  for (size_t start = 0; start < n; start += o.batch) {
    const data::Batch b = ds.batch(start, std::min(o.batch, n - start));
    runner.run(b.data, b.size, &outs);
    for (size_t t = 0; t < values.size(); ++t) obs[t].observe(outs[t].data(), outs[t].size());
  }
  for (size_t t = 0; t < values.size(); ++t)
    if (obs[t].non_finite())
      throw Error(ErrorKind::Gate, "calibration: the fp32 model's value '" + values[t] + "' holds " +
                                       std::to_string(obs[t].non_finite()) + " NaN/Inf on the calibration samples");
  return obs;
}

std::map<std::string, std::pair<float, float>> calibrate_ranges(const std::vector<std::string>& values,
                                                                const std::vector<HistogramObserver>& obs,
                                                                const Calibrator& c, bool symmetric) {
  std::map<std::string, std::pair<float, float>> r;
  for (size_t i = 0; i < values.size(); ++i) r[values[i]] = calibrate_range(obs[i], c, symmetric);
  return r;
}

}  // namespace mc::quant
