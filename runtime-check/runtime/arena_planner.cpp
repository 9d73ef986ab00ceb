#include "runtime/arena_planner.h"

#include <algorithm>
#include <cstdint>
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
  // Buffers already placed, listed under every step of their lifetime, so that finding the ones alive
  // together with a new buffer visits its own steps only (a scan of every placed buffer made this
  // quadratic in the node count: most of a 80,000-node chain's 6.5 s export). The set found, and so
  // the plan, is the same as that scan's.
  int steps = 0;
  for (const ArenaRequest& r : req)
    if (r.bytes) steps = std::max(steps, std::max(r.first, r.last) + 1);
  std::vector<std::vector<size_t>> alive_at(static_cast<size_t>(steps));
  std::vector<size_t> seen(n, SIZE_MAX);  // the request whose live set last listed this buffer
  std::vector<size_t> live;
  for (size_t idx : order) {
    plan.naive_bytes += aligned(req[idx].bytes);
    if (req[idx].bytes == 0) continue;
    const int first = std::max(req[idx].first, 0), last = req[idx].last;
    // Buffers that are alive at the same time, sorted by offset.
    live.clear();
    for (int t = first; t <= last && t < steps; ++t)
      for (size_t p : alive_at[static_cast<size_t>(t)])
        if (seen[p] != idx) {
          seen[p] = idx;
          live.push_back(p);
        }
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
    for (int t = first; t <= last && t < steps; ++t) alive_at[static_cast<size_t>(t)].push_back(idx);
  }
  return plan;
}

}  // namespace mcrt
