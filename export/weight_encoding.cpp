// Weight encodings of the runtime exporter (weight_encoding.h).
#include "export/weight_encoding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>


namespace mc {

PlainSizes plain_sizes(const uint8_t* data, size_t esz, uint64_t count, uint64_t rows) {
  PlainSizes s;
  for (uint64_t i = 0; i < count; ++i) {
    bool stored = false;
    for (size_t b = 0; b < esz && !stored; ++b) stored = data[i * esz + b] != 0;
    s.nnz += stored ? 1 : 0;
  }
  const uint64_t cols = rows ? count / rows : 0;
  s.dense = r64(count * esz);
  s.bitmask = r64((count + 7) / 8) + r64(s.nnz * esz);
  if (rows > 0 && s.nnz <= 0x7fffffffu && cols <= 0x7fffffffu)
    s.csr = r64((rows + 1) * 4) + r64(s.nnz * 4) + r64(s.nnz * esz);
  return s;
}

bool palette_encoding(const float* w, uint64_t count, PaletteEncoding* out) {
  if (count == 0) return false;
  std::vector<uint32_t> pat(count);
  std::memcpy(pat.data(), w, count * 4);
  std::vector<uint32_t> distinct;
  {
    std::vector<uint32_t> sorted(pat);
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t v : sorted) {
      if (!distinct.empty() && distinct.back() == v) continue;
      distinct.push_back(v);
      if (distinct.size() > 256) return false;
    }
  }
  int bits = 1;
  while ((1u << bits) < distinct.size()) bits *= 2;  // 1, 2, 4, 8
  std::vector<uint32_t> idx(count);
  for (uint64_t i = 0; i < count; ++i)
    idx[i] = (uint32_t)(std::lower_bound(distinct.begin(), distinct.end(), pat[i]) - distinct.begin());
  out->bits = bits;
  out->codebook.resize(distinct.size());
  std::memcpy(out->codebook.data(), distinct.data(), distinct.size() * 4);
  out->packed = mcrt::ModelWriter::pack_indices(idx, bits);
  out->disk_bytes = r64(out->codebook.size() * 4) + r64(out->packed.size());
  return true;
}

