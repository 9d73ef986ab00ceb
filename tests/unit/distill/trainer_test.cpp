// The trainers on small Fashion-MNIST subsets: masks keep pruned weights (and N:M
// groups) at zero, factors train, the same seed gives the same bits, resume continues
// exactly, distillation moves the student towards the teacher, bad input is exit 2.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>

#include "compress/error.h"
#include "compress/lowrank/lowrank.h"
#include "compress/onnx/onnx_import.h"
#include "distill/ir_on_libtorch.h"
#include "distill/trainer.h"
#include "prune/prune_options.h"
#include "tests/support/input_error.h"

namespace {

const std::string kFx = std::string(MC_DISTILL_FIXTURES) + "/";
const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";

mc::data::Dataset load(uint64_t n, bool labels = true, const std::string& split = "train") {
  mc::data::DatasetOptions o;
  o.data_path = kData + split + "-images-idx3-ubyte.gz";
  if (labels) o.labels_path = kData + split + "-labels-idx1-ubyte.gz";
  o.mean = 0.286f;
  o.std = 0.353f;
  o.max_samples = n;
  return mc::data::load_dataset(o, {-1, 1, 28, 28});
}

mc::distill::TrainOptions small_opts(int epochs = 1) {
  mc::distill::TrainOptions o;
  o.epochs = epochs;
  o.lr = 0.01;
  o.batch_size = 64;
  o.seed = 5;
  return o;
}

std::vector<uint8_t> all_bytes(const mc::Model& m) {
  std::vector<uint8_t> b;
  for (const auto& t : m.graph.initializers) b.insert(b.end(), t.data.begin(), t.data.end());
  return b;
}

// Argmax of the model on the first n test images.
std::vector<int> predictions(const mc::Model& m, const mc::data::Dataset& d) {
  const size_t n = d.num_samples();
  std::vector<int64_t> s;
  const auto y = mc::distill::run_ir_on_libtorch(m, {static_cast<int64_t>(n), 1, 28, 28}, d.data(), &s);
  std::vector<int> p(n);
  for (size_t i = 0; i < n; ++i) {
    const float* r = y.data() + i * 10;
    p[i] = static_cast<int>(std::max_element(r, r + 10) - r);
  }
  return p;
}

}  // namespace

TEST_CASE("finetune keeps unstructured-pruned weights at zero and trains the rest", "[distill][train]") {
  mc::Model m = mc::import_onnx_file(kExamples + "mlp.onnx");
  mc::prune::PruneOptions po;
  po.ratio = 0.8;
  mc::prune::prune_model(m, po);
  const mc::Model pruned = m;
  mc::distill::TrainReport r;
  mc::distill::finetune(m, load(512), small_opts(), &r);
  CHECK(r.masked > 200000);
  uint64_t zeros_kept = 0, zeros_before = 0, changed = 0;
  for (const auto& t : pruned.graph.initializers) {
    if (t.dims.size() != 2) continue;
    const mc::Tensor* after = m.graph.initializer(t.name);
    for (uint64_t i = 0; i < t.numel(); ++i) {
      const float b = t.as<float>()[i], a = after->as<float>()[i];
      if (b == 0.f) {
        ++zeros_before;
        zeros_kept += a == 0.f;
      } else {
        changed += a != b;
      }
    }
  }
  CHECK(zeros_before == r.masked);
  CHECK(zeros_kept == zeros_before);
  CHECK(changed > 50000);
}

TEST_CASE("finetune keeps 2:4 sparsity 2:4", "[distill][train]") {
  mc::Model m = mc::import_onnx_file(kExamples + "mlp.onnx");
  mc::prune::PruneOptions po;
  po.granularity = mc::prune::Granularity::NM;
  po.n = 2;
  po.m = 4;
  po.ratio = 0.5;
  mc::prune::prune_model(m, po);
  mc::distill::TrainReport r;
  mc::distill::finetune(m, load(256), small_opts(), &r);
  for (const char* name : {"fc1.weight", "fc2.weight"}) {
    const mc::Tensor* t = m.graph.initializer(name);
    REQUIRE(t);
    const int64_t cols = t->dims[1];
    for (int64_t row = 0; row < t->dims[0]; ++row)
      for (int64_t g = 0; g + 4 <= cols; g += 4) {
        int nz = 0;
        for (int k = 0; k < 4; ++k) nz += t->as<float>()[row * cols + g + k] != 0.f;
        REQUIRE(nz <= 2);
      }
  }
}

TEST_CASE("a factorized layer trains as its two factors", "[distill][train]") {
  mc::Model m = mc::import_onnx_file(kExamples + "mlp.onnx");
  mc::LowRankOptions lo;
  lo.rank_ratio = 0.25;
  mc::factorize_low_rank(m, lo);
  const mc::Model before = m;
  mc::distill::TrainReport r;
  mc::distill::finetune(m, load(256), small_opts(), &r);
  CHECK(m.graph.nodes.size() == before.graph.nodes.size());
  int changed_matrices = 0;
  for (const auto& t : before.graph.initializers)
    if (t.dims.size() == 2 && t.data != m.graph.initializer(t.name)->data) ++changed_matrices;
  CHECK(changed_matrices >= 4);  // at least two layers' two factors each
}

