#include "quantize/bias_correction.h"

#include <algorithm>
#include <unordered_map>

#include "compress/error.h"
#include "quantize/quant_params.h"
#include "quantize/tap_runner.h"

namespace mc::quant {

std::vector<std::vector<double>> channel_means(const Model& m, const std::vector<std::string>& values, const float* x,
                                               size_t samples, int threads) {
  std::vector<std::vector<double>> sums(values.size());
  std::vector<uint64_t> counts(values.size(), 0);
  if (values.empty()) return sums;
  std::vector<size_t> channels(values.size()), inner(values.size());
  for (size_t t = 0; t < values.size(); ++t) {
    const ValueInfo* vi = m.graph.value(values[t]);
    if (!vi || vi->shape.size() < 2) throw Error(ErrorKind::Internal, "channel_means: no shape for '" + values[t] + "'");
    const size_t ax = vi->shape.size() == 2 ? 1 : 1;
    channels[t] = static_cast<size_t>(vi->shape[ax].value);
    inner[t] = 1;
    for (size_t d = ax + 1; d < vi->shape.size(); ++d) inner[t] *= static_cast<size_t>(vi->shape[d].value);
    sums[t].assign(channels[t], 0.0);
  }
  TapRunner runner(m, values, threads, "bias correction");
  const size_t elems = runner.input_sample_elems(), batch = 50;
  std::vector<std::vector<float>> outs;
  for (size_t start = 0; start < samples; start += batch) {
    const size_t b = std::min(batch, samples - start);
    runner.run(x + start * elems, b, &outs);
    for (size_t t = 0; t < values.size(); ++t) {
      const size_t C = channels[t], I = inner[t];
      const size_t per = C * I;
      for (size_t s = 0; s < outs[t].size() / per; ++s)
        for (size_t c = 0; c < C; ++c)
          for (size_t i = 0; i < I; ++i) sums[t][c] += outs[t][(s * C + c) * I + i];
      counts[t] += outs[t].size() / C;
    }
  }
  for (size_t t = 0; t < values.size(); ++t)
    for (auto& v : sums[t]) v /= static_cast<double>(std::max<uint64_t>(1, counts[t]));
  return sums;
}

size_t correct_biases(Model& m, const StaticPlan& plan, const StaticQuantOptions& o, const float* x, size_t samples,
                      int threads) {
  Graph& g = m.graph;
  std::unordered_map<std::string, size_t> by_id;
  for (size_t i = 0; i < g.nodes.size(); ++i) by_id[g.nodes[i].name.empty() ? "#" + std::to_string(i) : g.nodes[i].name] = i;
  std::vector<size_t> layers;
  std::vector<std::string> inputs;
  for (const auto& lp : plan.layers) {
    if (!lp.quantized || (lp.op_type != "Conv" && lp.op_type != "Gemm")) continue;
    const size_t i = by_id.at(lp.node);
    layers.push_back(i);
    inputs.push_back(g.nodes[i].inputs[0]);
  }
  const auto means = channel_means(m, inputs, x, samples, threads);
  for (size_t k = 0; k < layers.size(); ++k) {
    Node& n = g.nodes[layers[k]];
    const Tensor w = *g.initializer(n.inputs[1]);
    const bool gemm = n.op_type == "Gemm";
    const int axis = gemm ? (n.attr_int("transB", 0) ? 0 : 1) : 0;
    const std::vector<float> s = weight_scales(w.as<float>(), w.dims, axis, o.per_channel, n.inputs[1]);
    const std::vector<int8_t> q = quantize_weights(w.as<float>(), w.dims, axis, s);
    const std::vector<double>& ex = means[k];
    // Output channels M and, per output channel, the input channel of each weight element.
    const int64_t M = gemm ? w.dims[static_cast<size_t>(axis)] : w.dims[0];
    std::vector<double> corr(static_cast<size_t>(M), 0.0);
    if (gemm) {
      const int64_t K = w.dims[static_cast<size_t>(1 - axis)];
      for (int64_t c = 0; c < M; ++c)
        for (int64_t j = 0; j < K; ++j) {
          const size_t e = static_cast<size_t>(axis == 0 ? c * K + j : j * M + c);
          const float sc = s[s.size() > 1 ? static_cast<size_t>(c) : 0];
          corr[static_cast<size_t>(c)] += (static_cast<double>(q[e] * sc) - w.as<float>()[e]) * ex[static_cast<size_t>(j)];
        }
    } else {
      const int64_t cpg = w.dims[1], groups = n.attr_int("group", 1), per = static_cast<int64_t>(w.numel()) / (M * cpg);
      const int64_t mpg = M / groups;
      for (int64_t c = 0; c < M; ++c) {
        const float sc = s[s.size() > 1 ? static_cast<size_t>(c) : 0];
        for (int64_t ic = 0; ic < cpg; ++ic) {
          const size_t in_ch = static_cast<size_t>((c / mpg) * cpg + ic);
          for (int64_t k2 = 0; k2 < per; ++k2) {
            const size_t e = static_cast<size_t>((c * cpg + ic) * per + k2);
            corr[static_cast<size_t>(c)] += (static_cast<double>(q[e] * sc) - w.as<float>()[e]) * ex[in_ch];
          }
        }
      }
    }
    if (n.inputs.size() < 3 || n.inputs[2].empty()) {
      std::string name = n.inputs[1] + "_bias";
      for (int j = 1; g.initializer(name) || g.value(name); ++j) name = n.inputs[1] + "_bias_" + std::to_string(j);
      g.initializers.push_back(Tensor::make_f32(name, {M}, std::vector<float>(static_cast<size_t>(M), 0.f)));
      n.inputs.resize(3);
      n.inputs[2] = name;
    }
    float* b = g.initializer(n.inputs[2])->as_mut<float>();
    for (int64_t c = 0; c < M; ++c) b[c] = static_cast<float>(static_cast<double>(b[c]) - corr[static_cast<size_t>(c)]);
  }
  return layers.size();
}

}  // namespace mc::quant
