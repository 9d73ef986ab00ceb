// int8 sparse kernels end to end: `mcompress prune examples/fashion-mnist/mlp.onnx --ratio 0.9` then
// `mcompress quantize --mode static --format runtime` (Fashion-MNIST calibration); the runtime file is
// prepared with the dense int8 kernels (SparsePolicy::kDense), with the int8 sparse kernels forced
// (kSparse) and by the cost model, at batch 1 and 8, 1 and 2 threads: the logits are the same bytes,
// and the QLinearMatMul steps name the kernel they run and why. The file stores those int8 weights
// sparse.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "tests/support/run_process.h"
#include "tests/support/runtime_run.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

const std::string kExamples = std::string(MC_SOURCE_DIR) + "/examples/fashion-mnist/";
const std::string kData = "/usr/share/datasets/fashion-mnist/";

using mc::test::count_containing;
using mc::test::RuntimeRun;

RuntimeRun run(const std::string& bytes, mcrt::SparsePolicy policy, int batch, int threads) {
  mcrt::PrepareOptions po;
  po.batch = batch;
  po.sparse = policy;
  return mc::test::run_runtime(bytes, po, threads);
}

}  // namespace

TEST_CASE("pruned 90% + static int8 LeNet-300-100: int8 sparse kernels give the dense bytes", "[e2e][sparse]") {
  mc::test::TempDir d("mc_e2e_sparse_int8");
  const fs::path pruned = d.path / "mlp90.onnx", q = d.path / "mlp90.int8.mcrt";
  const auto p = mc::test::run_process(
      {MC_BIN, "prune", kExamples + "mlp.onnx", "--ratio", "0.9", "-o", pruned.string(), "-q"}, 300);
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  const auto qz = mc::test::run_process({MC_BIN, "quantize", pruned.string(), "--mode", "static", "--calib-data",
                                         kData + "train-images-idx3-ubyte.gz", "--calib-size", "200", "--mean", "0.286",
                                         "--std", "0.353", "--format", "runtime", "-o", q.string(), "-q"},
                                        300);
  INFO(qz.err);
  REQUIRE(qz.exit_code == 0);
  std::ifstream f(q, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  REQUIRE(!bytes.empty());
  // The int8 weights are stored sparse (§4.4, bitmask or CSR): 266,200 weights at 10 % density
  // take far less than their 266,200 dense bytes; prepare densifies them back to int8.
  {
    std::unique_ptr<mcrt::Model> m;
    REQUIRE(mcrt::Model::load_buffer(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &m).ok());
    int sparse_weights = 0;
    for (const auto* n : *m->graph().nodes())
      if (n->op() == mcrt::fb::OpType_QLinearMatMul) {
        const auto* w = m->graph().tensors()->Get(n->inputs()->Get(1));
        CHECK(w->dtype() == mcrt::fb::DType_INT8);
        if (w->sparsity()) ++sparse_weights;
      }
    CHECK(sparse_weights == 3);
    CHECK(bytes.size() < 100000);
  }
  for (int batch : {1, 8}) {
    INFO("batch " << batch);
    const RuntimeRun dense = run(bytes, mcrt::SparsePolicy::kDense, batch, 1);
    REQUIRE(count_containing(dense.kernels, "qmatmul_gemm_") == 3);
    const RuntimeRun sparse = run(bytes, mcrt::SparsePolicy::kSparse, batch, 1);
    CHECK(count_containing(sparse.kernels, "qmatmul_sparse_csr_") == 3);
    CHECK(sparse.y == dense.y);
    const RuntimeRun sparse2 = run(bytes, mcrt::SparsePolicy::kSparse, batch, 2);
    CHECK(sparse2.y == dense.y);
    const RuntimeRun model = run(bytes, mcrt::SparsePolicy::kCostModel, batch, 1);
    CHECK(count_containing(model.kernels, "density 0.") == 3);  // every QLinearMatMul says why
    CHECK(model.y == dense.y);
  }
}
