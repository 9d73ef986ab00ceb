// The `check` harness: see check_harness.h for what each figure means.
#include "runtime-check/check/check_harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "compress/analysis/file_size.h"
#include "compress/error.h"
#include "runtime-check/check/runtime_session.h"
#include "runtime-check/npy/npy.h"

namespace mc::check {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

void fill_random(const mcrt::TensorInfo& t, std::mt19937_64& rng) {
  const size_t n = t.bytes / mcrt::dtype_size(t.dtype);
  uint8_t* p = static_cast<uint8_t*>(t.data);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case mcrt::DType::kF32: { const float v = uf(rng); std::memcpy(p + 4 * i, &v, 4); break; }
      case mcrt::DType::kF16: { const uint16_t v = mcrt::float_to_half(uf(rng)); std::memcpy(p + 2 * i, &v, 2); break; }
      case mcrt::DType::kI32: { const int32_t v = static_cast<int32_t>(rng() % 2); std::memcpy(p + 4 * i, &v, 4); break; }
      case mcrt::DType::kI64: { const int64_t v = static_cast<int64_t>(rng() % 2); std::memcpy(p + 8 * i, &v, 8); break; }
      case mcrt::DType::kBool: p[i] = static_cast<uint8_t>(rng() & 1); break;
      default: p[i] = static_cast<uint8_t>(rng() & 0xFF); break;
    }
  }
}

// Index of the first largest value.
size_t argmax(const float* v, size_t n) {
  size_t best = 0;
  for (size_t k = 1; k < n; ++k)
    if (v[k] > v[best]) best = k;
  return best;
}

// Rank of v[label] among v with ties broken by index, as argmax does (0 = argmax).
size_t rank_of(const float* v, size_t n, size_t label) {
  size_t r = 0;
  for (size_t k = 0; k < n; ++k)
    if (v[k] > v[label] || (v[k] == v[label] && k < label)) ++r;
  return r;
}

// Runs all n samples of `x` (n × in_elems floats) through the session, eval_batch at a time.
std::vector<float> run_all(RuntimeSession& s, const float* x, size_t n, size_t in_elems, size_t eval_batch) {
  std::vector<float> out;
  out.reserve(n * s.output_sample_elems());
  for (size_t start = 0; start < n; start += eval_batch) {
    const size_t b = std::min(eval_batch, n - start);
    const std::vector<float> y = s.run_f32(x + start * in_elems, b);
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

// Output 0 must be [batch, classes] (or [batch, 1, ..., classes]): one row per sample.
uint64_t classes_of(RuntimeSession& s) {
  const mcrt::TensorInfo o = s.output_info();
  const uint64_t elems = s.output_sample_elems();
  if (o.shape.empty() || o.shape.back() < 1 || static_cast<uint64_t>(o.shape.back()) != elems)
    throw Error(ErrorKind::Input, s.name() + ": output '" + o.name + "' has shape " + shape_text(o.shape) +
                                      "; accuracy needs one score row per sample ([N, classes])");
  return elems;
}

AccuracyReport accuracy_of(const std::vector<float>& y, const std::vector<int64_t>& labels, uint64_t classes,
                           const std::string& labels_name) {
  AccuracyReport a;
  a.samples = labels.size();
  a.classes = classes;
  uint64_t top5 = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<uint64_t>(labels[i]) >= classes)
      throw Error(ErrorKind::Input, labels_name + ": label " + std::to_string(labels[i]) + " of sample " +
                                        std::to_string(i) + " is outside the model's " + std::to_string(classes) +
                                        " classes");
    const float* row = y.data() + i * classes;
    const size_t r = rank_of(row, classes, static_cast<size_t>(labels[i]));
    if (r == 0) ++a.top1_correct;
    if (r < 5) ++top5;
  }
  const double n = a.samples ? static_cast<double>(a.samples) : 1.0;
  a.top1 = 100.0 * static_cast<double>(a.top1_correct) / n;
  if (classes >= 5) {
    a.top5_correct = top5;
    a.top5 = 100.0 * static_cast<double>(top5) / n;
  }
  return a;
}

FidelityReport fidelity_of(const std::vector<float>& out, const std::vector<float>& ref, uint64_t row) {
  FidelityReport f;
  const uint64_t rows = row ? out.size() / row : 0;
  double sig = 0, noise = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double d = static_cast<double>(ref[i]) - static_cast<double>(out[i]);
    sig += static_cast<double>(ref[i]) * ref[i];
    noise += d * d;
    const double ad = std::fabs(d);
    if (ad > f.max_abs_error || std::isnan(ad)) f.max_abs_error = std::isnan(ad) ? INFINITY : ad;
  }
  for (uint64_t r = 0; r < rows; ++r)
    if (argmax(out.data() + r * row, row) == argmax(ref.data() + r * row, row)) ++f.agree;
  f.samples = rows;
  f.agreement = rows ? 100.0 * static_cast<double>(f.agree) / static_cast<double>(rows) : 0.0;
  if (noise > 0) f.snr_db = 10.0 * std::log10(sig / noise);
  return f;
}

