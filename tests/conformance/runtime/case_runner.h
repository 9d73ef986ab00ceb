// Runs one conformance case on the runtime and compares its outputs with the expected
// ones. Depends on mcrt only, so the same code serves the native harness
// (mc_conformance_test) and the standalone aarch64 program (mcrt_conformance_run).
//
// Tolerance (ONNX Runtime's, security.md): float outputs pass when
// |got − exp| ≤ atol + rtol·|exp| for every element, NaN only matches NaN and an
// infinity only the same infinity. Integer and bool outputs must be equal.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace mcrt::conformance {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-5;

struct CaseTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // little-endian elements, C order
};

enum class Verdict { kPass, kFail, kUnsupported };

struct CaseResult {
  Verdict verdict = Verdict::kPass;
  std::string message;     // why it failed or is unsupported
  double max_error = 0.0;  // largest |got − exp| over all outputs (inf for a NaN mismatch)
};

// inputs: one per runtime graph input, in the file's order; expected: one per graph
// output. Load errors and prepare's kUnsupported make the case unsupported; any other
// error, a wrong dtype or shape, or a value out of tolerance fails it.
CaseResult run_case(const std::vector<uint8_t>& model_bytes, const std::vector<CaseTensor>& inputs,
                    const std::vector<CaseTensor>& expected);

// "pass", "FAIL", "unsupported"
const char* verdict_name(Verdict v);

// Tally and the summary line `conformance: N passed, M failed, K unsupported`.
struct Tally {
  int passed = 0, failed = 0, unsupported = 0;
  void add(Verdict v) { (v == Verdict::kPass ? passed : v == Verdict::kFail ? failed : unsupported)++; }
  std::string line() const;
};

}  // namespace mcrt::conformance
