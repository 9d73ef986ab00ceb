// mcrt_conformance_run CASES_DIR: runtime-only conformance runner (mcrt + mcrt_npy), so it
// builds standalone for aarch64. Walks CASES_DIR/<case>/{model.mcrt, input_K.npy,
// expected_K.npy} written by mc_conformance_prepare, runs each case and prints failures
// with their max error and `conformance: N passed, M failed, K unsupported` (cases listed
// in export_rejected.tsv count as unsupported, "internal:" ones as failed). Exit 1 on a failure.
#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "case_runner.h"
#include "runtime-check/npy/npy.h"

using namespace mcrt::conformance;

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

bool dtype_of(mcrt::NpyDtype d, mcrt::DType* out) {
  switch (d) {
    case mcrt::NpyDtype::kF32: *out = mcrt::DType::kF32; return true;
    case mcrt::NpyDtype::kI8: *out = mcrt::DType::kI8; return true;
    case mcrt::NpyDtype::kU8: *out = mcrt::DType::kU8; return true;
    case mcrt::NpyDtype::kI32: *out = mcrt::DType::kI32; return true;
    case mcrt::NpyDtype::kI64: *out = mcrt::DType::kI64; return true;
    case mcrt::NpyDtype::kBool: *out = mcrt::DType::kBool; return true;
    default: return false;
  }
}

bool read_numbered(const std::string& dir, const char* prefix, std::vector<CaseTensor>* out, std::string* err) {
  for (int k = 0;; ++k) {
    const std::string p = dir + "/" + prefix + std::to_string(k) + ".npy";
    if (!exists(p)) return true;
    mcrt::NpyArray a;
    mcrt::NpyStatus st = mcrt::npy_read_file(p, &a);
    CaseTensor t;
    if (!st.ok() || !dtype_of(a.dtype, &t.dtype)) {
      *err = p + ": " + (st.ok() ? std::string("unsupported dtype") : st.message());
      return false;
    }
    t.shape = a.shape;
    t.data = std::move(a.bytes);
    out->push_back(std::move(t));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: mcrt_conformance_run CASES_DIR [--list]\n";
    return 2;
  }
  const std::string root = argv[1];
  const bool list = argc > 2 && !std::strcmp(argv[2], "--list");
  Tally tally;
  std::ifstream rejected(root + "/export_rejected.tsv");
  if (!rejected) {
    std::cerr << root << "/export_rejected.tsv missing (run mc_conformance_prepare)\n";
    return 2;
  }
  for (std::string line; std::getline(rejected, line);) {
    if (line.empty()) continue;
    const bool internal = line.find("\tinternal: ") != std::string::npos;
    tally.add(internal ? Verdict::kFail : Verdict::kUnsupported);
    if (internal) std::cout << "FAIL " << line << "\n";
  }
  std::vector<std::string> cases;
  if (DIR* d = ::opendir(root.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && exists(root + "/" + e->d_name + "/model.mcrt")) cases.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(cases.begin(), cases.end());
  for (const auto& name : cases) {
    const std::string dir = root + "/" + name;
    std::ifstream f(dir + "/model.mcrt", std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<CaseTensor> ins, exp;
    std::string err;
    CaseResult r;
    if (!read_numbered(dir, "input_", &ins, &err) || !read_numbered(dir, "expected_", &exp, &err)) {
      r.verdict = Verdict::kFail;
      r.message = err;
    } else {
      r = run_case(bytes, ins, exp);
    }
    tally.add(r.verdict);
    if (r.verdict == Verdict::kFail)
      std::cout << "FAIL " << name << ": max error " << r.max_error << ": " << r.message << "\n";
    else if (list)
      std::cout << verdict_name(r.verdict) << " " << name << (r.message.empty() ? "" : ": " + r.message) << "\n";
  }
  std::cout << tally.line() << "\n";
  return tally.failed ? 1 : 0;
}
