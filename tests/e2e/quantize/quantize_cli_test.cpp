// `mcompress quantize` end to end: the built binary on the bundled examples with a few
// hundred Fashion-MNIST training images for calibration. The QDQ ONNX runs in ONNX
// Runtime and agrees with the fp32 model and with the runtime's int8 file; runs are
// byte-identical across repeats and thread counts; every bad input is exit 2 with one
// line naming the problem (NaN/Inf in the quantized outputs: exit 1), writing nothing.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "check/runtime_session.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"
#include "compress/onnx/onnx_import.h"
#include "runtime-check/npy/npy.h"
#include "tests/support/fashion_mnist.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"
#ifdef MC_HAVE_ORT_PEER
#include "tests/support/ort_peer.h"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

mc::test::ProcessResult quantize(std::vector<std::string> args) {
  std::vector<std::string> argv = {MC_BIN, "quantize"};
  argv.insert(argv.end(), args.begin(), args.end());
  return mc::test::run_process(argv, 300);
}

std::vector<std::string> calib(const std::string& model, const fs::path& out, int n = 200) {
  return {kExamples + model, "--mode", "static", "--calib-data", kTrain, "--calib-size", std::to_string(n),
          "--mean", "0.286", "--std", "0.353", "-o", out.string()};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

std::string slurp(const fs::path& p) { return mc::read_file_bounded(p.string(), 1ull << 30); }

// Exit `code`, exactly one line on stderr containing every needle, no output file.
void expect_fail(const std::vector<std::string>& args, int code, const std::vector<std::string>& needles,
                 const fs::path& out) {
  const auto r = quantize(args);
  INFO(r.err);
  CHECK(r.exit_code == code);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  for (const auto& n : needles) CHECK(r.err.find(n) != std::string::npos);
  CHECK(!fs::exists(out));
}

std::vector<size_t> argmax_rows(const float* y, size_t rows, size_t cols) {
  std::vector<size_t> a(rows);
  for (size_t r = 0; r < rows; ++r) a[r] = static_cast<size_t>(std::max_element(y + r * cols, y + (r + 1) * cols) - (y + r * cols));
  return a;
}

std::vector<float> run_runtime(const std::string& path, const std::vector<float>& x, size_t n) {
  const std::string b = slurp(path);
  mc::check::RuntimeSession s(std::vector<uint8_t>(b.begin(), b.end()), path, 1);
  return s.run_f32(x.data(), n);
}

}  // namespace

