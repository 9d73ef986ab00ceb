// Interpreter: a prepared model (phases 2 and 3 of load -> prepare -> run).
//
//   std::unique_ptr<mcrt::Model> model;
//   MCRT check: mcrt::Model::load_file("m.mcrt", &model)
//   std::unique_ptr<mcrt::Interpreter> it;
//   mcrt::PrepareOptions opt; opt.batch = 4;
//   check: mcrt::Interpreter::prepare(*model, opt, &it)
//   std::memcpy(it->input(0).data, x, it->input(0).bytes);
//   check: it->run();
//   const float* y = static_cast<const float*>(it->output(0).data);
//
// prepare resolves shapes for the given batch, materializes and packs weights through the
// KernelSet, chooses every kernel once, fuses Relu/Clip into a preceding Conv/Gemm, and
// plans one activation arena (greedy by size over tensor lifetimes, scratch included).
// run performs no allocation, no I/O and no validation. The Model must outlive the
// Interpreter (constants may point into its mapped file). An Interpreter is not safe to
// run from two threads at once; its own thread pool parallelises inside kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/int8/int8_kernels.h"
#include "kernels/kernels.h"
#include "kernels/sparse/sparse_cost_model.h"
#include "runtime/arena_planner.h"
#include "runtime/dtype.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace mcrt {

struct PrepareOptions {
  int64_t batch = 1;                    // value of every -1 (dynamic batch) dim of the graph inputs
  int threads = 1;                      // see Interpreter::set_threads
  uint64_t memory_limit = 2ull << 30;   // budget for arena + materialized weights (§7)
  uint64_t work_limit = 1ull << 42;     // budget of multiply-adds / window steps per run (§7)
  const KernelSet* kernels = nullptr;   // nullptr = kernels_best()
  // int8 ops' kernels; nullptr = int8_kernels_best() (int8_kernels_reference() when `kernels` is the reference set)
  const Int8KernelSet* int8_kernels = nullptr;
  bool fuse_activations = true;         // Conv/Gemm + Relu/Clip -> fused epilogue
  // Sparse kernels for Gemm/MatMul with a constant B and for 1x1 Conv: chosen by the cost model
  // (default), never (kDense) or always where one exists (kSparse: tests and benchmarks).
  SparsePolicy sparse = SparsePolicy::kCostModel;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  void* data = nullptr;  // inputs: write before run(), kept across runs; outputs: read after run()
  size_t bytes = 0;
};

struct StepInfo {
  int node_index;        // index of the node in the file
  std::string op;        // "Conv"
  std::string kernel;    // "conv2d_avx2+relu", "fc_sparse_csr_avx2 (density 0.10 < 0.35)", ...
  int fused_node = -1;   // index of the activation node fused into this one, or -1
};

struct ArenaBufferInfo {
  int tensor;            // tensor index, or -1 for a node's scratch
  size_t offset, bytes;
  int first, last;       // lifetime in steps (inclusive)
};

class Interpreter {
 public:
  ~Interpreter();
  static Status prepare(const Model& model, const PrepareOptions& opts, std::unique_ptr<Interpreter>* out);

  // Starts/stops worker threads (never during run). Results do not depend on n.
  Status set_threads(int n);
  int threads() const;

  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  TensorInfo input(size_t i) const;
  TensorInfo output(size_t i) const;
  int find_input(const std::string& name) const;  // -1 when absent

  // Executes the plan. Returns kOk; inputs are not validated (they are plain bytes).
  Status run();
  // run(), also writing each step's wall time (steady clock, ns) to ns_per_step[0, num_steps()).
  // No allocation; the extra cost is two clock reads per step.
  Status run_profiled(uint64_t* ns_per_step);

  size_t arena_bytes() const { return arena_plan_.peak_bytes; }
  size_t arena_naive_bytes() const { return arena_plan_.naive_bytes; }
  // Bytes of weights the prepared model keeps: packed, materialized, and file-backed
  // constants that kernels read during run.
  size_t weights_bytes_in_memory() const { return weights_bytes_; }
  const char* kernel_set_name() const;
  size_t num_steps() const;
  StepInfo step(size_t i) const;
  std::vector<ArenaBufferInfo> arena_buffers() const;

 private:
  struct Impl;
  Interpreter();
  static Status prepare_impl(const Model& model, const PrepareOptions& opts, std::unique_ptr<Interpreter>* out);
  TensorInfo info(int tensor) const;
  std::unique_ptr<Impl> impl_;
  std::vector<int> inputs_, outputs_;
  ArenaPlan arena_plan_;
  size_t weights_bytes_ = 0;
  std::vector<int> fused_nodes_;  // per step: fused activation node index or -1
};

}  // namespace mcrt
