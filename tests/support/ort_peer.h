// ONNX Runtime as a peer for C++ tests: runs a model through tests/peers/ort_run.js
// (node + onnxruntime-node 1.30, CPU, 1 intra-op thread) and returns its outputs.
// Test-only: the toolchain never depends on ONNX Runtime.
//
// Needs `node` on PATH (or MC_NODE=/path/to/node) and `bash scripts/setup.sh` having
// installed .deps/ort. Tests should `if (!ort_available()) { WARN(...); return; }` only
// where ORT is optional; conformance tests that need it should REQUIRE it.
#pragma once
#include <map>
#include <string>

#include "runtime-check/npy/npy.h"

namespace mc::test {

using NpyArray = mcrt::NpyArray;

// True when node, tests/peers/ort_run.js and the onnxruntime-node package are present.
bool ort_available();

// Runs model_path in ORT with the given inputs (by input name) and returns every model
// output by name, with the dtype ORT produced. Inputs and outputs travel as .npy files
// in a private temp dir (mkdtemp), removed afterwards. Throws std::runtime_error with
// ort_run.js's one-line message when it fails (exit 2: bad model or inputs).
std::map<std::string, NpyArray> run_in_ort(const std::string& model_path, const std::map<std::string, NpyArray>& inputs);

}  // namespace mc::test
