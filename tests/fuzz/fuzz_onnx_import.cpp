// libFuzzer harness: the ONNX importer and the default optimize passes on arbitrary bytes.
// import_onnx_bytes (protobuf parse, every size/name/graph check, ONNX shape inference),
// then the `optimize` pipeline. mc::Error is the expected outcome for a bad file; anything
// else escaping (another exception type, a crash, a sanitizer report) is a finding,
// because the CLI would turn it into "internal error" (exit 3) instead of exit 2.
// External data is looked up in an empty private folder, so no file outside it is read.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"

namespace {
std::string g_model_dir;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/mc_fuzz_onnx_XXXXXX";
  if (!mkdtemp(tmpl)) abort();
  g_model_dir = tmpl;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mc::ImportOptions io;
  io.max_file_bytes = 16u << 20;
  try {
    mc::Model m = mc::import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), g_model_dir, "fuzz",
                                        io);
    mc::PassContext ctx;
    mc::run_passes(m, ctx, mc::default_optimize_pipeline());
  } catch (const mc::Error&) {
  }
  return 0;
}
