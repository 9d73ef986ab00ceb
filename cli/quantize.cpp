// mcompress quantize: static int8 QDQ quantization with calibration (quantize/).
// Parsing, data loading and printing only; the work is in quantize/quantize_model.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "cli/output_path.h"
#include "cli/before_after.h"
#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/runtime_file_options.h"
#include "cli/text_format.h"
#include "compress/data/dataset.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "compress/passes/refresh_shapes.h"
#include "quantize/bits_config.h"
#include "quantize/dynamic_quant.h"
#include "quantize/quantize_model.h"
#include "quantize/weight_storage.h"

namespace mc::cli {
namespace {

struct QuantizeCliOptions {
  std::string model, output, mode, calibrate = "mse", format = "onnx", report, config;
  int bits = 0;
  bool per_channel = false, per_tensor = false, symmetric = false;
  std::vector<std::string> exclude;
  DataArgs data;
  uint64_t calib_size = 1000;
  double max_layer_error = 0;
  bool has_max_layer_error = false, cle = false, bias_correction = false, calibrate_given = false;
  int block_size = 0;
  RuntimeFileArgs file;
  std::string kmeans_init = "kmeans++";
  bool quantize_small_filters = false;
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

// Samples the quantized model is checked on: the calibration data when given, else
// `n` seeded uniform [-1, 1) inputs (the runtime's check does the same for fidelity).
std::vector<float> random_samples(const ValueInfo& in, size_t n, uint64_t seed, const std::string& model) {
  uint64_t elems = 1;
  for (size_t d = 1; d < in.shape.size(); ++d) {
    if (!in.shape[d].is_known()) throw_input_error(model, "input '" + in.name + "' has a symbolic dimension besides the batch; give --calib-data");
    elems *= static_cast<uint64_t>(in.shape[d].value);
  }
  std::mt19937_64 rng(seed);
  std::vector<float> x(n * elems);
  for (auto& v : x) v = static_cast<float>(static_cast<double>(rng() >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  return x;
}

void gate_finite(const quant::LayerErrorRun& run, const Model& m) {
  if (run.non_finite_outputs)
    throw Error(ErrorKind::Gate, "quantize: the quantized model gives " + std::to_string(run.non_finite_outputs) +
                                     " NaN/Inf values in output '" + m.graph.outputs.at(0).name + "' on " +
                                     std::to_string(run.samples) + " samples");
}

int run_quantize(const QuantizeCliOptions& o, const Globals& g) {
  const quant::Mode mode = quant::parse_mode(o.mode);
  const int bits = quant::check_bits(mode, o.bits);
  if (o.format != "onnx" && o.format != "runtime")
    throw Error(ErrorKind::Input, "--format '" + o.format + "': expected onnx or runtime");
  if (o.per_channel && o.per_tensor) throw Error(ErrorKind::Input, "--per-channel and --per-tensor exclude each other");
  if (o.threads < 1 || o.threads > 256) throw Error(ErrorKind::Input, "--threads " + std::to_string(o.threads) + ": expected 1 to 256");
  if (o.calib_size == 0) throw Error(ErrorKind::Input, "--calib-size 0: expected at least 1 sample");
  const bool is_static = mode == quant::Mode::Static;
  const bool storage = mode == quant::Mode::WeightOnly || mode == quant::Mode::Fp16 || mode == quant::Mode::Kmeans;
  if (!is_static && (o.symmetric || o.has_max_layer_error || o.calibrate_given || o.cle || o.bias_correction))
    throw Error(ErrorKind::Input, std::string("--symmetric, --calibrate, --max-layer-error, --cle and --bias-correction apply to --mode static, not ") +
                                      quant::mode_name(mode));
  if (o.block_size && mode != quant::Mode::WeightOnly)
    throw Error(ErrorKind::Input, "--block-size applies to --mode weight-only");
  check_runtime_file_options(o.file, o.format);
  if (o.kmeans_init != "kmeans++" && o.kmeans_init != "linear")
    throw Error(ErrorKind::Input, "--kmeans-init '" + o.kmeans_init + "': expected kmeans++ or linear");
  if (o.quantize_small_filters && mode != quant::Mode::Kmeans)
    throw Error(ErrorKind::Input, "--quantize-small-filters applies to --mode kmeans");
  if (o.quantize_small_filters && !o.config.empty())
    throw Error(ErrorKind::Input, "--quantize-small-filters and --config exclude each other (the config names each layer's bits)");
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
  qo.cle = o.cle;
  qo.bias_correction = o.bias_correction;
  if (o.has_max_layer_error) {
    if (!std::isfinite(o.max_layer_error)) throw Error(ErrorKind::Input, "--max-layer-error: expected a finite number of dB");
    qo.max_layer_error = o.max_layer_error;
  }
  quant::WeightStorageOptions wo;
  if (storage) {
    wo.mode = mode == quant::Mode::WeightOnly ? quant::WeightStorageMode::WeightOnly
              : mode == quant::Mode::Fp16    ? quant::WeightStorageMode::Fp16
                                             : quant::WeightStorageMode::KMeans;
    wo.bits = bits;
    wo.block_size = o.block_size;
    wo.init = o.kmeans_init == "linear" ? quant::KMeansInit::Linear : quant::KMeansInit::KMeansPlusPlus;
    wo.seed = o.seed;
    wo.exclude = qo.sq.exclude;
    // One codebook per tensor serves large filters; 3x3 depthwise and single-channel stems
    // (9 weights per filter) lose the most at 4 bits and below (docs/quantization.md §5).
    // A --config names every layer's bits itself.
    if (mode == quant::Mode::Kmeans && o.config.empty() && !o.quantize_small_filters)
      wo.small_filter_bits = quant::kmeans_small_filter_bits(bits);
    wo.entropy_coding = o.file.entropy_coding;
    quant::validate_weight_storage_options(wo);
  }
  std::optional<quant::LayerBitsConfig> bits_cfg;
  if (!o.config.empty()) {
    if (mode != quant::Mode::WeightOnly && mode != quant::Mode::Kmeans)
      throw Error(ErrorKind::Input, "--config (per-layer bits) applies to --mode weight-only or kmeans");
    if (o.bits) throw Error(ErrorKind::Input, "--config gives the bits per layer; drop --bits");
    bits_cfg = quant::read_bits_config_file(o.config);
    if (bits_cfg->mode != mode)
      throw_input_error(o.config, std::string("config is for mode ") + quant::mode_name(bits_cfg->mode) + ", not --mode " +
                                      quant::mode_name(mode));
  }
  std::optional<data::DatasetOptions> dopt = to_dataset_options(o.data, "quantize");
  if (!dopt && is_static) throw Error(ErrorKind::Input, "quantize: --mode static needs --calib-data (calibration samples)");
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
  if (inputs.size() != 1) throw_input_error(o.model, "quantize feeds one input, but the model has " + std::to_string(inputs.size()));
  const ValueInfo in = *inputs[0];
  if (in.dtype != DType::F32)
    throw_input_error(dopt ? dopt->data_path : o.model, std::string("expected data for input '") + in.name + "' of type " +
                                           dtype_name(in.dtype) + ", got float32 (data is always float32)");
  if (!in.has_shape || in.shape.empty()) throw_input_error(o.model, "input '" + in.name + "' has no shape");
  std::optional<data::Dataset> ds;
  if (dopt) {
    std::vector<int64_t> shape;
    for (const auto& d : in.shape) shape.push_back(d.is_known() ? d.value : -1);
    shape[0] = -1;
    dopt->max_samples = o.calib_size;
    ds = data::load_dataset(*dopt, shape);
    if (ds->num_samples() == 0) throw_input_error(dopt->data_path, "no samples");
  }

  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["output"] = o.output;
  j["format"] = o.format;
  j["mode"] = quant::mode_name(mode);
  j["layers"] = nlohmann::ordered_json::array();
  std::vector<std::string> table;  // printed rows
  auto row = [](const std::string& layer, const std::string& op, const std::string& rest) {
    return "  " + pad(layer, 40) + " " + pad(op, 18) + " " + rest;
  };
  std::string headline;
  quant::ErrorFigures output_error;
  uint64_t error_samples = 0;
  if (is_static) {
    const quant::QuantizeReport rep = quant::quantize_static(m, *ds, qo);
    j["per_channel"] = qo.sq.per_channel;
    j["symmetric"] = qo.sq.symmetric;
    j["calibrator"] = rep.calibrator;
    j["calibration_samples"] = rep.calib_samples;
    j["equalized"] = rep.equalized;
    j["bias_corrected_layers"] = rep.bias_corrected;
    size_t quantized = 0;
    for (const auto& l : rep.layers) {
      nlohmann::ordered_json e{{"layer", l.plan.node}, {"op_type", l.plan.op_type}, {"quantized", l.plan.quantized}};
      const std::string op = l.plan.op_type + (l.plan.folded.empty() ? "" : "+" + l.plan.folded);
      if (l.plan.quantized) {
        ++quantized;
        e["output"] = l.plan.output;
        if (!l.plan.folded.empty()) e["folded"] = l.plan.folded;
        e["range"] = {l.plan.range.first, l.plan.range.second};
        e["scale"] = l.plan.scale;
        e["zero_point"] = l.plan.zero_point;
        e["sqnr_db"] = number_or_null(l.error->sqnr_db);
        e["cosine"] = number_or_null(l.error->cosine);
        table.push_back(row(l.plan.node, op, pad(db_text(l.error->sqnr_db), 8) + " " + fixed(l.error->cosine, 5)));
      } else {
        e["reason"] = l.plan.reason;
        table.push_back(row(l.plan.node, op, "fp32: " + l.plan.reason));
      }
      j["layers"].push_back(e);
    }
    headline = std::string("static int8 QDQ, ") + (qo.sq.per_channel ? "per-channel" : "per-tensor") + " weights, " +
               rep.calibrator + " on " + std::to_string(rep.calib_samples) + " samples; " + std::to_string(quantized) +
               " of " + std::to_string(rep.layers.size()) + " layers quantized" +
               (o.cle ? "; CLE on " + std::to_string(rep.equalized.size()) + " layer pairs" : "") +
               (o.bias_correction ? "; bias correction on " + std::to_string(rep.bias_corrected) + " layers" : "");
    output_error = rep.output;
    error_samples = rep.report_samples;
  } else {
    const Model fp = m;
    size_t applied = 0, total = 0;
    if (mode == quant::Mode::Dynamic) {
      const quant::StaticPlan plan = quant::apply_dynamic(m, qo.sq);
      if (!plan.unmatched_exclude.empty())
        throw Error(ErrorKind::Input, "--exclude '" + plan.unmatched_exclude[0] + "': matches no node name or op type");
      for (const auto& l : plan.layers) {
        ++total;
        applied += l.quantized;
        nlohmann::ordered_json e{{"layer", l.node}, {"op_type", l.op_type}, {"quantized", l.quantized}};
        if (!l.quantized) e["reason"] = l.reason;
        j["layers"].push_back(e);
        table.push_back(row(l.node, l.op_type, l.quantized ? "int8 weights, activations per run" : "fp32: " + l.reason));
      }
      headline = std::string("dynamic int8, ") + (qo.sq.per_channel ? "per-channel" : "per-tensor") + " weights; " +
                 std::to_string(applied) + " of " + std::to_string(total) + " Gemm/MatMul layers quantized";
    } else {
      for (const auto& e : wo.exclude) {
        bool hit = false;
        for (const auto& n : m.graph.nodes) hit = hit || n.name == e || n.op_type == e || (n.inputs.size() > 1 && n.inputs[1] == e);
        if (!hit) throw Error(ErrorKind::Input, "--exclude '" + e + "': matches no node name, weight or op type");
      }
      const quant::WeightStorageReport wr =
          bits_cfg ? quant::apply_layer_bits(m, *bits_cfg, wo) : quant::apply_weight_storage(m, wo);
      for (const auto& l : wr.layers) {
        ++total;
        applied += l.applied;
        nlohmann::ordered_json e{{"layer", l.name}, {"op_type", l.op}, {"quantized", l.applied}, {"storage", l.storage}};
        if (l.applied) {
          e["weight_sqnr_db"] = number_or_null(l.sqnr_db);
          e["weight_cosine"] = number_or_null(l.cosine);
          table.push_back(row(l.name, l.op, pad(l.storage, 24) + " weight SQNR " + db_text(l.sqnr_db) + " dB, cosine " +
                                                fixed(l.cosine, 5)));
        } else {
          e["reason"] = l.reason;
          table.push_back(row(l.name, l.op, "fp32: " + l.reason));
        }
        j["layers"].push_back(e);
      }
      headline = wr.summary;
    }
    refresh_shapes(m);
    const size_t n = ds ? std::min<size_t>(200, ds->num_samples()) : 16;
    const std::vector<float> x = ds ? std::vector<float>() : random_samples(in, n, o.seed, o.model);
    const quant::LayerErrorRun run =
        quant::measure_layer_errors(fp, {}, m, {}, ds ? ds->data().data() : x.data(), n, o.threads, true);
    output_error = run.output;
    error_samples = run.samples;
    gate_finite(run, m);
    j["error_inputs"] = ds ? "calibration data" : "random";
  }
  j["error_samples"] = error_samples;
  j["output_sqnr_db"] = number_or_null(output_error.sqnr_db);
  j["output_cosine"] = number_or_null(output_error.cosine);

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
    RuntimeExportOptions eo;
    eo.fp16_weights = mode == quant::Mode::Fp16;
    apply_runtime_file_options(o.file, eo);
    RuntimeExportReport rr;
    export_runtime_file(m, o.output, eo, m.source_files, &rr);
    after = measure_model(m, {o.output});
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
  std::cout << "quantize: " << headline << "\n";
  std::cout << row("layer", "op", is_static ? "SQNR dB  cosine (layer output vs fp32)" : "") << "\n";
  for (const auto& t : table) std::cout << t << "\n";
  std::cout << "  output '" << m.graph.outputs.at(0).name << "' vs fp32 on " << error_samples
            << (ds ? " calibration" : " random") << " samples: SQNR " << db_text(output_error.sqnr_db) << " dB, cosine "
            << fixed(output_error.cosine, 5) << "\n";
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
  CLI::App* sub = root.add_subcommand("quantize", "Quantize: static/dynamic int8, weight-only int8/int4, fp16, k-means weight sharing");
  sub->add_option("model", o->model, "ONNX model to quantize")->required();
  sub->add_option("-o,--output", o->output, "Where to write the quantized model (default: MODEL.int8.onnx for static, MODEL.<mode>.onnx otherwise, .mcrt with --format runtime, next to the model)");
  sub->add_option("--mode", o->mode, "static (int8 QDQ), dynamic, weight-only, fp16 or kmeans")->required();
  sub->add_option("--bits", o->bits, "8 (static, dynamic); 8 or 4 (weight-only); 2..8 (kmeans)");
  sub->add_flag("--per-channel", o->per_channel, "One weight scale per output channel (the default)");
  sub->add_flag("--per-tensor", o->per_tensor, "One weight scale per tensor");
  sub->add_flag("--symmetric", o->symmetric, "Symmetric activations (zero point 0)");
  sub->add_option("--calib-data", o->data.data, "Calibration samples: IDX (.gz ok), .npy or .npz (static: required; others: the check inputs)");
  sub->add_option("--calib-size", o->calib_size, "Use the first N samples (default 1000)");
  DataArgs* a = &o->data;
  sub->add_option("--mean", o->data.mean, "Subtract this after scaling uint8 data to [0, 1]")
      ->each([a](const std::string&) { a->has_mean = true; });
  sub->add_option("--std", o->data.std_dev, "Then divide by this (> 0)")->each([a](const std::string&) { a->has_std = true; });
  sub->add_option("--layout", o->data.layout, "Layout of the data's samples: nchw or nhwc (default nchw)");
  sub->add_option("--calibrate", o->calibrate, "minmax, percentile[:P] (P default 99.99), entropy or mse (default: measured best, docs/quantization.md)")
      ->each([o](const std::string&) { o->calibrate_given = true; });
  sub->add_option("--block-size", o->block_size, "weight-only: one scale per block of 32, 64 or 128 (default: per channel)");
  sub->add_option("--kmeans-init", o->kmeans_init, "kmeans: kmeans++ (seeded by --seed, default) or linear");
  sub->add_flag("--quantize-small-filters", o->quantize_small_filters,
                "kmeans at 4 bits or fewer: cluster layers with fewer than 16 weights per filter (3x3 depthwise, 1-channel stems) at --bits too, not at 6 bits");
  add_runtime_file_options(*sub, o->file);
  sub->add_option("--exclude", o->exclude, "Node names or op types to keep fp32 (comma-separated, repeatable)");
  sub->add_option("--max-layer-error", o->max_layer_error, "Keep layers whose SQNR (dB) is below this in fp32")
      ->each([o](const std::string&) { o->has_max_layer_error = true; });
  sub->add_flag("--cle", o->cle, "Cross-layer equalization of Conv -> [Relu] -> Conv pairs first (static)");
  sub->add_flag("--bias-correction", o->bias_correction, "Correct biases for the int8 weights' expected error (static)");
  sub->add_option("--format", o->format, "onnx (QDQ, default) or runtime (.mcrt)");
  sub->add_option("--config", o->config,
                  "Per-layer bits (JSON from `sensitivity --pass quantize --auto -o`), weight-only or kmeans; "
                  "layers it does not name stay fp32");
  sub->add_option("--report", o->report, "Write the per-layer report as JSON to this file");
  sub->add_option("--threads", o->threads, "Runtime threads for calibration (results do not depend on it)");
  sub->add_option("--seed", o->seed, "Seed of k-means++ and of random check inputs (static makes no random choice)");
  sub->footer(
      "Examples:\n"
      "  mcompress quantize model.onnx --mode static --calib-data train-images-idx3-ubyte.gz \\\n"
      "      --mean 0.286 --std 0.353 -o model.int8.onnx --report model.int8.json\n"
      "Exit codes: 2 bad input (data that does not fit, unknown mode/bits); 1 NaN/Inf in the quantized outputs.");
  sub->callback([o, action]() {
    *action = [o](const Globals& g) {
      o->output = output_or_default(o->output, o->model, o->mode == "static" ? "int8" : o->mode, format_extension(o->format));
      return run_quantize(*o, g);
    };
  });
  return sub;
}

}  // namespace mc::cli