// Reference outputs from an .npy: [n, <output sample shape>] (any shape with n rows and
// the same element count), float32 or float64.
std::vector<float> read_reference_outputs(const std::string& path, size_t n, uint64_t sample_elems,
                                          const std::vector<int64_t>& sample_shape) {
  mcrt::NpyArray a;
  const mcrt::NpyStatus st = mcrt::npy_read_file(path, &a, 8ull * n * sample_elems + 1);
  if (!st.ok()) throw_input_error(path, std::string(mcrt::npy_status_code_name(st.code())) + ": " + st.message());
  std::vector<int64_t> want = sample_shape;
  want[0] = static_cast<int64_t>(n);
  if (a.shape.empty() || a.shape[0] != static_cast<int64_t>(n) || a.numel() != n * sample_elems ||
      (a.dtype != mcrt::NpyDtype::kF32 && a.dtype != mcrt::NpyDtype::kF64))
    throw_input_error(path, "expected reference outputs float32 " + shape_text(want) + ", got " +
                                mcrt::npy_dtype_traits(a.dtype).name + " " + shape_text(a.shape));
  std::vector<float> v(n * sample_elems);
  for (size_t i = 0; i < v.size(); ++i) {
    if (a.dtype == mcrt::NpyDtype::kF32) {
      std::memcpy(&v[i], a.bytes.data() + 4 * i, 4);
    } else {
      double d;
      std::memcpy(&d, a.bytes.data() + 8 * i, 8);
      v[i] = static_cast<float>(d);
    }
  }
  return v;
}

}  // namespace

double percentile_sorted(const std::vector<double>& sorted, double p) {
  return sorted[static_cast<size_t>(static_cast<double>(sorted.size() - 1) * p + 0.5)];
}

