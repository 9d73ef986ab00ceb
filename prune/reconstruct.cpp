#include "prune/reconstruct.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "compress/error.h"
#include "prune/least_squares.h"
#include "prune/prunable_layers.h"

namespace mc::prune {
namespace {

// How a layer turns its input into rows of patches, and where its weights live.
struct LayerGeometry {
  std::string op;
  int64_t out = 0;  // O: output rows
  int64_t k = 0;    // inputs per row (without the bias column)
  bool trans_w = false;  // element (o, k) at w[k * O + o] (Gemm transB 0, MatMul) instead of w[o * K + k]
  // Conv only: cin input channels per group; groups is 1 or, for a depthwise Conv, the
  // channel count (one input channel per output)
  int64_t groups = 1;
  int64_t cin = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
};

const Tensor* bias_of(const Graph& g, const Node& n) {
  if (n.inputs.size() < 3 || n.inputs[2].empty()) return nullptr;
  return g.initializer(n.inputs[2]);
}

// Empty string when the layer is usable; otherwise why not.
std::string geometry(const Graph& g, const Node& n, LayerGeometry* geo) {
  const Tensor* w = n.inputs.size() > 1 ? g.initializer(n.inputs[1]) : nullptr;
  if (!w || w->dtype != DType::F32) return "weight is not a float constant";
  geo->op = n.op_type;
  if (n.op_type == "Gemm") {
    if (n.attr_int("transA", 0) != 0) return "transA is not supported";
    if (n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f) return "alpha/beta != 1";
    if (w->dims.size() != 2) return "weight is not 2-D";
    geo->trans_w = n.attr_int("transB", 0) == 0;
    geo->out = geo->trans_w ? w->dims[1] : w->dims[0];
    geo->k = geo->trans_w ? w->dims[0] : w->dims[1];
  } else if (n.op_type == "MatMul") {
    if (w->dims.size() != 2) return "weight is not 2-D";
    geo->trans_w = true;
    geo->k = w->dims[0];
    geo->out = w->dims[1];
  } else if (n.op_type == "Conv") {
    if (w->dims.size() != 4) return "only 2-D convolutions are re-fitted";
    const int64_t group = n.attr_int("group", 1);
    if (group != 1 && !(w->dims[1] == 1 && w->dims[0] == group)) return "grouped convolution (not depthwise)";
    geo->groups = group;
    const std::string ap = n.attr_string("auto_pad", "NOTSET");
    if (ap != "NOTSET" && !ap.empty()) return "auto_pad " + ap;
    const auto st = n.attr_ints("strides", {1, 1}), di = n.attr_ints("dilations", {1, 1}),
               pa = n.attr_ints("pads", {0, 0, 0, 0});
    if (st.size() != 2 || di.size() != 2 || pa.size() != 4) return "unexpected strides/dilations/pads";
    geo->out = w->dims[0];
    geo->cin = w->dims[1];
    geo->kh = w->dims[2];
    geo->kw = w->dims[3];
    geo->k = geo->cin * geo->kh * geo->kw;
    geo->sh = st[0]; geo->sw = st[1]; geo->dh = di[0]; geo->dw = di[1];
    geo->pt = pa[0]; geo->pl = pa[1]; geo->pb = pa[2]; geo->pr = pa[3];
  } else {
    return "not a Conv, Gemm or MatMul";
  }
  if (const Tensor* b = bias_of(g, n)) {
    if (b->dtype != DType::F32 || b->numel() != static_cast<uint64_t>(geo->out)) return "bias is not one float per output";
  } else if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    return "bias is not a constant";
  }
  return {};
}

float weight_at(const float* w, const LayerGeometry& g, int64_t o, int64_t k) {
  return g.trans_w ? w[k * g.out + o] : w[o * g.k + k];
}
float& weight_at(float* w, const LayerGeometry& g, int64_t o, int64_t k) {
  return g.trans_w ? w[k * g.out + o] : w[o * g.k + k];
}

// Rows of patches of one activation, transposed: column-major blocks [k][rows] so that
// Gram entries are dot products of contiguous rows. `cols` = k (+1 with a bias column).
class PatchSource {
 public:
  PatchSource(const LayerGeometry& g, const Activation& a, const std::string& what) : g_(g), a_(a) {
    if (g.op == "Conv") {
      if (a.shape.size() != 4 || a.shape[1] != g.cin * g.groups)
        throw Error(ErrorKind::Internal, what + ": activation shape does not match the convolution's weight");
      n_ = a.shape[0];
      h_ = a.shape[2];
      w_ = a.shape[3];
      oh_ = (h_ + g.pt + g.pb - g.dh * (g.kh - 1) - 1) / g.sh + 1;
      ow_ = (w_ + g.pl + g.pr - g.dw * (g.kw - 1) - 1) / g.sw + 1;
      if (oh_ <= 0 || ow_ <= 0) throw Error(ErrorKind::Internal, what + ": empty convolution output");
      rows_ = n_ * oh_ * ow_;
    } else {
      if (a.shape.empty() || a.shape.back() != g.k)
        throw Error(ErrorKind::Internal, what + ": activation's last dimension does not match the weight");
      rows_ = static_cast<int64_t>(a.data.size()) / g.k;
    }
  }
  int64_t rows() const { return rows_; }
  // Fills dst[k * len + (r - r0)] for rows r0 .. r0 + len - 1, k < g.k (the caller adds the
  // ones column); a Conv's patch reads input channels c0 .. c0 + cin - 1.
  void fill(int64_t r0, int64_t len, double* dst, int64_t c0 = 0) const {
    const float* x = a_.data.data();
    if (g_.op != "Conv") {
      for (int64_t r = 0; r < len; ++r)
        for (int64_t k = 0; k < g_.k; ++k) dst[k * len + r] = x[(r0 + r) * g_.k + k];
      return;
    }
    for (int64_t r = 0; r < len; ++r) {
      const int64_t row = r0 + r;
      const int64_t s = row / (oh_ * ow_), oy = (row / ow_) % oh_, ox = row % ow_;
      const int64_t ctot = g_.cin * g_.groups;
      for (int64_t c = 0; c < g_.cin; ++c)
        for (int64_t ky = 0; ky < g_.kh; ++ky) {
          const int64_t iy = oy * g_.sh - g_.pt + ky * g_.dh;
          for (int64_t kx = 0; kx < g_.kw; ++kx) {
            const int64_t ix = ox * g_.sw - g_.pl + kx * g_.dw;
            const int64_t k = (c * g_.kh + ky) * g_.kw + kx;
            dst[k * len + r] = (iy < 0 || iy >= h_ || ix < 0 || ix >= w_) ? 0.0 : x[((s * ctot + c0 + c) * h_ + iy) * w_ + ix];
          }
        }
    }
  }

