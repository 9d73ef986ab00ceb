// libFuzzer harness: the runtime loader and planner on arbitrary .mcrt bytes.
// Load (header, FlatBuffers verifier, every meaning check of docs/runtime-format.md) and,
// when that succeeds, prepare (shapes, weight packing, kernel choice, arena plan) at batch 1
// with a 256 MiB memory budget. Run is not fuzzed here: a model that prepared is valid by
// contract, and run does no validation. Any crash, sanitizer report, or
// leak is a finding; a non-ok Status is the expected outcome for a bad file.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/interpreter.h"
#include "runtime/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<mcrt::Model> model;
  mcrt::LoadLimits limits;
  limits.max_file_bytes = 64u << 20;
  if (!mcrt::Model::load_buffer(data, size, &model, /*copy=*/true, limits).ok()) return 0;
  mcrt::PrepareOptions opt;
  opt.batch = 1;
  opt.threads = 1;
  opt.memory_limit = 256u << 20;
  std::unique_ptr<mcrt::Interpreter> it;
  if (!mcrt::Interpreter::prepare(*model, opt, &it).ok()) return 0;
  return 0;
}
