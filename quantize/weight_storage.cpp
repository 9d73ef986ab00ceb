// Weight storage passes: k-means weight sharing, weight-only int8/int4, fp16 (weight_storage.h).
//
// k-means in one dimension: the values are sorted once; with sorted centroids every cluster
// is a contiguous run of sorted values between two midpoints, so one Lloyd step is a binary
// search per boundary plus a mean from prefix sums (O(k log n)), and the result does not depend
// on the order of the weights in memory. Sums are in double, in sorted order: deterministic.
// k-means++ draws from std::mt19937_64 (whose output sequence the standard fixes) and maps a
// draw to [0, 1) as (x >> 11) * 2^-53, so the seeding is the same with every standard library.
#include "quantize/weight_storage.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "compress/ir/weight_axes.h"
#include "compress/error.h"

namespace mc {
namespace quant {

namespace {

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0); }

// Lloyd iterations on sorted values with sorted centroids; returns iterations run.
int lloyd_sorted(const std::vector<float>& sorted, const std::vector<double>& prefix, std::vector<double>& c,
                 int max_iterations) {
  const size_t n = sorted.size();
  int it = 0;
  std::vector<size_t> bound(c.size() + 1);
  for (; it < max_iterations; ++it) {
    // bound[j]..bound[j+1]: values assigned to centroid j (ties at a midpoint go to the lower one).
    bound[0] = 0;
    bound[c.size()] = n;
    for (size_t j = 1; j < c.size(); ++j) {
      const double mid = 0.5 * (c[j - 1] + c[j]);
      bound[j] = static_cast<size_t>(
          std::upper_bound(sorted.begin(), sorted.end(), mid, [](double m, float v) { return m < (double)v; }) -
          sorted.begin());
      bound[j] = std::max(bound[j], bound[j - 1]);
    }
    bool changed = false;
    for (size_t j = 0; j < c.size(); ++j) {
      const size_t a = bound[j], b = bound[j + 1];
      if (a == b) continue;  // empty cluster: keeps its centroid (dropped at the end if still empty)
      const double mean = (prefix[b] - prefix[a]) / static_cast<double>(b - a);
      if (mean != c[j]) changed = true;
      c[j] = mean;
    }
    if (!changed) break;
    std::sort(c.begin(), c.end());
  }
  return it + (it < max_iterations ? 1 : 0);
}

}  // namespace

KMeansResult kmeans_1d(const std::vector<float>& values, int k, KMeansInit init, uint64_t seed, int max_iterations) {
  KMeansResult r;
  if (values.empty() || k < 1) return r;
  std::vector<float> sorted(values);
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> distinct;
  for (float v : sorted)
    if (distinct.empty() || v != distinct.back()) distinct.push_back(v);
  std::vector<double> c;
  if (distinct.size() <= static_cast<size_t>(k)) {
    c.assign(distinct.begin(), distinct.end());  // lossless: every distinct value is a centroid
  } else {
    std::vector<double> prefix(sorted.size() + 1, 0.0);
    for (size_t i = 0; i < sorted.size(); ++i) prefix[i + 1] = prefix[i] + (double)sorted[i];
    if (init == KMeansInit::Linear) {
      const double lo = sorted.front(), hi = sorted.back();
      for (int j = 0; j < k; ++j) c.push_back(lo + (hi - lo) * j / (k - 1));
    } else {
      std::mt19937_64 rng(seed);
      const size_t n = sorted.size();
      c.push_back(sorted[std::min(n - 1, static_cast<size_t>(uniform01(rng) * (double)n))]);
      std::vector<double> d2(n);
      for (size_t i = 0; i < n; ++i) d2[i] = ((double)sorted[i] - c[0]) * ((double)sorted[i] - c[0]);
      while (c.size() < static_cast<size_t>(k)) {
        double total = 0;
        for (double d : d2) total += d;
        if (!(total > 0)) break;
        const double target = uniform01(rng) * total;
        double acc = 0;
        size_t pick = n - 1;
        for (size_t i = 0; i < n; ++i) {
          acc += d2[i];
          if (acc > target && d2[i] > 0) {
            pick = i;
            break;
          }
        }
        const double nc = sorted[pick];
        c.push_back(nc);
        for (size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], ((double)sorted[i] - nc) * ((double)sorted[i] - nc));
      }
    }
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    r.iterations = lloyd_sorted(sorted, prefix, c, max_iterations);
  }
  // Final float centroids: unique, sorted, only those that attract at least one value.
  std::vector<float> cf;
  for (double v : c) cf.push_back(static_cast<float>(v));
  std::sort(cf.begin(), cf.end());
  cf.erase(std::unique(cf.begin(), cf.end()), cf.end());
  auto nearest = [&](float v) {
    size_t j = static_cast<size_t>(std::lower_bound(cf.begin(), cf.end(), v) - cf.begin());
    if (j == cf.size()) return j - 1;
    if (j == 0) return j;
    // Tie goes to the lower centroid, as in the Lloyd steps.
    return ((double)v - cf[j - 1] <= (double)cf[j] - v) ? j - 1 : j;
  };
  std::vector<char> used(cf.size(), 0);
  for (float v : distinct) used[nearest(v)] = 1;
  std::vector<float> kept;
  for (size_t j = 0; j < cf.size(); ++j)
    if (used[j]) kept.push_back(cf[j]);
  cf.swap(kept);
  r.centroids = cf;
  r.assignment.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) r.assignment[i] = static_cast<uint32_t>(nearest(values[i]));
  return r;
}

