// One run of a runtime file (.mcrt bytes) on the bundled runtime for end-to-end tests: prepared with the
// given options and thread count, fed a fixed deterministic float32 input, returning the output bytes and
// the kernel each step ran. Header-only, for Catch2 tests linked with mcrt.
#pragma once
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace mc::test {

struct RuntimeRun {
  std::vector<uint8_t> y;            // output 0, raw bytes
  std::vector<std::string> kernels;  // kernel name of each step
};

inline RuntimeRun run_runtime(const std::string& bytes, const mcrt::PrepareOptions& po, int threads) {
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &model).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  const mcrt::Status st = mcrt::Interpreter::prepare(*model, po, &it);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(it->set_threads(threads).ok());
  mcrt::TensorInfo in = it->input(0);
  float* x = static_cast<float*>(in.data);
  for (size_t i = 0; i < in.bytes / 4; ++i) x[i] = 1.5f * std::sin(0.013f * (float)i) + 0.3f * std::cos(0.7f * (float)i);
  REQUIRE(it->run().ok());
  const mcrt::TensorInfo out = it->output(0);
  RuntimeRun r;
  r.y.assign(static_cast<const uint8_t*>(out.data), static_cast<const uint8_t*>(out.data) + out.bytes);
  for (size_t s = 0; s < it->num_steps(); ++s) r.kernels.push_back(it->step(s).kernel);
  return r;
}

// How many kernel names contain `part`.
inline int count_containing(const std::vector<std::string>& kernels, const std::string& part) {
  int n = 0;
  for (const std::string& k : kernels) n += k.find(part) != std::string::npos;
  return n;
}

}  // namespace mc::test
