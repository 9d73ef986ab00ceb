// compress/analysis: MAC rules against hand-computed goldens, parameter counts,
// sparsity, unknown ops and the JSON form. Models are built in the IR, exported
// to ONNX bytes and imported again, so output shapes come from ONNX's own shape
// inference exactly as they do for `mcompress inspect`.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "compress/analysis/model_stats.h"
#include "compress/analysis/stats_json.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "tests/support/ir_builders.h"

namespace {

std::vector<mc::Dim> dims(std::initializer_list<int64_t> d) {
  std::vector<mc::Dim> r;
  for (int64_t x : d) r.push_back(mc::Dim::known(x));
  return r;
}

mc::Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
  return mc::test::make_node(op, std::move(in), std::move(out), op + "_node");
}

mc::Tensor filled(const std::string& name, std::vector<int64_t> d, float value) {
  mc::Tensor t = mc::Tensor::zeros(name, mc::DType::F32, std::move(d));
  float* p = t.as_mut<float>();
  for (uint64_t i = 0; i < t.numel(); ++i) p[i] = value;
  return t;
}

mc::Model base_model(int64_t opset = 13) {
  mc::Model m;
  m.ir_version = 8;
  m.opsets = {{"", opset}};
  m.producer_name = "mc-test";
  m.graph.name = "g";
  return m;
}

// Export to bytes and import again: runs ONNX shape inference like the CLI does.
mc::Model reimport(const mc::Model& m) {
  return mc::import_onnx_bytes(mc::export_onnx_bytes(m), ".", "test-model");
}

// One-node model: X (graph input) → op(X, W initializer) → Y (shape left to inference).
mc::Model single_node(const std::string& op, std::vector<mc::Dim> x_shape, std::vector<int64_t> w_dims,
                      const std::vector<std::pair<std::string, std::vector<int64_t>>>& int_attrs,
                      std::vector<int64_t> group = {}) {
  mc::Model m = base_model();
  m.graph.inputs.push_back(mc::test::value_info("X", std::move(x_shape)));
  m.graph.initializers.push_back(filled("W", w_dims, 0.5f));
  mc::Node n = node(op, {"X", "W"}, {"Y"});
  for (const auto& [k, v] : int_attrs) n.set_attr_ints(k, v);
  if (!group.empty()) n.set_attr_int("group", group[0]);
  m.graph.nodes.push_back(n);
  mc::ValueInfo y;
  y.name = "Y";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);  // no shape: inference must supply it
  return reimport(m);
}

}  // namespace

