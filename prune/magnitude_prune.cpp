#include "prune/magnitude_prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compress/analysis/model_stats.h"
#include "compress/error.h"
#include "prune/prunable_layers.h"

namespace mc::prune {
namespace {

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * x);
  return buf;
}

struct Entry {
  float mag;
  uint32_t layer;
  uint64_t index;
};

bool smaller(const Entry& a, const Entry& b) {
  if (a.mag != b.mag) return a.mag < b.mag;
  if (a.layer != b.layer) return a.layer < b.layer;
  return a.index < b.index;
}

// Zeroes the k smallest entries of `entries` in the tensors they point to.
void zero_smallest(std::vector<Entry>& entries, uint64_t k, std::vector<Tensor*>& tensors) {
  if (k == 0) return;
  if (k < entries.size()) std::nth_element(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(k), entries.end(), smaller);
  for (uint64_t i = 0; i < k && i < entries.size(); ++i) tensors[entries[i].layer]->as_mut<float>()[entries[i].index] = 0.f;
}

uint64_t round_count(double ratio, uint64_t n) {
  return std::min<uint64_t>(n, static_cast<uint64_t>(std::llround(ratio * static_cast<double>(n))));
}

void finish(PruneResult& r, const std::vector<PrunableWeight>& layers, const std::vector<Tensor*>& tensors,
            const std::vector<uint64_t>& zeros_before, const std::string& what) {
  uint64_t total = 0, pruned = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerPruneResult lr;
    lr.layer = layers[i].layer;
    lr.op_type = layers[i].op_type;
    lr.total = tensors[i]->numel();
    lr.zeros_before = zeros_before[i];
    lr.pruned = count_zeros(*tensors[i]);
    lr.achieved = lr.total ? static_cast<double>(lr.pruned) / static_cast<double>(lr.total) : 0.0;
    total += lr.total;
    pruned += lr.pruned;
    r.report.changes.push_back(lr.layer + " (" + lr.op_type + "): " + std::to_string(lr.pruned) + "/" +
                               std::to_string(lr.total) + " zero (" + percent(lr.achieved) + ")");
    r.layers.push_back(lr);
  }
  for (const auto& s : r.skipped) r.report.left_alone.push_back(s);
  r.report.counters["layers_pruned"] = static_cast<int64_t>(layers.size());
  r.report.counters["layers_skipped"] = static_cast<int64_t>(r.skipped.size());
  r.report.counters["weights"] = static_cast<int64_t>(total);
  r.report.counters["zeros"] = static_cast<int64_t>(pruned);
  r.report.summary = what + ": " + std::to_string(pruned) + " of " + std::to_string(total) + " weights zero (" +
                     percent(total ? static_cast<double>(pruned) / static_cast<double>(total) : 0.0) + ") in " +
                     std::to_string(layers.size()) + " layers, " + std::to_string(r.skipped.size()) + " skipped";
}

}  // namespace

PruneResult prune_unstructured(Model& m, const PruneOptions& opts) {
  validate_ratio(opts.ratio);
  check_exclude_matches(m.graph, opts.exclude);
  PruneResult r;
  r.report.pass = "prune_unstructured";
  const auto layers = find_prunable_weights(m, opts.exclude, &r.skipped);
  std::vector<Tensor*> tensors;
  std::vector<uint64_t> zeros_before;
  for (const auto& l : layers) {
    tensors.push_back(m.graph.initializer(l.weight));
    zeros_before.push_back(count_zeros(*tensors.back()));
  }
  auto entries_of = [&](size_t li, std::vector<Entry>* out) {
    const Tensor* t = tensors[li];
    const float* w = t->as<float>();
    const uint64_t n = t->numel();
    for (uint64_t i = 0; i < n; ++i) {
      // NaN ranks last: it is never silently turned into a zero by pruning.
      const float a = std::fabs(w[i]);
      out->push_back({std::isnan(a) ? INFINITY : a, static_cast<uint32_t>(li), i});
    }
  };
  if (opts.scope == Scope::Global) {
    std::vector<Entry> all;
    uint64_t count = 0;
    for (const Tensor* t : tensors) count += t->numel();
    all.reserve(count);
    for (size_t li = 0; li < layers.size(); ++li) entries_of(li, &all);
    zero_smallest(all, round_count(opts.ratio, count), tensors);
  } else {
    for (size_t li = 0; li < layers.size(); ++li) {
      std::vector<Entry> e;
      e.reserve(tensors[li]->numel());
      entries_of(li, &e);
      zero_smallest(e, round_count(opts.ratio, e.size()), tensors);
    }
  }
  finish(r, layers, tensors, zeros_before,
         std::string("unstructured ") + (opts.scope == Scope::Global ? "global" : "per-layer") + " ratio " +
             std::to_string(opts.ratio).substr(0, 5));
  return r;
}

PruneResult prune_n_m(Model& m, const PruneOptions& opts) {
  if (opts.n < 1 || opts.m < 2 || opts.n >= opts.m)
    throw Error(ErrorKind::Input, "--granularity n:m needs 1 <= n < m (got " + std::to_string(opts.n) + ":" +
                                      std::to_string(opts.m) + ")");
  check_exclude_matches(m.graph, opts.exclude);
  PruneResult r;
  r.report.pass = "prune_n_m";
  const auto layers = find_prunable_weights(m, opts.exclude, &r.skipped);
  // Check every layer before touching any, so that an error leaves the model as it was.
  for (const auto& l : layers) {
    const Tensor* t = m.graph.initializer(l.weight);
    const int64_t k = t->dims[static_cast<size_t>(l.reduction_axis)];
    if (k % opts.m != 0)
      throw Error(ErrorKind::Input, "layer '" + l.layer + "' (" + l.op_type + "): input dimension " +
                                        std::to_string(k) + " is not a multiple of " + std::to_string(opts.m) +
                                        " for " + std::to_string(opts.n) + ":" + std::to_string(opts.m) +
                                        " sparsity (leave it out with --exclude)");
  }
  std::vector<Tensor*> tensors;
  std::vector<uint64_t> zeros_before;
  const size_t M = static_cast<size_t>(opts.m), N = static_cast<size_t>(opts.n);
  std::vector<size_t> order(M);
  for (const auto& l : layers) {
    Tensor* t = m.graph.initializer(l.weight);
    tensors.push_back(t);
    zeros_before.push_back(count_zeros(*t));
    const size_t axis = static_cast<size_t>(l.reduction_axis);
    uint64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(t->dims[d]);
    for (size_t d = axis + 1; d < t->dims.size(); ++d) inner *= static_cast<uint64_t>(t->dims[d]);
    const uint64_t K = static_cast<uint64_t>(t->dims[axis]);
    float* w = t->as_mut<float>();
    for (uint64_t o = 0; o < outer; ++o)
      for (uint64_t i = 0; i < inner; ++i)
        for (uint64_t k0 = 0; k0 < K; k0 += M) {
          auto at = [&](size_t j) -> float& { return w[(o * K + k0 + j) * inner + i]; };
          std::iota(order.begin(), order.end(), size_t{0});
          // Largest |w| first; NaN counts as largest (kept), ties keep the lower index.
          auto key = [&](size_t j) { const float a = std::fabs(at(j)); return std::isnan(a) ? INFINITY : a; };
          std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
          for (size_t j = N; j < M; ++j) at(order[j]) = 0.f;
        }
  }
  finish(r, layers, tensors, zeros_before, std::to_string(opts.n) + ":" + std::to_string(opts.m));
  return r;
}

}  // namespace mc::prune
