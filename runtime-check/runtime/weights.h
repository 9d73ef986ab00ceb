// Weight-side memory of a prepared model: materialized constants (fp16 -> fp32,
// sparse and palettized -> dense, weight-only int8 -> fp32) and packed kernel weights.
// Every block is 64-byte aligned and owned here; allocation failure is kOutOfMemory.
#pragma once
#include <cstddef>
#include <vector>

#include "runtime/model.h"
#include "runtime/plan.h"

namespace mcrt {

class WeightStore {
 public:
  WeightStore() = default;
  ~WeightStore();
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;
  // Zeroed, 64-byte aligned block of `bytes` (>= 1 byte is always allocated).
  Status alloc(size_t bytes, void** out);
  size_t allocated_bytes() const { return bytes_; }
  // Frees the block that starts at p; false when p is not a block of this store.
  bool release(const void* p);

 private:
  struct Block {
    void* p;
    size_t bytes;
  };
  std::vector<Block> blocks_;
  size_t bytes_ = 0;
};

// Fills tp (dtype, shape, const_data) for constant tensor `t` of the model. Dense data
// in a directly usable dtype is referenced in place (file bytes / mmap); the rest is
// decoded into `store` (§4.3-§4.5 of docs/runtime-format.md).
Status materialize_constant(const Model& model, const fb::Tensor& t, WeightStore* store, TensorPlan* tp);
// An int8 op weight (QLinearConv / QLinearMatMul / DynamicQuantizeMatMul input 1): stays int8.
// Dense bytes are referenced in place; sparse storage (§4.4) is expanded into `store`.
Status materialize_int8_weight(const Model& model, const fb::Tensor& t, WeightStore* store, TensorPlan* tp);

}  // namespace mcrt
