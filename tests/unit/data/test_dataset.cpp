// mc_data dataset loader: Fashion-MNIST IDX into [N,1,28,28] normalised floats with
// golden values (numpy), shaping rules, layouts, and mismatches naming the file.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "compress/data/dataset.h"
#include "compress/error.h"
#include "runtime-check/npy/npy.h"
#include "tests/support/input_error.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/data/numpy_npz_golden.h"

using mc::data::DataLayout;
using mc::data::Dataset;
using mc::data::DatasetOptions;
using mc::data::load_dataset;

namespace {

const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

std::string tmp(const std::string& name) { return std::string(MC_BINARY_DIR) + "/test_dataset_" + name; }

template <typename T>
std::string write_npy(const std::string& name, mcrt::NpyDtype dt, std::vector<int64_t> shape, const std::vector<T>& v) {
  mcrt::NpyArray a;
  a.dtype = dt;
  a.shape = std::move(shape);
  a.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  const std::string path = tmp(name);
  REQUIRE(mcrt::npy_write_file(path, a).ok());
  return path;
}

// The Fashion-MNIST test set with its labels, normalised as the examples are.
DatasetOptions fashion_test_set() {
  DatasetOptions o;
  o.data_path = kImages;
  o.labels_path = kLabels;
  o.mean = 0.2860f;
  o.std = 0.3530f;
  return o;
}

std::string error_of(const DatasetOptions& o, const std::vector<int64_t>& shape) {
  return mc::test::input_error([&] { load_dataset(o, shape); });
}

}  // namespace

TEST_CASE("dataset: Fashion-MNIST IDX -> [N,1,28,28] normalised, int64 labels", "[dataset]") {
  DatasetOptions o = fashion_test_set();
  const Dataset ds = load_dataset(o, {-1, 1, 28, 28});
  REQUIRE(ds.num_samples() == 10000);
  CHECK(ds.sample_shape() == std::vector<int64_t>{1, 28, 28});
  REQUIRE(ds.has_labels());
  CHECK(ds.labels()[0] == 9);
  CHECK(ds.labels()[9999] == 5);
  // pixel [0,14,14] of image 0 is 110: (110/255 - 0.286) / 0.353 = 0.41182025 (numpy, float64)
  CHECK(ds.data()[14 * 28 + 14] == Approx(0.41182025).epsilon(1e-6));
  CHECK(ds.data()[0] == Approx(-0.2860 / 0.3530).epsilon(1e-6));
  double sum0 = 0;
  for (int i = 0; i < 784; ++i) sum0 += ds.data()[i];
  // sum of image 0 pixels is 33456: sum((p/255 - m)/s) = (33456/255 - 784 m) / s
  CHECK(sum0 == Approx((33456 / 255.0 - 784 * 0.2860) / 0.3530).epsilon(1e-5));

  const mc::data::Batch b = ds.batch(9990, 32);
  CHECK(b.size == 10);
  CHECK(b.shape == std::vector<int64_t>{10, 1, 28, 28});
  CHECK(b.data == ds.data().data() + 9990 * 784);
  CHECK(b.labels[9] == 5);
  CHECK(ds.batch(10000, 4).size == 0);
}

TEST_CASE("dataset: shaping rules", "[dataset]") {
  DatasetOptions o;
  o.data_path = kImages;
  o.max_samples = 3;
  SECTION("flattened model input") {
    const Dataset ds = load_dataset(o, {1, 784});
    CHECK(ds.sample_shape() == std::vector<int64_t>{784});
    CHECK(ds.num_samples() == 3);
    CHECK(!ds.has_labels());
    CHECK(ds.data()[14 * 28 + 14] == Approx(110 / 255.0));
  }
  SECTION("channels-last model input") {
    CHECK(load_dataset(o, {-1, 28, 28, 1}).sample_shape() == std::vector<int64_t>{28, 28, 1});
  }
  SECTION("wrong channel count") {
    CHECK(error_of(o, {-1, 3, 28, 28}) == kImages +
                                              ": expected samples of shape [3,28,28] (model input [N,3,28,28], data "
                                              "layout nchw), got [28,28] uint8");
  }
  SECTION("wrong size") {
    CHECK(error_of(o, {-1, 1, 32, 32}).find("expected samples of shape [1,32,32]") != std::string::npos);
  }
}

