#include "runtime/arena_planner.h"

#include <algorithm>
#include <numeric>

namespace mcrt {

ArenaPlan plan_arena(const std::vector<ArenaRequest>& req, size_t alignment) {
  ArenaPlan plan;
  const size_t n = req.size();
  plan.offsets.assign(n, 0);
  auto aligned = [alignment](size_t b) { return (b + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by earlier first use, then index, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (req[a].bytes != req[b].bytes) return req[a].bytes > req[b].bytes;
    return req[a].first < req[b].first;
  });
  std::vector<size_t> placed;  // indices already assigned
  placed.reserve(n);
  for (size_t idx : order) {
    plan.naive_bytes += aligned(req[idx].bytes);
    if (req[idx].bytes == 0) continue;
    // Buffers that are alive at the same time, sorted by offset.
    std::vector<size_t> live;
    for (size_t p : placed)
      if (!(req[p].last < req[idx].first || req[idx].last < req[p].first)) live.push_back(p);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return plan.offsets[a] < plan.offsets[b]; });
    size_t offset = 0;
    const size_t size = aligned(req[idx].bytes);
    for (size_t p : live) {
      const size_t p_end = plan.offsets[p] + aligned(req[p].bytes);
      if (offset + size <= plan.offsets[p]) break;  // fits in the gap before p
      offset = std::max(offset, p_end);
    }
    plan.offsets[idx] = offset;
    plan.peak_bytes = std::max(plan.peak_bytes, offset + size);
    placed.push_back(idx);
  }
  return plan;
}

}  // namespace mcrt