TEST_CASE("Conv with groups, strides and padding: MACs from the inferred output shape", "[analysis][macs]") {
  // N=1, C=4, H=W=9, M=6, group=2, k=3x3, stride 2, pad 1:
  //   OH = OW = floor((9 + 1 + 1 - 3) / 2) + 1 = floor(8/2) + 1 = 5
  //   MACs = N·M·OH·OW·(C/group)·kh·kw = 1·6·5·5·2·3·3 = 2700
  mc::Model m = single_node("Conv", dims({1, 4, 9, 9}), {6, 2, 3, 3},
                            {{"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"kernel_shape", {3, 3}}}, {2});
  const mc::ModelStats st = mc::compute_stats(m);
  REQUIRE(st.layers.size() == 1);
  CHECK(st.layers[0].output_shapes == std::vector<std::string>{"1x6x5x5"});
  CHECK(st.layers[0].macs_known);
  CHECK(st.layers[0].macs == 2700);
  CHECK(st.macs == 2700);
  CHECK(st.params == 6 * 2 * 3 * 3);  // 108
  CHECK(st.layers[0].params == 108);
  CHECK(st.layers[0].weight_bytes == 108 * 4);
  CHECK(st.layers[0].weight_dtype == "float");
}

TEST_CASE("Conv, rectangular kernel, unequal strides, asymmetric pads, batch 2", "[analysis][macs]") {
  // N=2, C=6, H=10, W=7, M=9, group=3, kernel 3x2, strides (2,3), pads H (1 top, 1 bottom), W (0, 0):
  //   OH = floor((10 + 1 + 1 - 3) / 2) + 1 = floor(9/2) + 1 = 5
  //   OW = floor((7 + 0 + 0 - 2) / 3) + 1 = floor(5/3) + 1 = 2
  //   MACs = 2·9·5·2·(6/3)·3·2 = 180·12 = 2160
  mc::Model m = single_node("Conv", dims({2, 6, 10, 7}), {9, 2, 3, 2},
                            {{"strides", {2, 3}}, {"pads", {1, 0, 1, 0}}}, {3});
  const mc::ModelStats st = mc::compute_stats(m);
  CHECK(st.layers[0].output_shapes[0] == "2x9x5x2");
  CHECK(st.layers[0].macs == 2160);
}

TEST_CASE("Conv with dilation: the dilation acts only through the output shape", "[analysis][macs]") {
  // N=1, C=2, H=W=8, M=3, k=3, dilation 2 → effective kernel 2·(3-1)+1 = 5, no pad, stride 1:
  //   OH = OW = 8 - 5 + 1 = 4;  MACs = 1·3·4·4·2·3·3 = 864
  mc::Model m = single_node("Conv", dims({1, 2, 8, 8}), {3, 2, 3, 3}, {{"dilations", {2, 2}}});
  const mc::ModelStats st = mc::compute_stats(m);
  CHECK(st.layers[0].output_shapes[0] == "1x3x4x4");
  CHECK(st.layers[0].macs == 864);
}

TEST_CASE("depthwise Conv (group = C)", "[analysis][macs]") {
  // N=1, C=M=8, group=8, H=W=6, k=3, pad 1, stride 1 → OH = OW = (6 + 2 - 3)/1 + 1 = 6
  //   MACs = 1·8·6·6·(8/8)·3·3 = 8·36·9 = 2592
  mc::Model m = single_node("Conv", dims({1, 8, 6, 6}), {8, 1, 3, 3}, {{"pads", {1, 1, 1, 1}}}, {8});
  const mc::ModelStats st = mc::compute_stats(m);
  CHECK(st.layers[0].output_shapes[0] == "1x8x6x6");
  CHECK(st.layers[0].macs == 2592);
  CHECK(st.params == 72);
}

TEST_CASE("ConvTranspose: N·C·H·W·(M/group)·kh·kw", "[analysis][macs]") {
  SECTION("group 1") {
    // X [1,2,3,3], W [C=2, M=3, 3, 3]: MACs = 1·2·3·3·3·3·3 = 18·27 = 486
    // (output 5x5 with stride 1, no pad: (3-1)·1 + 3 = 5)
    mc::Model m = single_node("ConvTranspose", dims({1, 2, 3, 3}), {2, 3, 3, 3}, {});
    const mc::ModelStats st = mc::compute_stats(m);
    CHECK(st.layers[0].output_shapes[0] == "1x3x5x5");
    CHECK(st.layers[0].macs == 486);
  }
  SECTION("group 2, stride 2") {
    // X [1,4,3,3], W [C=4, M/group=2, 2, 2], group 2 → M = 4; stride 2 → OH = (3-1)·2 + 2 = 6
    //   MACs = 1·4·3·3·2·2·2 = 36·8 = 288 (the stride changes the output, not the MACs)
    mc::Model m = single_node("ConvTranspose", dims({1, 4, 3, 3}), {4, 2, 2, 2}, {{"strides", {2, 2}}}, {2});
    const mc::ModelStats st = mc::compute_stats(m);
    CHECK(st.layers[0].output_shapes[0] == "1x4x6x6");
    CHECK(st.layers[0].macs == 288);
  }
}

TEST_CASE("Gemm with transA/transB: M·N·K", "[analysis][macs]") {
  mc::Node g = node("Gemm", {"A", "B"}, {"Y"});
  uint64_t macs = 0;
  // A [M=3, K=5], B [K=5, N=4]: 3·4·5 = 60
  REQUIRE(mc::node_macs(g, {{3, 5}, {5, 4}}, {{3, 4}}, &macs));
  CHECK(macs == 60);
  // transA: A is [K=5, M=7]; transB: B is [N=2, K=5]: 7·2·5 = 70
  g.set_attr_int("transA", 1);
  g.set_attr_int("transB", 1);
  REQUIRE(mc::node_macs(g, {{5, 7}, {2, 5}}, {{7, 2}}, &macs));
  CHECK(macs == 70);
  // transB only: A [M=2, K=9], B [N=11, K=9]: 2·11·9 = 198
  g.set_attr_int("transA", 0);
  REQUIRE(mc::node_macs(g, {{2, 9}, {11, 9}}, {{2, 11}}, &macs));
  CHECK(macs == 198);
  // Unknown A shape: no count.
  CHECK_FALSE(mc::node_macs(g, {{-1}, {11, 9}}, {{-1}}, &macs));
}

TEST_CASE("MatMul: batched, broadcast and 1-D operands", "[analysis][macs]") {
  const mc::Node mm = node("MatMul", {"A", "B"}, {"Y"});
  uint64_t macs = 0;
  // A [2,1,3,4] · B [5,4,6]: batch dims [2,1] and [5] broadcast to [2,5];
  //   MACs = (2·5)·M·N·K = 10·3·6·4 = 720
  REQUIRE(mc::node_macs(mm, {{2, 1, 3, 4}, {5, 4, 6}}, {{2, 5, 3, 6}}, &macs));
  CHECK(macs == 720);
  // A [4] (a 1-row matrix) · B [4,6]: 1·6·4 = 24
  REQUIRE(mc::node_macs(mm, {{4}, {4, 6}}, {{6}}, &macs));
  CHECK(macs == 24);
  // A [2,3,4] · B [4] (a column): 2·3·1·4 = 24
  REQUIRE(mc::node_macs(mm, {{2, 3, 4}, {4}}, {{2, 3}}, &macs));
  CHECK(macs == 24);
  // Incompatible batch dims 2 vs 3: not counted.
  CHECK_FALSE(mc::node_macs(mm, {{2, 3, 4}, {3, 4, 5}}, {{-1}}, &macs));

  // Through the importer, with a symbolic batch: A [B,7,3,4] · W [7,4,5] (initializer).
  //   B counts as 1, so the batch dims [B,7] and [7] broadcast to 1·7 = 7;
  //   MACs = 7·M·N·K = 7·3·5·4 = 420
  mc::Model m = base_model();
  m.graph.inputs.push_back(mc::test::value_info("A", {mc::Dim::symbol("B"), mc::Dim::known(7), mc::Dim::known(3),
                                              mc::Dim::known(4)}));
  m.graph.initializers.push_back(filled("W", {7, 4, 5}, 1.f));
  m.graph.nodes.push_back(node("MatMul", {"A", "W"}, {"Y"}));
  mc::ValueInfo y;
  y.name = "Y";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);
  const mc::ModelStats st = mc::compute_stats(reimport(m));
  CHECK(st.layers[0].input_shapes == std::vector<std::string>{"Bx7x3x4", "7x4x5"});
  CHECK(st.layers[0].output_shapes[0] == "Bx7x3x5");
  CHECK(st.layers[0].macs == 420);
}

TEST_CASE("LSTM: directions·T·B·4·H·(I+H)", "[analysis][macs]") {
  mc::Node n = node("LSTM", {"X", "W", "R"}, {"Y"});
  n.set_attr_int("hidden_size", 5);
  uint64_t macs = 0;
  // X [T=6, B=2, I=3], W [1, 4·5, 3]: 1·6·2·4·5·(3+5) = 240·8 = 1920
  REQUIRE(mc::node_macs(n, {{6, 2, 3}, {1, 20, 3}, {1, 20, 5}}, {{6, 1, 2, 5}}, &macs));
  CHECK(macs == 1920);
}

TEST_CASE("element-wise, normalization and pooling ops count 0 MACs", "[analysis][macs]") {
  uint64_t macs = 99;
  for (const char* op : {"Add", "Relu", "BatchNormalization", "MaxPool", "GlobalAveragePool", "Flatten"}) {
    macs = 99;
    CHECK(mc::node_macs(node(op, {"X"}, {"Y"}), {{1, 3, 8, 8}}, {{1, 3, 8, 8}}, &macs));
    CHECK(macs == 0);
  }
}

namespace {
// LeNet-300-100 as torch.onnx exports it: Flatten, then Gemm(transB=1) + Relu ×3.
mc::Model lenet_300_100() {
  mc::Model m = base_model();
  m.graph.inputs.push_back(mc::test::value_info("input", {mc::Dim::symbol("N"), mc::Dim::known(1), mc::Dim::known(28), mc::Dim::known(28)}));
  m.graph.nodes.push_back(node("Flatten", {"input"}, {"flat"}));
  m.graph.nodes.back().name = "flatten";
  const int64_t sizes[] = {784, 300, 100, 10};
  std::string prev = "flat";
  for (int l = 0; l < 3; ++l) {
    const std::string w = "fc" + std::to_string(l + 1) + ".weight", b = "fc" + std::to_string(l + 1) + ".bias";
    m.graph.initializers.push_back(filled(w, {sizes[l + 1], sizes[l]}, 0.01f));
    m.graph.initializers.push_back(filled(b, {sizes[l + 1]}, 0.f));  // zero biases: known sparsity
    const std::string out = l == 2 ? "logits" : "h" + std::to_string(l + 1);
    mc::Node g = node("Gemm", {prev, w, b}, {l == 2 ? out : out + "_pre"});
    g.name = "fc" + std::to_string(l + 1);
    g.set_attr_int("transB", 1);
    m.graph.nodes.push_back(g);
    if (l < 2) {
      m.graph.nodes.push_back(node("Relu", {out + "_pre"}, {out}));
      m.graph.nodes.back().name = "relu" + std::to_string(l + 1);
    }
    prev = out;
  }
  mc::ValueInfo y;
  y.name = "logits";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);
  return reimport(m);
}
}  // namespace

TEST_CASE("LeNet-300-100: 266,610 params, 266,200 MACs at symbolic batch", "[analysis][params]") {
  const mc::ModelStats st = mc::compute_stats(lenet_300_100());
  // 784·300 + 300 + 300·100 + 100 + 100·10 + 10 = 235200 + 300 + 30000 + 100 + 1000 + 10 = 266610
  CHECK(st.params == 266610);
  CHECK(st.weight_bytes == 266610 * 4);
  // MACs: batch N counts as 1: 784·300 + 300·100 + 100·10 = 266200
  CHECK(st.macs == 266200);
  CHECK(st.macs_complete);
  CHECK(st.nodes == 6);
  REQUIRE(st.layers.size() == 6);
  CHECK(st.layers[0].op_type == "Flatten");
  CHECK(st.layers[0].output_shapes[0] == "Nx784");
  CHECK(st.layers[1].name == "fc1");
  CHECK(st.layers[1].input_shapes == std::vector<std::string>{"Nx784", "300x784", "300"});
  CHECK(st.layers[1].output_shapes[0] == "Nx300");
  CHECK(st.layers[1].params == 235500);
  CHECK(st.layers[1].macs == 235200);
  // fc1 weights are all 0.01, its 300 biases are 0: sparsity 300 / 235500
  CHECK(st.layers[1].sparsity == Approx(300.0 / 235500.0));
  CHECK(st.zero_weights == 300 + 100 + 10);
  CHECK(st.unknown_ops.empty());
}

TEST_CASE("a weight shared by two nodes counts once in the totals, once per layer", "[analysis][params]") {
  mc::Model m = base_model();
  m.graph.inputs.push_back(mc::test::value_info("X", dims({2, 4})));
  m.graph.initializers.push_back(filled("W", {4, 4}, 1.f));
  m.graph.nodes.push_back(node("MatMul", {"X", "W"}, {"H"}));
  m.graph.nodes.push_back(node("MatMul", {"H", "W"}, {"Y"}));
  m.graph.nodes.push_back(node("Mul", {"W", "W"}, {"W2"}));  // one node reading W twice
  m.graph.nodes[1].name = "second";
  m.graph.nodes[2].name = "square";
  mc::ValueInfo y;
  y.name = "Y";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);
  y.name = "W2";
  m.graph.outputs.push_back(y);
  const mc::ModelStats st = mc::compute_stats(reimport(m));
  CHECK(st.params == 16);
  CHECK(st.layers[0].params == 16);
  CHECK(st.layers[1].params == 16);
  CHECK(st.layers[2].params == 16);
  CHECK(st.layers[0].macs == 2 * 4 * 4);  // 32
  CHECK(st.macs == 64);
}

