// How `check` gets a runnable model: see runtime_session.h.
#include "runtime-check/check/runtime_session.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "compress/analysis/file_size.h"
#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/io/model_loader.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"

namespace mc::check {
namespace {

constexpr uint64_t kMaxModelBytes = 4ull << 30;  // the runtime loader's own default cap

[[noreturn]] void throw_status(const std::string& name, const std::string& phase, const mcrt::Status& s) {
  const ErrorKind kind = s.code() == mcrt::StatusCode::kOutOfMemory ? ErrorKind::Internal : ErrorKind::Input;
  throw Error(kind, name + ": runtime " + phase + ": " + s.to_string());
}

// Only the first 4 bytes decide; read_file_bounded / import report a missing file.
// Opened without blocking, and only a regular file is read: a FIFO must not wait for a writer.
bool file_starts_with_mcrt_magic(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  char magic[4] = {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::pread(fd, magic, 4, 0) == 4 &&
                  std::memcmp(magic, "MCRT", 4) == 0;
  ::close(fd);
  return ok;
}

uint64_t product(const std::vector<int64_t>& shape, size_t from) {
  uint64_t n = 1;
  for (size_t i = from; i < shape.size(); ++i) n *= static_cast<uint64_t>(shape[i] < 0 ? 0 : shape[i]);
  return n;
}

}  // namespace

RuntimeArtifact open_runtime_artifact(const std::string& path) {
  RuntimeArtifact a;
  a.path = path;
  if (file_starts_with_mcrt_magic(path)) {
    const std::string bytes = read_file_bounded(path, kMaxModelBytes);
    a.file_bytes = bytes.size();
    a.mcrt.assign(bytes.begin(), bytes.end());
    return a;
  }
  a.from_onnx = true;
  Model m = load_model_file(path);
  a.file_bytes = measure_files(m.source_files).bytes;
  // The clean-up passes are not what check reports on: their per-change debug lines
  // and summaries are kept for -vv (trace) only; warnings always show.
  PassContext ctx;
  ctx.log = spdlog::default_logger()->clone("check-optimize");
  if (ctx.log->level() > spdlog::level::trace) ctx.log->set_level(spdlog::level::warn);
  optimize_for_runtime(m, ctx);  // on a shape-inference failure the imported shapes stay
  RuntimeExportReport rep;
  a.mcrt = export_runtime_bytes(m, {}, &rep);
  a.export_notes = rep.notes;
  return a;
}

RuntimeSession::RuntimeSession(const std::vector<uint8_t>& mcrt_bytes, const std::string& name, int threads)
    : name_(name), threads_(threads) {
  const mcrt::Status s = mcrt::Model::load_buffer(mcrt_bytes.data(), mcrt_bytes.size(), &model_, /*copy=*/true);
  if (!s.ok()) throw_status(name_, "load", s);
}

RuntimeSession::~RuntimeSession() = default;

mcrt::Interpreter& RuntimeSession::at_batch(int64_t batch) {
  auto it = prepared_.find(batch);
  if (it != prepared_.end()) return *it->second;
  mcrt::PrepareOptions opt;
  opt.batch = batch;
  opt.threads = threads_;
  std::unique_ptr<mcrt::Interpreter> interp;
  const mcrt::Status s = mcrt::Interpreter::prepare(*model_, opt, &interp);
  if (!s.ok()) throw_status(name_, "prepare (batch " + std::to_string(batch) + ")", s);
  if (interp->num_inputs() == 0 || interp->num_outputs() == 0)
    throw Error(ErrorKind::Input, name_ + ": the model has no input or no output");
  for (size_t i = 0; i < interp->num_inputs(); ++i) {
    const mcrt::TensorInfo t = interp->input(i);
    std::memset(t.data, 0, t.bytes);
  }
  return *prepared_.emplace(batch, std::move(interp)).first->second;
}

mcrt::TensorInfo RuntimeSession::input_info() { return at_batch(1).input(0); }
mcrt::TensorInfo RuntimeSession::output_info() { return at_batch(1).output(0); }

uint64_t RuntimeSession::input_sample_elems() { return product(input_info().shape, 1); }
uint64_t RuntimeSession::output_sample_elems() {
  const mcrt::TensorInfo t = output_info();
  return t.bytes / mcrt::dtype_size(t.dtype);  // at batch 1: one sample
}

std::vector<float> RuntimeSession::run_f32(const float* x, size_t n) {
  mcrt::Interpreter& it = at_batch(static_cast<int64_t>(n));
  const mcrt::TensorInfo in = it.input(0);
  if (in.dtype != mcrt::DType::kF32)
    throw Error(ErrorKind::Input, name_ + ": input '" + in.name + "' is " + mcrt::dtype_name(in.dtype) +
                                      ", but only float32 inputs can be fed from data");
  std::memcpy(in.data, x, in.bytes);
  const mcrt::Status s = it.run();
  if (!s.ok()) throw_status(name_, "run", s);
  const mcrt::TensorInfo out = it.output(0);
  if (out.dtype == mcrt::DType::kI4)  // constants only (the format rejects int4 activations); never read as data
    throw Error(ErrorKind::Input, name_ + ": output '" + out.name + "' is int4, which has no per-element reader");
  const size_t count = out.bytes / mcrt::dtype_size(out.dtype);
  std::vector<float> y(count);
  const uint8_t* p = static_cast<const uint8_t*>(out.data);
  for (size_t i = 0; i < count; ++i) {
    switch (out.dtype) {
      case mcrt::DType::kF32: std::memcpy(&y[i], p + 4 * i, 4); break;
      case mcrt::DType::kF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); y[i] = mcrt::half_to_float(h); break; }
      case mcrt::DType::kI8: y[i] = static_cast<int8_t>(p[i]); break;
      case mcrt::DType::kU8:
      case mcrt::DType::kBool: y[i] = p[i]; break;
      case mcrt::DType::kI32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); y[i] = static_cast<float>(v); break; }
      case mcrt::DType::kI64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); y[i] = static_cast<float>(v); break; }
      case mcrt::DType::kI4: break;  // rejected above
    }
  }
  return y;
}

}  // namespace mc::check
