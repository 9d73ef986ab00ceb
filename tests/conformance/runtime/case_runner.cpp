#include "case_runner.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace mcrt::conformance {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Element i of a float32 / integer / bool buffer as double.
double element(DType t, const uint8_t* p, size_t i) {
  switch (t) {
    case DType::kF32: { float v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DType::kI8: return static_cast<int8_t>(p[i]);
    case DType::kU8: return p[i];
    case DType::kBool: return p[i] != 0;
    case DType::kI32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DType::kI64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); return static_cast<double>(v); }
    case DType::kF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return half_to_float(h); }
    case DType::kI4: break;  // constants only: never an output; NaN fails any comparison
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

const char* verdict_name(Verdict v) {
  return v == Verdict::kPass ? "pass" : v == Verdict::kFail ? "FAIL" : "unsupported";
}

std::string Tally::line() const {
  return "conformance: " + std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
         std::to_string(unsupported) + " unsupported";
}

CaseResult run_case(const std::vector<uint8_t>& model_bytes, const std::vector<CaseTensor>& inputs,
                    const std::vector<CaseTensor>& expected) {
  CaseResult r;
  auto fail = [&](std::string m) {
    r.verdict = Verdict::kFail;
    r.message = std::move(m);
    return r;
  };
  std::unique_ptr<Model> model;
  Status st = Model::load_buffer(model_bytes.data(), model_bytes.size(), &model);
  if (!st.ok()) {
    r.verdict = Verdict::kUnsupported;
    r.message = "load: " + st.to_string();
    return r;
  }
  const fb::Model& g = model->graph();
  if (!g.inputs() || g.inputs()->size() != inputs.size())
    return fail("the file has " + std::to_string(g.inputs() ? g.inputs()->size() : 0) + " inputs, the case " +
                std::to_string(inputs.size()));
  // The batch: dim 0 of the first input that declares it dynamic.
  PrepareOptions po;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fb::Tensor* t = g.tensors()->Get(static_cast<flatbuffers::uoffset_t>(g.inputs()->Get(i)));
    if (t->shape() && t->shape()->size() > 0 && t->shape()->Get(0) == -1 && !inputs[i].shape.empty()) {
      po.batch = inputs[i].shape[0];
      break;
    }
  }
  std::unique_ptr<Interpreter> it;
  st = Interpreter::prepare(*model, po, &it);
  if (!st.ok()) {
    if (st.code() == StatusCode::kUnsupported) {
      r.verdict = Verdict::kUnsupported;
      r.message = "prepare: " + st.to_string();
      return r;
    }
    return fail("prepare: " + st.to_string());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo in = it->input(i);
    if (in.dtype != inputs[i].dtype)
      return fail("input " + std::to_string(i) + " is " + dtype_name(in.dtype) + ", the case gives " +
                  dtype_name(inputs[i].dtype));
    if (in.shape != inputs[i].shape)
      return fail("input " + std::to_string(i) + " has shape " + shape_str(in.shape) + ", the case gives " +
                  shape_str(inputs[i].shape));
    if (in.bytes != inputs[i].data.size()) return fail("input " + std::to_string(i) + ": byte count differs");
    if (in.bytes) std::memcpy(in.data, inputs[i].data.data(), in.bytes);
  }
  st = it->run();
  if (!st.ok()) return fail("run: " + st.to_string());
  if (it->num_outputs() != expected.size())
    return fail("the model has " + std::to_string(it->num_outputs()) + " outputs, the case expects " +
                std::to_string(expected.size()));
  std::string worst;
  for (size_t o = 0; o < expected.size(); ++o) {
    const TensorInfo out = it->output(o);
    const CaseTensor& e = expected[o];
    if (out.dtype != e.dtype)
      return fail("output " + std::to_string(o) + " is " + dtype_name(out.dtype) + ", expected " + dtype_name(e.dtype));
    if (out.shape != e.shape)
      return fail("output " + std::to_string(o) + " has shape " + shape_str(out.shape) + ", expected " +
                  shape_str(e.shape));
    const size_t n = e.data.size() / dtype_size(e.dtype);
    if (out.bytes != e.data.size()) return fail("output " + std::to_string(o) + ": byte count differs");
    const auto* got = static_cast<const uint8_t*>(out.data);
    const bool is_float = e.dtype == DType::kF32;
    for (size_t i = 0; i < n; ++i) {
      const double a = element(e.dtype, got, i), b = element(e.dtype, e.data.data(), i);
      double err = 0;
      bool bad = false;
      if (std::isnan(b) || std::isnan(a)) {
        bad = std::isnan(a) != std::isnan(b);
        err = bad ? INFINITY : 0;
      } else if (std::isinf(b) || std::isinf(a)) {
        bad = a != b;
        err = bad ? INFINITY : 0;
      } else {
        err = std::fabs(a - b);
        bad = is_float ? err > kAtol + kRtol * std::fabs(b) : a != b;
      }
      if (err > r.max_error) r.max_error = err;
      if (bad && r.verdict == Verdict::kPass) {
        r.verdict = Verdict::kFail;
        worst = "output " + std::to_string(o) + " element " + std::to_string(i) + ": got " + std::to_string(a) +
                ", expected " + std::to_string(b);
      }
    }
  }
  if (r.verdict == Verdict::kFail) r.message = worst;
  return r;
}

}  // namespace mcrt::conformance