TEST_CASE("the same seed gives bit-identical weights; another seed does not", "[distill][train]") {
  const mc::Model m0 = mc::import_onnx_file(kFx + "student.onnx");
  const auto d = load(512);
  mc::Model a = m0, b = m0, c = m0;
  mc::distill::TrainReport r;
  auto o = small_opts();
  o.optimizer = mc::distill::Optimizer::kAdam;
  o.lr = 0.003;
  mc::distill::finetune(a, d, o, &r);
  mc::distill::finetune(b, d, o, &r);
  o.seed = 6;
  mc::distill::finetune(c, d, o, &r);
  CHECK(all_bytes(a) == all_bytes(b));
  CHECK(all_bytes(a) != all_bytes(c));
  CHECK(all_bytes(a) != all_bytes(m0));
}

TEST_CASE("resume from the epoch-1 checkpoint gives the weights of 2 epochs straight", "[distill][train]") {
  const mc::Model m0 = mc::import_onnx_file(kFx + "student.onnx");
  const auto d = load(384);
  const std::string ck = std::string(MC_BINARY_DIR) + "/distill_resume_test.ckpt";
  std::remove(ck.c_str());
  for (auto opt : {mc::distill::Optimizer::kSgd, mc::distill::Optimizer::kAdam}) {
    mc::Model straight = m0, first = m0;
    auto o = small_opts(2);
    o.optimizer = opt;
    mc::distill::TrainReport r1, r2, r3;
    mc::distill::finetune(straight, d, o, &r1);
    // One epoch of a 2-epoch run, then stop: the checkpoint is written after epoch 1.
    o.checkpoint = ck;
    o.on_epoch = [](const mc::distill::EpochReport& e) {
      if (e.epoch == 1) throw std::runtime_error("stop");
    };
    CHECK_THROWS_AS(mc::distill::finetune(first, d, o, &r2), std::runtime_error);
    o.on_epoch = nullptr;
    o.resume = true;
    mc::Model resumed = m0;
    mc::distill::finetune(resumed, d, o, &r3);
    CHECK(r3.first_epoch == 2);
    CHECK(r3.epochs.size() == 1);
    CHECK(all_bytes(resumed) == all_bytes(straight));
    // A checkpoint of other options is refused.
    o.lr = 0.02;
    mc::Model other = m0;
    CHECK(mc::test::input_error([&] { mc::distill::finetune(other, d, o, &r3); }).find("other training options") !=
          std::string::npos);
    std::remove(ck.c_str());
  }
  std::ofstream(ck) << "not a checkpoint";
  auto o = small_opts();
  o.checkpoint = ck;
  o.resume = true;
  mc::Model m = m0;
  mc::distill::TrainReport r;
  CHECK(mc::test::input_error([&] { mc::distill::finetune(m, d, o, &r); }).find("checkpoint") != std::string::npos);
  std::remove(ck.c_str());
}

TEST_CASE("finetune lowers the loss of an untrained student", "[distill][train]") {
  mc::Model m = mc::import_onnx_file(kFx + "student.onnx");
  mc::distill::TrainReport r;
  auto o = small_opts(3);
  o.lr = 0.05;
  mc::distill::finetune(m, load(1024), o, &r);
  REQUIRE(r.epochs.size() == 3);
  CHECK(r.epochs[2].loss < r.epochs[0].loss);
  CHECK(r.epochs[2].accuracy > 0.6);
}

TEST_CASE("finetune without labels is an Input error", "[distill][train]") {
  mc::Model m = mc::import_onnx_file(kFx + "student.onnx");
  mc::distill::TrainReport r;
  CHECK(mc::test::input_error([&] { mc::distill::finetune(m, load(64, false), small_opts(), &r); }).find("labels") !=
        std::string::npos);
}

TEST_CASE("distill moves the student towards the teacher's predictions", "[distill][train]") {
  const mc::Model teacher = mc::import_onnx_file(kExamples + "lenet5.onnx");
  const mc::Model s0 = mc::import_onnx_file(kFx + "student.onnx");
  const auto test = load(500, true, "t10k");
  const auto agree = [&](const mc::Model& s) {
    const auto a = predictions(s, test), b = predictions(teacher, test);
    int n = 0;
    for (size_t i = 0; i < a.size(); ++i) n += a[i] == b[i];
    return n;
  };
  mc::Model s = s0;
  mc::distill::TrainReport r;
  mc::distill::DistillOptions d;
  auto o = small_opts(2);
  o.lr = 0.05;
  // Soft targets only: the data has no labels.
  d.alpha = 1.0;
  mc::distill::distill(s, teacher, load(1024, false), o, d, &r);
  CHECK(agree(s) > agree(s0) + 150);
  CHECK(r.epochs.back().accuracy > 0.5);  // agreement with the teacher on the training batches
}

TEST_CASE("distill: incompatible outputs and missing labels are Input errors", "[distill][train]") {
  const mc::Model teacher = mc::import_onnx_file(kExamples + "lenet5.onnx");
  mc::Model s = mc::import_onnx_file(kFx + "student.onnx");
  mc::distill::TrainReport r;
  mc::distill::DistillOptions d;
  const auto e1 = mc::test::input_error([&] { mc::distill::distill(s, teacher, load(64, false), small_opts(), d, &r); });
  CHECK(e1.find("labels") != std::string::npos);
  // A student with 5 outputs: drop half of fc2.
  mc::Model five = s;
  for (auto& t : five.graph.initializers) {
    if (t.name == "fc2.weight" || t.name == "fc2.bias") {
      const uint64_t keep = t.numel() / 2;
      t.dims[0] = 5;
      t.data.resize(keep * 4);
    }
  }
  const auto e2 = mc::test::input_error([&] { mc::distill::distill(five, teacher, load(64), small_opts(), d, &r); });
  CHECK(e2.find("differ") != std::string::npos);
}
