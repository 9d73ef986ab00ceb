// The torch-free side of distill/: the public functions of torchscript_import.h,
// ir_on_libtorch.h, trainer.h and torchscript_export.h, forwarded to the LibTorch module
// (entry_points.h), which is loaded on first use. MC_DISTILL_MODULE (environment)
// overrides the module's path, which is otherwise the one the build wrote.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "compress/error.h"
#include "compress/io/model_loader.h"
#include "distill/entry_points.h"
#include "distill/ir_on_libtorch.h"
#include "distill/torchscript_export.h"
#include "distill/torchscript_import.h"

#ifndef MC_DISTILL_MODULE
#error "MC_DISTILL_MODULE: the path of libmc_distill_torch.so"
#endif

namespace mc::distill {
namespace {

const EntryPoints& entry() {
  static const EntryPoints* e = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("MC_DISTILL_MODULE");
    const std::string path = env && *env ? env : MC_DISTILL_MODULE;
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = dlerror();
      throw Error(ErrorKind::Internal, "LibTorch support: cannot load " + path + " (" + (why ? why : "?") + ")");
    }
    auto f = reinterpret_cast<const EntryPoints* (*)()>(dlsym(h, "mc_distill_entry_points"));
    if (!f) throw Error(ErrorKind::Internal, "LibTorch support: " + path + " has no mc_distill_entry_points");
    e = f();
    if (!e || e->version != kEntryPointsVersion)
      throw Error(ErrorKind::Internal, "LibTorch support: " + path + " is from another build");
  });
  if (!e) throw Error(ErrorKind::Internal, "LibTorch support: the module failed to load earlier");
  return *e;
}

}  // namespace

Model import_torchscript_file(const std::string& path, const ImportOptions& opts) {
  return entry().import_torchscript_file(path, opts);
}

void register_torchscript_loader() {
  register_model_loader(".pt", import_torchscript_file);
  register_model_loader(".pth", import_torchscript_file);
}

std::vector<float> run_torchscript_file(const std::string& path, const std::vector<int64_t>& shape,
                                        const std::vector<float>& input, std::vector<int64_t>* out_shape) {
  return entry().run_torchscript_file(path, shape, input, out_shape);
}

std::vector<float> run_ir_on_libtorch(const Model& m, const std::vector<int64_t>& shape,
                                      const std::vector<float>& input, std::vector<int64_t>* out_shape) {
  return entry().run_ir_on_libtorch(m, shape, input, out_shape);
}

void finetune(Model& m, const data::Dataset& data, const TrainOptions& opts, TrainReport* report) {
  entry().finetune(m, data, opts, report);
}

void distill(Model& student, const Model& teacher, const data::Dataset& data, const TrainOptions& opts,
             const DistillOptions& dopts, TrainReport* report) {
  entry().distill(student, teacher, data, opts, dopts, report);
}

void export_torchscript_file(const Model& m, const std::string& path, const std::vector<std::string>& inputs) {
  entry().export_torchscript_file(m, path, inputs);
}

std::string torchscript_source(const Model& m, const std::string& file) { return entry().torchscript_source(m, file); }

Optimizer parse_optimizer(const std::string& s) {
  if (s == "sgd") return Optimizer::kSgd;
  if (s == "adam") return Optimizer::kAdam;
  throw Error(ErrorKind::Input, "--optimizer '" + s + "': expected sgd or adam");
}

Schedule parse_schedule(const std::string& s) {
  if (s == "cosine") return Schedule::kCosine;
  if (s == "step") return Schedule::kStep;
  if (s == "constant") return Schedule::kConstant;
  throw Error(ErrorKind::Input, "--schedule '" + s + "': expected cosine, step or constant");
}

}  // namespace mc::distill
