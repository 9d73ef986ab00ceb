// QDQ lowering (export/qdq_lowering): small QDQ graphs built in the IR, exported to the runtime file
// (lowered to the int8 ops), run, and compared with
//   * the same file exported without lowering (Q/DQ around fp32 ops on the runtime), and
//   * ONNX Runtime running the same QDQ ONNX (tests/support/ort_peer),
// within one quantization step of the output, and exactly where the rule is the same (layout ops,
// MaxPool, copy Concat, the dynamic MatMul's fp32 stage). Unmatched patterns (uint8 activations,
// weight -128) stay in their QDQ form and still run.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compress/onnx/onnx_export.h"
#include "compress/passes/refresh_shapes.h"
#include "export/qdq_lowering.h"
#include "export/runtime_export.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#ifdef MC_HAVE_ORT_PEER
#include "tests/support/ort_peer.h"
#include "tests/support/temp_dir.h"
#endif

using namespace mc;

namespace {

uint32_t g_seed = 12345;
float urand() {  // deterministic, same on every platform
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xFFFF) / 65535.f * 2.f - 1.f;
}

struct Builder {
  Model m;
  int k = 0;
  Builder() {
    m.opsets = {{"", 13}};
    m.graph.name = "qdq";
  }
  Graph& g() { return m.graph; }
  std::string fresh(const std::string& base) { return base + "_" + std::to_string(k++); }
  std::string scale(float s) {
    const std::string n = fresh("s");
    g().initializers.push_back(Tensor::make_f32(n, {}, {s}));
    return n;
  }
  std::string zp_i8(int z) {
    Tensor t = Tensor::zeros(fresh("z"), DType::I8, {});
    t.data[0] = (uint8_t)(int8_t)z;
    g().initializers.push_back(t);
    return t.name;
  }
  std::string zp_u8(int z) {
    Tensor t = Tensor::zeros(fresh("zu"), DType::U8, {});
    t.data[0] = (uint8_t)z;
    g().initializers.push_back(t);
    return t.name;
  }
  std::string node(const std::string& op, std::vector<std::string> in, std::vector<Attribute> attrs = {},
                   int nout = 1, const std::string& domain = "") {
    Node n;
    n.name = fresh(op);
    n.op_type = op;
    n.domain = domain;
    n.inputs = std::move(in);
    for (int i = 0; i < nout; ++i) n.outputs.push_back(n.name + "_out" + std::to_string(i));
    n.attrs = std::move(attrs);
    g().nodes.push_back(n);
    return n.outputs[0];
  }
  std::string q(const std::string& x, float s, int z) { return node("QuantizeLinear", {x, scale(s), zp_i8(z)}); }
  std::string dq(const std::string& x, float s, int z) { return node("DequantizeLinear", {x, scale(s), zp_i8(z)}); }
  // int8 weight [dims] with values w/scale (per channel along axis when scales.size() > 1) and its DQ.
  std::string weight(std::vector<int64_t> dims, const std::vector<float>& scales, int axis, bool with_m128 = false) {
    Tensor t = Tensor::zeros(fresh("w"), DType::I8, dims);
    const uint64_t n = t.numel();
    int64_t inner = 1;
    for (size_t d = (size_t)axis + 1; d < dims.size(); ++d) inner *= dims[d];
    for (uint64_t i = 0; i < n; ++i) {
      const size_t c = scales.size() > 1 ? (size_t)((i / (uint64_t)inner) % (uint64_t)dims[(size_t)axis]) : 0;
      t.data[i] = (uint8_t)(int8_t)std::lround(std::max(-127.f, std::min(127.f, urand() * 127.f)));
      (void)c;
    }
    if (with_m128) t.data[0] = (uint8_t)(int8_t)-128;
    g().initializers.push_back(t);
    Tensor s = Tensor::make_f32(fresh("ws"), {(int64_t)scales.size()}, scales);
    if (scales.size() == 1) s.dims = {};
    g().initializers.push_back(s);
    Attribute ax;
    ax.name = "axis";
    ax.type = AttrType::Int;
    ax.i = axis;
    return node("DequantizeLinear", {t.name, s.name}, scales.size() > 1 ? std::vector<Attribute>{ax} : std::vector<Attribute>{});
  }
  std::string bias_i32(int64_t M, float sx, const std::vector<float>& sw) {
    Tensor t = Tensor::zeros(fresh("b"), DType::I32, {M});
    std::vector<float> s((size_t)M);
    for (int64_t c = 0; c < M; ++c) {
      const int32_t v = (int32_t)std::lround(urand() * 300.f);
      std::memcpy(t.data.data() + 4 * c, &v, 4);
      s[(size_t)c] = sx * sw[sw.size() > 1 ? (size_t)c : 0];
    }
    g().initializers.push_back(t);
    const std::string sn = fresh("bs");
    g().initializers.push_back(Tensor::make_f32(sn, {M}, s));
    Attribute ax;
    ax.name = "axis";
    ax.type = AttrType::Int;
    ax.i = 0;
    return node("DequantizeLinear", {t.name, sn}, {ax});
  }
  void input(const std::string& name, std::vector<int64_t> dims) {
    ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    v.has_shape = true;
    for (int64_t d : dims) v.shape.push_back(Dim::known(d));
    g().inputs.push_back(v);
  }
  void output(const std::string& name) {
    ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    g().outputs.push_back(v);
  }
  void finish() { REQUIRE(refresh_shapes(m).empty()); }
};

