// The one registration table of the runtime's ops (runtime/op_registry.cpp).
// Each row names the op, its arity, which inputs are optional (may be -1) and which
// must be constant weights, the attributes it accepts, and its prepare function.
// Prepare validates the node, sets output shapes, chooses the kernel and stores its
// run function in the NodePlan. The loader (§6) and prepare both read this table.
#pragma once
#include <cstdint>

#include "mcrt_generated.h"
#include "runtime/plan.h"

namespace mcrt {

using PrepareFn = Status (*)(PrepareContext& ctx, NodePlan& node);

struct OpDef {
  fb::OpType type;
  const char* name;
  int min_inputs, max_inputs;
  uint32_t optional_inputs;  // bit k: input k may be -1
  uint32_t const_inputs;     // bit k: input k, when present, must be a weight (§6.3)
  int min_outputs, max_outputs;
  uint64_t allowed_attrs;    // bit k: AttrKey k is accepted
  PrepareFn prepare;
};

// nullptr when the op type is unknown to this runtime.
const OpDef* find_op(fb::OpType type);
// The kind every attribute key must have (§5.2).
fb::AttrKind attr_kind(fb::AttrKey key);

}  // namespace mcrt
