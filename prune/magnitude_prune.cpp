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

PruneResult prune_blocks(Model& m, const PruneOptions& opts) {
  validate_ratio(opts.ratio);
  const int64_t B = opts.block_rows, K = opts.block_cols;
  if (B < 1 || K < 1) throw Error(ErrorKind::Input, "--granularity block:BxK needs B, K >= 1");
  check_exclude_matches(m.graph, opts.exclude);
  PruneResult r;
  r.report.pass = "prune_blocks";
  const auto layers = find_prunable_weights(m, opts.exclude, &r.skipped);
  // The (output x input) view of each weight: element (o, k) at o * cols + k, or at
  // k * rows + o when the weight is stored input-major (Gemm transB 0, MatMul).
  struct View {
    int64_t rows, cols;
    bool input_major;
  };
  std::vector<View> views;
  for (const auto& l : layers) {
    const Tensor* t = m.graph.initializer(l.weight);
    View v{};
    if (l.op_type == "Conv") {
      v.rows = t->dims[0];
      v.cols = static_cast<int64_t>(t->numel()) / std::max<int64_t>(1, v.rows);
      v.input_major = false;
    } else if (l.op_type == "Gemm" && l.reduction_axis == 1) {
      v.rows = t->dims[0];
      v.cols = t->dims[1];
      v.input_major = false;
    } else if (t->dims.size() == 2) {  // Gemm transB 0, MatMul [K, N]
      v.rows = t->dims[1];
      v.cols = t->dims[0];
      v.input_major = true;
    } else {
      throw Error(ErrorKind::Input, "layer '" + l.layer + "' (" + l.op_type +
                                        "): block pruning needs a 2-D weight (leave it out with --exclude)");
    }
    if (v.rows % B != 0 || v.cols % K != 0)
      throw Error(ErrorKind::Input, "layer '" + l.layer + "' (" + l.op_type + "): its " + std::to_string(v.rows) + " x " +
                                        std::to_string(v.cols) + " weight matrix is not divisible into " +
                                        std::to_string(B) + "x" + std::to_string(K) +
                                        " blocks (leave it out with --exclude)");
    views.push_back(v);
  }
  std::vector<Tensor*> tensors;
  std::vector<uint64_t> zeros_before;
  for (const auto& l : layers) {
    tensors.push_back(m.graph.initializer(l.weight));
    zeros_before.push_back(count_zeros(*tensors.back()));
  }
  const bool l2 = opts.criterion == Criterion::L2;
  auto at = [&](size_t li, int64_t o, int64_t k) -> float& {
    const View& v = views[li];
    float* w = tensors[li]->as_mut<float>();
    return v.input_major ? w[k * v.rows + o] : w[o * v.cols + k];
  };
  // Entries: one per block; index = block number in row-major block order.
  auto entries_of = [&](size_t li, std::vector<Entry>* out) {
    const View& v = views[li];
    const int64_t bc = v.cols / K;
    for (int64_t bi = 0; bi < v.rows / B; ++bi)
      for (int64_t bj = 0; bj < bc; ++bj) {
        double s = 0;
        bool nan = false;
        for (int64_t o = bi * B; o < (bi + 1) * B; ++o)
          for (int64_t k = bj * K; k < (bj + 1) * K; ++k) {
            const double a = std::fabs(static_cast<double>(at(li, o, k)));
            nan = nan || std::isnan(a);
            s += l2 ? a * a : a;
          }
        const float score = nan ? INFINITY : static_cast<float>(l2 ? std::sqrt(s) : s);
        out->push_back({score, static_cast<uint32_t>(li), static_cast<uint64_t>(bi * bc + bj)});
      }
  };
  auto zero_blocks = [&](std::vector<Entry>& e, uint64_t k) {
    if (k == 0) return;
    if (k < e.size()) std::nth_element(e.begin(), e.begin() + static_cast<ptrdiff_t>(k), e.end(), smaller);
    for (uint64_t i = 0; i < k && i < e.size(); ++i) {
      const size_t li = e[i].layer;
      const int64_t bc = views[li].cols / K;
      const int64_t bi = static_cast<int64_t>(e[i].index) / bc, bj = static_cast<int64_t>(e[i].index) % bc;
      for (int64_t o = bi * B; o < (bi + 1) * B; ++o)
        for (int64_t c = bj * K; c < (bj + 1) * K; ++c) at(li, o, c) = 0.f;
    }
  };
  if (opts.scope == Scope::Global) {
    std::vector<Entry> all;
    for (size_t li = 0; li < layers.size(); ++li) entries_of(li, &all);
    zero_blocks(all, round_count(opts.ratio, all.size()));
  } else {
    for (size_t li = 0; li < layers.size(); ++li) {
      std::vector<Entry> e;
      entries_of(li, &e);
      zero_blocks(e, round_count(opts.ratio, e.size()));
    }
  }
  finish(r, layers, tensors, zeros_before,
         "block " + std::to_string(B) + "x" + std::to_string(K) + (opts.scope == Scope::Global ? " global" : " per-layer") +
             " ratio " + std::to_string(opts.ratio).substr(0, 5));
  return r;
}

}  // namespace mc::prune
