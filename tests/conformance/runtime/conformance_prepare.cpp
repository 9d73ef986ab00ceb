// mc_conformance_prepare OUT_DIR [NODE_DIR]: exports every node-suite case that the
// exporter accepts to OUT_DIR/<case>/{model.mcrt, input_K.npy, expected_K.npy} (data
// set 0), for mcrt_conformance_run on another target (aarch64 under qemu). Cases the
// exporter rejects are listed in OUT_DIR/export_rejected.tsv (case<TAB>reason) so that
// the runner's counts cover the whole suite.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "node_case.h"
#include "runtime-check/npy/npy.h"

namespace fs = std::filesystem;
using mcrt::conformance::CaseTensor;

namespace {

mcrt::NpyDtype npy_of(mcrt::DType t) {
  switch (t) {
    case mcrt::DType::kF32: return mcrt::NpyDtype::kF32;
    case mcrt::DType::kF16: return mcrt::NpyDtype::kF16;
    case mcrt::DType::kI8: return mcrt::NpyDtype::kI8;
    case mcrt::DType::kU8: return mcrt::NpyDtype::kU8;
    case mcrt::DType::kI32: return mcrt::NpyDtype::kI32;
    case mcrt::DType::kI64: return mcrt::NpyDtype::kI64;
    case mcrt::DType::kBool: return mcrt::NpyDtype::kBool;
  }
  return mcrt::NpyDtype::kF32;
}

bool write_npy(const std::string& path, const CaseTensor& t) {
  mcrt::NpyArray a;
  a.dtype = npy_of(t.dtype);
  a.shape = t.shape;
  a.bytes = t.data;
  mcrt::NpyStatus st = mcrt::npy_write_file(path, a);
  if (!st.ok()) std::cerr << path << ": " << st.message() << "\n";
  return st.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: mc_conformance_prepare OUT_DIR [NODE_DIR]\n";
    return 2;
  }
  const std::string out = argv[1];
  const std::string dir = argc > 2 ? argv[2] : "/usr/share/libonnx-testdata/data/node";
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out);
  std::ofstream rejected(out + "/export_rejected.tsv");
  int written = 0, skipped = 0;
  for (const auto& path : mc::conformance::list_node_cases(dir)) {
    mc::conformance::NodeCase c = mc::conformance::prepare_node_case(path);
    if (!c.exported || c.inputs.empty()) {
      std::string why = c.exported ? "no data set matches the frozen constant inputs" : c.message;
      for (char& ch : why)
        if (ch == '\t' || ch == '\n') ch = ' ';
      rejected << c.name << "\t" << (c.internal_error ? "internal: " : "") << why << "\n";
      ++skipped;
      continue;
    }
    const std::string cdir = out + "/" + c.name;
    fs::create_directories(cdir);
    {
      std::ofstream f(cdir + "/model.mcrt", std::ios::binary);
      f.write(reinterpret_cast<const char*>(c.model_bytes.data()), static_cast<std::streamsize>(c.model_bytes.size()));
      if (!f) { std::cerr << cdir << ": write failed\n"; return 3; }
    }
    for (size_t k = 0; k < c.inputs[0].size(); ++k)
      if (!write_npy(cdir + "/input_" + std::to_string(k) + ".npy", c.inputs[0][k])) return 3;
    for (size_t k = 0; k < c.expected[0].size(); ++k)
      if (!write_npy(cdir + "/expected_" + std::to_string(k) + ".npy", c.expected[0][k])) return 3;
    ++written;
  }
  if (!rejected) { std::cerr << "export_rejected.tsv: write failed\n"; return 3; }
  std::cout << "mc_conformance_prepare: " << written << " cases written, " << skipped << " rejected at export\n";
  return 0;
}