CheckReport run_check(const CheckOptions& o) {
  if (o.batch < 1 || o.runs < 1 || o.warmup < 0 || o.threads < 1 || o.eval_batch < 1)
    throw Error(ErrorKind::Input, "check: --batch, --runs and --threads must be >= 1 and --warmup >= 0");
  if (!o.reference_outputs.empty() && !o.data)
    throw Error(ErrorKind::Input, "check: --reference-outputs needs --data (the inputs those outputs came from)");
  if (!o.reference.empty() && !o.reference_outputs.empty())
    throw Error(ErrorKind::Input, "check: give --reference or --reference-outputs, not both");

  CheckReport r;
  r.model = o.model;
  const RuntimeArtifact art = open_runtime_artifact(o.model);
  r.format = art.from_onnx ? "onnx" : "mcrt";
  r.file_bytes = art.file_bytes;
  r.runtime_file_bytes = art.mcrt.size();
  r.gzip_bytes = gzip_size(std::string(art.mcrt.begin(), art.mcrt.end()), 9);
  r.export_notes = art.export_notes;

  RuntimeSession session(art.mcrt, o.model, o.threads);
  // Validate the data against the model before spending time on latency.
  std::optional<data::Dataset> ds;
  const mcrt::TensorInfo in0 = session.input_info();
  if (o.data) {
    mcrt::Interpreter& it1 = session.at_batch(1);
    if (it1.num_inputs() != 1)
      throw Error(ErrorKind::Input, o.model + ": --data feeds one input, but the model has " +
                                        std::to_string(it1.num_inputs()) + " inputs");
    if (in0.dtype != mcrt::DType::kF32)
      throw Error(ErrorKind::Input, o.data->data_path + ": expected data for input '" + in0.name + "' of type " +
                                        mcrt::dtype_name(in0.dtype) + ", got float32 (data is always float32)");
    std::vector<int64_t> shape = in0.shape;
    shape[0] = -1;
    ds = data::load_dataset(*o.data, shape);
    if (ds->num_samples() == 0) throw_input_error(o.data->data_path, "no samples");
  }

  // Latency and memory at --batch.
  {
    mcrt::Interpreter& it = session.at_batch(o.batch);
    std::mt19937_64 rng(o.seed);
    for (size_t i = 0; i < it.num_inputs(); ++i) fill_random(it.input(i), rng);
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(o.runs));
    for (int k = 0; k < o.warmup + o.runs; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      const mcrt::Status s = it.run();
      const auto t1 = std::chrono::steady_clock::now();
      if (!s.ok()) throw Error(ErrorKind::Input, o.model + ": runtime run: " + s.to_string());
      if (k >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    r.p50_ms = percentile_sorted(ms, 0.5);
    r.p90_ms = percentile_sorted(ms, 0.9);
    r.min_ms = ms.front();
    r.runs = o.runs;
    r.warmup = o.warmup;
    r.batch = o.batch;
    r.threads = it.threads();
    r.kernel_set = it.kernel_set_name();
    r.weight_bytes = it.weights_bytes_in_memory();
    r.decoded_bytes = session.model().decoded_bytes();
    for (const auto* b : *session.model().graph().buffers()) r.weight_disk_bytes += b->size();
    r.arena_bytes = it.arena_bytes();
    r.input_name = it.input(0).name;
    r.input_shape = it.input(0).shape;
    r.output_name = it.output(0).name;
    r.output_shape = it.output(0).shape;
    // Per-step times: a second series of runs through run_profiled (median per step).
    const size_t ns = it.num_steps();
    std::vector<uint64_t> per_run(ns);
    std::vector<std::vector<double>> step_us(ns);
    for (int k = 0; k < o.warmup + o.runs; ++k) {
      const mcrt::Status s = it.run_profiled(per_run.data());
      if (!s.ok()) throw Error(ErrorKind::Input, o.model + ": runtime run: " + s.to_string());
      if (k >= o.warmup)
        for (size_t i = 0; i < ns; ++i) step_us[i].push_back((double)per_run[i] / 1000.0);
    }
    for (size_t i = 0; i < ns; ++i) {
      const mcrt::StepInfo st = it.step(i);
      std::sort(step_us[i].begin(), step_us[i].end());
      r.steps.push_back({st.node_index, st.op, st.kernel, step_us[i].empty() ? 0.0 : percentile_sorted(step_us[i], 0.5)});
    }
  }

  const bool want_fidelity = !o.reference.empty() || !o.reference_outputs.empty();
  if (!ds && !want_fidelity) return r;

  // Inputs for accuracy and fidelity: the data set, or seeded random samples.
  const size_t in_elems = session.input_sample_elems();
  std::vector<float> random_inputs;
  const float* x = nullptr;
  size_t n = 0;
  if (ds) {
    x = ds->data().data();
    n = ds->num_samples();
  } else {
    if (in0.dtype != mcrt::DType::kF32)
      throw Error(ErrorKind::Input, o.model + ": fidelity on random inputs needs a float32 input, '" + in0.name +
                                        "' is " + mcrt::dtype_name(in0.dtype));
    n = o.random_samples;
    random_inputs.resize(n * in_elems);
    std::mt19937_64 rng(o.seed ^ 0x9e3779b97f4a7c15ull);
    std::uniform_real_distribution<float> uf(-1.f, 1.f);
    for (float& v : random_inputs) v = uf(rng);
    x = random_inputs.data();
  }
  const std::vector<float> y = run_all(session, x, n, in_elems, o.eval_batch);

  if (ds && ds->has_labels())
    r.accuracy = accuracy_of(y, ds->labels(), classes_of(session),
                             o.data->labels_path.empty() ? o.data->data_path : o.data->labels_path);

  if (want_fidelity) {
    const uint64_t out_elems = session.output_sample_elems();
    std::vector<float> ref;
    if (!o.reference.empty()) {
      const RuntimeArtifact ref_art = open_runtime_artifact(o.reference);
      RuntimeSession ref_session(ref_art.mcrt, o.reference, o.threads);
      const mcrt::TensorInfo rin = ref_session.input_info();
      const mcrt::TensorInfo rout = ref_session.output_info();
      std::vector<int64_t> a(in0.shape.begin() + 1, in0.shape.end()), b(rin.shape.begin() + 1, rin.shape.end());
      if (a != b || rin.dtype != in0.dtype)
        throw_input_error(o.reference, std::string("expected input ") + mcrt::dtype_name(in0.dtype) + " " +
                                           shape_text(in0.shape) + " like the model, got " +
                                           mcrt::dtype_name(rin.dtype) + " " + shape_text(rin.shape));
      if (ref_session.output_sample_elems() != out_elems)
        throw_input_error(o.reference, "expected output " + shape_text(session.output_info().shape) +
                                           " like the model, got " + shape_text(rout.shape));
      ref = run_all(ref_session, x, n, in_elems, o.eval_batch);
    } else {
      ref = read_reference_outputs(o.reference_outputs, n, out_elems, session.output_info().shape);
    }
    const mcrt::TensorInfo out0 = session.output_info();
    const uint64_t row = out0.shape.empty() || out0.shape.back() < 1 ? out_elems : static_cast<uint64_t>(out0.shape.back());
    r.fidelity = fidelity_of(y, ref, row);
    r.fidelity->reference = o.reference.empty() ? o.reference_outputs : o.reference;
    r.fidelity->inputs = ds ? "data" : "random";
    if (ds && ds->has_labels())
      r.fidelity->reference_top1 = accuracy_of(ref, ds->labels(), classes_of(session),
                                               o.data->labels_path.empty() ? o.data->data_path : o.data->labels_path)
                                       .top1;
  }
  return r;
}

}  // namespace mc::check
