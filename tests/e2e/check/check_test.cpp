// `mcompress check` end to end, with ONNX Runtime as the judge.
//
// For every bundled example model (examples/fashion-mnist/{mlp,lenet5,mobile,resnet}.onnx)
// on the full 10,000-image Fashion-MNIST test set, normalised (x/255 - 0.2860)/0.3530:
// ONNX Runtime's logits (through tests/peers/ort_run.js) are given to the built binary as
// --reference-outputs; the runtime's top-1 must agree on 100% of the images, the max abs
// error must be <= 1e-4, and the runtime's accuracy must equal ORT's (same count).
// The images are loaded with the same dataset loader the CLI uses (compress/data).
// Error paths: data shape mismatch and missing files exit 2 naming expected/actual;
// violated gates exit 1 with one line; a gate that holds exits 0.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compress/data/dataset.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "runtime-check/npy/npy.h"
#include "tests/support/ort_peer.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kDataDir = "/usr/share/datasets/fashion-mnist/";
const std::string kImages = kDataDir + "t10k-images-idx3-ubyte.gz";
const std::string kLabels = kDataDir + "t10k-labels-idx1-ubyte.gz";
const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";

mc::test::ProcessResult check(std::vector<std::string> args, double timeout = 600) {
  args.insert(args.begin(), {MC_BIN, "check"});
  return mc::test::run_process(args, timeout);
}

std::vector<std::string> data_args() {
  return {"--data", kImages, "--labels", kLabels, "--mean", "0.2860", "--std", "0.3530"};
}

void write_npy_f32(const fs::path& p, std::vector<int64_t> shape, const float* v, size_t n) {
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = std::move(shape);
  a.bytes.assign(reinterpret_cast<const uint8_t*>(v), reinterpret_cast<const uint8_t*>(v) + 4 * n);
  const mcrt::NpyStatus s = mcrt::npy_write_file(p.string(), a);
  REQUIRE(s.ok());
}

}  // namespace

TEST_CASE("check: runtime vs ONNX Runtime on all 10,000 Fashion-MNIST test images", "[e2e]") {
  REQUIRE(mc::test::ort_available());
  mc::data::DatasetOptions dopt;
  dopt.data_path = kImages;
  dopt.labels_path = kLabels;
  dopt.mean = 0.2860f;
  dopt.std = 0.3530f;
  const mc::data::Dataset ds = mc::data::load_dataset(dopt, {-1, 1, 28, 28});
  REQUIRE(ds.num_samples() == 10000);
  mcrt::NpyArray images;
  images.dtype = mcrt::NpyDtype::kF32;
  images.shape = {10000, 1, 28, 28};
  images.bytes.assign(reinterpret_cast<const uint8_t*>(ds.data().data()),
                      reinterpret_cast<const uint8_t*>(ds.data().data() + ds.data().size()));

  for (const char* name : {"mlp", "lenet5", "mobile", "resnet"}) {
    DYNAMIC_SECTION(name) {
      const std::string model = kExamples + name + ".onnx";
      REQUIRE(fs::exists(model));
      const mc::Model m = mc::import_onnx_file(model);
      REQUIRE(m.graph.real_inputs().size() == 1);
      const std::string in_name = m.graph.real_inputs()[0]->name;
      const std::string out_name = m.graph.outputs.at(0).name;

      const auto ort = mc::test::run_in_ort(model, {{in_name, images}});
      const mcrt::NpyArray& logits = ort.at(out_name);
      REQUIRE(logits.dtype == mcrt::NpyDtype::kF32);
      REQUIRE(logits.shape == std::vector<int64_t>{10000, 10});
      const float* y = reinterpret_cast<const float*>(logits.bytes.data());
      uint64_t ort_correct = 0;
      for (size_t i = 0; i < 10000; ++i) {
        size_t best = 0;
        for (size_t k = 1; k < 10; ++k)
          if (y[i * 10 + k] > y[i * 10 + best]) best = k;
        if (static_cast<int64_t>(best) == ds.labels()[i]) ++ort_correct;
      }
      mc::test::TempDir tmp("mc_e2e_check");
      const fs::path ort_out = tmp.path / "ort_logits.npy";
      write_npy_f32(ort_out, logits.shape, y, 10000 * 10);

      std::vector<std::string> args = {model};
      for (const auto& a : data_args()) args.push_back(a);
      for (const char* a : {"--reference-outputs", ort_out.c_str(), "--min-agreement", "100", "--runs", "5",
                            "--warmup", "1", "--json"})
        args.emplace_back(a);
      const auto r = check(args);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      const json j = json::parse(r.out);
      CHECK(j["format"] == "onnx");
      CHECK(j["size"]["runtime_file_bytes"].get<uint64_t>() > 0);
      CHECK(j["size"]["gzip_bytes"].get<uint64_t>() < j["size"]["runtime_file_bytes"].get<uint64_t>());
      CHECK(j["memory"]["weight_bytes"].get<uint64_t>() > 0);
      CHECK(j["memory"]["arena_bytes"].get<uint64_t>() > 0);
      CHECK(j["latency"]["p50_ms"].get<double>() > 0);
      CHECK(j["latency"]["min_ms"].get<double>() <= j["latency"]["p50_ms"].get<double>());
      CHECK(j["latency"]["p50_ms"].get<double>() <= j["latency"]["p90_ms"].get<double>());
      const json& f = j["fidelity"];
      CHECK(f["inputs"] == "data");
      CHECK(f["samples"] == 10000);
      CHECK(f["agree"] == 10000);
      CHECK(f["agreement"].get<double>() == 100.0);
      CHECK(f["max_abs_error"].get<double>() <= 1e-4);
      const json& a = j["accuracy"];
      CHECK(a["samples"] == 10000);
      CHECK(a["classes"] == 10);
      CHECK(a["top1_correct"].get<uint64_t>() == ort_correct);
      CHECK(a["top5"].get<double>() >= a["top1"].get<double>());
      CHECK(a["top1"].get<double>() > 80.0);  // the examples are trained models
    }
  }
}