TEST_CASE("dataset: NHWC data transposed for an NCHW model and back", "[dataset]") {
  // H=2, W=3, C=2: value = (h*3 + w)*2 + c
  std::vector<float> hwc(12);
  for (int i = 0; i < 12; ++i) hwc[i] = float(i);
  DatasetOptions o;
  o.data_path = write_npy("hwc.npy", mcrt::NpyDtype::kF32, {1, 2, 3, 2}, hwc);
  o.layout = DataLayout::kNHWC;
  const Dataset ds = load_dataset(o, {-1, 2, 2, 3});
  REQUIRE(ds.sample_shape() == std::vector<int64_t>{2, 2, 3});
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 3; ++w) CHECK(ds.data()[(c * 2 + h) * 3 + w] == float((h * 3 + w) * 2 + c));
  // same file, model wants HWC: used as is
  CHECK(load_dataset(o, {-1, 2, 3, 2}).data() == hwc);
  // CHW data (C=2,H=2,W=3) for an HWC model
  DatasetOptions p;
  p.data_path = o.data_path;  // reinterpreted: shape [2,3,2] read as C=2, H=3, W=2
  p.layout = DataLayout::kNCHW;
  const Dataset t = load_dataset(p, {-1, 3, 2, 2});
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 2; ++w)
      for (int c = 0; c < 2; ++c) CHECK(t.data()[(h * 2 + w) * 2 + c] == float((c * 3 + h) * 2 + w));
  CHECK_THROWS_AS(mc::data::parse_layout("nwhc"), mc::Error);
  CHECK(mc::data::parse_layout("nhwc") == DataLayout::kNHWC);
}

