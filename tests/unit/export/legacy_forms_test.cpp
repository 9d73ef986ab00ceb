// Legacy attribute forms (opset < 10/11/13/18) give exactly what their modern input forms
// give on the runtime, and legacy Softmax / Upsample equal a naive evaluation. The node
// suite covers the modern forms against ONNX's expected outputs; it has few old-opset
// models, so these tests tie the old forms to the tested ones.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "compress/passes/refresh_shapes.h"
#include "export/runtime_export.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

using namespace mc;

namespace {

std::vector<float> iota_values(size_t n) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-2.f, 2.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Single {
  int opset;
  std::vector<int64_t> x_shape;
  Node node;
  std::vector<Tensor> inits;
};

// One node y = op(x, constants...) at `opset`, exported and run on the runtime.
std::vector<float> run(const Single& s, std::vector<int64_t>* out_shape = nullptr) {
  Model m;
  m.opsets = {{"", s.opset}};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::F32;
  x.has_shape = true;
  for (int64_t d : s.x_shape) x.shape.push_back(Dim::known(d));
  m.graph.inputs.push_back(x);
  ValueInfo y;
  y.name = "y";
  y.dtype = DType::F32;
  m.graph.outputs.push_back(y);
  m.graph.initializers = s.inits;
  Node n = s.node;
  n.name = "n";
  n.outputs = {"y"};
  m.graph.nodes.push_back(n);
  const std::string err = refresh_shapes(m);
  INFO(err);
  REQUIRE(err.empty());
  RuntimeExportReport rep;
  const std::vector<uint8_t> bytes = export_runtime_bytes(m, {}, &rep);
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  REQUIRE(mcrt::Interpreter::prepare(*model, {}, &it).ok());
  uint64_t n_in = 1;
  for (int64_t d : s.x_shape) n_in *= static_cast<uint64_t>(d);
  const std::vector<float> xv = iota_values(n_in);
  REQUIRE(it->input(0).bytes == xv.size() * 4);
  std::memcpy(it->input(0).data, xv.data(), it->input(0).bytes);
  REQUIRE(it->run().ok());
  if (out_shape) *out_shape = it->output(0).shape;
  const auto* p = static_cast<const float*>(it->output(0).data);
  return std::vector<float>(p, p + it->output(0).bytes / 4);
}

Node op(const std::string& type, std::vector<std::string> inputs) {
  Node n;
  n.op_type = type;
  n.inputs = std::move(inputs);
  return n;
}

Tensor f32(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
  return Tensor::make_f32(name, std::move(dims), v);
}
Tensor i64(const std::string& name, std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::make_i64(name, {n}, v);
}

}  // namespace

TEST_CASE("Clip-6 attributes == Clip-13 inputs == clamp") {
  Node a = op("Clip", {"x"});
  a.set_attr_float("min", -0.5f);
  a.set_attr_float("max", 0.75f);
  const auto old_form = run({7, {3, 5}, a, {}});
  const auto new_form = run({13, {3, 5}, op("Clip", {"x", "lo", "hi"}), {f32("lo", {}, {-0.5f}), f32("hi", {}, {0.75f})}});
  CHECK(old_form == new_form);
  const auto xv = iota_values(15);
  for (size_t i = 0; i < xv.size(); ++i) CHECK(old_form[i] == std::min(std::max(xv[i], -0.5f), 0.75f));
}

TEST_CASE("Slice-1 attributes == Slice-13 inputs") {
  Node a = op("Slice", {"x"});
  a.set_attr_ints("starts", {1, 0});
  a.set_attr_ints("ends", {3, -1});
  a.set_attr_ints("axes", {0, 2});
  std::vector<int64_t> s_old, s_new;
  const auto old_form = run({9, {4, 3, 5}, a, {}}, &s_old);
  const auto new_form =
      run({13, {4, 3, 5}, op("Slice", {"x", "st", "en", "ax"}), {i64("st", {1, 0}), i64("en", {3, -1}), i64("ax", {0, 2})}},
          &s_new);
  CHECK(s_old == std::vector<int64_t>{2, 3, 4});
  CHECK(s_old == s_new);
  CHECK(old_form == new_form);
}

