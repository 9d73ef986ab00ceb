#include "quantize/layer_error.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quantize/fold_dequantize.h"
#include "quantize/tap_runner.h"

namespace mc::quant {

void ErrorAccumulator::add(const float* ref, const float* q, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double r = ref[i], v = q[i];
    ref2 += r * r;
    diff2 += (r - v) * (r - v);
    dot += r * v;
    q2 += v * v;
  }
}

ErrorFigures ErrorAccumulator::figures() const {
  ErrorFigures f;
  const double inf = std::numeric_limits<double>::infinity();
  if (!std::isfinite(diff2) || !std::isfinite(ref2)) {
    f.sqnr_db = -inf;
    f.cosine = std::numeric_limits<double>::quiet_NaN();
    return f;
  }
  f.sqnr_db = diff2 == 0 ? inf : (ref2 == 0 ? -inf : 10.0 * std::log10(ref2 / diff2));
  f.cosine = (ref2 == 0 && q2 == 0) ? 1.0 : (ref2 == 0 || q2 == 0 ? 0.0 : dot / std::sqrt(ref2 * q2));
  return f;
}

LayerErrorRun measure_layer_errors(const Model& fp32, const std::vector<std::string>& fp_values, const Model& quantized,
                                   const std::vector<std::string>& q_values, const float* x, size_t n, int threads,
                                   bool lowered) {
  std::vector<std::string> fp_taps = fp_values, q_taps = q_values;
  fp_taps.push_back(fp32.graph.outputs.at(0).name);
  q_taps.push_back(quantized.graph.outputs.at(0).name);
  // The runtime runs Conv/Gemm on constant weights only: the int8 weights are dequantized
  // to float32 constants first (what DequantizeLinear gives, see fold_dequantize.h).
  Model qf = quantized;
  if (!lowered) fold_constant_dequantize(qf);
  TapRunner fr(fp32, fp_taps, threads, "fp32 model"), qr(qf, q_taps, threads, "quantized model", lowered);
  std::vector<ErrorAccumulator> acc(fp_taps.size());
  LayerErrorRun run;
  const size_t batch = 50;
  const size_t elems = fr.input_sample_elems();
  std::vector<std::vector<float>> fo, qo;
  for (size_t start = 0; start < n; start += batch) {
    const size_t b = std::min(batch, n - start);
    fr.run(x + start * elems, b, &fo);
    qr.run(x + start * elems, b, &qo);
    for (size_t t = 0; t < acc.size(); ++t) acc[t].add(fo[t].data(), qo[t].data(), std::min(fo[t].size(), qo[t].size()));
    for (float v : qo.back())
      if (!std::isfinite(v)) ++run.non_finite_outputs;
  }
  run.samples = n;
  for (size_t t = 0; t + 1 < acc.size(); ++t) run.layers.push_back(acc[t].figures());
  run.output = acc.back().figures();
  return run;
}

}  // namespace mc::quant