TEST_CASE("quantize: LeNet-5 static int8, report table and JSON, runtime file agrees with fp32", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "lenet5.int8.onnx", rep = d.path / "lenet5.json";
  const auto r = quantize(with(calib("lenet5.onnx", out), {"--report", rep.string()}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("7 of 7 layers quantized") != std::string::npos);
  CHECK(r.out.find("Conv+Relu") != std::string::npos);
  CHECK(r.out.find("quantize: bytes 248,600 → ") != std::string::npos);
  const json j = json::parse(slurp(rep));
  CHECK(j["calibrator"] == "mse");
  CHECK(j["calibration_samples"] == 200);
  REQUIRE(j["layers"].size() == 7);
  for (const auto& l : j["layers"]) {
    CHECK(l["quantized"] == true);
    CHECK(l["sqnr_db"].get<double>() > 20.0);
    CHECK(l["cosine"].get<double>() > 0.99);
    CHECK(l["scale"].get<double>() > 0.0);
  }
  CHECK(j["layers"][0]["folded"] == "Relu");
  CHECK(j["layers"][0]["zero_point"] == -128);  // output of a folded Relu starts at 0
  CHECK(j["after"]["bytes"] == fs::file_size(out));
  CHECK(j["after"]["bytes"].get<uint64_t>() * 3 < j["before"]["bytes"].get<uint64_t>());
  // The QDQ file: int8 weights, Q/DQ nodes, no float Conv weights left.
  const mc::Model m = mc::import_onnx_file(out.string());
  size_t q = 0, dq = 0;
  for (const auto& n : m.graph.nodes) q += n.op_type == "QuantizeLinear", dq += n.op_type == "DequantizeLinear";
  CHECK(q >= 6);
  CHECK(dq >= q);
  for (const auto& t : m.graph.initializers) CHECK(!(t.dtype == mc::DType::F32 && t.dims.size() == 4));
  // Runtime format: top-1 agrees with fp32 on 200 test images.
  const fs::path rt = d.path / "lenet5.int8.mcrt";
  const auto r2 = quantize(with(calib("lenet5.onnx", rt), {"--format", "runtime"}));
  INFO(r2.err);
  REQUIRE(r2.exit_code == 0);
  const auto x = mc::test::npy_floats(mc::test::fashion_mnist_test_images(200));
  const auto yq = run_runtime(rt.string(), x, 200);
  mc::Model fp = mc::import_onnx_file(kExamples + "lenet5.onnx");
  const auto art = mc::check::open_runtime_artifact(kExamples + "lenet5.onnx");
  mc::check::RuntimeSession fs32(art.mcrt, "fp32", 1);
  const auto yf = fs32.run_f32(x.data(), 200);
  const auto aq = argmax_rows(yq.data(), 200, 10), af = argmax_rows(yf.data(), 200, 10);
  size_t agree = 0;
  for (size_t i = 0; i < 200; ++i) agree += aq[i] == af[i];
  CHECK(agree >= 194);  // >= 97%
}

#ifdef MC_HAVE_ORT_PEER
TEST_CASE("quantize: the QDQ ONNX runs in ONNX Runtime and agrees with the runtime's int8 file", "[e2e][quantize][ort]") {
  if (!mc::test::ort_available()) {
    WARN("ONNX Runtime peer not available (bash scripts/setup.sh)");
    return;
  }
  mc::test::TempDir d("mc_e2e_quantize");
  for (const std::string model : {"mobile", "resnet"}) {
    const fs::path onnx = d.path / (model + ".int8.onnx"), rt = d.path / (model + ".int8.mcrt");
    REQUIRE(quantize(calib(model + ".onnx", onnx)).exit_code == 0);
    REQUIRE(quantize(with(calib(model + ".onnx", rt), {"--format", "runtime"})).exit_code == 0);
    const size_t n = 100;
    const auto x = mc::test::npy_floats(mc::test::fashion_mnist_test_images(n));
    mcrt::NpyArray in;
    in.dtype = mcrt::NpyDtype::kF32;
    in.shape = {static_cast<int64_t>(n), 1, 28, 28};
    in.bytes.resize(x.size() * 4);
    std::memcpy(in.bytes.data(), x.data(), in.bytes.size());
    const auto outs = mc::test::run_in_ort(onnx.string(), {{"input", in}});
    const auto& y = outs.at("logits");
    REQUIRE(y.numel() == n * 10);
    const auto yo = reinterpret_cast<const float*>(y.bytes.data());
    const auto yr = run_runtime(rt.string(), x, n);
    const auto ao = argmax_rows(yo, n, 10), ar = argmax_rows(yr.data(), n, 10);
    size_t agree = 0;
    for (size_t i = 0; i < n; ++i) agree += ao[i] == ar[i];
    INFO(model);
    CHECK(agree >= 99);
  }
}
#endif

TEST_CASE("quantize: two runs and 1 vs 2 threads give byte-identical files", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  for (const std::string fmt : {"onnx", "runtime"}) {
    const fs::path a = d.path / ("a." + fmt), b = d.path / ("b." + fmt), c = d.path / ("c." + fmt);
    const fs::path ra = d.path / ("a." + fmt + ".json"), rc = d.path / ("c." + fmt + ".json");
    REQUIRE(quantize(with(calib("resnet.onnx", a, 100), {"--format", fmt, "--report", ra.string()})).exit_code == 0);
    REQUIRE(quantize(with(calib("resnet.onnx", b, 100), {"--format", fmt})).exit_code == 0);
    REQUIRE(quantize(with(calib("resnet.onnx", c, 100), {"--format", fmt, "--threads", "2", "--report", rc.string()}))
                .exit_code == 0);
    CHECK(slurp(a) == slurp(b));
    CHECK(slurp(a) == slurp(c));
    CHECK(json::parse(slurp(ra))["layers"] == json::parse(slurp(rc))["layers"]);
  }
}

TEST_CASE("quantize: --exclude by op type keeps those layers fp32 and names them", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "mlp.onnx", rep = d.path / "r.json";
  const auto r = quantize(with(calib("mlp.onnx", out, 100), {"--exclude", "/fc3/Gemm", "--report", rep.string()}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(slurp(rep));
  CHECK(j["layers"][2]["quantized"] == false);
  CHECK(j["layers"][2]["reason"] == "excluded by --exclude");
  CHECK(r.out.find("fp32: excluded by --exclude") != std::string::npos);
}

TEST_CASE("quantize: --max-layer-error keeps the layers under the threshold fp32", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "mobile.onnx", rep = d.path / "r.json";
  // mobile's deeper layers measure 24-29 dB end to end (see docs/quantization.md): a 27 dB threshold trips some
  const auto r = quantize(with(calib("mobile.onnx", out, 100), {"--max-layer-error", "27", "--report", rep.string()}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(slurp(rep));
  size_t kept = 0;
  for (const auto& l : j["layers"]) {
    if (l["quantized"] == true) CHECK(l["sqnr_db"].get<double>() >= 27.0);
    else if (l["reason"].get<std::string>().find("below --max-layer-error 27 dB") != std::string::npos) ++kept;
  }
  CHECK(kept >= 1);
}

TEST_CASE("quantize: calibration data of the wrong shape is exit 2 naming expected and actual", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = {4, 3, 5, 5};
  a.bytes.assign(4 * 3 * 5 * 5 * 4, 0);
  const fs::path npy = d.path / "bad.npy", out = d.path / "o.onnx";
  REQUIRE(mcrt::npy_write_file(npy.string(), a).ok());
  expect_fail({kExamples + "lenet5.onnx", "--mode", "static", "--calib-data", npy.string(), "-o", out.string()}, 2,
              {"bad.npy", "expected samples of shape [1,28,28]", "got [3,5,5]"}, out);
}

TEST_CASE("quantize: a model input that is not float32 is exit 2 naming expected and actual type", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  mc::Model m;
  m.graph.name = "g";
  m.opsets = {{"", 13}};
  mc::ValueInfo x;
  x.name = "x";
  x.dtype = mc::DType::I64;
  x.has_shape = true;
  x.shape = {mc::Dim::symbol("N"), mc::Dim::known(4)};
  mc::ValueInfo y = x;
  y.name = "y";
  y.dtype = mc::DType::F32;
  m.graph.inputs = {x};
  m.graph.outputs = {y};
  mc::Node c;
  c.op_type = "Cast";
  c.name = "cast";
  c.inputs = {"x"};
  c.outputs = {"y"};
  c.set_attr_int("to", 1);
  m.graph.nodes = {c};
  const fs::path model = d.path / "int_input.onnx", out = d.path / "o.onnx";
  mc::export_onnx_file(m, model.string());
  expect_fail({model.string(), "--mode", "static", "--calib-data", kTrain, "-o", out.string()}, 2,
              {"expected data for input 'x' of type int64, got float32"}, out);
}

TEST_CASE("quantize: unknown mode is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail({kExamples + "mlp.onnx", "--mode", "int3", "--calib-data", kTrain, "-o", out.string()}, 2,
              {"--mode 'int3'", "expected static"}, out);
}

TEST_CASE("quantize: --bits 4 with static is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail(with(calib("mlp.onnx", out), {"--bits", "4"}), 2, {"--bits 4 with --mode static"}, out);
}

TEST_CASE("quantize: --bits 9 with kmeans is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail({kExamples + "mlp.onnx", "--mode", "kmeans", "--bits", "9", "-o", out.string()}, 2,
              {"--bits 9 with --mode kmeans"}, out);
}

TEST_CASE("quantize: --exclude that matches nothing is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail(with(calib("mlp.onnx", out), {"--exclude", "Gemm,/no/such/node"}), 2,
              {"--exclude '/no/such/node': matches no node name or op type"}, out);
}

TEST_CASE("quantize: static without --calib-data is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail({kExamples + "mlp.onnx", "--mode", "static", "-o", out.string()}, 2, {"needs --calib-data"}, out);
}

TEST_CASE("quantize: an unknown calibrator is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail(with(calib("mlp.onnx", out), {"--calibrate", "kl"}), 2, {"--calibrate 'kl'"}, out);
}

TEST_CASE("quantize: the output may not be the input model", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path model = d.path / "mlp.onnx";
  fs::copy_file(kExamples + "mlp.onnx", model);
  const std::string before = slurp(model);
  const auto r = quantize({model.string(), "--mode", "static", "--calib-data", kTrain, "-o", model.string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("is the input model") != std::string::npos);
  CHECK(slurp(model) == before);
}

TEST_CASE("quantize: NaN/Inf in the quantized model's outputs is exit 1", "[e2e][quantize][bad]") {
  // x -> Conv(w 1, bias 0.001) -> Relu -> Div(1, .): fp32 output <= 1000, finite. The Relu
  // output is quantized to [0, 100] (scale 0.39): inputs of 0 dequantize to exactly 0, 1/0 = inf.
  mc::test::TempDir d("mc_e2e_quantize");
  mc::Model m;
  m.graph.name = "g";
  m.opsets = {{"", 13}};
  mc::ValueInfo x;
  x.name = "x";
  x.dtype = mc::DType::F32;
  x.has_shape = true;
  x.shape = {mc::Dim::symbol("N"), mc::Dim::known(1), mc::Dim::known(2), mc::Dim::known(2)};
  mc::ValueInfo y = x;
  y.name = "y";
  m.graph.inputs = {x};
  m.graph.outputs = {y};
  m.graph.initializers = {mc::Tensor::make_f32("w", {1, 1, 1, 1}, {1.f}), mc::Tensor::make_f32("b", {1}, {0.001f}),
                          mc::Tensor::make_f32("one", {1}, {1.f})};
  auto node = [](const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    mc::Node n;
    n.op_type = op;
    n.name = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
  };
  m.graph.nodes = {node("Conv", {"x", "w", "b"}, {"c"}), node("Relu", {"c"}, {"r"}), node("Div", {"one", "r"}, {"y"})};
  const fs::path model = d.path / "div.onnx", out = d.path / "o.onnx", npy = d.path / "x.npy";
  mc::export_onnx_file(m, model.string());
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = {8, 1, 2, 2};
  std::vector<float> v(32);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? 100.f : 0.f;
  a.bytes.resize(v.size() * 4);
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  REQUIRE(mcrt::npy_write_file(npy.string(), a).ok());
  expect_fail({model.string(), "--mode", "static", "--calib-data", npy.string(), "--calibrate", "minmax", "-o",
               out.string()},
              1, {"NaN/Inf", "output 'y'"}, out);
}

TEST_CASE("quantize: dynamic int8 on the MLP runs in ONNX Runtime and lowers to DynamicQuantizeMatMul", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path onnx = d.path / "mlp.dyn.onnx", rt = d.path / "mlp.dyn.mcrt", rep = d.path / "r.json";
  const auto r = quantize({kExamples + "mlp.onnx", "--mode", "dynamic", "-o", onnx.string(), "--report", rep.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("3 of 3 Gemm/MatMul layers quantized") != std::string::npos);
  const json j = json::parse(slurp(rep));
  CHECK(j["error_inputs"] == "random");
  CHECK(j["output_sqnr_db"].get<double>() > 30.0);
  const mc::Model m = mc::import_onnx_file(onnx.string());
  size_t mi = 0, dql = 0;
  for (const auto& n : m.graph.nodes) mi += n.op_type == "MatMulInteger", dql += n.op_type == "DynamicQuantizeLinear";
  CHECK(mi == 3);
  CHECK(dql == 3);
  REQUIRE(quantize({kExamples + "mlp.onnx", "--mode", "dynamic", "--format", "runtime", "-o", rt.string()}).exit_code == 0);
  const size_t n = 100;
  const auto x = mc::test::npy_floats(mc::test::fashion_mnist_test_images(n));
  const auto yr = run_runtime(rt.string(), x, n);
  const auto art = mc::check::open_runtime_artifact(kExamples + "mlp.onnx");
  mc::check::RuntimeSession f(art.mcrt, "fp32", 1);
  const auto yf = f.run_f32(x.data(), n);
  const auto ar = argmax_rows(yr.data(), n, 10), af = argmax_rows(yf.data(), n, 10);
  size_t agree = 0;
  for (size_t i = 0; i < n; ++i) agree += ar[i] == af[i];
  CHECK(agree >= 98);
#ifdef MC_HAVE_ORT_PEER
  if (mc::test::ort_available()) {
    mcrt::NpyArray in;
    in.dtype = mcrt::NpyDtype::kF32;
    in.shape = {static_cast<int64_t>(n), 1, 28, 28};
    in.bytes.resize(x.size() * 4);
    std::memcpy(in.bytes.data(), x.data(), in.bytes.size());
    const auto outs = mc::test::run_in_ort(onnx.string(), {{"input", in}});
    const auto ao = argmax_rows(reinterpret_cast<const float*>(outs.at("logits").bytes.data()), n, 10);
    size_t same = 0;
    for (size_t i = 0; i < n; ++i) same += ao[i] == ar[i];
    CHECK(same >= 99);
  }
#endif
}

TEST_CASE("quantize: weight-only, fp16 and kmeans modes go through the weight storage passes", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path wo = d.path / "wo.onnx", km = d.path / "km.mcrt", f16 = d.path / "f16.mcrt";
  auto r = quantize({kExamples + "lenet5.onnx", "--mode", "weight-only", "--bits", "4", "--block-size", "32", "-o", wo.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("int4 blocks of 32") != std::string::npos);
  r = quantize({kExamples + "mlp.onnx", "--mode", "kmeans", "--bits", "4", "--format", "runtime", "--entropy-coding",
                "--calib-data", kTrain, "--mean", "0.286", "--std", "0.353", "--calib-size", "100", "-o", km.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::file_size(km) * 8 < fs::file_size(kExamples + "mlp.onnx"));
  CHECK(r.out.find("100 calibration samples") != std::string::npos);
  r = quantize({kExamples + "resnet.onnx", "--mode", "fp16", "--format", "runtime", "-o", f16.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::file_size(f16) * 10 < fs::file_size(kExamples + "resnet.onnx") * 6);
}

TEST_CASE("quantize: static-only options with another mode are exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail({kExamples + "mlp.onnx", "--mode", "dynamic", "--calibrate", "mse", "-o", out.string()}, 2,
              {"apply to --mode static, not dynamic"}, out);
}

TEST_CASE("quantize: --block-size outside weight-only is exit 2", "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "o.onnx";
  expect_fail({kExamples + "mlp.onnx", "--mode", "kmeans", "--block-size", "32", "-o", out.string()}, 2,
              {"--block-size applies to --mode weight-only"}, out);
}

TEST_CASE("quantize: --cle --bias-correction on ResNet keeps accuracy and reports what it did", "[e2e][quantize]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const fs::path out = d.path / "resnet.cb.onnx", rep = d.path / "r.json";
  const auto r = quantize(with(calib("resnet.onnx", out, 100), {"--cle", "--bias-correction", "--report", rep.string()}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("CLE on 3 layer pairs; bias correction on 10 layers") != std::string::npos);
  const json j = json::parse(slurp(rep));
  CHECK(j["equalized"].size() == 3);
  CHECK(j["output_sqnr_db"].get<double>() > 30.0);
}

// The calibration data is read only as far as --calib-size: a training .gz cut after its first
// ~1 MB calibrates 100 samples exactly as the whole file does; a --calib-size that reaches the cut
// is exit 2 naming the file (compress/data/idx.h).
TEST_CASE("quantize: --calib-data .gz cut short: the first samples suffice, a --calib-size past the cut is exit 2",
          "[e2e][quantize][bad]") {
  mc::test::TempDir d("mc_e2e_quantize");
  const std::string gz = slurp(kTrain);
  REQUIRE(gz.size() > (4u << 20));
  const fs::path cut = d.path / "cut.gz";
  std::ofstream(cut, std::ios::binary).write(gz.data(), 1 << 20);
  const fs::path whole_out = d.path / "whole.onnx", cut_out = d.path / "cut.onnx";
  auto r = quantize(calib("mlp.onnx", whole_out, 100));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> args = calib("mlp.onnx", cut_out, 100);
  args[4] = cut.string();  // --calib-data
  r = quantize(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(slurp(cut_out) == slurp(whole_out));
  const fs::path far_out = d.path / "far.onnx";
  args = calib("mlp.onnx", far_out, 20000);
  args[4] = cut.string();
  expect_fail(args, 2, {cut.string() + ": truncated gzip stream"}, far_out);
}
