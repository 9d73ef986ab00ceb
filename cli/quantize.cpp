// mcompress quantize: static int8 QDQ quantization with calibration (quantize/).
// Parsing, data loading and printing only; the work is in quantize/quantize_model.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/before_after.h"
#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/text_format.h"
#include "compress/data/dataset.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "quantize/quantize_model.h"

namespace mc::cli {
namespace {

struct QuantizeCliOptions {
  std::string model, output, mode, calibrate = "percentile:99.99", format = "onnx", report;
  int bits = 0;
  bool per_channel = false, per_tensor = false, symmetric = false;
  std::vector<std::string> exclude;
  DataArgs data;
  uint64_t calib_size = 1000;
  double max_layer_error = 0;
  bool has_max_layer_error = false, cle = false, bias_correction = false;
  int threads = 1;
  uint64_t seed = 0;
};

nlohmann::ordered_json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

std::string db_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fixed(v, 1);
}

int run_quantize(const QuantizeCliOptions& o, const Globals& g) {
  const quant::Mode mode = quant::parse_mode(o.mode);
  quant::check_bits(mode, o.bits);
  if (o.format != "onnx" && o.format != "runtime")
    throw Error(ErrorKind::Input, "--format '" + o.format + "': expected onnx or runtime");
  if (o.per_channel && o.per_tensor) throw Error(ErrorKind::Input, "--per-channel and --per-tensor exclude each other");
  if (mode != quant::Mode::Static)
    throw Error(ErrorKind::Input, std::string("--mode ") + quant::mode_name(mode) + ": not available in this build");
  if (o.cle) throw Error(ErrorKind::Input, "--cle: not available in this build");
  if (o.bias_correction) throw Error(ErrorKind::Input, "--bias-correction: not available in this build");
  if (o.threads < 1 || o.threads > 256) throw Error(ErrorKind::Input, "--threads " + std::to_string(o.threads) + ": expected 1 to 256");
  if (o.calib_size == 0) throw Error(ErrorKind::Input, "--calib-size 0: expected at least 1 sample");
  quant::QuantizeOptions qo;
  qo.calibrator = quant::parse_calibrator(o.calibrate);
  qo.sq.per_channel = !o.per_tensor;
  qo.sq.symmetric = o.symmetric;
  for (const auto& e : o.exclude) {
    std::stringstream ss(e);
    for (std::string tok; std::getline(ss, tok, ',');)
      if (!tok.empty()) qo.sq.exclude.push_back(tok);
  }
  qo.calib_size = o.calib_size;
  qo.threads = o.threads;
  if (o.has_max_layer_error) {
    if (!std::isfinite(o.max_layer_error)) throw Error(ErrorKind::Input, "--max-layer-error: expected a finite number of dB");
    qo.max_layer_error = o.max_layer_error;
  }
  std::optional<data::DatasetOptions> dopt = to_dataset_options(o.data, "quantize");
  if (!dopt) throw Error(ErrorKind::Input, "quantize: --mode static needs --calib-data (calibration samples)");
  if (o.model == o.output || same_file(o.model, o.output))
    throw Error(ErrorKind::Input, "quantize: the output '" + o.output + "' is the input model; write to another file (-o)");
  if (!o.report.empty() && (o.report == o.model || same_file(o.model, o.report) || o.report == o.output))
    throw Error(ErrorKind::Input, "quantize: --report '" + o.report + "' would overwrite the model or the output");

  Model m = import_onnx_file(o.model);
  std::set<std::string> original_value_info;
  for (const auto& v : m.graph.value_info) original_value_info.insert(v.name);
  const ModelFigures before = measure_model(m, m.source_files);
  PassContext ctx;
  optimize_for_runtime(m, ctx);
  const auto inputs = m.graph.real_inputs();
  if (inputs.size() != 1) throw_input_error(o.model, "--calib-data feeds one input, but the model has " + std::to_string(inputs.size()));
  const ValueInfo& in = *inputs[0];
  if (in.dtype != DType::F32)
    throw_input_error(dopt->data_path, std::string("expected data for input '") + in.name + "' of type " +
                                           dtype_name(in.dtype) + ", got float32 (data is always float32)");
  if (!in.has_shape || in.shape.empty()) throw_input_error(o.model, "input '" + in.name + "' has no shape");
  std::vector<int64_t> shape;
  for (const auto& d : in.shape) shape.push_back(d.is_known() ? d.value : -1);
  shape[0] = -1;
  dopt->max_samples = o.calib_size;
  const data::Dataset ds = data::load_dataset(*dopt, shape);
  if (ds.num_samples() == 0) throw_input_error(dopt->data_path, "no samples");

  const quant::QuantizeReport rep = quant::quantize_static(m, ds, qo);

  ModelFigures after;
  if (o.format == "onnx") {
    // Shapes of the values the quantizer inserted are left to the reader's shape inference.
    std::vector<ValueInfo> vi;
    for (auto& v : m.graph.value_info)
      if (original_value_info.count(v.name)) vi.push_back(std::move(v));
    m.graph.value_info = std::move(vi);
    export_onnx_file(m, o.output, {}, m.source_files);
    Model written = import_onnx_file(o.output);
    after = measure_model(written, written.source_files);
  } else {
    RuntimeExportReport rr;
    export_runtime_file(m, o.output, {}, m.source_files, &rr);
    after = measure_model(m, {o.output});
  }

  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["output"] = o.output;
  j["format"] = o.format;
  j["mode"] = quant::mode_name(mode);
  j["per_channel"] = qo.sq.per_channel;
  j["symmetric"] = qo.sq.symmetric;
  j["calibrator"] = rep.calibrator;
  j["calibration_samples"] = rep.calib_samples;
  j["error_samples"] = rep.report_samples;
  j["output_sqnr_db"] = number_or_null(rep.output.sqnr_db);
  j["output_cosine"] = number_or_null(rep.output.cosine);
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : rep.layers) {
    nlohmann::ordered_json e{{"layer", l.plan.node}, {"op_type", l.plan.op_type}, {"quantized", l.plan.quantized}};
    if (l.plan.quantized) {
      e["output"] = l.plan.output;
      if (!l.plan.folded.empty()) e["folded"] = l.plan.folded;
      e["range"] = {l.plan.range.first, l.plan.range.second};
      e["scale"] = l.plan.scale;
      e["zero_point"] = l.plan.zero_point;
      e["sqnr_db"] = number_or_null(l.error->sqnr_db);
      e["cosine"] = number_or_null(l.error->cosine);
    } else {
      e["reason"] = l.plan.reason;
    }
    j["layers"].push_back(e);
  }
  auto fig = [](const ModelFigures& f) {
    return nlohmann::ordered_json{{"bytes", f.bytes}, {"params", f.params}, {"macs", f.macs}};
  };
  j["before"] = fig(before);
  j["after"] = fig(after);
  if (!o.report.empty()) write_file_atomic(o.report, j.dump(2) + "\n", m.source_files);
  if (g.json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  size_t quantized = 0;
  for (const auto& l : rep.layers) quantized += l.plan.quantized;
  std::cout << "quantize: static int8 QDQ, " << (qo.sq.per_channel ? "per-channel" : "per-tensor") << " weights, "
            << rep.calibrator << " on " << rep.calib_samples << " samples; " << quantized << " of " << rep.layers.size()
            << " layers quantized\n";
  std::cout << "  " << pad("layer", 40) << " " << pad("op", 18) << " " << pad("SQNR dB", 8) << " " << pad("cosine", 8)
            << "\n";
  for (const auto& l : rep.layers) {
    std::string op = l.plan.op_type + (l.plan.folded.empty() ? "" : "+" + l.plan.folded);
    if (l.plan.quantized)
      std::cout << "  " << pad(l.plan.node, 40) << " " << pad(op, 18) << " " << pad(db_text(l.error->sqnr_db), 8) << " "
                << pad(fixed(l.error->cosine, 5), 8) << "\n";
    else
      std::cout << "  " << pad(l.plan.node, 40) << " " << pad(op, 18) << " fp32: " << l.plan.reason << "\n";
  }
  std::cout << "  output '" << m.graph.outputs.at(0).name << "' vs fp32 on " << rep.report_samples
            << " calibration samples: SQNR " << db_text(rep.output.sqnr_db) << " dB, cosine "
            << fixed(rep.output.cosine, 5) << "\n";
  std::cout << before_after_line("quantize", {{"bytes", before.bytes, after.bytes, true},
                                              {"params", before.params, after.params},
                                              {"MACs", before.macs, after.macs}})
            << "\n";
  if (!o.report.empty()) std::cout << "wrote report " << o.report << "\n";
  std::cout << "wrote " << o.output << "\n";
  return 0;
}

}  // namespace

