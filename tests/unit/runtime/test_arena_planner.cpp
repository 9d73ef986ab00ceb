// Arena planner: peak <= naive sum, and no two buffers that are alive at the same step
// overlap in memory, both for random request sets and for a real prepared model.
#include <algorithm>
#include <random>

#include "runtime/arena_planner.h"
#include "runtime_test_support.h"

using namespace mcrt_test;

namespace {

template <class Buf>
void require_no_live_overlap(const std::vector<Buf>& b) {
  for (size_t i = 0; i < b.size(); ++i)
    for (size_t j = i + 1; j < b.size(); ++j) {
      const bool live_together = !(b[i].last < b[j].first || b[j].last < b[i].first);
      const bool mem_overlap = b[i].bytes && b[j].bytes && b[i].offset < b[j].offset + b[j].bytes &&
                               b[j].offset < b[i].offset + b[i].bytes;
      INFO("buffers " << i << " and " << j);
      REQUIRE(!(live_together && mem_overlap));
    }
}

struct Placed {
  size_t offset, bytes;
  int first, last;
};

// The planner as first written: every placed buffer scanned for each new one (quadratic). The
// planner now finds the same live sets through per-step lists; its offsets must not change.
std::vector<size_t> scan_plan(const std::vector<mcrt::ArenaRequest>& req) {
  auto aligned = [](size_t b) { return (b + 63) / 64 * 64; };
  std::vector<size_t> order(req.size()), offsets(req.size(), 0), placed;
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (req[a].bytes != req[b].bytes) return req[a].bytes > req[b].bytes;
    return req[a].first < req[b].first;
  });
  for (size_t idx : order) {
    if (req[idx].bytes == 0) continue;
    std::vector<size_t> live;
    for (size_t p : placed)
      if (!(req[p].last < req[idx].first || req[idx].last < req[p].first)) live.push_back(p);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
    size_t offset = 0;
    for (size_t p : live) {
      if (offset + aligned(req[idx].bytes) <= offsets[p]) break;
      offset = std::max(offset, offsets[p] + aligned(req[p].bytes));
    }
    offsets[idx] = offset;
    placed.push_back(idx);
  }
  return offsets;
}

}  // namespace

TEST_CASE("arena planner: the same offsets as the full scan, short and long lifetimes", "[unit][runtime][arena]") {
  std::mt19937 rng(20261127);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + (int)(rng() % 120);
    std::vector<mcrt::ArenaRequest> req;
    for (int i = 0; i < n; ++i) {
      const int a = (int)(rng() % 60);
      const int len = rng() % 10 == 0 ? (int)(rng() % 60) : (int)(rng() % 4);  // some long-lived buffers
      const size_t bytes = rng() % 7 == 0 ? 0 : (size_t)(rng() % 3000) / 64 * 64 + (rng() % 2) * 100;  // ties too
      req.push_back({bytes, a, a + len});
    }
    INFO("trial " << trial);
    CHECK(mcrt::plan_arena(req).offsets == scan_plan(req));
  }
}

// Both ways the planner finds live sets (per-step lists while the summed lifetimes stay within 8 steps
// per request, the scan beyond) give the full scan's offsets: short lifetimes only, and graph-output-like
// buffers that all live to the end.
TEST_CASE("arena planner: per-step lists and scan agree with the full scan at both extremes", "[unit][runtime][arena]") {
  std::mt19937 rng(77);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 50 + (int)(rng() % 200);
    std::vector<mcrt::ArenaRequest> shorts, longs;
    for (int i = 0; i < n; ++i) {
      const size_t bytes = 64 * (1 + rng() % 40);
      shorts.push_back({bytes, i, i + (int)(rng() % 3)});  // spans of 1..3 steps: the lists
      longs.push_back({bytes, i, n});                         // every buffer to the end: the scan
    }
    CHECK(mcrt::plan_arena(shorts).offsets == scan_plan(shorts));
    CHECK(mcrt::plan_arena(longs).offsets == scan_plan(longs));
  }
}

TEST_CASE("greedy-by-size arena: random lifetimes", "[unit][runtime][arena]") {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + (int)(rng() % 40);
    std::vector<mcrt::ArenaRequest> req;
    for (int i = 0; i < n; ++i) {
      const int a = (int)(rng() % 30), len = (int)(rng() % 8);
      req.push_back({(size_t)(rng() % 5000), a, a + len});
    }
    const mcrt::ArenaPlan p = mcrt::plan_arena(req);
    REQUIRE(p.offsets.size() == req.size());
    REQUIRE(p.peak_bytes <= p.naive_bytes);
    std::vector<Placed> placed;
    for (int i = 0; i < n; ++i) {
      REQUIRE(p.offsets[(size_t)i] % 64 == 0);
      REQUIRE(p.offsets[(size_t)i] + req[(size_t)i].bytes <= p.peak_bytes);
      placed.push_back({p.offsets[(size_t)i], req[(size_t)i].bytes, req[(size_t)i].first, req[(size_t)i].last});
    }
    require_no_live_overlap(placed);
  }
}

TEST_CASE("arena reuses memory along a chain", "[unit][runtime][arena]") {
  // 4 disjoint-in-time buffers of 1000 bytes, each overlapping only its neighbour.
  std::vector<mcrt::ArenaRequest> req = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  const mcrt::ArenaPlan p = mcrt::plan_arena(req);
  CHECK(p.peak_bytes == 2 * 1024);
  CHECK(p.naive_bytes == 4 * 1024);
}

TEST_CASE("prepared model: one arena, live tensors never overlap", "[unit][runtime][arena]") {
  ModelWriter w;
  int cur = w.add_tensor("x", DType::kF32, {1, 4, 8, 8});
  const int in = cur;
  const int k = w.add_weight_f32("k", {4, 4, 3, 3}, iota_f(144, -1.f, 0.01f));
  for (int i = 0; i < 6; ++i) {
    const int c = w.add_tensor("c" + std::to_string(i), DType::kF32, {1, 4, 8, 8});
    w.add_node(fb::OpType_Conv, {cur, k}, {c}, {Attribute::Ints(fb::AttrKey_pads, {1, 1, 1, 1})});
    const int s = w.add_tensor("s" + std::to_string(i), DType::kF32, {1, 4, 8, 8});
    w.add_node(fb::OpType_Sigmoid, {c}, {s});
    cur = s;
  }
  w.set_inputs({in});
  w.set_outputs({cur});
  Loaded l = build(w);
  const auto bufs = l.it->arena_buffers();
  std::vector<Placed> placed;
  size_t sum = 0;
  for (const auto& b : bufs) {
    placed.push_back({b.offset, b.bytes, b.first, b.last});
    sum += b.bytes;
  }
  require_no_live_overlap(placed);
  CHECK(l.it->arena_bytes() <= l.it->arena_naive_bytes());
  CHECK(l.it->arena_bytes() < sum);  // real reuse happened
  // The input keeps its value across runs: run twice, same output.
  set_input(*l.it, 0, iota_f(256, -1.f, 0.01f));
  run_ok(*l.it);
  const auto first = get_output<float>(*l.it, 0);
  run_ok(*l.it);
  CHECK(get_output<float>(*l.it, 0) == first);
}