namespace {

// An initializer that is not overridable by a graph input.
const Tensor* fixed_constant(const Graph& g, const std::string& name) {
  if (name.empty() || g.is_graph_input(name)) return nullptr;
  return g.initializer(name);
}

std::vector<int64_t> int_values(const Tensor& t) {
  std::vector<int64_t> v(t.numel());
  for (uint64_t i = 0; i < v.size(); ++i) v[i] = t.get_i64(i);
  return v;
}

struct Readers {
  std::map<std::string, std::vector<size_t>> of;
  const std::vector<size_t>& operator()(const std::string& v) const {
    static const std::vector<size_t> none;
    auto it = of.find(v);
    return it == of.end() ? none : it->second;
  }
};

// The single node that reads v, with op type `op`, or -1.
long only_reader(const Graph& g, const Readers& rd, const std::string& v, const char* op) {
  const auto& r = rd(v);
  if (r.size() != 1 || g.is_graph_output(v)) return -1;
  const Node& n = g.nodes[r[0]];
  return (n.is_default_domain() && n.op_type == op) ? static_cast<long>(r[0]) : -1;
}

// Block chain after a per-tensor DQ at node `dq` (see the header); fills q or returns false.
bool match_block_chain(const Graph& g, const Readers& rd, size_t dq, const Tensor& x, float dq_scale,
                       QuantizedWeight* q) {
  const long mul = only_reader(g, rd, g.nodes[dq].outputs[0], "Mul");
  if (mul < 0) return false;
  const Node& mn = g.nodes[(size_t)mul];
  const std::string& s_name = mn.inputs[0] == g.nodes[dq].outputs[0] ? mn.inputs[1] : mn.inputs[0];
  const Tensor* s = fixed_constant(g, s_name);
  if (!s || s->dtype != DType::F32 || s->dims.size() != x.dims.size() || x.dims.size() < 2) return false;
  // The block dim is the one dim where S is 1 and x is not (x's dim there = B); the dim before is nb.
  int bdim = -1;
  for (size_t d = 0; d < x.dims.size(); ++d) {
    if (s->dims[d] == x.dims[d]) continue;
    if (s->dims[d] != 1 || bdim >= 0) return false;
    bdim = static_cast<int>(d);
  }
  if (bdim < 1) return false;
  const long rs = only_reader(g, rd, mn.outputs[0], "Reshape");
  if (rs < 0) return false;
  const Node& rn = g.nodes[(size_t)rs];
  const Tensor* shape = rn.inputs.size() > 1 ? fixed_constant(g, rn.inputs[1]) : nullptr;
  if (!shape || rn.inputs[0] != mn.outputs[0]) return false;
  std::vector<int64_t> merged;
  for (size_t d = 0; d < x.dims.size(); ++d) {
    if (static_cast<int>(d) == bdim) merged.back() *= x.dims[d];
    else merged.push_back(x.dims[d]);
  }
  if (int_values(*shape) != merged) return false;
  const int axis = bdim - 1;
  const int64_t bs = x.dims[(size_t)bdim], nb = x.dims[(size_t)axis];
  int64_t dim = nb * bs;
  std::vector<size_t> chain = {dq, (size_t)mul, (size_t)rs};
  std::string out = rn.outputs[0];
  if (const long sl = only_reader(g, rd, out, "Slice"); sl >= 0) {
    const Node& sn = g.nodes[(size_t)sl];
    if (sn.inputs.size() < 4 || sn.inputs.size() > 5 || sn.inputs[0] != out) return false;
    const Tensor* st = fixed_constant(g, sn.inputs[1]);
    const Tensor* en = fixed_constant(g, sn.inputs[2]);
    const Tensor* ax = fixed_constant(g, sn.inputs[3]);
    const Tensor* sp = sn.inputs.size() > 4 ? fixed_constant(g, sn.inputs[4]) : nullptr;
    if (!st || !en || !ax || (sn.inputs.size() > 4 && (!sp || int_values(*sp) != std::vector<int64_t>{1})))
      return false;
    const std::vector<int64_t> e = int_values(*en);
    if (int_values(*st) != std::vector<int64_t>{0} || int_values(*ax) != std::vector<int64_t>{axis} || e.size() != 1 ||
        e[0] <= (nb - 1) * bs || e[0] >= dim)
      return false;
    dim = e[0];
    chain.push_back((size_t)sl);
    out = sn.outputs[0];
  }
  q->output = out;
  q->nodes = chain;
  q->dims = merged;
  q->dims[(size_t)axis] = dim;
  q->axis = axis;
  q->block_size = static_cast<int>(bs);
  q->scale.resize(s->numel());
  for (uint64_t i = 0; i < s->numel(); ++i) q->scale[i] = s->as<float>()[i] * dq_scale;
  // Values without the padding: x is [outer, nb, bs, inner] -> [outer, dim, inner].
  uint64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(x.dims[(size_t)d]);
  for (size_t d = (size_t)bdim + 1; d < x.dims.size(); ++d) inner *= static_cast<uint64_t>(x.dims[d]);
  q->values.clear();
  for (uint64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < dim; ++a) {
      const uint8_t* p = x.data.data() + ((o * static_cast<uint64_t>(nb * bs)) + static_cast<uint64_t>(a)) * inner;
      q->values.insert(q->values.end(), p, p + inner);
    }
  return true;
}

}  // namespace

