// Internal data of a prepared model, shared by the interpreter and the ops.
// Not a public header: applications use runtime/interpreter.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/int8/int8_kernels.h"
#include "kernels/kernels.h"
#include "kernels/sparse/sparse_cost_model.h"
#include "kernels/sparse/sparse_kernels.h"
#include "mcrt_generated.h"
#include "runtime/dtype.h"
#include "runtime/status.h"

namespace mcrt {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Quantization parameters of a tensor (§4.3), as declared in the file; empty scale = none. int8
// activations carry them to the int8 ops (docs/quantization.md §4).
struct QuantPlan {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;  // empty = all 0
  int axis = 0;
  bool present() const { return !scale.empty(); }
  int32_t zp(size_t i) const { return zero_point.empty() ? 0 : zero_point[i]; }
  bool same(const QuantPlan& o) const {
    if (scale != o.scale || (scale.size() > 1 && axis != o.axis)) return false;
    for (size_t i = 0; i < scale.size(); ++i)
      if (zp(i) != o.zp(i)) return false;
    return true;
  }
};

struct TensorPlan {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  size_t bytes = 0;
  bool is_const = false;
  const uint8_t* const_data = nullptr;  // constants: file bytes or materialized copy
  int64_t arena_offset = -1;            // activations: offset into the arena
  int first_use = -1, last_use = -1;    // lifetime in plan steps (arena planner)
  QuantPlan quant;                      // the file's Tensor.quant; layout ops carry it to an undeclared output
};

// Attributes of one node, parsed from the file (kinds checked at load).
class AttrMap {
 public:
  explicit AttrMap(const fb::Node* node = nullptr) : node_(node) {}
  const fb::Attr* find(fb::AttrKey key) const;
  bool has(fb::AttrKey key) const { return find(key) != nullptr; }
  int64_t i(fb::AttrKey key, int64_t def) const;
  float f(fb::AttrKey key, float def) const;
  std::vector<int64_t> ints(fb::AttrKey key) const;  // empty when absent
  std::vector<float> floats(fb::AttrKey key) const;
  std::string s(fb::AttrKey key, const char* def) const;

 private:
  const fb::Node* node_;
};

// Per-op state computed in prepare (geometry, packed weights, ...).
struct OpState {
  virtual ~OpState() = default;
};

struct ExecContext;
struct NodePlan;
using RunFn = void (*)(const NodePlan& node, const ExecContext& ctx);

struct NodePlan {
  int index = 0;  // node index in the file
  fb::OpType op = fb::OpType_Conv;
  std::vector<int> inputs, outputs;  // -1 = absent optional input
  AttrMap attrs;
  // Fused activation (Relu / Clip following Conv or Gemm): y = min(max(y, lo), hi).
  bool fused = false;
  float fuse_lo = -INFINITY, fuse_hi = INFINITY;
  const char* fused_name = nullptr;
  int fused_node = -1;  // index of the fused activation node
  // Fused residual Add (Conv/Gemm -> Add(., r) [-> Relu/Clip]): y = clamp(op(x) + bias + r). The
  // residual r is inputs[residual_input] (appended at fusion, so the arena keeps it alive until
  // this step ran); -1 = none. residual_node: index of the fused Add node.
  int residual_input = -1;
  int residual_node = -1;
  // int8 (QLinearConv -> QLinearAdd(., r)): the conv forms its int8 output as unfused, with the
  // quantization of its own output tensor residual_mid (no longer produced), then applies the add's
  // rule; residual_conv_is_a: that output was the add's input A; residual_attrs: the add's attributes.
  int residual_mid = -1;
  bool residual_conv_is_a = true;
  AttrMap residual_attrs;
  // Chosen in prepare:
  RunFn run = nullptr;
  std::string kernel_name;
  std::string kernel_reason;  // why this kernel (e.g. "density 0.10 < 0.35"); shown after the name
  size_t scratch_bytes = 0;
  int64_t scratch_offset = -1;
  uint32_t prepare_only_inputs = 0;  // bit k: input k is read only in prepare (packed, shape data)
  std::unique_ptr<OpState> state;
};

// What run() hands every op: tensor data pointers, scratch and the thread pool.
struct ExecContext {
  uint8_t* arena = nullptr;
  const std::vector<TensorPlan>* tensors = nullptr;
  const KernelSet* kernels = nullptr;
  const ParallelFor* pf = nullptr;  // nullptr = single thread
  // Data-dependent errors (e.g. a Gather index out of range) are reported here by the
  // op (which then writes zeros) and turned into a Status by run(). Serial ops only.
  int* data_error_node = nullptr;

  const TensorPlan& t(int i) const { return (*tensors)[i]; }
  const void* in(int i) const {
    const TensorPlan& tp = (*tensors)[i];
    return tp.is_const ? (const void*)tp.const_data : (const void*)(arena + tp.arena_offset);
  }
  void* out(int i) const { return arena + (*tensors)[i].arena_offset; }
  const float* inf(int i) const { return static_cast<const float*>(in(i)); }
  float* outf(int i) const { return static_cast<float*>(out(i)); }
  void* scratch(const NodePlan& n) const { return n.scratch_offset < 0 ? nullptr : arena + n.scratch_offset; }
};

// What prepare hands every op.
class WeightStore;
struct PrepareContext {
  std::vector<TensorPlan>* tensors = nullptr;
  const KernelSet* kernels = nullptr;
  // Sparse-weight kernels (Gemm/MatMul with constant B, 1x1 Conv) and when to use them.
  const SparseKernelSet* sparse_kernels = nullptr;
  SparsePolicy sparse_policy = SparsePolicy::kCostModel;
  const Int8KernelSet* int8_kernels = nullptr;  // int8 ops (kernels/int8/)
  WeightStore* weights = nullptr;
  uint64_t memory_limit = 0;
  double work_limit = 0;  // multiply-adds (or window steps) per run, summed over nodes (§7)
  double work = 0;

  TensorPlan& t(int i) { return (*tensors)[i]; }
  bool present(const NodePlan& n, size_t k) const { return k < n.inputs.size() && n.inputs[k] >= 0; }
  // Sets an output's dtype and shape (bytes overflow-checked against memory_limit).
  Status set_output(const NodePlan& n, size_t k, DType dt, const Shape& shape);
  // Reads a constant integer input (int64 or int32) as int64 values.
  Status const_ints(const NodePlan& n, size_t k, std::vector<int64_t>* out);
  Status const_floats(const NodePlan& n, size_t k, std::vector<float>* out);
  // Adds the inner-loop work of a node (MACs or window steps); kLimitExceeded past the budget.
  Status add_work(const NodePlan& n, double units);
  // Allocates a 64-byte aligned, zeroed weight-side buffer owned by the prepared model.
  Status alloc_weights(size_t bytes, void** out);
};

// Error helper: "node 3 (Conv 'conv1'): <msg>".
std::string node_label(const NodePlan& n);

}  // namespace mcrt
