#include "quantize/quantize_model.h"

#include <sstream>

#include "compress/error.h"
#include "quantize/bias_correction.h"
#include "quantize/calibration.h"
#include "quantize/equalization.h"

namespace mc::quant {

Mode parse_mode(const std::string& s) {
  if (s == "static") return Mode::Static;
  if (s == "dynamic") return Mode::Dynamic;
  if (s == "weight-only") return Mode::WeightOnly;
  if (s == "fp16") return Mode::Fp16;
  if (s == "kmeans") return Mode::Kmeans;
  throw Error(ErrorKind::Input, "--mode '" + s + "': expected static, dynamic, weight-only, fp16 or kmeans");
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Static: return "static";
    case Mode::Dynamic: return "dynamic";
    case Mode::WeightOnly: return "weight-only";
    case Mode::Fp16: return "fp16";
    case Mode::Kmeans: return "kmeans";
  }
  return "?";
}

int check_bits(Mode m, int bits) {
  const std::string b = std::to_string(bits);
  switch (m) {
    case Mode::Static:
    case Mode::Dynamic:
      if (bits != 0 && bits != 8)
        throw Error(ErrorKind::Input, std::string("--bits ") + b + " with --mode " + mode_name(m) + ": only 8 is supported");
      return 8;
    case Mode::WeightOnly:
      if (bits != 0 && bits != 8 && bits != 4)
        throw Error(ErrorKind::Input, "--bits " + b + " with --mode weight-only: expected 8 or 4");
      return bits ? bits : 8;
    case Mode::Kmeans:
      if (bits != 0 && (bits < 2 || bits > 8))
        throw Error(ErrorKind::Input, "--bits " + b + " with --mode kmeans: expected 2 to 8");
      return bits ? bits : 4;
    case Mode::Fp16:
      if (bits != 0 && bits != 16) throw Error(ErrorKind::Input, "--bits " + b + " with --mode fp16: fp16 has 16 bits");
      return 16;
  }
  return bits;
}

QuantizeReport quantize_static(Model& m, const data::Dataset& ds, const QuantizeOptions& o) {
  StaticQuantOptions sq = o.sq;
  QuantizeReport rep;
  if (o.cle)
    for (const auto& p : equalize_cross_layer(m)) rep.equalized.push_back(p.first + " -> " + p.second);
  StaticPlan plan = plan_static(m, sq);
  if (!plan.unmatched_exclude.empty())
    throw Error(ErrorKind::Input, "--exclude '" + plan.unmatched_exclude[0] + "': matches no node name or op type");
  CalibrationOptions co;
  co.samples = o.calib_size;
  co.threads = o.threads;
  const std::vector<HistogramObserver> obs = observe_values(m, plan.observe, ds, co);
  const auto ranges = calibrate_ranges(plan.observe, obs, o.calibrator, sq.symmetric);

  rep.calibrator = calibrator_name(o.calibrator);
  rep.calib_samples = std::min(o.calib_size, ds.num_samples());
  // The fp32 reference of the error figures: after CLE (the same function, and the same
  // intermediate values as the model being quantized), before bias correction.
  const Model ref = m;
  if (o.bias_correction) rep.bias_corrected = correct_biases(m, plan, sq, ds.data().data(), rep.calib_samples, o.threads);
  for (;;) {
    Model q = m;
    StaticPlan p = plan_static(q, sq);
    apply_static(q, p, ranges, sq);
    std::vector<std::string> fp_vals, q_vals;
    for (const auto& lp : p.layers)
      if (lp.quantized) fp_vals.push_back(lp.output), q_vals.push_back(lp.dq_output);
    const LayerErrorRun run = measure_layer_errors(ref, fp_vals, q, q_vals, ds.data().data(),
                                                   std::min(o.report_samples, ds.num_samples()), o.threads);
    // --max-layer-error: the first layer (graph order) under the threshold stays fp32, then measure again.
    std::string worst;
    if (o.max_layer_error) {
      size_t k = 0;
      for (const auto& lp : p.layers) {
        if (!lp.quantized) continue;
        const double s = run.layers[k++].sqnr_db;
        if (!(s >= *o.max_layer_error)) {
          std::ostringstream why;
          why << "SQNR " << s << " dB is below --max-layer-error " << *o.max_layer_error << " dB";
          sq.keep_fp32[lp.node] = why.str();
          rep.kept_fp32_by_error.push_back(lp.node);
          worst = lp.node;
          break;
        }
      }
      if (!worst.empty()) continue;
    }
    if (run.non_finite_outputs)
      throw Error(ErrorKind::Gate, "quantize: the quantized model gives " + std::to_string(run.non_finite_outputs) +
                                       " NaN/Inf values in output '" + q.graph.outputs.at(0).name + "' on " +
                                       std::to_string(run.samples) + " calibration samples");
    size_t k = 0;
    for (const auto& lp : p.layers) {
      LayerReport lr;
      lr.plan = lp;
      if (lp.quantized) lr.error = run.layers[k++];
      rep.layers.push_back(lr);
    }
    rep.output = run.output;
    rep.report_samples = run.samples;
    m = std::move(q);
    return rep;
  }
}

}  // namespace mc::quant