std::vector<QuantizedWeight> find_quantized_weights(const Graph& g) {
  Readers rd;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) rd.of[in].push_back(i);
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs) producer[o] = i;
  auto is_activation_dq = [&](const std::string& v) {
    auto it = producer.find(v);
    if (it == producer.end()) return false;
    const Node& n = g.nodes[it->second];
    return n.op_type == "DequantizeLinear" && !fixed_constant(g, n.inputs.empty() ? "" : n.inputs[0]);
  };
  std::vector<QuantizedWeight> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.is_default_domain() || n.op_type != "DequantizeLinear" || n.inputs.size() < 2 || n.outputs.size() != 1)
      continue;
    const Tensor* x = fixed_constant(g, n.inputs[0]);
    const Tensor* sc = fixed_constant(g, n.inputs[1]);
    const Tensor* zp = n.inputs.size() > 2 ? fixed_constant(g, n.inputs[2]) : nullptr;
    if (!x || !sc || (x->dtype != DType::I8 && x->dtype != DType::U8) || sc->dtype != DType::F32 || x->dims.empty())
      continue;
    if (n.inputs.size() > 2 && !n.inputs[2].empty() && (!zp || zp->dtype != x->dtype || zp->numel() != sc->numel()))
      continue;
    QuantizedWeight q;
    q.is_signed = x->dtype == DType::I8;
    const int64_t rank = static_cast<int64_t>(x->dims.size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    bool ok = false;
    if (sc->numel() == 1) {
      const float s0 = sc->as<float>()[0];
      const bool zero_zp = !zp || zp->get_i64(0) == 0;
      if (zero_zp && match_block_chain(g, rd, i, *x, s0, &q)) {
        ok = true;
      } else {
        q.output = n.outputs[0];
        q.nodes = {i};
        q.dims = x->dims;
        q.values = x->data;
        q.scale = {s0};
        if (zp && zp->get_i64(0) != 0) q.zero_point = {zp->get_i64(0)};
        ok = true;
      }
    } else if (sc->dims.size() == 1 && axis >= 0 && axis < rank && sc->numel() == (uint64_t)x->dims[(size_t)axis]) {
      q.output = n.outputs[0];
      q.nodes = {i};
      q.dims = x->dims;
      q.values = x->data;
      q.scale.assign(sc->as<float>(), sc->as<float>() + sc->numel());
      if (zp) q.zero_point = int_values(*zp);
      q.axis = static_cast<int>(axis);
      ok = true;
    }
    if (!ok || g.is_graph_output(q.output) || rd(q.output).empty()) continue;
    bool static_qdq = false;
    for (size_t r : rd(q.output))
      for (const auto& in : g.nodes[r].inputs) static_qdq = static_qdq || (in != q.output && is_activation_dq(in));
    bool finite = true;
    for (float v : q.scale) finite = finite && std::isfinite(v) && v > 0;
    if (!static_qdq && finite) out.push_back(std::move(q));
  }
  return out;
}

int add_quantized_weight(mcrt::ModelWriter& w, const std::string& name, const QuantizedWeight& q, uint64_t* bytes) {
  bool int4 = q.is_signed;
  for (size_t i = 0; i < q.values.size() && int4; ++i) {
    const int v = static_cast<int8_t>(q.values[i]);
    int4 = v >= -8 && v <= 7;
  }
  for (int64_t z : q.zero_point) int4 = int4 && z >= -8 && z <= 7;
  int k;
  if (int4) {
    std::vector<uint8_t> packed((q.values.size() + 1) / 2, 0);
    for (size_t i = 0; i < q.values.size(); ++i)
      packed[i / 2] = static_cast<uint8_t>(packed[i / 2] | (i % 2 ? (q.values[i] & 0x0F) << 4 : (q.values[i] & 0x0F)));
    k = w.add_weight(name, mcrt::DType::kI4, q.dims, packed.data(), packed.size());
    *bytes += packed.size();
  } else {
    k = w.add_weight(name, q.is_signed ? mcrt::DType::kI8 : mcrt::DType::kU8, q.dims, q.values.data(), q.values.size());
    *bytes += q.values.size();
  }
  mcrt::QuantParams p;
  p.scale = q.scale;
  p.zero_point = q.zero_point;
  p.axis = q.axis;
  p.block_size = q.block_size;
  w.set_quantization(k, std::move(p));
  return k;
}

}  // namespace mc
