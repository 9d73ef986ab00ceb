// One activation arena for the whole model, planned once in prepare.
//
// Greedy by size (as in TFLite's GreedyMemoryPlanner): sort the buffers by size,
// largest first; place each at the lowest 64-byte aligned offset where it does not
// overlap any already placed buffer whose lifetime [first, last] (in plan steps)
// intersects its own. The peak is the largest end offset. This is never worse than
// giving every buffer its own space (the naive sum), and usually much better.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcrt {

struct ArenaRequest {
  size_t bytes = 0;
  int first = 0;  // first step that writes or reads the buffer
  int last = 0;   // last step that reads it (inclusive)
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // one per request, 64-byte aligned
  size_t peak_bytes = 0;        // arena size needed
  size_t naive_bytes = 0;       // sum of aligned sizes (no reuse), for comparison
};

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests, size_t alignment = 64);

}  // namespace mcrt