TEST_CASE("sparsity counts exact zeros, -0.0 included, NaN excluded", "[analysis][sparsity]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const mc::Tensor t = mc::Tensor::make_f32("t", {2, 4}, {0.f, 1.f, 0.f, 2.f, -0.f, 3.f, nan, 0.f});
  CHECK(mc::count_zeros(t) == 4);
  mc::Tensor q = mc::Tensor::zeros("q", mc::DType::I8, {10});
  q.as_mut<int8_t>()[3] = 5;
  q.as_mut<int8_t>()[7] = -1;
  CHECK(mc::count_zeros(q) == 8);
  mc::Tensor h = mc::Tensor::zeros("h", mc::DType::F16, {3});
  h.as_mut<uint16_t>()[1] = mc::float_to_half(1.5f);
  CHECK(mc::count_zeros(h) == 2);

  // Per layer and in total: a Mul reading t.
  mc::Model m = base_model();
  m.graph.inputs.push_back(mc::test::value_info("X", dims({2, 4})));
  m.graph.initializers.push_back(t);
  m.graph.nodes.push_back(node("Mul", {"X", "t"}, {"Y"}));
  mc::ValueInfo y;
  y.name = "Y";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);
  const mc::ModelStats st = mc::compute_stats(reimport(m));
  CHECK(st.layers[0].sparsity == Approx(0.5));
  CHECK(st.sparsity == Approx(0.5));
  CHECK(st.zero_weights == 4);
}

