// The first n Fashion-MNIST test images (t10k, from the Debian dataset package), normalised as the
// examples are, (x/255 - 0.2860)/0.3530, by the product's dataset loader: a [n,1,28,28] float32 array.
// Header-only, for Catch2 tests linked with mc_data.
#pragma once
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "compress/data/dataset.h"
#include "runtime-check/npy/npy.h"

namespace mc::test {

inline const std::string kFashionMnistDir = "/usr/share/datasets/fashion-mnist/";

inline mcrt::NpyArray fashion_mnist_test_images(size_t n) {
  mc::data::DatasetOptions o;
  o.data_path = kFashionMnistDir + "t10k-images-idx3-ubyte.gz";
  o.mean = 0.2860f;
  o.std = 0.3530f;
  o.max_samples = n;
  const mc::data::Dataset ds = mc::data::load_dataset(o, {-1, 1, 28, 28});
  REQUIRE(ds.num_samples() == n);
  mcrt::NpyArray a;
  a.dtype = mcrt::NpyDtype::kF32;
  a.shape = {static_cast<int64_t>(n), 1, 28, 28};
  a.bytes.resize(ds.data().size() * 4);
  std::memcpy(a.bytes.data(), ds.data().data(), a.bytes.size());
  return a;
}

// The values of a float32 array.
inline std::vector<float> npy_floats(const mcrt::NpyArray& a) {
  REQUIRE(a.dtype == mcrt::NpyDtype::kF32);
  std::vector<float> v(a.bytes.size() / 4);
  std::memcpy(v.data(), a.bytes.data(), a.bytes.size());
  return v;
}

}  // namespace mc::test
