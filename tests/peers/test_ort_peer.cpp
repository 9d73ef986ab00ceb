// mc_ort_peer end to end: the bundled LeNet-5 in ONNX Runtime on the first Fashion-MNIST
// test images (read and normalised by mc_data), output dtype/shape, agreement with the
// labels, batch-size independence, and the error path.
#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>

#include "compress/data/dataset.h"
#include "tests/support/ort_peer.h"

namespace {
const std::string kModel = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/lenet5.onnx";

mcrt::NpyArray to_npy(const mc::data::Batch& b) {
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = b.shape;
  a.bytes.resize(b.size * 784 * sizeof(float));
  std::memcpy(a.bytes.data(), b.data, a.bytes.size());
  return a;
}
}  // namespace

TEST_CASE("ort peer: LeNet-5 on Fashion-MNIST test images", "[peer]") {
  REQUIRE(mc::test::ort_available());  // scripts/setup.sh installs it
  mc::data::DatasetOptions o;
  o.data_path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  o.labels_path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  o.mean = 0.2860f;
  o.std = 0.3530f;
  o.max_samples = 64;
  const mc::data::Dataset ds = mc::data::load_dataset(o, {-1, 1, 28, 28});

  auto out = mc::test::run_in_ort(kModel, {{"input", to_npy(ds.batch(0, 64))}});
  REQUIRE(out.count("logits") == 1);
  const mcrt::NpyArray& logits = out["logits"];
  CHECK(logits.dtype == mcrt::NpyDtype::kF32);
  REQUIRE(logits.shape == std::vector<int64_t>{64, 10});
  std::vector<float> l(640);
  std::memcpy(l.data(), logits.bytes.data(), l.size() * sizeof(float));
  int correct = 0;
  std::vector<int> pred(64);
  for (int i = 0; i < 64; ++i) {
    int best = 0;
    for (int k = 1; k < 10; ++k)
      if (l[i * 10 + k] > l[i * 10 + best]) best = k;
    pred[i] = best;
    correct += best == ds.labels()[i];
  }
  CHECK(correct >= 52);  // the model is ~91% accurate on the full test set

  // Dynamic batch: sample 5 alone gives the same logits (to float tolerance).
  auto one = mc::test::run_in_ort(kModel, {{"input", to_npy(ds.batch(5, 1))}});
  std::vector<float> l5(10);
  std::memcpy(l5.data(), one["logits"].bytes.data(), 40);
  for (int k = 0; k < 10; ++k) CHECK(l5[k] == Approx(l[50 + k]).margin(1e-4));
}

TEST_CASE("ort peer: bad input name is reported", "[peer]") {
  REQUIRE(mc::test::ort_available());
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = {1, 1, 28, 28};
  a.bytes.resize(784 * 4);
  try {
    mc::test::run_in_ort(kModel, {{"wrong", a}});
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("exit 2") != std::string::npos);
    CHECK(std::string(e.what()).find("model has no input 'wrong'") != std::string::npos);
  }
}