Attribute ai(const char* n, int64_t v) {
  Attribute a;
  a.name = n;
  a.type = AttrType::Int;
  a.i = v;
  return a;
}
Attribute ais(const char* n, std::vector<int64_t> v) {
  Attribute a;
  a.name = n;
  a.type = AttrType::Ints;
  a.ints = std::move(v);
  return a;
}
std::vector<float> per_channel(int n, float base) {
  std::vector<float> s((size_t)n);
  for (int i = 0; i < n; ++i) s[(size_t)i] = base * (0.5f + 0.1f * (float)(i % 7));
  return s;
}

struct RtRun {
  std::vector<float> y;
  std::vector<std::string> ops;  // op type of each step
};

RtRun run_runtime(const Model& m, const std::vector<float>& x, bool lower) {
  RuntimeExportOptions o;
  o.lower_qdq = lower;
  const std::vector<uint8_t> bytes = export_runtime_bytes(m, o);
  std::unique_ptr<mcrt::Model> model;
  REQUIRE(mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model).ok());
  std::unique_ptr<mcrt::Interpreter> it;
  const mcrt::Status st = mcrt::Interpreter::prepare(*model, {}, &it);
  INFO(st.to_string());
  REQUIRE(st.ok());
  REQUIRE(it->input(0).bytes == x.size() * 4);
  std::memcpy(it->input(0).data, x.data(), x.size() * 4);
  REQUIRE(it->run().ok());
  RtRun r;
  const float* y = static_cast<const float*>(it->output(0).data);
  r.y.assign(y, y + it->output(0).bytes / 4);
  for (size_t s = 0; s < it->num_steps(); ++s) r.ops.push_back(it->step(s).op);
  return r;
}

bool has_op(const RtRun& r, const std::string& op) {
  for (const auto& o : r.ops)
    if (o == op) return true;
  return false;
}