CLI::App* add_quantize(CLI::App& root, Action* action) {
  auto o = std::make_shared<QuantizeCliOptions>();
  CLI::App* sub = root.add_subcommand("quantize", "Quantize to int8 (static QDQ with calibration)");
  sub->add_option("model", o->model, "ONNX model to quantize")->required();
  sub->add_option("-o,--output", o->output, "Where to write the quantized model (not the input)")->required();
  sub->add_option("--mode", o->mode, "static (int8 QDQ); dynamic, weight-only, fp16, kmeans")->required();
  sub->add_option("--bits", o->bits, "8 (static, dynamic); 8 or 4 (weight-only); 2..8 (kmeans)");
  sub->add_flag("--per-channel", o->per_channel, "One weight scale per output channel (the default)");
  sub->add_flag("--per-tensor", o->per_tensor, "One weight scale per tensor");
  sub->add_flag("--symmetric", o->symmetric, "Symmetric activations (zero point 0)");
  sub->add_option("--calib-data", o->data.data, "Calibration samples: IDX (.gz ok), .npy or .npz");
  sub->add_option("--calib-size", o->calib_size, "Use the first N samples (default 1000)");
  DataArgs* a = &o->data;
  sub->add_option("--mean", o->data.mean, "Subtract this after scaling uint8 data to [0, 1]")
      ->each([a](const std::string&) { a->has_mean = true; });
  sub->add_option("--std", o->data.std_dev, "Then divide by this (> 0)")->each([a](const std::string&) { a->has_std = true; });
  sub->add_option("--layout", o->data.layout, "Layout of the data's samples: nchw or nhwc (default nchw)");
  sub->add_option("--calibrate", o->calibrate, "minmax, percentile[:P] (default percentile:99.99), entropy or mse");
  sub->add_option("--exclude", o->exclude, "Node names or op types to keep fp32 (comma-separated, repeatable)");
  sub->add_option("--max-layer-error", o->max_layer_error, "Keep layers whose SQNR (dB) is below this in fp32")
      ->each([o](const std::string&) { o->has_max_layer_error = true; });
  sub->add_flag("--cle", o->cle, "Cross-layer equalization (not available in this build)");
  sub->add_flag("--bias-correction", o->bias_correction, "Bias correction (not available in this build)");
  sub->add_option("--format", o->format, "onnx (QDQ, default) or runtime (.mcrt)");
  sub->add_option("--report", o->report, "Write the per-layer report as JSON to this file");
  sub->add_option("--threads", o->threads, "Runtime threads for calibration (results do not depend on it)");
  sub->add_option("--seed", o->seed, "Seed (static quantization makes no random choice)");
  sub->footer(
      "Examples:\n"
      "  mcompress quantize model.onnx --mode static --calib-data train-images-idx3-ubyte.gz \\\n"
      "      --mean 0.286 --std 0.353 -o model.int8.onnx --report model.int8.json\n"
      "Exit codes: 2 bad input (data that does not fit, unknown mode/bits); 1 NaN/Inf in the quantized outputs.");
  sub->callback([o, action]() { *action = [o](const Globals& g) { return run_quantize(*o, g); }; });
  return sub;
}

}  // namespace mc::cli
