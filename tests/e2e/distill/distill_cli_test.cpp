// `mcompress finetune` / `distill` and TorchScript MODEL arguments, end to end on small
// Fashion-MNIST subsets (--limit). Bad input: exit 2, one line on stderr, no output.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <cmath>
#include <future>
#include <nlohmann/json.hpp>

#include "compress/onnx/onnx_import.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kFx = std::string(MC_DISTILL_FIXTURES) + "/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";
const std::vector<std::string> kTrain = {"--data", kData + "train-images-idx3-ubyte.gz", "--labels",
                                         kData + "train-labels-idx1-ubyte.gz", "--mean", "0.286", "--std", "0.353"};

mc::test::ProcessResult run(std::vector<std::string> args) {
  args.insert(args.begin(), MC_BIN);
  return mc::test::run_process(args, 300);
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void expect_bad_input(const std::vector<std::string>& args, const std::string& needle, const fs::path& out) {
  const auto r = run(args);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(!fs::exists(out));
}

// A TCP port that was free a moment ago (bound to port 0, then closed).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

double max_weight_diff(const fs::path& a, const fs::path& b) {
  const mc::Model ma = mc::import_onnx_file(a.string()), mb = mc::import_onnx_file(b.string());
  REQUIRE(ma.graph.initializers.size() == mb.graph.initializers.size());
  double d = 0;
  for (size_t i = 0; i < ma.graph.initializers.size(); ++i) {
    const auto& ta = ma.graph.initializers[i];
    const auto& tb = mb.graph.initializers[i];
    REQUIRE(ta.numel() == tb.numel());
    for (uint64_t k = 0; k < ta.numel(); ++k) d = std::max(d, std::fabs(ta.get_f64(k) - tb.get_f64(k)));
  }
  return d;
}

}  // namespace

TEST_CASE("distill over c10d: 2 processes on loopback give the single-process weights", "[e2e][distill][c10d]") {
  mc::test::TempDir d("mc_e2e_distill");
  const fs::path single = d.path / "single.onnx", r0 = d.path / "r0.onnx", r1 = d.path / "r1.onnx";
  const std::vector<std::string> common = cat({"distill", "--teacher", kExamples + "lenet5.onnx", "--student",
                                               kFx + "student.onnx", "--limit", "640", "--epochs", "2", "--batch-size",
                                               "64", "--seed", "9", "--lr", "0.05"},
                                              kTrain);
  const auto s = run(cat(common, {"-o", single.string()}));
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  const std::string port = std::to_string(free_port());
  const auto t0 = std::chrono::steady_clock::now();
  auto rank = [&](int r, const fs::path& out) {
    auto args = cat(common, {"--world-size", "2", "--rank", std::to_string(r), "--master-port", port,
                             "--dist-timeout", "60", "-o", out.string()});
    args.insert(args.begin(), MC_BIN);
    return mc::test::run_process(args, 180);  // the bound: killed (and failed) past it
  };
  auto f1 = std::async(std::launch::async, rank, 1, r1);
  const auto p0 = rank(0, r0);
  const auto p1 = f1.get();
  INFO(p0.err);
  INFO(p1.err);
  CHECK(!p0.timed_out);
  CHECK(!p1.timed_out);
  REQUIRE(p0.exit_code == 0);
  REQUIRE(p1.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(180));
  CHECK(!fs::exists(r1));  // only rank 0 writes
  CHECK(max_weight_diff(r0, single) <= 1e-5);
  CHECK(p1.out.find("rank 1 done") != std::string::npos);
}

TEST_CASE("c10d: an unreachable master is exit 2 after the timeout", "[e2e][distill][c10d]") {
  mc::test::TempDir d("mc_e2e_distill");
  const fs::path out = d.path / "o.onnx";
  const auto t0 = std::chrono::steady_clock::now();
  expect_bad_input(cat({"finetune", kFx + "student.onnx", "--limit", "64", "--world-size", "2", "--rank", "1",
                        "--master-port", std::to_string(free_port()), "--dist-timeout", "2", "-o", out.string()},
                       kTrain),
                   "could not reach 127.0.0.1", out);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
  expect_bad_input(cat({"finetune", kFx + "student.onnx", "--world-size", "2", "--rank", "2", "-o", out.string()}, kTrain),
                   "--rank", out);
}