TEST_CASE("check: --reference model, on data and on seeded random inputs", "[e2e]") {
  const std::string mlp = kExamples + "mlp.onnx", lenet = kExamples + "lenet5.onnx";
  SECTION("a model against itself agrees exactly") {
    const auto r = check({mlp, "--reference", mlp, "--limit", "64", "--runs", "3", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["accuracy"].is_null());
    CHECK(j["fidelity"]["inputs"] == "random");
    CHECK(j["fidelity"]["samples"] == 64);
    CHECK(j["fidelity"]["agreement"].get<double>() == 100.0);
    CHECK(j["fidelity"]["max_abs_error"].get<double>() == 0.0);
    CHECK(j["fidelity"]["snr_db"].is_null());
  }
  SECTION("two different models do not; SNR is finite; the text table names the figures") {
    std::vector<std::string> args = {mlp, "--reference", lenet, "--limit", "500", "--runs", "3"};
    for (const auto& a : data_args()) args.push_back(a);
    const auto r = check(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* k : {"file bytes", "gzip -9", "weight bytes", "arena bytes", "latency ms", "p50", "p90",
                          "accuracy", "top-1", "top-5", "agreement", "max abs error", "SNR"})
      CHECK(r.out.find(k) != std::string::npos);
    CHECK(r.out.find("agreement       top-1 100.00%") == std::string::npos);
    CHECK(r.out.find(" dB") != std::string::npos);
  }
  SECTION("a .mcrt file is detected by its magic and checked against its ONNX original") {
    mc::test::TempDir tmp("mc_e2e_check");
    mc::Model m = mc::import_onnx_file(lenet);
    mc::PassContext ctx;
    mc::run_passes(m, ctx, mc::default_optimize_pipeline());
    const std::string file = (tmp.path / "lenet5.bin").string();  // no .mcrt suffix: the magic decides
    mc::export_runtime_file(m, file);
    const auto r = check({file, "--reference", lenet, "--limit", "32", "--runs", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["format"] == "mcrt");
    CHECK(j["size"]["file_bytes"] == fs::file_size(file));
    CHECK(j["size"]["runtime_file_bytes"] == fs::file_size(file));
    CHECK(j["fidelity"]["agreement"].get<double>() == 100.0);
    CHECK(j["fidelity"]["max_abs_error"].get<double>() == 0.0);
  }
  SECTION("-v lists the kernel chosen per node") {
    const auto r = mc::test::run_process({MC_BIN, "check", "-v", lenet, "--runs", "2"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("kernels per node") != std::string::npos);
    CHECK(r.out.find("Conv") != std::string::npos);
    CHECK(r.out.find("Gemm") != std::string::npos);
  }
}

TEST_CASE("check: error paths and gates", "[e2e]") {
  const std::string mlp = kExamples + "mlp.onnx", lenet = kExamples + "lenet5.onnx";
  mc::test::TempDir tmp("mc_e2e_check");
  SECTION("data whose samples do not fit the input: exit 2, expected versus actual") {
    std::vector<float> v(5 * 3 * 32 * 32, 0.5f);
    const fs::path bad = tmp.path / "cifar_like.npy";
    write_npy_f32(bad, {5, 3, 32, 32}, v.data(), v.size());
    const auto r = check({lenet, "--data", bad.string(), "--runs", "1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("expected") != std::string::npos);
    CHECK(r.err.find("got") != std::string::npos);
    CHECK(r.err.find("32") != std::string::npos);
    CHECK(r.err.find("28") != std::string::npos);
    CHECK(r.out.empty());
  }
  SECTION("reference outputs of the wrong shape: exit 2") {
    std::vector<float> v(20 * 7, 0.f);
    const fs::path bad = tmp.path / "ref.npy";
    write_npy_f32(bad, {20, 7}, v.data(), v.size());
    const auto r = check({mlp, "--data", kImages, "--limit", "20", "--reference-outputs", bad.string(), "--runs", "1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("expected reference outputs float32 [20, 10], got float32 [20, 7]") != std::string::npos);
  }
  SECTION("missing files: exit 2 naming the file") {
    const std::string missing = (tmp.path / "nope.onnx").string();
    auto r = check({missing});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("nope.onnx") != std::string::npos);
    r = check({mlp, "--data", (tmp.path / "nope-images.gz").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("nope-images.gz") != std::string::npos);
    r = check({mlp, "--reference", missing, "--limit", "4", "--runs", "1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("nope.onnx") != std::string::npos);
  }
  SECTION("a violated accuracy gate: exit 1 with one line; a gate that holds: exit 0") {
    std::vector<std::string> args = {mlp, "--limit", "500", "--runs", "1", "--min-accuracy", "99.5"};
    for (const auto& a : data_args()) args.push_back(a);
    auto r = check(args);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("below --min-accuracy 99.50%") != std::string::npos);
    args[6] = "50";
    r = check(args);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("below") == std::string::npos);
  }
  SECTION("a violated agreement gate: exit 1") {
    const auto r = check({mlp, "--reference", lenet, "--limit", "200", "--runs", "1", "--min-agreement", "100"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("below --min-agreement 100.00%") != std::string::npos);
  }
  SECTION("a gate without what it needs is a usage error") {
    auto r = check({mlp, "--min-accuracy", "50"});
    CHECK(r.exit_code == 2);
    r = check({mlp, "--min-agreement", "50"});
    CHECK(r.exit_code == 2);
    r = check({mlp, "--max-accuracy-drop", "1", "--reference", lenet});  // no data
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--max-accuracy-drop needs --data") != std::string::npos);
    r = check({mlp, "--max-accuracy-drop", "1", "--data", kImages, "--limit", "50", "--runs", "1"});  // no reference
    CHECK(r.exit_code == 2);
    r = check({mlp, "--max-accuracy-drop", "1", "--reference", lenet, "--data", kImages, "--limit", "50", "--runs", "1"});
    CHECK(r.exit_code == 2);  // no labels: refused before any report is printed
    CHECK(r.err.find("--max-accuracy-drop needs labels") != std::string::npos);
    CHECK(r.out.empty());
    std::vector<std::string> neg = {mlp, "--max-accuracy-drop", "-1", "--reference", lenet, "--limit", "50", "--runs", "1"};
    for (const auto& a : data_args()) neg.push_back(a);
    r = check(neg);  // a negative drop would silently turn the gate off
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("expected a number of points >= 0") != std::string::npos);
  }
  SECTION("--max-accuracy-drop: points below the reference's own top-1 on the same data") {
    // lenet5 checked against the MLP on the first 500 test images: the reference's top-1 is reported,
    // and the gate compares the difference, both ways round.
    std::vector<std::string> args = {lenet, "--reference", mlp, "--limit", "500", "--runs", "1", "--json"};
    for (const auto& a : data_args()) args.push_back(a);
    const auto j = check(args);
    REQUIRE(j.exit_code == 0);
    const json doc = json::parse(j.out);
    const double top1 = doc["accuracy"]["top1"].get<double>();
    const double ref_top1 = doc["fidelity"]["reference_top1"].get<double>();
    // The MLP's own top-1 on the same 500 images, checked alone.
    std::vector<std::string> alone = {mlp, "--limit", "500", "--runs", "1", "--json"};
    for (const auto& a : data_args()) alone.push_back(a);
    const auto m = check(alone);
    REQUIRE(m.exit_code == 0);
    CHECK(json::parse(m.out)["accuracy"]["top1"].get<double>() == ref_top1);
    // mlp as the model, lenet5 (the better one here) as the reference: a drop of ref - top1 points.
    std::vector<std::string> g = {mlp, "--reference", lenet, "--limit", "500", "--runs", "1"};
    for (const auto& a : data_args()) g.push_back(a);
    const double drop = top1 - ref_top1;  // lenet5 - mlp on these images
    REQUIRE(drop > 0.5);
    std::vector<std::string> fail = g, pass = g;
    fail.insert(fail.end(), {"--max-accuracy-drop", std::to_string(drop - 0.3)});
    pass.insert(pass.end(), {"--max-accuracy-drop", std::to_string(drop + 0.3)});
    const auto f = check(fail);
    CHECK(f.exit_code == 1);
    CHECK(f.err.find("points below the reference's") != std::string::npos);
    CHECK(f.out.find("reference top-1") != std::string::npos);
    CHECK(check(pass).exit_code == 0);
  }
}

// Several models: every one measured with the same options and data, one table row each (the first is
// the baseline of the "vs first" columns); --json gives {"models": [...]} with the same per-model
// objects as a single check; gates name the model that fails; a bad file among them is exit 2 with
// one line and no table.
TEST_CASE("check: several models side by side, table, JSON, gates, a bad one among them", "[e2e]") {
  const std::string mlp = kExamples + "mlp.onnx", lenet = kExamples + "lenet5.onnx";
  mc::test::TempDir tmp("mc_e2e_check");
  std::vector<std::string> common = {"--limit", "300", "--runs", "3", "--warmup", "1", "--reference", mlp};
  for (const auto& a : data_args()) common.push_back(a);
  std::vector<std::string> args = {mlp, lenet};
  args.insert(args.end(), common.begin(), common.end());
  const auto t = check(args);
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("check, 2 models on the bundled runtime") != std::string::npos);
  CHECK(t.out.find("| " + mlp + " | ") != std::string::npos);
  CHECK(t.out.find("| " + lenet + " | ") != std::string::npos);
  CHECK(t.out.find("agreement %") != std::string::npos);

  std::vector<std::string> jargs = args;
  jargs.push_back("--json");
  const auto j = check(jargs);
  REQUIRE(j.exit_code == 0);
  const json doc = json::parse(j.out);
  REQUIRE(doc["models"].size() == 2);
  CHECK(doc["models"][0]["model"] == mlp);
  CHECK(doc["models"][1]["model"] == lenet);
  CHECK(doc["models"][0]["fidelity"]["agreement"].get<double>() == 100.0);
  CHECK(doc["models"][1]["accuracy"]["samples"] == 300);
  // The same figures as checking the model alone (deterministic: same data, same order).
  std::vector<std::string> one = {lenet, "--json"};
  one.insert(one.end(), common.begin(), common.end());
  const auto s = check(one);
  REQUIRE(s.exit_code == 0);
  const json single = json::parse(s.out);
  CHECK(single["accuracy"] == doc["models"][1]["accuracy"]);
  CHECK(single["fidelity"]["agreement"] == doc["models"][1]["fidelity"]["agreement"]);
  CHECK(single["size"] == doc["models"][1]["size"]);

  std::vector<std::string> gate = args;
  gate.insert(gate.end(), {"--min-agreement", "99.9"});
  const auto g = check(gate);
  CHECK(g.exit_code == 1);
  CHECK(g.err.find("mcompress: check failed: " + lenet + ": top-1 agreement") != std::string::npos);
  CHECK(g.err.find("check failed: " + mlp) == std::string::npos);

  const std::string missing = (tmp.path / "nope.mcrt").string();
  std::vector<std::string> bad = {mlp, missing};
  bad.insert(bad.end(), common.begin(), common.end());
  const auto b = check(bad);
  CHECK(b.exit_code == 2);
  CHECK(std::count(b.err.begin(), b.err.end(), '\n') == 1);
  CHECK(b.err.find("nope.mcrt") != std::string::npos);
  CHECK(b.out.empty());
}