TEST_CASE("unknown ops are listed and marked, never fatal", "[analysis][unknown]") {
  mc::Model m = base_model();
  m.opsets.push_back({"com.example", 1});
  m.graph.inputs.push_back(mc::test::value_info("X", dims({1, 4})));
  m.graph.initializers.push_back(filled("W", {4, 3}, 1.f));
  m.graph.nodes.push_back(node("MatMul", {"X", "W"}, {"H"}));
  mc::Node custom = node("FancyAttention", {"H"}, {"Z"});
  custom.domain = "com.example";
  m.graph.nodes.push_back(custom);
  m.graph.nodes.push_back(node("NotAnOnnxOp", {"Z"}, {"Y"}));
  // LayerNormalization arrived in opset 17: unknown at the model's opset 13.
  mc::Node late = node("LayerNormalization", {"Y", "W"}, {"G"});
  late.name = "layernorm";
  m.graph.nodes.push_back(late);
  mc::ValueInfo y;
  y.name = "G";
  y.dtype = mc::DType::F32;
  m.graph.outputs.push_back(y);
  mc::ImportOptions io;
  const mc::Model im = mc::import_onnx_bytes(mc::export_onnx_bytes(m), ".", "test-model", io);
  const mc::ModelStats st = mc::compute_stats(im);
  REQUIRE(st.layers.size() == 4);
  CHECK(st.layers[0].known_op);
  CHECK(st.layers[0].macs == 12);
  CHECK_FALSE(st.layers[1].known_op);
  CHECK_FALSE(st.layers[1].macs_known);
  CHECK_FALSE(st.layers[2].known_op);
  CHECK_FALSE(st.layers[3].known_op);
  CHECK(st.unknown_ops == std::vector<std::string>{"com.example:FancyAttention", "NotAnOnnxOp", "LayerNormalization"});
  CHECK_FALSE(st.macs_complete);
  CHECK(st.macs == 12);
  CHECK(st.layers[1].output_shapes[0] == "?");

  CHECK(mc::op_is_known("Conv", "", 13));
  CHECK(mc::op_is_known("Conv", "ai.onnx", 1));
  CHECK_FALSE(mc::op_is_known("Conv", "", 0));
  CHECK(mc::op_is_known("LayerNormalization", "", 17));
  CHECK_FALSE(mc::op_is_known("LayerNormalization", "", 16));
  CHECK_FALSE(mc::op_is_known("Conv", "com.example", 13));
}

