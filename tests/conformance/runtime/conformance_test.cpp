// mc_conformance_test: the ONNX node suite through import → optimize → export_runtime →
// runtime load/prepare/run, compared at rtol 1e-3, atol 1e-5. Prints one line per
// failing case with its max error, then `conformance: N passed, M failed, K unsupported`.
// Exit 1 when any case fails.
// Usage: mc_conformance_test [NODE_DIR] [--filter SUBSTR] [--list] [--no-optimize]
//   --list prints every case's verdict and the reason it is unsupported.
#include <cstring>
#include <iostream>
#include <string>

#include "case_runner.h"
#include "node_case.h"

using namespace mcrt::conformance;

int main(int argc, char** argv) {
  std::string dir = "/usr/share/libonnx-testdata/data/node", filter;
  bool list = false, optimize = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!std::strcmp(argv[i], "--list")) list = true;
    else if (!std::strcmp(argv[i], "--no-optimize")) optimize = false;
    else dir = argv[i];
  }
  Tally tally;
  for (const auto& path : mc::conformance::list_node_cases(dir)) {
    if (!filter.empty() && path.find(filter) == std::string::npos) continue;
    mc::conformance::NodeCase c = mc::conformance::prepare_node_case(path, optimize);
    CaseResult r;
    if (!c.exported) {
      r.verdict = c.internal_error ? Verdict::kFail : Verdict::kUnsupported;
      r.message = "export: " + c.message;
    } else if (c.inputs.empty()) {
      r.verdict = Verdict::kUnsupported;
      r.message = "no data set matches the frozen constant inputs";
    } else {
      for (size_t s = 0; s < c.inputs.size(); ++s) {
        CaseResult one = run_case(c.model_bytes, c.inputs[s], c.expected[s]);
        if (one.max_error > r.max_error) r.max_error = one.max_error;
        if (one.verdict != Verdict::kPass && r.verdict == Verdict::kPass) {
          r.verdict = one.verdict;
          r.message = one.message;
        }
      }
    }
    tally.add(r.verdict);
    if (r.verdict == Verdict::kFail)
      std::cout << "FAIL " << c.name << ": max error " << r.max_error << ": " << r.message << "\n";
    else if (list)
      std::cout << verdict_name(r.verdict) << " " << c.name << (r.message.empty() ? "" : ": " + r.message) << "\n";
  }
  std::cout << tally.line() << "\n";
  return tally.failed ? 1 : 0;
}
