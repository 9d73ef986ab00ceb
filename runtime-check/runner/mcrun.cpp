// mcrun: load, prepare and run an .mcrt model; print outputs, timings and memory.
//   mcrun MODEL.mcrt [--input name=file.npy ...] [--random --seed S] [--batch B]
//         [--threads T] [--runs N --warmup W] [--out-dir DIR] [--kernels]
// --kernels lists the plan: one line per step with the op and the kernel chosen in prepare.
// Exit codes: 0 ok, 2 bad file or usage (one line naming the file and the problem),
// 3 internal error (out of memory, ...).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/model.h"
#ifdef MCRT_HAVE_NPY
#include "npy/npy.h"
#endif

namespace {

struct Args {
  std::string model;
  std::vector<std::pair<std::string, std::string>> inputs;  // name -> file
  bool random = false;
  uint64_t seed = 0;
  int64_t batch = 1;
  int threads = 1;
  int runs = 1, warmup = 0;
  std::string out_dir;
  bool kernels = false;
};

void usage() {
  std::fprintf(stderr,
               "usage: mcrun MODEL.mcrt [--input name=file.npy ...] [--random --seed S] [--batch B]\n"
               "             [--threads T] [--runs N --warmup W] [--out-dir DIR] [--kernels]\n");
}

bool parse_int(const char* s, int64_t lo, int64_t hi, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno || !end || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

int parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto need = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mcrun: %s needs a value\n", what);
        return nullptr;
      }
      return argv[++i];
    };
    int64_t v = 0;
    if (k == "--input") {
      const char* s = need("--input");
      if (!s) return 2;
      const char* eq = std::strchr(s, '=');
      if (!eq) {
        std::fprintf(stderr, "mcrun: --input expects name=file.npy, got '%s'\n", s);
        return 2;
      }
      a->inputs.emplace_back(std::string(s, eq), std::string(eq + 1));
    } else if (k == "--kernels") {
      a->kernels = true;
    } else if (k == "--random") {
      a->random = true;
    } else if (k == "--seed" || k == "--batch" || k == "--threads" || k == "--runs" || k == "--warmup") {
      const char* s = need(k.c_str());
      if (!s) return 2;
      const int64_t lo = (k == "--seed" || k == "--warmup") ? 0 : 1;
      if (!parse_int(s, lo, k == "--seed" ? INT64_MAX : (k == "--threads" ? 256 : 1 << 20), &v)) {
        std::fprintf(stderr, "mcrun: bad value for %s: '%s'\n", k.c_str(), s);
        return 2;
      }
      if (k == "--seed") a->seed = (uint64_t)v;
      if (k == "--batch") a->batch = v;
      if (k == "--threads") a->threads = (int)v;
      if (k == "--runs") a->runs = (int)v;
      if (k == "--warmup") a->warmup = (int)v;
    } else if (k == "--out-dir") {
      const char* s = need("--out-dir");
      if (!s) return 2;
      a->out_dir = s;
    } else if (k == "-h" || k == "--help") {
      usage();
      return 1;
    } else if (!k.empty() && k[0] == '-') {
      std::fprintf(stderr, "mcrun: unknown option '%s'\n", k.c_str());
      return 2;
    } else if (a->model.empty()) {
      a->model = k;
    } else {
      std::fprintf(stderr, "mcrun: unexpected argument '%s'\n", k.c_str());
      return 2;
    }
  }
  if (a->model.empty()) {
    usage();
    return 2;
  }
  return 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

int exit_code(const mcrt::Status& s) {
  return (s.code() == mcrt::StatusCode::kOutOfMemory) ? 3 : 2;
}


double element(const mcrt::TensorInfo& t, size_t i) {
  const uint8_t* p = static_cast<const uint8_t*>(t.data);
  switch (t.dtype) {
    case mcrt::DType::kF32: { float v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case mcrt::DType::kI8: return (int8_t)p[i];
    case mcrt::DType::kU8:
    case mcrt::DType::kBool: return p[i];
    case mcrt::DType::kI32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case mcrt::DType::kI64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return 0;
  }
}

void fill_random(const mcrt::TensorInfo& t, std::mt19937_64& rng) {
  const size_t n = t.bytes / mcrt::dtype_size(t.dtype);
  uint8_t* p = static_cast<uint8_t*>(t.data);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case mcrt::DType::kF32: { float v = uf(rng); std::memcpy(p + 4 * i, &v, 4); break; }
      case mcrt::DType::kI32: { int32_t v = (int32_t)(rng() % 2); std::memcpy(p + 4 * i, &v, 4); break; }
      case mcrt::DType::kI64: { int64_t v = (int64_t)(rng() % 2); std::memcpy(p + 8 * i, &v, 8); break; }
      default: p[i] = (uint8_t)(rng() & 0xFF); break;
    }
  }
}

