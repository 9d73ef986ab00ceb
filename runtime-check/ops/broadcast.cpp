#include "ops/broadcast.h"

#include "ops/ops.h"

namespace mcrt {

bool normalize_axis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

Status fail(const NodePlan& n, StatusCode code, const std::string& msg) {
  return Status(code, node_label(n) + ": " + msg);
}

bool broadcast_shape(const Shape& a, const Shape& b, Shape* out) {
  const size_t r = a.size() > b.size() ? a.size() : b.size();
  out->assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    (*out)[i] = da == 1 ? db : da;
  }
  return true;
}

BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b, const Shape& out) {
  const int r = (int)out.size();
  // Per-dim strides of each operand, aligned to the right, 0 where broadcast.
  int64_t dims[kMaxRank + 1], sa[kMaxRank + 1], sb[kMaxRank + 1];
  int64_t ea = 1, eb = 1;
  for (int i = r - 1; i >= 0; --i) {
    const int ia = i - (r - (int)a.size()), ib = i - (r - (int)b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    dims[i] = out[i];
    sa[i] = (da == 1 && out[i] != 1) ? 0 : ea;
    sb[i] = (db == 1 && out[i] != 1) ? 0 : eb;
    ea *= da;
    eb *= db;
  }
  // Merge adjacent dims that iterate contiguously for both operands; drop size-1 dims.
  BroadcastPlan p;
  int k = 0;
  for (int i = 0; i < r; ++i) {
    if (dims[i] == 1) continue;
    if (k > 0 && p.sa[k - 1] == sa[i] * dims[i] && p.sb[k - 1] == sb[i] * dims[i]) {
      p.dims[k - 1] *= dims[i];
      p.sa[k - 1] = sa[i];
      p.sb[k - 1] = sb[i];
      continue;
    }
    p.dims[k] = dims[i];
    p.sa[k] = sa[i];
    p.sb[k] = sb[i];
    ++k;
  }
  if (k == 0) {
    p.dims[0] = 1;
    p.sa[0] = p.sb[0] = 1;
    k = 1;
  }
  p.rank = k;
  p.outer = 1;
  for (int i = 0; i < k - 1; ++i) p.outer *= p.dims[i];
  return p;
}

}  // namespace mcrt