// Runs the case three ways; `step` = the output's quantization step; exact: the int8 result must equal
// the peers bit for bit.
void check_case(Builder& b, const std::vector<int64_t>& xdims, float step, const std::string& want_op, bool exact,
                bool qdq_on_runtime = true) {
  b.finish();
  int64_t n = 1;
  for (int64_t d : xdims) n *= d;
  std::vector<float> x((size_t)n);
  for (float& v : x) v = urand();
  const RtRun low = run_runtime(b.m, x, true);
  // The unlowered QDQ form on the runtime (its fp32 Q/DQ ops); the dynamic form has no such path
  // (DynamicQuantizeLinear is not a runtime op): then the lowered result stands in.
  const RtRun ref = qdq_on_runtime ? run_runtime(b.m, x, false) : low;
  INFO("expected op " << want_op);
  if (!want_op.empty()) REQUIRE(has_op(low, want_op));
  if (qdq_on_runtime) REQUIRE(!has_op(ref, want_op.empty() ? "QLinearConv" : want_op));
  REQUIRE(low.y.size() == ref.y.size());
  size_t same = 0;
  for (size_t i = 0; i < low.y.size(); ++i) {
    INFO("element " << i << ": int8 " << low.y[i] << " fp32 QDQ " << ref.y[i]);
    REQUIRE(std::fabs(low.y[i] - ref.y[i]) <= step * 1.001f);
    same += low.y[i] == ref.y[i];
    if (exact) REQUIRE(low.y[i] == ref.y[i]);
  }
  WARN(want_op << ": " << same << " of " << low.y.size() << " outputs identical to the fp32 QDQ path");
#ifdef MC_HAVE_ORT_PEER
  if (!test::ort_available()) {
    WARN("ONNX Runtime peer not available: the ORT comparison is skipped");
    return;
  }
  mc::test::TempDir tmp("mc_qdq_ort");
  const std::string path = (tmp.path / "m.onnx").string();
  export_onnx_file(b.m, path);
  test::NpyArray in;
  in.shape = xdims;
  in.bytes.resize(x.size() * 4);
  std::memcpy(in.bytes.data(), x.data(), in.bytes.size());
  const auto outs = test::run_in_ort(path, {{b.m.graph.inputs[0].name, in}});
  const test::NpyArray& y = outs.at(b.m.graph.outputs[0].name);
  REQUIRE(y.bytes.size() == low.y.size() * 4);
  std::vector<float> yo(low.y.size());
  std::memcpy(yo.data(), y.bytes.data(), y.bytes.size());
  size_t same_ort = 0;
  for (size_t i = 0; i < yo.size(); ++i) {
    INFO("element " << i << ": int8 " << low.y[i] << " ORT " << yo[i]);
    REQUIRE(std::fabs(low.y[i] - yo[i]) <= step * 1.001f);
    same_ort += low.y[i] == yo[i];
    if (exact) REQUIRE(low.y[i] == yo[i]);
  }
  WARN(want_op << ": " << same_ort << " of " << yo.size() << " outputs identical to ONNX Runtime");
#endif
}

}  // namespace

TEST_CASE("QDQ lowering: Conv (per-channel, int32 bias, Relu) -> QLinearConv", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {1, 3, 9, 9});
  const float sx = 2.f / 255.f, sy = 0.05f;
  const auto sw = per_channel(5, 1.f / 127.f);
  const std::string xq = b.q("x", sx, -3);
  const std::string c = b.node("Conv", {b.dq(xq, sx, -3), b.weight({5, 3, 3, 3}, sw, 0), b.bias_i32(5, sx, sw)},
                               {ais("pads", {1, 1, 1, 1}), ais("strides", {2, 2}), ais("kernel_shape", {3, 3})});
  const std::string r = b.node("Relu", {c});
  b.output(b.dq(b.q(r, sy, -128), sy, -128));
  check_case(b, {1, 3, 9, 9}, sy, "QLinearConv", false);
}

TEST_CASE("QDQ lowering: depthwise Conv with Clip(0, 6) -> QLinearConv depthwise", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {1, 6, 7, 8});
  const float sx = 2.f / 255.f, sy = 0.02f;
  const auto sw = per_channel(6, 1.f / 127.f);
  Tensor lo = Tensor::make_f32("clip_lo", {}, {0.f}), hi = Tensor::make_f32("clip_hi", {}, {1.5f});
  b.g().initializers.push_back(lo);
  b.g().initializers.push_back(hi);
  const std::string xq = b.q("x", sx, 5);
  const std::string c = b.node("Conv", {b.dq(xq, sx, 5), b.weight({6, 1, 3, 3}, sw, 0)},
                               {ais("pads", {1, 1, 1, 1}), ai("group", 6), ais("kernel_shape", {3, 3})});
  const std::string r = b.node("Clip", {c, "clip_lo", "clip_hi"});
  b.output(b.dq(b.q(r, sy, -100), sy, -100));
  check_case(b, {1, 6, 7, 8}, sy, "QLinearConv", false);
}

