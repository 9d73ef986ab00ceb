// Seeds for fuzz_runtime_loader: converts ONNX models to .mcrt with the real exporter
// (import, default optimize pipeline, export_runtime_bytes), one file per model that
// exports, and skips (with a count) the ones the exporter or importer rejects.
//   make_runtime_seeds OUT_DIR MODEL.onnx ...
#include <cstdio>
#include <fstream>
#include <string>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_runtime_seeds OUT_DIR MODEL.onnx ...\n");
    return 2;
  }
  const std::string out = argv[1];
  int written = 0, skipped = 0;
  for (int i = 2; i < argc; ++i) {
    try {
      mc::Model m = mc::import_onnx_file(argv[i]);
      mc::PassContext ctx;
      mc::run_passes(m, ctx, mc::default_optimize_pipeline());
      const std::vector<uint8_t> bytes = mc::export_runtime_bytes(m);
      std::string name = argv[i];
      for (char& c : name)
        if (c == '/') c = '_';
      std::ofstream f(out + "/" + name + ".mcrt", std::ios::binary);
      f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!f) return 3;
      ++written;
      // The same model as a coded body (§2.1): seeds the segment table, the Huffman and the LZ
      // decoders at load.
      mc::RuntimeExportOptions coded;
      coded.entropy_coding = true;
      const std::vector<uint8_t> cb = mc::export_runtime_bytes(m, coded);
      if (cb != bytes) {
        std::ofstream g(out + "/" + name + ".coded.mcrt", std::ios::binary);
        g.write(reinterpret_cast<const char*>(cb.data()), static_cast<std::streamsize>(cb.size()));
        if (!g) return 3;
        ++written;
      }
    } catch (const mc::Error&) {
      ++skipped;
    }
  }
  std::printf("make_runtime_seeds: %d written, %d not exportable\n", written, skipped);
  return 0;
}