TEST_CASE("shape strings", "[analysis]") {
  mc::ValueInfo v = mc::test::value_info("v", {mc::Dim::symbol("batch"), mc::Dim::known(3), mc::Dim{}});
  CHECK(mc::shape_string(&v) == "batchx3x?");
  v.has_shape = false;
  CHECK(mc::shape_string(&v) == "?");
  CHECK(mc::shape_string(nullptr) == "?");
  CHECK(mc::shape_string(std::vector<int64_t>{}) == "scalar");
  CHECK(mc::shape_string(std::vector<int64_t>{2, 5}) == "2x5");
}

TEST_CASE("JSON form carries the same numbers", "[analysis][json]") {
  const mc::Model m = lenet_300_100();
  const mc::ModelStats st = mc::compute_stats(m);
  mc::FileSizes fs;
  fs.files.push_back({"x.onnx", 1000, 900});
  fs.bytes = 1000;
  fs.gzip_bytes = 900;
  const nlohmann::json j = nlohmann::json::parse(mc::stats_to_json("x.onnx", m, st, fs).dump());
  CHECK(j["totals"]["params"].get<uint64_t>() == 266610);
  CHECK(j["totals"]["macs"].get<uint64_t>() == 266200);
  CHECK(j["totals"]["file_bytes"].get<uint64_t>() == 1000);
  CHECK(j["totals"]["gzip_bytes"].get<uint64_t>() == 900);
  CHECK(j["totals"]["nodes"].get<uint64_t>() == 6);
  CHECK(j["layers"].size() == 6);
  CHECK(j["layers"][1]["macs"].get<uint64_t>() == 235200);
  CHECK(j["inputs"][0]["name"] == "input");
  CHECK(j["inputs"][0]["dtype"] == "float");
  CHECK(j["inputs"][0]["shape"] == nlohmann::json::array({"N", 1, 28, 28}));
  CHECK(j["outputs"][0]["shape"] == nlohmann::json::array({"N", 10}));
  CHECK(j["opsets"][0]["version"] == 13);
  CHECK(j["producer"]["name"] == "mc-test");
}