 private:
  const LayerGeometry& g_;
  const Activation& a_;
  int64_t n_ = 0, h_ = 0, w_ = 0, oh_ = 1, ow_ = 1, rows_ = 0;
};

// Dot product with eight independent accumulators in a fixed order.
double dot(const double* a, const double* b, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) acc[0] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Largest input size (K: Gemm columns, Conv I*kh*kw) that is re-fitted.
constexpr int64_t kMaxInputs = 2048;

std::string node_label(const Node& n, size_t i) { return layer_name(n, i) + " (" + n.op_type + ")"; }

}  // namespace

ReconstructResult reconstruct_pruned_layers(Model& m, const Model& dense,
                                            const std::map<std::string, std::vector<int64_t>>& kept_outputs,
                                            const ActivationFn& activations, const ReconstructOptions& opts) {
  if (opts.samples == 0) throw Error(ErrorKind::Input, "reconstruction needs at least one calibration sample");
  if (!(opts.ridge > 0) || !std::isfinite(opts.ridge)) throw Error(ErrorKind::Input, "reconstruction ridge must be > 0");
  ReconstructResult res;
  Graph& g = m.graph;
  std::map<std::string, int> weight_readers;
  for (const auto& n : g.nodes)
    for (size_t i = 1; i < n.inputs.size(); ++i) ++weight_readers[n.inputs[i]];
  std::map<std::string, size_t> dense_by_output;
  for (size_t i = 0; i < dense.graph.nodes.size(); ++i)
    if (!dense.graph.nodes[i].outputs.empty()) dense_by_output[dense.graph.nodes[i].outputs[0]] = i;

  const size_t batch = std::max<size_t>(1, opts.batch);
  constexpr int64_t kChunk = 256;
  // Until the first layer that differs from the dense model, inputs are the dense inputs:
  // a layer that is itself unchanged there has nothing to re-fit.
  bool upstream_changed = false;
  auto same_tensor = [&](const std::string& name, const Node* dn, size_t input) {
    const Tensor* a = g.initializer(name);
    const Tensor* b = dn && dn->inputs.size() > input ? dense.graph.initializer(dn->inputs[input]) : nullptr;
    return a && b && a->dtype == b->dtype && a->dims == b->dims && a->nbytes() == b->nbytes() &&
           std::memcmp(a->as<uint8_t>(), b->as<uint8_t>(), a->nbytes()) == 0;
  };
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    if (!n.is_default_domain() || (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul")) continue;
    const std::string label = node_label(n, ni);
    if (!upstream_changed) {
      const auto it = n.outputs.empty() ? dense_by_output.end() : dense_by_output.find(n.outputs[0]);
      const Node* d0 = it == dense_by_output.end() ? nullptr : &dense.graph.nodes[it->second];
      const bool has_b = n.inputs.size() > 2 && !n.inputs[2].empty();
      const bool same = d0 && d0->op_type == n.op_type && n.inputs.size() > 1 && same_tensor(n.inputs[1], d0, 1) &&
                        (!has_b || same_tensor(n.inputs[2], d0, 2));
      if (same) {
        res.skipped.push_back(label + ": unchanged, and so are its inputs");
        continue;
      }
      upstream_changed = true;
    }
    LayerGeometry gp, gd;
    std::string why = geometry(g, n, &gp);
    const auto dit = n.outputs.empty() ? dense_by_output.end() : dense_by_output.find(n.outputs[0]);
    if (why.empty() && dit == dense_by_output.end()) why = "no layer with the same output in the dense model";
    const Node* dn = why.empty() ? &dense.graph.nodes[dit->second] : nullptr;
    if (why.empty() && (dn->op_type != n.op_type || !geometry(dense.graph, *dn, &gd).empty())) why = "dense layer differs";
    if (why.empty() && gp.k > kMaxInputs)
      why = "input size " + std::to_string(gp.k) + " > " + std::to_string(kMaxInputs) +
            " (the re-fit costs up to rows x K^3; exclude it or prune without --calib-data)";
    if (why.empty() && (weight_readers[n.inputs[1]] != 1 || (bias_of(g, n) && weight_readers[n.inputs[2]] != 1)))
      why = "weight shared with another node";
    std::vector<int64_t> out_map(static_cast<size_t>(gp.out));
    if (why.empty()) {
      const auto kit = kept_outputs.find(n.outputs[0]);
      if (kit != kept_outputs.end() && !kit->second.empty()) {
        if (static_cast<int64_t>(kit->second.size()) != gp.out) why = "kept-channel list does not match the weight";
        else out_map = kit->second;
      } else {
        if (gp.out != gd.out) why = "output count differs from the dense layer";
        for (int64_t o = 0; o < gp.out; ++o) out_map[static_cast<size_t>(o)] = o;
      }
      for (int64_t o : out_map)
        if (why.empty() && (o < 0 || o >= gd.out)) why = "kept-channel index out of range";
    }
    if (!why.empty()) {
      res.skipped.push_back(label + ": " + why);
      continue;
    }
    const Tensor* bp = bias_of(g, n);
    const Tensor* bd = bias_of(dense.graph, *dn);
    const bool has_bias = bp != nullptr;
    const int64_t kp = gp.k + (has_bias ? 1 : 0);
    const int64_t kd = gd.k;
    const int64_t O = gp.out;
    if (gp.groups != 1 && gd.groups != gd.out) {
      res.skipped.push_back(label + ": depthwise here but not in the dense model");
      continue;
    }
    // Dense weights of the kept outputs, rows [O][kd], plus their bias.
    std::vector<double> wd(static_cast<size_t>(O * kd)), bdv(static_cast<size_t>(O), 0.0);
    {
      const float* w = dense.graph.initializer(dn->inputs[1])->as<float>();
      for (int64_t o = 0; o < O; ++o) {
        const int64_t od = out_map[static_cast<size_t>(o)];
        for (int64_t k = 0; k < kd; ++k) wd[static_cast<size_t>(o * kd + k)] = weight_at(w, gd, od, k);
        if (bd) bdv[static_cast<size_t>(o)] = bd->as<float>()[od];
      }
    }
    // One least-squares problem per job: a whole layer (group 1) or, for a depthwise Conv,
    // one per channel (its own input channel in the pruned and in the dense model).
    struct Job {
      std::vector<int64_t> outs;
      int64_t pc0 = 0, dc0 = 0;
      std::vector<double> gram, rhs, yy;
    };
    std::vector<Job> jobs;
    if (gp.groups == 1) {
      Job j;
      for (int64_t o = 0; o < O; ++o) j.outs.push_back(o);
      jobs.push_back(std::move(j));
    } else {
      for (int64_t o = 0; o < O; ++o) {
        Job j;
        j.outs = {o};
        j.pc0 = o;
        j.dc0 = out_map[static_cast<size_t>(o)];
        jobs.push_back(std::move(j));
      }
    }
    for (auto& j : jobs) {
      j.gram.assign(static_cast<size_t>(kp * kp), 0.0);
      j.rhs.assign(static_cast<size_t>(kp) * j.outs.size(), 0.0);
      j.yy.assign(j.outs.size(), 0.0);
    }

    ActivationBatchFn run_p = activations(m, {n.inputs[0]});
    ActivationBatchFn run_d = activations(dense, {dn->inputs[0]});
    std::vector<double> pt, dt, yt;
    for (size_t start = 0; start < opts.samples; start += batch) {
      const size_t cnt = std::min(batch, opts.samples - start);
      std::vector<Activation> ap = run_p(start, cnt), ad = run_d(start, cnt);
      if (ap.size() != 1 || ad.size() != 1) throw Error(ErrorKind::Internal, label + ": activation count");
      PatchSource sp(gp, ap[0], label + " (pruned)"), sd(gd, ad[0], label + " (dense)");
      if (sp.rows() != sd.rows()) throw Error(ErrorKind::Internal, label + ": pruned and dense row counts differ");
      for (auto& j : jobs) {
        const int64_t J = static_cast<int64_t>(j.outs.size());
        for (int64_t r0 = 0; r0 < sp.rows(); r0 += kChunk) {
          const int64_t len = std::min<int64_t>(kChunk, sp.rows() - r0);
          pt.assign(static_cast<size_t>(kp * len), 1.0);  // the ones column stays 1
          dt.assign(static_cast<size_t>(kd * len), 0.0);
          sp.fill(r0, len, pt.data(), j.pc0);
          sd.fill(r0, len, dt.data(), j.dc0);
          // Target rows yt[o][r] = dense output.
          yt.assign(static_cast<size_t>(J * len), 0.0);
          for (int64_t jo = 0; jo < J; ++jo) {
            const int64_t o = j.outs[static_cast<size_t>(jo)];
            double* y = yt.data() + jo * len;
            for (int64_t r = 0; r < len; ++r) y[r] = bdv[static_cast<size_t>(o)];
            for (int64_t k = 0; k < kd; ++k) {
              const double wv = wd[static_cast<size_t>(o * kd + k)];
              if (wv == 0.0) continue;
              const double* d = dt.data() + k * len;
              for (int64_t r = 0; r < len; ++r) y[r] += wv * d[r];
            }
            j.yy[static_cast<size_t>(jo)] += dot(y, y, len);
          }
          for (int64_t i = 0; i < kp; ++i) {
            const double* pi = pt.data() + i * len;
            for (int64_t c = i; c < kp; ++c) j.gram[static_cast<size_t>(i * kp + c)] += dot(pi, pt.data() + c * len, len);
            for (int64_t jo = 0; jo < J; ++jo) j.rhs[static_cast<size_t>(i * J + jo)] += dot(pi, yt.data() + jo * len, len);
          }
        }
      }
    }

    Tensor* wt = g.initializer(n.inputs[1]);
    float* w = wt->as_mut<float>();
    float* bias = has_bias ? g.initializer(n.inputs[2])->as_mut<float>() : nullptr;
    ReconstructLayer lr;
    lr.layer = layer_name(n, ni);
    double e_before = 0, e_after = 0, y_total = 0;
    for (auto& j : jobs) {
      const int64_t J = static_cast<int64_t>(j.outs.size());
      std::vector<double>& gram = j.gram;
      for (int64_t i = 0; i < kp; ++i)
        for (int64_t c = 0; c < i; ++c) gram[static_cast<size_t>(i * kp + c)] = gram[static_cast<size_t>(c * kp + i)];
      double mean_diag = 0;
      for (int64_t i = 0; i < gp.k; ++i) mean_diag += gram[static_cast<size_t>(i * kp + i)];
      mean_diag /= static_cast<double>(std::max<int64_t>(1, gp.k));
      const double lambda = opts.ridge * (mean_diag > 0 ? mean_diag : 1.0);
      std::vector<double> h = gram;
      for (int64_t i = 0; i < gp.k; ++i) h[static_cast<size_t>(i * kp + i)] += lambda;

      std::vector<std::vector<size_t>> kept(static_cast<size_t>(J));
      bool want_inverse = false;
      for (int64_t jo = 0; jo < J; ++jo) {
        const int64_t o = j.outs[static_cast<size_t>(jo)];
        auto& ks = kept[static_cast<size_t>(jo)];
        for (int64_t k = 0; k < gp.k; ++k)
          if (weight_at(w, gp, o, k) != 0.f) ks.push_back(static_cast<size_t>(k));
        if (has_bias) ks.push_back(static_cast<size_t>(gp.k));
        if (kp - static_cast<int64_t>(ks.size()) < static_cast<int64_t>(ks.size()) && kp > 64) want_inverse = true;
      }
      std::vector<double> h_inv;
      if (want_inverse) h_inv = spd_inverse(h, static_cast<size_t>(kp));
      std::vector<double> b(static_cast<size_t>(kp)), cur(static_cast<size_t>(kp));
      // Unridged objective ||X w - y||^2 = yy - 2 b.w + w^T G w.
      auto objective = [&](const std::vector<double>& v, int64_t jo) {
        double q = 0;
        for (int64_t i = 0; i < kp; ++i) {
          if (v[static_cast<size_t>(i)] == 0.0) continue;
          q += v[static_cast<size_t>(i)] * dot(gram.data() + i * kp, v.data(), kp);
        }
        return j.yy[static_cast<size_t>(jo)] - 2 * dot(b.data(), v.data(), kp) + q;
      };
      for (int64_t jo = 0; jo < J; ++jo) {
        const int64_t o = j.outs[static_cast<size_t>(jo)];
        for (int64_t i = 0; i < kp; ++i) b[static_cast<size_t>(i)] = j.rhs[static_cast<size_t>(i * J + jo)];
        for (int64_t k = 0; k < gp.k; ++k) cur[static_cast<size_t>(k)] = weight_at(w, gp, o, k);
        if (has_bias) cur[static_cast<size_t>(gp.k)] = bias[o];
        const double before = objective(cur, jo);
        std::vector<double> sol = solve_kept(h, h_inv.empty() ? nullptr : &h_inv, static_cast<size_t>(kp), b.data(),
                                             kept[static_cast<size_t>(jo)]);
        bool solved = !sol.empty();
        for (double v : sol) solved = solved && std::isfinite(v) && std::fabs(v) < 3.0e38;
        double after = before;
        bool better = false;
        if (solved) {
          std::vector<double> as_float(sol.size());
          for (size_t i = 0; i < sol.size(); ++i) as_float[i] = static_cast<double>(static_cast<float>(sol[i]));
          after = objective(as_float, jo);
          solved = std::isfinite(after);
          // Keep the pruned row unless the re-fit fits the calibration data better (the
          // ridge can make a barely pruned row slightly worse).
          better = solved && after <= before;
        }
        if (!solved) ++lr.rows_failed;
        if (!better) {
          after = before;
        } else {
          for (size_t k : kept[static_cast<size_t>(jo)]) {
            if (static_cast<int64_t>(k) == gp.k) bias[o] = static_cast<float>(sol[k]);
            else weight_at(w, gp, o, static_cast<int64_t>(k)) = static_cast<float>(sol[k]);
          }
          ++lr.rows;
        }
        e_before += std::max(0.0, before);
        e_after += std::max(0.0, after);
        y_total += j.yy[static_cast<size_t>(jo)];
      }
    }
    lr.error_before = y_total > 0 ? e_before / y_total : 0;
    lr.error_after = y_total > 0 ? e_after / y_total : 0;
    res.layers.push_back(lr);
  }
  return res;
}

}  // namespace mc::prune