std::vector<uint8_t> pack_int4(const std::vector<int8_t>& v) {
  std::vector<uint8_t> out((v.size() + 1) / 2, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint8_t nib = static_cast<uint8_t>(v[i]) & 0x0F;
    out[i / 2] = static_cast<uint8_t>(out[i / 2] | (i % 2 ? nib << 4 : nib));
  }
  return out;
}

std::vector<int8_t> unpack_int4(const std::vector<uint8_t>& packed, uint64_t count) {
  std::vector<int8_t> out(count);
  for (uint64_t i = 0; i < count && i / 2 < packed.size(); ++i) {
    const int nib = (packed[i / 2] >> (i % 2 ? 4 : 0)) & 0x0F;
    out[i] = static_cast<int8_t>(nib >= 8 ? nib - 16 : nib);
  }
  return out;
}

void weight_error(const float* ref, const float* approx, uint64_t n, double* sqnr_db, double* cosine) {
  double sig = 0, err = 0, dot = 0, aa = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const double r = ref[i], a = approx[i];
    sig += r * r;
    err += (r - a) * (r - a);
    dot += r * a;
    aa += a * a;
  }
  *sqnr_db = err > 0 ? 10.0 * std::log10(sig / err) : std::numeric_limits<double>::infinity();
  *cosine = (sig > 0 && aa > 0) ? dot / std::sqrt(sig * aa) : (sig == aa ? 1.0 : 0.0);
}

void validate_weight_storage_options(const WeightStorageOptions& o) {
  switch (o.mode) {
    case WeightStorageMode::KMeans:
      if (o.bits < 2 || o.bits > 8)
        throw Error(ErrorKind::Input, "--bits " + std::to_string(o.bits) + ": kmeans needs 2 to 8 bits");
      break;
    case WeightStorageMode::WeightOnly:
      if (o.bits != 8 && o.bits != 4)
        throw Error(ErrorKind::Input, "--bits " + std::to_string(o.bits) + ": weight-only needs 8 or 4 bits");
      break;
    case WeightStorageMode::Fp16:
      break;
  }
  if (o.block_size != 0 && o.block_size != 32 && o.block_size != 64 && o.block_size != 128)
    throw Error(ErrorKind::Input, "--block-size " + std::to_string(o.block_size) + ": must be 0, 32, 64 or 128");
  if (o.block_size != 0 && o.mode != WeightStorageMode::WeightOnly)
    throw Error(ErrorKind::Input, "--block-size applies to --mode weight-only only");
  if (o.max_iterations < 1) throw Error(ErrorKind::Input, "kmeans iterations must be >= 1");
  if (o.small_filter_bits != 0 && (o.small_filter_bits < 2 || o.small_filter_bits > 8))
    throw Error(ErrorKind::Input, "small-filter codebook of " + std::to_string(o.small_filter_bits) +
                                      " bits: must be 0 (off) or 2 to 8");
  if (o.small_filter_fan_in < 1)
    throw Error(ErrorKind::Input, "small-filter fan-in " + std::to_string(o.small_filter_fan_in) + ": must be >= 1");
}

namespace {

std::string unique_value_name(const Graph& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& n : g.nodes) {
    used.insert(n.name);
    for (const auto& o : n.outputs) used.insert(o);
  }
  std::string s = base;
  for (int k = 1; used.count(s) || g.value(s) || g.initializer(s); ++k) s = base + "_" + std::to_string(k);
  return s;
}

// Output-channel axis of the weight of node n (rank-2 Gemm/MatMul B, Conv W), or -1.
int output_axis(const Node& n, const Tensor& w) { return weight_output_axis(n, w); }