TEST_CASE("Pad-2 attributes == Pad-13 inputs") {
  for (const char* mode : {"constant", "reflect", "edge"}) {
    Node a = op("Pad", {"x"});
    a.set_attr_ints("pads", {0, 1, 2, 0, 1, 1});
    a.set_attr_float("value", 1.5f);
    a.attrs.push_back(Attribute{});
    a.attrs.back().name = "mode";
    a.attrs.back().type = AttrType::String;
    a.attrs.back().s = mode;
    Node b = op("Pad", {"x", "p", "v"});
    b.attrs.push_back(a.attrs.back());
    const auto old_form = run({9, {2, 3, 4}, a, {}});
    const auto new_form = run({13, {2, 3, 4}, b, {i64("p", {0, 1, 2, 0, 1, 1}), f32("v", {}, {1.5f})}});
    INFO(mode);
    CHECK(old_form.size() == 2 * 5 * 7);
    CHECK(old_form == new_form);
  }
}

TEST_CASE("Squeeze/Unsqueeze-11 attributes == -13 inputs") {
  Node sq = op("Squeeze", {"x"});
  sq.set_attr_ints("axes", {1});
  std::vector<int64_t> s1, s2;
  CHECK(run({11, {3, 1, 4}, sq, {}}, &s1) == run({13, {3, 1, 4}, op("Squeeze", {"x", "a"}), {i64("a", {1})}}, &s2));
  CHECK(s1 == std::vector<int64_t>{3, 4});
  CHECK(s1 == s2);
  Node un = op("Unsqueeze", {"x"});
  un.set_attr_ints("axes", {0, 3});
  CHECK(run({11, {3, 4}, un, {}}, &s1) == run({13, {3, 4}, op("Unsqueeze", {"x", "a"}), {i64("a", {0, 3})}}, &s2));
  CHECK(s1 == std::vector<int64_t>{1, 3, 4, 1});
  CHECK(s1 == s2);
}

TEST_CASE("ReduceSum-11 / ReduceMean-13 axes attributes == axes inputs (13 / 18)") {
  for (int keep : {0, 1}) {
    Node a = op("ReduceSum", {"x"});
    a.set_attr_ints("axes", {1});
    a.set_attr_int("keepdims", keep);
    Node b = op("ReduceSum", {"x", "a"});
    b.set_attr_int("keepdims", keep);
    std::vector<int64_t> s1, s2;
    const auto sum_old = run({11, {2, 3, 4}, a, {}}, &s1);
    CHECK(sum_old == run({13, {2, 3, 4}, b, {i64("a", {1})}}, &s2));
    CHECK(s1 == s2);
    const auto xv = iota_values(24);
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) {
        const float want = xv[i * 12 + k] + xv[i * 12 + 4 + k] + xv[i * 12 + 8 + k];
        CHECK(std::fabs(sum_old[i * 4 + k] - want) <= 1e-5f);
      }
    a.op_type = "ReduceMean";
    b.op_type = "ReduceMean";
    CHECK(run({13, {2, 3, 4}, a, {}}) == run({18, {2, 3, 4}, b, {i64("a", {1})}}));
  }
}

TEST_CASE("Softmax-11 coerces to 2-D at axis (default 1)") {
  for (int64_t axis : {1, 2, -1}) {
    Node a = op("Softmax", {"x"});
    if (axis != 1) a.set_attr_int("axis", axis);
    const auto got = run({11, {2, 3, 4}, a, {}});
    const auto xv = iota_values(24);
    const int64_t ax = axis < 0 ? axis + 3 : axis;
    const int64_t rows = ax == 1 ? 2 : 6, cols = 24 / rows;
    for (int64_t r = 0; r < rows; ++r) {
      double mx = -INFINITY, sum = 0;
      for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, static_cast<double>(xv[r * cols + c]));
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(xv[r * cols + c] - mx);
      for (int64_t c = 0; c < cols; ++c) {
        const double want = std::exp(xv[r * cols + c] - mx) / sum;
        CHECK(std::fabs(got[r * cols + c] - want) <= 1e-6 + 1e-4 * want);
      }
    }
  }
}

TEST_CASE("Upsample-7 and -9 (nearest) repeat pixels") {
  Node a = op("Upsample", {"x"});
  a.attrs.push_back(Attribute{});
  a.attrs.back().name = "scales";
  a.attrs.back().type = AttrType::Floats;
  a.attrs.back().floats = {1.f, 1.f, 2.f, 3.f};
  std::vector<int64_t> s;
  const auto up7 = run({7, {1, 2, 2, 2}, a, {}}, &s);
  CHECK(s == std::vector<int64_t>{1, 2, 4, 6});
  const auto up9 = run({9, {1, 2, 2, 2}, op("Upsample", {"x", "sc"}), {f32("sc", {4}, {1.f, 1.f, 2.f, 3.f})}});
  CHECK(up7 == up9);
  const auto xv = iota_values(8);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 6; ++x) CHECK(up7[(c * 4 + y) * 6 + x] == xv[(c * 2 + y / 2) * 2 + x / 3]);
}