TEST_CASE("QDQ lowering: Gemm (transB, fp32 bias) and batched MatMul -> QLinearMatMul", "[int8][export][qdq]") {
  {
    Builder b;
    b.input("x", {2, 20});
    const float sx = 2.f / 255.f, sy = 0.04f;
    const auto sw = per_channel(7, 1.f / 127.f);
    b.g().initializers.push_back(Tensor::make_f32("fcb", {7}, {0.1f, -0.2f, 0.3f, 0.f, 0.05f, -0.4f, 0.25f}));
    const std::string y = b.node("Gemm", {b.dq(b.q("x", sx, 0), sx, 0), b.weight({7, 20}, sw, 0), "fcb"},
                                 {ai("transB", 1)});
    b.output(b.dq(b.q(y, sy, 3), sy, 3));
    check_case(b, {2, 20}, sy, "QLinearMatMul", false);
  }
  {
    Builder b;
    b.input("x", {3, 4, 16});
    const float sx = 2.f / 255.f, sy = 0.03f;
    const std::string y = b.node("MatMul", {b.dq(b.q("x", sx, -1), sx, -1), b.weight({16, 5}, {1.f / 127.f}, 1)});
    b.output(b.dq(b.q(y, sy, 0), sy, 0));
    check_case(b, {3, 4, 16}, sy, "QLinearMatMul", false);
  }
}

TEST_CASE("QDQ lowering: Add with broadcasting and Relu -> QLinearAdd", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {1, 4, 5, 5});
  const float sx = 2.f / 255.f, sy = 0.012f;
  const std::string xq = b.q("x", sx, 0);
  // b = GlobalAveragePool(x) quantized separately: [1,4,1,1], broadcast against x.
  const std::string gq = b.q(b.node("GlobalAveragePool", {b.dq(xq, sx, 0)}), 0.004f, 10);
  const std::string s = b.node("Add", {b.dq(xq, sx, 0), b.dq(gq, 0.004f, 10)});
  b.output(b.dq(b.q(b.node("Relu", {s}), sy, -128), sy, -128));
  check_case(b, {1, 4, 5, 5}, sy, "QLinearAdd", false);
}

TEST_CASE("QDQ lowering: AveragePool and GlobalAveragePool -> QLinearAveragePool / QLinearGlobalAveragePool",
          "[int8][export][qdq]") {
  {
    Builder b;
    b.input("x", {1, 3, 9, 9});
    const float sx = 2.f / 255.f, sy = 0.006f;
    const std::string p = b.node("AveragePool", {b.dq(b.q("x", sx, 2), sx, 2)},
                                 {ais("kernel_shape", {3, 3}), ais("strides", {2, 2}), ais("pads", {1, 1, 1, 1})});
    b.output(b.dq(b.q(p, sy, 1), sy, 1));
    check_case(b, {1, 3, 9, 9}, sy, "QLinearAveragePool", false);
  }
  {
    Builder b;
    b.input("x", {1, 5, 6, 6});
    const float sx = 2.f / 255.f, sy = 0.003f;
    const std::string p = b.node("GlobalAveragePool", {b.dq(b.q("x", sx, 0), sx, 0)});
    b.output(b.dq(b.q(p, sy, 0), sy, 0));
    check_case(b, {1, 5, 6, 6}, sy, "QLinearGlobalAveragePool", false);
  }
}

TEST_CASE("QDQ lowering: MaxPool and Flatten on int8 and a copying Concat are exact", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {1, 3, 8, 8});
  const float sx = 2.f / 255.f;
  const std::string xq = b.q("x", sx, 4);
  const std::string mp = b.q(b.node("MaxPool", {b.dq(xq, sx, 4)}, {ais("kernel_shape", {2, 2}), ais("strides", {2, 2})}),
                             sx, 4);
  const std::string cat = b.q(b.node("Concat", {b.dq(mp, sx, 4), b.dq(mp, sx, 4)}, {ai("axis", 1)}), sx, 4);
  const std::string fl = b.q(b.node("Flatten", {b.dq(cat, sx, 4)}), sx, 4);
  b.output(b.dq(fl, sx, 4));
  check_case(b, {1, 3, 8, 8}, sx, "QLinearConcat", true);
}

