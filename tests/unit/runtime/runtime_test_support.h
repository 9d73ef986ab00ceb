// Helpers for the runtime unit tests: build a model with ModelWriter, load it, prepare
// it, feed inputs, run, and read outputs.
#pragma once
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace mcrt_test {

using mcrt::Attribute;
using mcrt::DType;
using mcrt::ModelWriter;
namespace fb = mcrt::fb;

struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<mcrt::Model> model;
  std::unique_ptr<mcrt::Interpreter> it;
};

// Writer -> bytes -> Model -> Interpreter; REQUIREs every step to succeed.
inline Loaded build(const ModelWriter& w, mcrt::PrepareOptions opt = {}) {
  Loaded l;
  mcrt::Status s = w.finish(&l.bytes);
  REQUIRE(s.ok());
  s = mcrt::Model::load_buffer(l.bytes.data(), l.bytes.size(), &l.model);
  INFO(s.to_string());
  REQUIRE(s.ok());
  s = mcrt::Interpreter::prepare(*l.model, opt, &l.it);
  INFO(s.to_string());
  REQUIRE(s.ok());
  return l;
}

// Status of load + prepare (first failure), for negative tests.
inline mcrt::Status load_and_prepare(const ModelWriter& w, mcrt::PrepareOptions opt = {}) {
  std::vector<uint8_t> bytes;
  mcrt::Status s = w.finish(&bytes);
  if (!s.ok()) return s;
  std::unique_ptr<mcrt::Model> m;
  s = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
  if (!s.ok()) return s;
  std::unique_ptr<mcrt::Interpreter> it;
  return mcrt::Interpreter::prepare(*m, opt, &it);
}

inline mcrt::Status load_bytes(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<mcrt::Model> m;
  return mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
}

template <class T>
void set_input(mcrt::Interpreter& it, size_t i, const std::vector<T>& v) {
  mcrt::TensorInfo t = it.input(i);
  REQUIRE(t.bytes == v.size() * sizeof(T));
  std::memcpy(t.data, v.data(), t.bytes);
}

template <class T>
std::vector<T> get_output(const mcrt::Interpreter& it, size_t i) {
  mcrt::TensorInfo t = it.output(i);
  std::vector<T> v(t.bytes / sizeof(T));
  std::memcpy(v.data(), t.data, t.bytes);
  return v;
}

inline void run_ok(mcrt::Interpreter& it) {
  mcrt::Status s = it.run();
  INFO(s.to_string());
  REQUIRE(s.ok());
}

inline void require_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " want " << want[i]);
    REQUIRE(std::fabs(got[i] - want[i]) <= tol * (1.f + std::fabs(want[i])));
  }
}

// One-node model: inputs (activations) x_i with given shapes, constant extra inputs
// already added by the caller, one float output of shape `out`.
struct OneNode {
  ModelWriter w;
  std::vector<int> ins;
  int out = -1;
};

inline std::vector<float> iota_f(size_t n, float start = 0.f, float step = 1.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * (float)i;
  return v;
}


// Single-node models: each input is an activation (graph input), a constant, or absent.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kF32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kI8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kU8; }

struct Arg {
  DType dt = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  bool constant = false;
  bool absent = false;
};
template <class T>
Arg act(std::vector<int64_t> shape, const std::vector<T>& v) {
  Arg a;
  a.dt = dtype_of<T>();
  a.shape = std::move(shape);
  a.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}
template <class T>
Arg cst(std::vector<int64_t> shape, const std::vector<T>& v) {
  Arg a = act(std::move(shape), v);
  a.constant = true;
  return a;
}
inline Arg none() {
  Arg a;
  a.absent = true;
  return a;
}

struct OpResult {
  mcrt::Status status;  // of load + prepare + run
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  std::string kernel;
  template <class T>
  std::vector<T> as() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    if (!bytes.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
};

// Runs one node; out_shape is declared in the file, so a wrong inferred shape fails prepare.
inline OpResult run_op(fb::OpType op, const std::vector<Arg>& args, std::vector<Attribute> attrs, DType out_dt,
                       std::vector<int64_t> out_shape, int threads = 1) {
  ModelWriter w;
  std::vector<int> ins, graph_ins;
  for (size_t i = 0; i < args.size(); ++i) {
    const Arg& a = args[i];
    if (a.absent) {
      ins.push_back(-1);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    const int t = a.constant ? w.add_weight(name, a.dt, a.shape, a.bytes.data(), a.bytes.size())
                             : w.add_tensor(name, a.dt, a.shape);
    ins.push_back(t);
    if (!a.constant) graph_ins.push_back(t);
  }
  const int y = w.add_tensor("y", out_dt, std::move(out_shape));
  w.add_node(op, ins, {y}, std::move(attrs));
  w.set_inputs(graph_ins);
  w.set_outputs({y});
  OpResult r;
  std::vector<uint8_t> bytes;
  r.status = w.finish(&bytes);
  std::unique_ptr<mcrt::Model> m;
  if (r.status.ok()) r.status = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions opt;
  opt.threads = threads;
  if (r.status.ok()) r.status = mcrt::Interpreter::prepare(*m, opt, &it);
  if (!r.status.ok()) return r;
  size_t gi = 0;
  for (const Arg& a : args) {
    if (a.absent || a.constant) continue;
    mcrt::TensorInfo t = it->input(gi++);
    REQUIRE(t.bytes == a.bytes.size());
    if (t.bytes) std::memcpy(t.data, a.bytes.data(), t.bytes);
  }
  r.status = it->run();
  mcrt::TensorInfo o = it->output(0);
  r.shape = o.shape;
  r.bytes.assign(static_cast<uint8_t*>(o.data), static_cast<uint8_t*>(o.data) + o.bytes);
  r.kernel = it->num_steps() ? it->step(0).kernel : "";
  return r;
}

inline OpResult run_ok_op(fb::OpType op, const std::vector<Arg>& args, std::vector<Attribute> attrs, DType out_dt,
                          std::vector<int64_t> out_shape, int threads = 1) {
  OpResult r = run_op(op, args, std::move(attrs), out_dt, std::move(out_shape), threads);
  INFO(r.status.to_string());
  REQUIRE(r.status.ok());
  return r;
}

}  // namespace mcrt_test