#ifdef MCRT_HAVE_NPY
bool npy_dtype_of(mcrt::DType t, mcrt::NpyDtype* out) {
  switch (t) {
    case mcrt::DType::kF32: *out = mcrt::NpyDtype::kF32; return true;
    case mcrt::DType::kF16: *out = mcrt::NpyDtype::kF16; return true;
    case mcrt::DType::kI8: *out = mcrt::NpyDtype::kI8; return true;
    case mcrt::DType::kU8: *out = mcrt::NpyDtype::kU8; return true;
    case mcrt::DType::kI32: *out = mcrt::NpyDtype::kI32; return true;
    case mcrt::DType::kI64: *out = mcrt::NpyDtype::kI64; return true;
    case mcrt::DType::kBool: *out = mcrt::NpyDtype::kBool; return true;
    case mcrt::DType::kI4: return false;  // constants only: never an input or output
  }
  return false;
}

// Reads `path` into input tensor t: dtype and shape must match exactly.
bool read_input_npy(const std::string& path, const mcrt::TensorInfo& t, std::string* err) {
  mcrt::NpyArray a;
  mcrt::NpyStatus s = mcrt::npy_read_file(path, &a, t.bytes);
  if (!s.ok()) {
    *err = std::string(mcrt::npy_status_code_name(s.code())) + ": " + s.message();
    return false;
  }
  mcrt::NpyDtype want;
  if (!npy_dtype_of(t.dtype, &want) || a.dtype != want) {
    *err = std::string("dtype ") + mcrt::npy_dtype_traits(a.dtype).name + " but input '" + t.name + "' is " +
           mcrt::dtype_name(t.dtype);
    return false;
  }
  if (a.shape != t.shape) {
    *err = "shape " + shape_str(a.shape) + " but input '" + t.name + "' is " + shape_str(t.shape) +
           " (use --batch to set the batch size)";
    return false;
  }
  std::memcpy(t.data, a.bytes.data(), t.bytes);
  return true;
}