// Input (reduction) axis of the weight of node n, along which blocks run, or -1.
int input_axis(const Node& n, const Tensor& w) {
  if (n.op_type == "Conv") return w.dims.size() >= 3 ? 1 : -1;
  if (w.dims.size() != 2) return -1;
  if (n.op_type == "Gemm") return n.attr_int("transB", 0) ? 1 : 0;
  return 0;  // MatMul B[K, N]
}

Tensor i64_tensor(const std::string& name, const std::vector<int64_t>& v) {
  return Tensor::make_i64(name, {static_cast<int64_t>(v.size())}, v);
}

ValueInfo f32_value(const std::string& name, const std::vector<int64_t>& dims) {
  ValueInfo vi;
  vi.name = name;
  vi.dtype = DType::F32;
  vi.has_shape = true;
  for (int64_t d : dims) vi.shape.push_back(Dim::known(d));
  return vi;
}

// True when an output of n is read by a BatchNormalization (not folded yet).
bool feeds_batchnorm(const Graph& g, const Node& n) {
  for (const auto& m : g.nodes)
    if (m.op_type == "BatchNormalization" && !m.inputs.empty())
      for (const auto& o : n.outputs)
        if (m.inputs[0] == o) return true;
  return false;
}

std::string fmt_bits(const char* what, int bits) { return std::string(what) + std::to_string(bits); }

}  // namespace