TEST_CASE("QDQ lowering: Concat with requantization -> QLinearConcat", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {1, 2, 4, 4});
  const float sx = 2.f / 255.f, sy = 0.01f;
  const std::string xq = b.q("x", sx, 0);
  const std::string hq = b.q(b.node("Relu", {b.dq(xq, sx, 0)}), 1.f / 255.f, -128);  // stays fp32 Relu (not matched)
  const std::string cat = b.node("Concat", {b.dq(xq, sx, 0), b.dq(hq, 1.f / 255.f, -128)}, {ai("axis", 1)});
  b.output(b.dq(b.q(cat, sy, 7), sy, 7));
  check_case(b, {1, 2, 4, 4}, sy, "QLinearConcat", false);
}

TEST_CASE("QDQ lowering: dynamic form -> DynamicQuantizeMatMul", "[int8][export][qdq]") {
  Builder b;
  b.input("x", {2, 24});
  const std::vector<std::string> d = {"dql_y", "dql_s", "dql_z"};
  Node dql;
  dql.name = "dql";
  dql.op_type = "DynamicQuantizeLinear";
  dql.inputs = {"x"};
  dql.outputs = d;
  b.g().nodes.push_back(dql);
  const std::string wdq = b.weight({24, 6}, {1.f / 127.f}, 1);  // a DQ node: take its int8 input, drop the DQ
  const std::string wq = b.g().nodes.back().inputs[0];
  const std::string ws = b.g().nodes.back().inputs[1];
  b.g().nodes.pop_back();
  const std::string mmi = b.node("MatMulInteger", {"dql_y", wq, "dql_z"});
  const std::string cast = b.node("Cast", {mmi}, {ai("to", 1)});
  const std::string s = b.node("Mul", {"dql_s", ws});
  const std::string mul = b.node("Mul", {cast, s});
  b.g().initializers.push_back(Tensor::make_f32("db", {6}, {0.5f, -0.5f, 0.25f, 0.f, 1.f, -1.f}));
  b.output(b.node("Add", {mul, "db"}));
  (void)wdq;
  // The fp32 stage is the same float operations as ORT's Cast -> Mul -> Add: expect exact equality
  // (step: one unit of the largest output, as the tolerance of the non-ORT comparison).
  check_case(b, {2, 24}, 1e-3f, "DynamicQuantizeMatMul", false, false);
}

TEST_CASE("QDQ lowering: patterns the runtime cannot run stay QDQ (uint8 activations, weight -128)", "[int8][export][qdq]") {
  for (int variant = 0; variant < 2; ++variant) {
    Builder b;
    b.input("x", {1, 2, 5, 5});
    const float sx = 2.f / 255.f, sy = 0.05f;
    std::string xd;
    if (variant == 0) {  // uint8 activations (ORT's default): not matched
      const std::string zu = b.zp_u8(128);
      const std::string xq = b.node("QuantizeLinear", {"x", b.scale(sx), zu});
      xd = b.node("DequantizeLinear", {xq, b.scale(sx), zu});
    } else {
      xd = b.dq(b.q("x", sx, 0), sx, 0);
    }
    const std::string c = b.node("Conv", {xd, b.weight({3, 2, 3, 3}, {1.f / 127.f}, 0, variant == 1)},
                                 {ais("kernel_shape", {3, 3})});
    b.output(b.dq(b.q(c, sy, 0), sy, 0));
    b.finish();
    Model lowered = b.m;
    const QdqLoweringReport rep = lower_qdq(lowered.graph);
    REQUIRE(rep.lowered == 0);
    std::vector<float> x(50);
    for (float& v : x) v = urand();
    const RtRun r = run_runtime(b.m, x, true);
    REQUIRE(!has_op(r, "QLinearConv"));
    REQUIRE(has_op(r, "Conv"));
    REQUIRE(r.y.size() == 3 * 3 * 3);
  }
}