bool write_output_npy(const std::string& path, const mcrt::TensorInfo& t, std::string* err) {
  mcrt::NpyArray a;
  if (!npy_dtype_of(t.dtype, &a.dtype)) {
    *err = "dtype not writable";
    return false;
  }
  a.shape = t.shape;
  a.bytes.assign(static_cast<const uint8_t*>(t.data), static_cast<const uint8_t*>(t.data) + t.bytes);
  mcrt::NpyStatus s = mcrt::npy_write_file(path, a);
  if (!s.ok()) {
    *err = std::string(mcrt::npy_status_code_name(s.code())) + ": " + s.message();
    return false;
  }
  return true;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (int rc = parse_args(argc, argv, &a)) return rc == 1 ? 0 : rc;

  std::unique_ptr<mcrt::Model> model;
  mcrt::Status s = mcrt::Model::load_file(a.model, &model);
  if (!s.ok()) {
    // load_file's messages start with the path; print "mcrun: PATH: <code>: <problem>".
    std::string msg = s.message();
    if (msg.compare(0, a.model.size() + 2, a.model + ": ") == 0) msg = msg.substr(a.model.size() + 2);
    std::fprintf(stderr, "mcrun: %s: %s: %s\n", a.model.c_str(), mcrt::status_code_name(s.code()), msg.c_str());
    return exit_code(s);
  }
  mcrt::PrepareOptions opt;
  opt.batch = a.batch;
  opt.threads = a.threads;
  std::unique_ptr<mcrt::Interpreter> it;
  s = mcrt::Interpreter::prepare(*model, opt, &it);
  if (!s.ok()) {
    std::fprintf(stderr, "mcrun: %s: %s\n", a.model.c_str(), s.to_string().c_str());
    return exit_code(s);
  }

  // Inputs: from .npy files, random, or zeros.
  std::mt19937_64 rng(a.seed);
  std::vector<char> given(it->num_inputs(), 0);
  for (const auto& in : a.inputs) {
    const int idx = it->find_input(in.first);
    if (idx < 0) {
      std::fprintf(stderr, "mcrun: %s: model has no input named '%s'\n", a.model.c_str(), in.first.c_str());
      return 2;
    }
#ifdef MCRT_HAVE_NPY
    const mcrt::TensorInfo t = it->input((size_t)idx);
    std::string err;
    if (!read_input_npy(in.second, t, &err)) {
      std::fprintf(stderr, "mcrun: %s: %s\n", in.second.c_str(), err.c_str());
      return 2;
    }
    given[(size_t)idx] = 1;
#else
    std::fprintf(stderr, "mcrun: %s: this build has no NPY support\n", in.second.c_str());
    return 2;
#endif
  }
  for (size_t i = 0; i < it->num_inputs(); ++i) {
    const mcrt::TensorInfo t = it->input(i);
    if (given[i]) continue;
    if (a.random) fill_random(t, rng);
    else std::memset(t.data, 0, t.bytes);
  }

  // Warm-up and timed runs (inputs keep their values across runs).
  std::vector<double> ms;
  for (int r = 0; r < a.warmup + a.runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    s = it->run();
    const auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "mcrun: %s: %s\n", a.model.c_str(), s.to_string().c_str());
      return exit_code(s);
    }
    if (r >= a.warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }

  std::printf("model %s  (format %u.%u, kernels %s, threads %d, batch %" PRId64 ")\n", a.model.c_str(),
              model->version_major(), model->version_minor(), it->kernel_set_name(), it->threads(), a.batch);
  if (a.kernels)
    for (size_t i = 0; i < it->num_steps(); ++i) {
      const mcrt::StepInfo st = it->step(i);
      std::printf("step %zu  node %d %s  kernel %s\n", i, st.node_index, st.op.c_str(), st.kernel.c_str());
    }
  for (size_t i = 0; i < it->num_outputs(); ++i) {
    const mcrt::TensorInfo t = it->output(i);
    const size_t n = t.bytes / mcrt::dtype_size(t.dtype);
    std::printf("output %s %s %s  first:", t.name.c_str(), mcrt::dtype_name(t.dtype), shape_str(t.shape).c_str());
    for (size_t k = 0; k < n && k < 6; ++k) std::printf(" %.6g", element(t, k));
    std::printf("%s", n > 6 ? " ..." : "");
    // argmax along the last dim, per row (first 8 rows); over everything for rank <= 1.
    const size_t inner = t.shape.size() >= 2 && t.shape.back() > 0 ? (size_t)t.shape.back() : (n ? n : 1);
    const size_t rows = n / inner;
    std::printf("  argmax%s:", t.shape.size() >= 2 ? " (last dim)" : "");
    for (size_t r = 0; r < rows && r < 8; ++r) {
      size_t am = 0;
      for (size_t k = 1; k < inner; ++k)
        if (element(t, r * inner + k) > element(t, r * inner + am)) am = k;
      std::printf(" %zu", am);
    }
    std::printf("%s\n", rows > 8 ? " ..." : "");
#ifdef MCRT_HAVE_NPY
    if (!a.out_dir.empty()) {
      std::string err;
      // Tensor names come from the (untrusted) model: keep [A-Za-z0-9._-] only, no leading dot.
      std::string base = t.name.empty() ? "output" + std::to_string(i) : t.name;
      for (char& ch : base)
        if (!std::isalnum((unsigned char)ch) && ch != '.' && ch != '_' && ch != '-') ch = '_';
      if (base[0] == '.') base[0] = '_';
      const std::string path = a.out_dir + "/" + base + ".npy";
      if (!write_output_npy(path, t, &err)) {
        std::fprintf(stderr, "mcrun: %s: %s\n", path.c_str(), err.c_str());
        return 2;
      }
    }
#endif
  }
#ifndef MCRT_HAVE_NPY
  if (!a.out_dir.empty()) {
    std::fprintf(stderr, "mcrun: %s: this build has no NPY support\n", a.out_dir.c_str());
    return 2;
  }
#endif
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) { return sorted[(size_t)((sorted.size() - 1) * p + 0.5)]; };
  std::printf("time ms  p50 %.3f  p90 %.3f  min %.3f  (%zu runs, %d warm-up)\n", pct(0.5), pct(0.9), sorted.front(),
              sorted.size(), a.warmup);
  std::printf("arena bytes %zu  (naive %zu)  weight bytes %zu  file bytes %zu\n", it->arena_bytes(),
              it->arena_naive_bytes(), it->weights_bytes_in_memory(), model->file_bytes());
  return 0;
}