WeightStorageReport apply_weight_storage(Model& model, const WeightStorageOptions& opts) {
  validate_weight_storage_options(opts);
  WeightStorageReport rep;
  Graph& g = model.graph;
  std::map<std::string, int> uses;
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs)
      if (!in.empty()) ++uses[in];
  for (const auto& o : g.outputs) ++uses[o.name];
  const std::set<std::string> exclude(opts.exclude.begin(), opts.exclude.end());
  uint64_t applied_weights = 0;

  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node node = g.nodes[ni];  // copy: the vector may grow below
    if (!node.is_default_domain() || (node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul"))
      continue;
    LayerStorageReport lr;
    lr.name = node.name;
    lr.op = node.op_type;
    lr.storage = "fp32";
    lr.weight = node.inputs.size() > 1 ? node.inputs[1] : "";
    Tensor* w = lr.weight.empty() ? nullptr : g.initializer(lr.weight);
    auto skip = [&](const std::string& why) {
      lr.reason = why;
      rep.layers.push_back(lr);
    };
    if (w) lr.elements = w->numel();
    if (exclude.count(node.name) || exclude.count(node.op_type) || exclude.count(lr.weight)) {
      skip("excluded");
      continue;
    }
    if (!w) {
      skip("weight is not an initializer");
      continue;
    }
    if (w->dtype != DType::F32) {
      skip(std::string("weight is ") + dtype_name(w->dtype) + ", not float32");
      continue;
    }
    if (g.is_graph_input(lr.weight) || uses[lr.weight] != 1) {
      skip("weight is shared with other nodes or is a graph input/output");
      continue;
    }
    if (feeds_batchnorm(g, node)) {
      skip("a BatchNormalization follows: run the optimize pipeline first (folding it rescales the weights)");
      continue;
    }
    const uint64_t n = w->numel();
    if (n == 0) {
      skip("weight is empty");
      continue;
    }
    std::vector<float> ref(n);
    std::memcpy(ref.data(), w->data.data(), n * 4);
    bool finite = true;
    for (float v : ref) finite = finite && std::isfinite(v);
    if (!finite) {
      skip("weight holds NaN or Inf");
      continue;
    }
    std::vector<float> stored(n);

    if (opts.mode == WeightStorageMode::KMeans) {
      // Small filters (fan-in: weights per output channel) get the wider codebook when asked.
      int bits = opts.bits;
      const int64_t fan_in = weight_fan_in(node, *w);
      const bool small = opts.small_filter_bits > opts.bits && fan_in > 0 && fan_in < opts.small_filter_fan_in;
      if (small) bits = opts.small_filter_bits;
      const int k = 1 << bits;
      // Pruned layers (>= 1% exact zeros) keep 0 as an exact codebook entry and cluster the rest.
      uint64_t zeros = 0;
      for (float v : ref) zeros += (v == 0.f) ? 1 : 0;
      const bool keep_zero = zeros * 100 >= n && zeros < n;
      std::vector<float> vals;
      if (keep_zero) {
        for (float v : ref)
          if (v != 0.f) vals.push_back(v);
      } else {
        vals = ref;
      }
      const KMeansResult km = kmeans_1d(vals, keep_zero ? k - 1 : k, opts.init, opts.seed, opts.max_iterations);
      for (uint64_t i = 0, j = 0; i < n; ++i) {
        if (keep_zero && ref[i] == 0.f) { stored[i] = 0.f; continue; }
        stored[i] = km.centroids[km.assignment[j++]];
      }
      std::memcpy(w->data.data(), stored.data(), n * 4);
      lr.storage = fmt_bits("kmeans", bits) + " (" + std::to_string(km.centroids.size() + (keep_zero ? 1 : 0)) +
                   " clusters" + (keep_zero ? ", zero kept" : "") + ", " + std::to_string(km.iterations) +
                   " iterations" + (small ? ", filters of " + std::to_string(fan_in) + " weights" : "") + ")";
    } else if (opts.mode == WeightStorageMode::Fp16) {
      bool fits = true;
      for (uint64_t i = 0; i < n; ++i) {
        stored[i] = half_to_float(float_to_half(ref[i]));
        fits = fits && std::isfinite(stored[i]);
      }
      if (!fits) {
        skip("values exceed the fp16 range");
        continue;
      }
      std::memcpy(w->data.data(), stored.data(), n * 4);
      lr.storage = "fp16";
    } else {  // WeightOnly: per output channel, or per block along the input dimension
      const int axis = opts.block_size ? input_axis(node, *w) : output_axis(node, *w);
      if (axis < 0) {
        skip("weight rank not supported (Gemm/MatMul B must be 2-D, Conv W >= 3-D)");
        continue;
      }
      if (model.opset("") < 13) {
        skip("per-channel DequantizeLinear needs opset >= 13 (model has " + std::to_string(model.opset("")) + ")");
        continue;
      }
      const int qmax = opts.bits == 8 ? 127 : 7;
      const std::vector<int64_t> dims = w->dims;
      const uint64_t ch = static_cast<uint64_t>(dims[static_cast<size_t>(axis)]);
      uint64_t inner = 1;
      for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) inner *= static_cast<uint64_t>(dims[d]);
      const uint64_t outer = n / (ch * inner);
      // Groups sharing one scale: per channel c (all outer, inner), or per (outer, block, inner).
      const uint64_t bs = opts.block_size ? static_cast<uint64_t>(opts.block_size) : 0;
      const uint64_t nb = bs ? (ch + bs - 1) / bs : 0;
      auto group_of = [&](uint64_t i) {
        const uint64_t a = (i / inner) % ch;
        if (!bs) return a;
        return ((i / (inner * ch)) * nb + a / bs) * inner + i % inner;
      };
      const uint64_t ngroups = bs ? outer * nb * inner : ch;
      std::vector<float> amax(ngroups, 0.f), scale(ngroups);
      for (uint64_t i = 0; i < n; ++i) amax[group_of(i)] = std::max(amax[group_of(i)], std::fabs(ref[i]));
      for (uint64_t gi = 0; gi < ngroups; ++gi) {
        scale[gi] = amax[gi] > 0.f ? amax[gi] / static_cast<float>(qmax) : 1.f;
        if (!(scale[gi] > 0.f)) scale[gi] = 1.f;  // denormal max
      }
      std::vector<int8_t> qv(n);
      for (uint64_t i = 0; i < n; ++i) {
        const float s = scale[group_of(i)];
        const float v = std::nearbyint(ref[i] / s);
        qv[i] = static_cast<int8_t>(std::min(std::max(v, -static_cast<float>(qmax)), static_cast<float>(qmax)));
        stored[i] = static_cast<float>(qv[i]) * s;
      }
      std::vector<Node> chain;
      std::vector<Tensor> inits;
      std::vector<ValueInfo> values;
      auto add_node = [&](const std::string& op, std::vector<std::string> in, const std::vector<int64_t>& out_dims) {
        Node nd;
        nd.op_type = op;
        nd.name = unique_value_name(g, lr.weight + "_" + op);
        nd.inputs = std::move(in);
        nd.outputs = {unique_value_name(g, nd.name + "_out")};
        values.push_back(f32_value(nd.outputs[0], out_dims));
        chain.push_back(nd);
        return nd.outputs[0];
      };
      std::string out;
      if (!bs) {
        Tensor q = Tensor::zeros(unique_value_name(g, lr.weight + "_quantized"), DType::I8, dims);
        std::memcpy(q.data.data(), qv.data(), n);
        const std::string scale_name = unique_value_name(g, lr.weight + "_scale");
        inits.push_back(Tensor::make_f32(scale_name, {static_cast<int64_t>(ch)}, scale));
        out = add_node("DequantizeLinear", {q.name, scale_name}, dims);
        chain.back().set_attr_int("axis", axis);
        inits.push_back(std::move(q));
        lr.storage = fmt_bits("int", opts.bits) + " per-channel (axis " + std::to_string(axis) + ")";
      } else {
        // ONNX <= 17 has no block DequantizeLinear: x [.., nb, B, ..] int8 (zero padded along the
        // axis) -> DequantizeLinear(1.0) -> Mul(S [.., nb, 1, ..]) -> Reshape -> [Slice] (weight_encoding.h).
        std::vector<int64_t> xd(dims.begin(), dims.begin() + axis);
        xd.push_back(static_cast<int64_t>(nb));
        xd.push_back(static_cast<int64_t>(bs));
        xd.insert(xd.end(), dims.begin() + axis + 1, dims.end());
        std::vector<int64_t> sd = xd;
        sd[static_cast<size_t>(axis) + 1] = 1;
        Tensor q = Tensor::zeros(unique_value_name(g, lr.weight + "_quantized"), DType::I8, xd);
        int8_t* qd = q.as_mut<int8_t>();
        for (uint64_t i = 0; i < n; ++i) {
          const uint64_t a = (i / inner) % ch, o = i / (inner * ch);
          qd[(o * nb * bs + a) * inner + i % inner] = qv[i];
        }
        const std::string one = unique_value_name(g, lr.weight + "_unit_scale");
        inits.push_back(Tensor::make_f32(one, {}, {1.f}));
        const std::string s_name = unique_value_name(g, lr.weight + "_block_scale");
        inits.push_back(Tensor::make_f32(s_name, sd, scale));
        const std::string dq_out = add_node("DequantizeLinear", {q.name, one}, xd);
        const std::string mul_out = add_node("Mul", {dq_out, s_name}, xd);
        std::vector<int64_t> padded = dims;
        padded[static_cast<size_t>(axis)] = static_cast<int64_t>(nb * bs);
        const std::string shape_name = unique_value_name(g, lr.weight + "_block_shape");
        inits.push_back(i64_tensor(shape_name, padded));
        out = add_node("Reshape", {mul_out, shape_name}, padded);
        if (nb * bs != ch) {
          const std::string st = unique_value_name(g, lr.weight + "_slice_starts");
          const std::string en = unique_value_name(g, lr.weight + "_slice_ends");
          const std::string ax = unique_value_name(g, lr.weight + "_slice_axes");
          inits.push_back(i64_tensor(st, {0}));
          inits.push_back(i64_tensor(en, {static_cast<int64_t>(ch)}));
          inits.push_back(i64_tensor(ax, {axis}));
          out = add_node("Slice", {out, st, en, ax}, dims);
        }
        inits.push_back(std::move(q));
        lr.storage = fmt_bits("int", opts.bits) + " blocks of " + std::to_string(bs) + " (axis " +
                     std::to_string(axis) + ")";
      }
      g.remove_initializer(lr.weight);  // w dangles from here on
      w = nullptr;
      for (auto& t : inits) g.initializers.push_back(std::move(t));
      for (auto& v : values) g.set_value_info(v);
      g.nodes[ni].inputs[1] = out;
      g.nodes.insert(g.nodes.begin() + static_cast<long>(ni), chain.begin(), chain.end());
      ni += chain.size();  // the consumer moved on
    }
    weight_error(ref.data(), stored.data(), n, &lr.sqnr_db, &lr.cosine);
    lr.applied = true;
    ++rep.layers_applied;
    applied_weights += n;
    rep.layers.push_back(lr);
  }
  const char* mode = opts.mode == WeightStorageMode::KMeans ? "kmeans"
                     : opts.mode == WeightStorageMode::Fp16 ? "fp16"
                                                            : "weight-only";
  size_t wider = 0;  // layers whose small filters got the wider codebook
  for (const auto& l : rep.layers) wider += l.applied && l.storage.find("filters of ") != std::string::npos;
  rep.summary = std::string(mode) +
                (opts.mode == WeightStorageMode::Fp16 ? std::string() : " " + std::to_string(opts.bits) + " bits") +
                (wider ? " (" + std::to_string(opts.small_filter_bits) + " for the " + std::to_string(wider) +
                             " with filters of < " + std::to_string(opts.small_filter_fan_in) + " weights)"
                       : std::string()) +
                ": " + std::to_string(rep.layers_applied) + " of " + std::to_string(rep.layers.size()) + " layers, " +
                std::to_string(applied_weights) + " weights";
  return rep;
}

}  // namespace quant
}  // namespace mc