TEST_CASE("dataset: labels from .npy, and their mismatches", "[dataset][loader]") {
  DatasetOptions o;
  o.data_path = write_npy("x.npy", mcrt::NpyDtype::kF32, {4, 2}, std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  o.labels_path = write_npy("y.npy", mcrt::NpyDtype::kI32, {4}, std::vector<int32_t>{3, 0, 2, 1});
  o.mean = 1.0f;
  o.std = 2.0f;
  const Dataset ds = load_dataset(o, {-1, 2});
  CHECK(ds.labels() == std::vector<int64_t>{3, 0, 2, 1});
  CHECK(ds.data()[7] == 3.0f);  // float data is not rescaled: (7 - 1) / 2

  o.labels_path = write_npy("y3.npy", mcrt::NpyDtype::kI64, {3}, std::vector<int64_t>{1, 2, 3});
  CHECK(error_of(o, {-1, 2}) == o.labels_path + ": expected 4 labels (one per sample of " + o.data_path + "), got 3");
  o.labels_path = write_npy("yf.npy", mcrt::NpyDtype::kF32, {4}, std::vector<float>{1, 2, 3, 4});
  CHECK(error_of(o, {-1, 2}) == o.labels_path + ": expected integer labels, got float32");
  o.labels_path = kImages;
  CHECK(error_of(o, {-1, 2}) == kImages + ": expected labels of shape [N] or [N,1], got [10000,28,28]");
  o.labels_path = "";
  o.std = 0.0f;
  CHECK(error_of(o, {-1, 2}) == "--std must be > 0");
}

TEST_CASE("dataset: an .npz carries data x and labels y", "[dataset]") {
  DatasetOptions o;
  o.data_path = tmp("xy.npz");
  std::FILE* f = std::fopen(o.data_path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(std::fwrite(mc::data::test::kNpzDeflate, 1, sizeof mc::data::test::kNpzDeflate, f) ==
          sizeof mc::data::test::kNpzDeflate);
  std::fclose(f);
  const Dataset ds = load_dataset(o, {-1, 3});
  CHECK(ds.num_samples() == 2);
  CHECK(ds.data() == std::vector<float>{0, 1.5f, -2, 3, 4, 5});
  CHECK(ds.labels() == std::vector<int64_t>{7, -1});
  // --labels overrides the member; its count must match
  o.labels_path = write_npy("y1.npy", mcrt::NpyDtype::kU8, {1}, std::vector<uint8_t>{4});
  CHECK(error_of(o, {-1, 3}) == o.labels_path + ": expected 2 labels (one per sample of " + o.data_path + "), got 1");
}

TEST_CASE("dataset: corrupt data files surface the reader's error", "[dataset][loader]") {
  DatasetOptions o;
  o.data_path = tmp("bad.npy");
  std::FILE* f = std::fopen(o.data_path.c_str(), "wb");
  REQUIRE(f);
  const char bad[] = "\x93NUMPY\x01\x00\x10\x00{'descr': '|O'}";
  std::fwrite(bad, 1, sizeof bad - 1, f);
  std::fclose(f);
  CHECK(error_of(o, {-1, 2}).find(o.data_path + ": ") == 0);
  o.data_path = tmp("missing.npy");
  CHECK(error_of(o, {-1, 2}).find("cannot open") != std::string::npos);
}

TEST_CASE("dataset: --limit N reads the first N samples and labels of an IDX file, equal to a whole read's", "[dataset]") {
  DatasetOptions o = fashion_test_set();
  const Dataset all = load_dataset(o, {-1, 1, 28, 28});
  for (uint64_t n : {1u, 1000u, 10000u, 20000u}) {
    INFO("max_samples " << n);
    o.max_samples = n;
    const Dataset ds = load_dataset(o, {-1, 1, 28, 28});
    const size_t k = std::min<size_t>(n, 10000);
    REQUIRE(ds.num_samples() == k);
    CHECK(ds.sample_shape() == all.sample_shape());
    CHECK(ds.data() == std::vector<float>(all.data().begin(), all.data().begin() + k * 784));
    CHECK(ds.labels() == std::vector<int64_t>(all.labels().begin(), all.labels().begin() + k));
  }
}

TEST_CASE("dataset: with --limit, label files are still checked against the data file's declared count", "[dataset][loader]") {
  DatasetOptions o;
  o.data_path = kImages;
  o.max_samples = 10;
  o.labels_path = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  CHECK(error_of(o, {-1, 1, 28, 28}) ==
        o.labels_path + ": expected 10000 labels (one per sample of " + kImages + "), got 60000");
  o.labels_path = kImages;
  CHECK(error_of(o, {-1, 1, 28, 28}) == kImages + ": expected labels of shape [N] or [N,1], got [10000,28,28]");
}

TEST_CASE("dataset: an IDX .gz cut short loads its first samples; a read that reaches the cut names the file", "[dataset][loader]") {
  mc::test::TempDir dir("mc_dataset_cut");
  std::ifstream in(kImages, std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(gz.size() > 1000000);
  const std::string cut = (dir.path / "cut.gz").string();
  std::ofstream(cut, std::ios::binary).write(gz.data(), static_cast<std::streamsize>(gz.size() / 2));
  DatasetOptions o;
  o.data_path = kImages;
  o.max_samples = 200;
  const Dataset ref = load_dataset(o, {-1, 1, 28, 28});
  o.data_path = cut;
  const Dataset ds = load_dataset(o, {-1, 1, 28, 28});
  CHECK(ds.num_samples() == 200);
  CHECK(ds.data() == ref.data());
  o.max_samples = 0;
  CHECK(error_of(o, {-1, 1, 28, 28}) == cut + ": truncated gzip stream");
}
