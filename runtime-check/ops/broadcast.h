// NumPy broadcasting shared by the element-wise ops, Gemm's C input and MatMul batches.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/plan.h"

namespace mcrt {

constexpr int kMaxRank = 8;

// Broadcast output shape of a and b; false when incompatible.
bool broadcast_shape(const Shape& a, const Shape& b, Shape* out);

// Iteration plan of y = f(a, b) with broadcasting: dims merged where possible, each
// operand's element stride per dim (0 where broadcast). The innermost dim is a run.
struct BroadcastPlan {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t sa[kMaxRank] = {}, sb[kMaxRank] = {};
  int64_t outer = 1;  // product of all dims but the last
};
BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b, const Shape& out);

// Element offsets into a and b of the first element of outer row `row`.
inline void broadcast_row_offsets(const BroadcastPlan& p, int64_t row, int64_t* oa, int64_t* ob) {
  int64_t a = 0, b = 0;
  for (int d = p.rank - 2; d >= 0; --d) {
    const int64_t i = row % p.dims[d];
    row /= p.dims[d];
    a += i * p.sa[d];
    b += i * p.sb[d];
  }
  *oa = a;
  *ob = b;
}

}  // namespace mcrt