TEST_CASE("finetune: a pruned MLP trains on 512 samples, zeros stay, JSON reports the epochs", "[e2e][distill]") {
  mc::test::TempDir d("mc_e2e_distill");
  const fs::path pruned = d.path / "mlp80.onnx", out = d.path / "mlp80ft.onnx";
  REQUIRE(run({"prune", kExamples + "mlp.onnx", "--ratio", "0.8", "-o", pruned.string()}).exit_code == 0);
  const auto r = run(cat({"finetune", pruned.string(), "--epochs", "2", "--limit", "512", "--json", "-o", out.string()},
                         kTrain));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["epochs"].size() == 2);
  CHECK(j["after"]["nonzero_params"] == j["before"]["nonzero_params"]);
  CHECK(j["masked"].get<uint64_t>() > 200000);
  CHECK(r.err.find("epoch 2/2: loss") != std::string::npos);
  const mc::Model m = mc::import_onnx_file(out.string());
  CHECK(m.graph.initializers.size() == 6);
}

TEST_CASE("finetune and distill take TorchScript models", "[e2e][distill]") {
  mc::test::TempDir d("mc_e2e_distill");
  const fs::path out = d.path / "lenet_ft.onnx", kd = d.path / "student_kd.onnx";
  auto r = run(cat({"finetune", kFx + "lenet5.pt", "--limit", "256", "-o", out.string()}, kTrain));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("epoch 1/1: loss") != std::string::npos);
  CHECK(r.out.find("finetune: params 61,706") != std::string::npos);
  r = run(cat({"distill", "--teacher", kFx + "resnet.pt", "--student", kFx + "student.onnx", "--limit", "256",
               "--temperature", "4", "--alpha", "0.7", "-o", kd.string()},
              kTrain));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(kd));
}

TEST_CASE("finetune/distill bad input: exit 2 and one line", "[e2e][distill]") {
  mc::test::TempDir d("mc_e2e_distill");
  const fs::path out = d.path / "o.onnx";
  const std::string imgs = kData + "train-images-idx3-ubyte.gz";
  expect_bad_input({"finetune", kFx + "student.onnx", "--data", imgs, "--limit", "64", "-o", out.string()}, "labels",
                   out);
  expect_bad_input({"distill", "--teacher", kExamples + "lenet5.onnx", "--student", kFx + "student.onnx", "--data", imgs,
                    "--limit", "64", "-o", out.string()},
                   "labels", out);
  expect_bad_input(cat({"finetune", kFx + "student.onnx", "--optimizer", "lbfgs", "-o", out.string()}, kTrain),
                   "--optimizer", out);
  expect_bad_input(cat({"finetune", kFx + "student.onnx", "--resume", "-o", out.string()}, kTrain), "--checkpoint", out);
  expect_bad_input(cat({"finetune", kFx + "unsupported.pt", "--limit", "64", "-o", out.string()}, kTrain), "aten::cumsum",
                   out);
  const fs::path corrupt = d.path / "corrupt.pt";
  {
    std::ofstream f(corrupt);
    f << "PK not really a zip";
  }
  expect_bad_input({"inspect", corrupt.string()}, "not a readable TorchScript archive", out);
  expect_bad_input(cat({"finetune", kFx + "student.onnx", "-o", kFx + "student.onnx"}, kTrain), "is the input model", out);
}

TEST_CASE("--input-shape serves every verb for a TorchScript archive without input_shapes", "[e2e][distill]") {
  mc::test::TempDir d("mc_e2e_distill");
  const std::string pt = kFx + "noshape.pt";
  const std::vector<std::string> test = {"--data", kData + "t10k-images-idx3-ubyte.gz", "--labels",
                                         kData + "t10k-labels-idx1-ubyte.gz", "--limit", "64", "--runs", "1",
                                         "--warmup", "0"};
  // Without it: exit 2 and the hint.
  const fs::path out = d.path / "noshape.mcrt";
  expect_bad_input({"export", pt, "--format", "runtime", "-o", out.string()}, "pass --input-shape x=", out);
  // After the verb (falls through to the global option) and before it: the archive loads.
  const auto e = run({"export", pt, "--input-shape", "x=-1,1,28,28", "--format", "runtime", "-o", out.string()});
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(fs::file_size(out) > 0);
  const auto c = run(cat({"--json", "--input-shape", "x=-1,1,28,28", "check", pt}, test));
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  const json j = json::parse(c.out);
  CHECK(j["accuracy"]["samples"].get<int>() == 64);
  // The runtime file exported with the shape and the archive checked with it give the same accuracy.
  const auto c2 = run(cat({"--json", "check", out.string()}, test));
  REQUIRE(c2.exit_code == 0);
  CHECK(json::parse(c2.out)["accuracy"]["top1"] == j["accuracy"]["top1"]);
  // A malformed spec is exit 2 naming it.
  const fs::path bad = d.path / "bad.mcrt";
  expect_bad_input({"export", pt, "--input-shape", "x=-1,1,28,", "--format", "runtime", "-o", bad.string()},
                   "--input-shape 'x=-1,1,28,': trailing comma", bad);
  expect_bad_input({"export", pt, "--input-shape", "x=1,a", "--format", "runtime", "-o", bad.string()},
                   "'a' is not an integer", bad);
}
