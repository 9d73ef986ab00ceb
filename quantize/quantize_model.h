// `mcompress quantize` as a library call: modes, options and the static flow
// ([CLE] → plan → calibrate → [bias correction] → QDQ → measure per-layer error → keep bad
// layers fp32 → gate).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compress/data/dataset.h"
#include "compress/ir/graph.h"
#include "quantize/calibrators.h"
#include "quantize/layer_error.h"
#include "quantize/static_quant.h"

namespace mc::quant {

enum class Mode { Static, Dynamic, WeightOnly, Fp16, Kmeans };

// "static", "dynamic", "weight-only", "fp16", "kmeans"; Error(Input) otherwise.
Mode parse_mode(const std::string& s);
const char* mode_name(Mode m);
// Error(Input) for a bits value the mode does not take (static/dynamic: 8; weight-only:
// 8 or 4; kmeans: 2..8; fp16: none). bits == 0 means "not given".
int check_bits(Mode m, int bits);

struct QuantizeOptions {
  StaticQuantOptions sq;
  Calibrator calibrator;       // default mse
  size_t calib_size = 1000;
  std::optional<double> max_layer_error;  // dB: layers below are kept fp32
  int threads = 1;
  size_t report_samples = 200;  // calibration samples the per-layer error is measured on
  bool cle = false;             // cross-layer equalization first (equalization.h)
  bool bias_correction = false; // empirical bias correction (bias_correction.h)
};

struct LayerReport {
  LayerPlan plan;
  std::optional<ErrorFigures> error;  // quantized layers only
};

struct QuantizeReport {
  std::string calibrator;
  uint64_t calib_samples = 0, report_samples = 0;
  std::vector<LayerReport> layers;
  ErrorFigures output;                // graph output 0, quantized vs fp32
  std::vector<std::string> kept_fp32_by_error;
  std::vector<std::string> equalized;  // "L1 -> L2" pairs (--cle)
  size_t bias_corrected = 0;           // layers (--bias-correction)
};

// Static QDQ quantization of m (already cleaned up by optimize_for_runtime) with the
// calibration data set ds. Error(Input) for an --exclude that matches nothing;
// Error(Gate) when the quantized model gives NaN/Inf on the report samples.
QuantizeReport quantize_static(Model& m, const data::Dataset& ds, const QuantizeOptions& o);

}  // namespace mc::quant
