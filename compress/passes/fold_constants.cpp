// fold_constants: evaluates, at optimize time, nodes of the main graph whose inputs
// are all constant, and replaces them by initializers.
//
// "Constant" means an initializer that is not also a graph input (a graph input
// with an initializer is a default the caller may override). Shape and Size are
// also folded when their input's shape is statically known from value_info.
//
// The rule for which ops fold: only the ops in kRules below, each implemented
// exactly per the ONNX spec for the versions listed (opsets 1 to 18), on the dtypes
// each evaluator names. Everything else, including ops ONNX's schema registry does
// not know and ops of other domains, is simply left alone: folding never needs an
// op's semantics, so an unknown op is not an error here. A node whose output is a
// graph output is not folded (the output must stay produced by a node).
//
// Amplification guard (security.md): no folded output may exceed the budget,
// max(16 MiB, 4 x the model's initializer bytes) unless the option
// fold_constants.max_output_bytes sets another; sizes are computed with checked
// arithmetic before anything is allocated, and an oversized node is reported and kept.
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/checked_math.h"
#include "compress/passes/graph_rewrite.h"
#include "compress/passes/pass.h"

namespace mc {
namespace {

struct FoldEnv {
  int64_t opset = 0;
  uint64_t budget = 0;
};

// Why a node was not folded; empty when it was.
using Why = std::string;
using Inputs = std::vector<const Tensor*>;  // nullptr for an omitted optional input

bool byte_sized(DType t) {
  const DTypeInfo& i = dtype_info(t);
  return t != DType::String && t != DType::Undefined && i.bits >= 8 && i.bits % 8 == 0;
}
size_t elem_size(DType t) { return dtype_info(t).bits / 8; }

// A zero-filled output within the budget, or false with *why.
bool alloc(const FoldEnv& env, DType t, const std::vector<int64_t>& dims, Tensor* out, Why* why) {
  uint64_t n = 0, bytes = 0;
  if (!checked_numel(dims, &n) || !dtype_storage_bytes(t, n, &bytes)) {
    *why = "output size overflows";
    return false;
  }
  if (bytes > env.budget) {
    *why = "output of " + std::to_string(bytes) + " bytes exceeds the folding budget of " +
           std::to_string(env.budget) + " bytes";
    return false;
  }
  *out = Tensor::zeros("", t, dims);
  return true;
}

bool is_int_index(DType t) { return t == DType::I64 || t == DType::I32; }

std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> v(t.numel());
  for (uint64_t i = 0; i < v.size(); ++i) v[i] = t.get_i64(i);
  return v;
}

// Normalizes a possibly negative axis against rank; false when out of range.
bool norm_axis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

std::vector<uint64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<uint64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * static_cast<uint64_t>(dims[i]);
  return s;
}

// Multidirectional (numpy) broadcasting: output shape, or false.
bool broadcast_dims(const std::vector<std::vector<int64_t>>& shapes, std::vector<int64_t>* out) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  out->assign(rank, 1);
  for (const auto& s : shapes)
    for (size_t k = 0; k < s.size(); ++k) {
      int64_t& o = (*out)[rank - s.size() + k];
      const int64_t d = s[k];
      if (o == 1) o = d;
      else if (d != 1 && d != o) return false;
    }
  return true;
}

// Walks the output of a broadcast op in row-major order, tracking each input's offset.
struct BroadcastWalk {
  std::vector<int64_t> dims;
  std::vector<std::vector<uint64_t>> stride;  // [input][axis], 0 on broadcast axes
  std::vector<int64_t> idx;
  std::vector<uint64_t> off;

  BroadcastWalk(const std::vector<int64_t>& out_dims, const std::vector<std::vector<int64_t>>& in_dims)
      : dims(out_dims), idx(out_dims.size(), 0), off(in_dims.size(), 0) {
    for (const auto& s : in_dims) {
      std::vector<uint64_t> st(dims.size(), 0);
      const auto own = strides_of(s);
      for (size_t k = 0; k < s.size(); ++k)
        if (s[k] != 1) st[dims.size() - s.size() + k] = own[k];
      stride.push_back(std::move(st));
    }
  }
  void next() {
    for (size_t a = dims.size(); a-- > 0;) {
      ++idx[a];
      for (size_t k = 0; k < off.size(); ++k) off[k] += stride[k][a];
      if (idx[a] < dims[a]) return;
      for (size_t k = 0; k < off.size(); ++k) off[k] -= stride[k][a] * static_cast<uint64_t>(dims[a]);
      idx[a] = 0;
    }
  }
};

template <typename T>
T load(const Tensor& t, uint64_t i) {
  T v;
  std::memcpy(&v, t.data.data() + i * sizeof(T), sizeof(T));
  return v;
}
template <typename T>
void store(Tensor& t, uint64_t i, T v) {
  std::memcpy(t.data.data() + i * sizeof(T), &v, sizeof(T));
}

// ---- shape ops ------------------------------------------------------------------------

// Shape (1-14: whole shape; 15+: start/end, clamped) and Size of a statically shaped value.
bool shape_slice(const Node& n, int64_t opset, int64_t rank, int64_t* b, int64_t* e) {
  *b = 0;
  *e = rank;
  if (opset < 15) return true;
  auto clamp = [&](int64_t v) {
    if (v < 0) v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  *b = clamp(n.attr_int("start", 0));
  if (n.attr("end")) *e = clamp(n.attr_int("end", rank));
  if (*e < *b) *e = *b;
  return true;
}

bool eval_gather(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& data = *in[0];
  const Tensor& ind = *in[1];
  if (!is_int_index(ind.dtype)) return *why = "indices are not int32/int64", false;
  const int64_t r = static_cast<int64_t>(data.dims.size());
  int64_t axis;
  if (r == 0 || !norm_axis(n.attr_int("axis", 0), r, &axis)) return *why = "axis out of range", false;
  const int64_t dim = data.dims[axis];
  std::vector<int64_t> idx = ints_of(ind);
  for (auto& v : idx) {
    if (v < -dim || v >= dim) return *why = "index out of range", false;
    if (v < 0) v += dim;
  }
  std::vector<int64_t> od(data.dims.begin(), data.dims.begin() + axis);
  od.insert(od.end(), ind.dims.begin(), ind.dims.end());
  od.insert(od.end(), data.dims.begin() + axis + 1, data.dims.end());
  Tensor o;
  if (!alloc(env, data.dtype, od, &o, why)) return false;
  uint64_t outer = 1, inner = elem_size(data.dtype);
  for (int64_t k = 0; k < axis; ++k) outer *= static_cast<uint64_t>(data.dims[k]);
  for (int64_t k = axis + 1; k < r; ++k) inner *= static_cast<uint64_t>(data.dims[k]);
  uint8_t* dst = o.data.data();
  for (uint64_t a = 0; a < outer; ++a)
    for (int64_t v : idx) {
      std::memcpy(dst, data.data.data() + (a * dim + v) * inner, inner);
      dst += inner;
    }
  out->push_back(std::move(o));
  return true;
}

bool eval_slice(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& data = *in[0];
  const int64_t r = static_cast<int64_t>(data.dims.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (env.opset < 10) {
    starts = n.attr_ints("starts");
    ends = n.attr_ints("ends");
    axes = n.attr_ints("axes");
  } else {
    for (int k = 1; k < 5 && k < static_cast<int>(in.size()); ++k)
      if (in[k] && !is_int_index(in[k]->dtype)) return *why = "starts/ends/axes/steps are not int32/int64", false;
    if (in.size() < 3 || !in[1] || !in[2]) return *why = "starts and ends are required", false;
    starts = ints_of(*in[1]);
    ends = ints_of(*in[2]);
    if (in.size() > 3 && in[3]) axes = ints_of(*in[3]);
    if (in.size() > 4 && in[4]) steps = ints_of(*in[4]);
  }
  if (starts.size() != ends.size()) return *why = "starts and ends differ in length", false;
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return *why = "axes/steps lengths differ from starts", false;
  std::vector<int64_t> b(r, 0), st(r, 1), od(data.dims);
  std::vector<bool> seen(r, false);
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a;
    if (!norm_axis(axes[k], r, &a) || seen[a]) return *why = "bad or repeated axis", false;
    seen[a] = true;
    const int64_t dim = data.dims[a], step = steps[k];
    if (step == 0) return *why = "step is 0", false;
    int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::min(std::max<int64_t>(s, 0), dim);
      e = std::min(std::max<int64_t>(e, 0), dim);
      od[a] = e > s ? static_cast<int64_t>((static_cast<__int128>(e) - s - 1) / step + 1) : 0;
    } else {
      s = std::min(std::max<int64_t>(s, 0), dim - 1);
      e = std::min(std::max<int64_t>(e, -1), dim - 1);
      od[a] = s > e ? static_cast<int64_t>((static_cast<__int128>(s) - e - 1) / -static_cast<__int128>(step) + 1) : 0;
    }
    b[a] = s;
    st[a] = step;
  }
  Tensor o;
  if (!alloc(env, data.dtype, od, &o, why)) return false;
  const size_t es = elem_size(data.dtype);
  const auto istr = strides_of(data.dims);
  const uint64_t total = o.numel();
  std::vector<int64_t> idx(r, 0);
  for (uint64_t i = 0; i < total; ++i) {
    uint64_t src = 0;
    for (int64_t a = 0; a < r; ++a) src += static_cast<uint64_t>(b[a] + idx[a] * st[a]) * istr[a];
    std::memcpy(o.data.data() + i * es, data.data.data() + src * es, es);
    for (int64_t a = r; a-- > 0;) {
      if (++idx[a] < od[a]) break;
      idx[a] = 0;
    }
  }
  out->push_back(std::move(o));
  return true;
}

bool eval_concat(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  std::vector<const Tensor*> parts;
  for (const Tensor* t : in)
    if (t) parts.push_back(t);
  if (parts.empty()) return *why = "no inputs", false;
  const Tensor& first = *parts[0];
  const int64_t r = static_cast<int64_t>(first.dims.size());
  int64_t axis;
  if (r == 0 || !n.attr("axis") || !norm_axis(n.attr_int("axis", 0), r, &axis)) return *why = "bad axis", false;
  std::vector<int64_t> od = first.dims;
  od[axis] = 0;
  for (const Tensor* t : parts) {
    if (t->dtype != first.dtype || static_cast<int64_t>(t->dims.size()) != r) return *why = "inputs differ", false;
    for (int64_t k = 0; k < r; ++k)
      if (k != axis && t->dims[k] != first.dims[k]) return *why = "inputs differ in shape", false;
    if (__builtin_add_overflow(od[axis], t->dims[axis], &od[axis])) return *why = "concatenated size overflows", false;
  }
  Tensor o;
  if (!alloc(env, first.dtype, od, &o, why)) return false;
  uint64_t outer = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= static_cast<uint64_t>(od[k]);
  uint8_t* dst = o.data.data();
  for (uint64_t a = 0; a < outer; ++a)
    for (const Tensor* t : parts) {
      const uint64_t chunk = outer ? t->data.size() / outer : 0;
      if (chunk) std::memcpy(dst, t->data.data() + a * chunk, chunk);
      dst += chunk;
    }
  out->push_back(std::move(o));
  return true;
}

// Axes of Unsqueeze/Squeeze: attribute before opset 13, optional input from 13.
bool axes_input(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<int64_t>* axes, bool* given, Why* why) {
  if (env.opset < 13) {
    *given = n.attr("axes") != nullptr;
    *axes = n.attr_ints("axes");
    return true;
  }
  *given = in.size() > 1 && in[1];
  if (*given) {
    if (in[1]->dtype != DType::I64) return *why = "axes are not int64", false;
    *axes = ints_of(*in[1]);
  }
  return true;
}

bool eval_unsqueeze(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  std::vector<int64_t> axes;
  bool given = false;
  if (!axes_input(n, in, env, &axes, &given, why)) return false;
  if (!given || axes.empty()) return *why = "axes are required", false;
  const int64_t r = static_cast<int64_t>(in[0]->dims.size() + axes.size());
  std::vector<bool> ins(r, false);
  for (int64_t a : axes) {
    int64_t na;
    if (!norm_axis(a, r, &na) || ins[na]) return *why = "bad or repeated axis", false;
    ins[na] = true;
  }
  std::vector<int64_t> od;
  size_t k = 0;
  for (int64_t a = 0; a < r; ++a) od.push_back(ins[a] ? 1 : in[0]->dims[k++]);
  Tensor o;
  if (!alloc(env, in[0]->dtype, od, &o, why)) return false;
  o.data = in[0]->data;
  out->push_back(std::move(o));
  return true;
}

bool eval_squeeze(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  std::vector<int64_t> axes;
  bool given = false;
  if (!axes_input(n, in, env, &axes, &given, why)) return false;
  const auto& d = in[0]->dims;
  const int64_t r = static_cast<int64_t>(d.size());
  std::vector<bool> drop(r, false);
  if (!given || axes.empty()) {
    for (int64_t a = 0; a < r; ++a) drop[a] = d[a] == 1;
  } else {
    for (int64_t a : axes) {
      int64_t na;
      if (!norm_axis(a, r, &na) || drop[na] || d[na] != 1) return *why = "bad axis or dim is not 1", false;
      drop[na] = true;
    }
  }
  std::vector<int64_t> od;
  for (int64_t a = 0; a < r; ++a)
    if (!drop[a]) od.push_back(d[a]);
  Tensor o;
  if (!alloc(env, in[0]->dtype, od, &o, why)) return false;
  o.data = in[0]->data;
  out->push_back(std::move(o));
  return true;
}

bool eval_reshape(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  if (in.size() < 2 || !in[1] || in[1]->dtype != DType::I64) return *why = "shape is not an int64 tensor", false;
  const auto& d = in[0]->dims;
  std::vector<int64_t> od = ints_of(*in[1]);
  const bool allowzero = env.opset >= 14 && n.attr_int("allowzero", 0) != 0;
  int64_t infer = -1;
  uint64_t known = 1;
  for (size_t k = 0; k < od.size(); ++k) {
    if (od[k] == 0 && !allowzero) {
      if (k >= d.size()) return *why = "0 refers to a missing input dim", false;
      od[k] = d[k];
    }
    if (od[k] == -1) {
      if (infer >= 0) return *why = "more than one -1", false;
      infer = static_cast<int64_t>(k);
    } else if (od[k] < 0) {
      return *why = "negative dim", false;
    } else if (!checked_mul(known, static_cast<uint64_t>(od[k]), &known)) {
      return *why = "shape overflows", false;
    }
  }
  const uint64_t total = in[0]->numel();
  if (infer >= 0) {
    if (known == 0 || total % known) return *why = "cannot infer the -1 dim", false;
    od[infer] = static_cast<int64_t>(total / known);
  } else if (known != total) {
    return *why = "element count differs", false;
  }
  Tensor o;
  if (!alloc(env, in[0]->dtype, od, &o, why)) return false;
  o.data = in[0]->data;
  out->push_back(std::move(o));
  return true;
}

bool eval_identity(const Node&, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  Tensor o;
  if (!alloc(env, in[0]->dtype, in[0]->dims, &o, why)) return false;
  o.data = in[0]->data;
  out->push_back(std::move(o));
  return true;
}

bool eval_transpose(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& x = *in[0];
  const int64_t r = static_cast<int64_t>(x.dims.size());
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (!n.attr("perm"))
    for (int64_t a = r; a-- > 0;) perm.push_back(a);
  if (static_cast<int64_t>(perm.size()) != r) return *why = "perm length differs from rank", false;
  std::vector<bool> seen(r, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= r || seen[p]) return *why = "perm is not a permutation", false;
    seen[p] = true;
  }
  std::vector<int64_t> od(r);
  for (int64_t a = 0; a < r; ++a) od[a] = x.dims[perm[a]];
  Tensor o;
  if (!alloc(env, x.dtype, od, &o, why)) return false;
  const size_t es = elem_size(x.dtype);
  const auto istr = strides_of(x.dims);
  std::vector<int64_t> idx(r, 0);
  const uint64_t total = o.numel();
  for (uint64_t i = 0; i < total; ++i) {
    uint64_t src = 0;
    for (int64_t a = 0; a < r; ++a) src += static_cast<uint64_t>(idx[a]) * istr[perm[a]];
    std::memcpy(o.data.data() + i * es, x.data.data() + src * es, es);
    for (int64_t a = r; a-- > 0;) {
      if (++idx[a] < od[a]) break;
      idx[a] = 0;
    }
  }
  out->push_back(std::move(o));
  return true;
}

// ---- element-wise ---------------------------------------------------------------------

enum class Arith { Add, Sub, Mul, Div };

template <typename T>
bool arith_int(Arith op, T a, T b, T* r) {
  using U = std::make_unsigned_t<T>;
  switch (op) {  // wrap-around, as two's complement hardware (and ORT) computes
    case Arith::Add: *r = static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); return true;
    case Arith::Sub: *r = static_cast<T>(static_cast<U>(a) - static_cast<U>(b)); return true;
    case Arith::Mul: *r = static_cast<T>(static_cast<U>(a) * static_cast<U>(b)); return true;
    case Arith::Div:  // truncation toward zero; division by zero is left to the runtime
      if (b == 0 || (a == std::numeric_limits<T>::min() && b == -1)) return false;
      *r = a / b;
      return true;
  }
  return false;
}
template <typename T>
bool arith_float(Arith op, T a, T b, T* r) {
  switch (op) {
    case Arith::Add: *r = a + b; return true;
    case Arith::Sub: *r = a - b; return true;
    case Arith::Mul: *r = a * b; return true;
    case Arith::Div: *r = a / b; return true;
  }
  return false;
}

template <typename T, bool kFloat>
bool arith_typed(Arith op, const Tensor& a, const Tensor& b, Tensor* o, Why* why) {
  BroadcastWalk w(o->dims, {a.dims, b.dims});
  const uint64_t total = o->numel();
  for (uint64_t i = 0; i < total; ++i, w.next()) {
    T r;
    const T x = load<T>(a, w.off[0]), y = load<T>(b, w.off[1]);
    bool ok;
    if constexpr (kFloat) ok = arith_float(op, x, y, &r);
    else ok = arith_int(op, x, y, &r);
    if (!ok) return *why = "integer division by zero or overflow", false;
    store<T>(*o, i, r);
  }
  return true;
}

template <Arith kOp>
bool eval_arith(const Node&, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  if (a.dtype != b.dtype) return *why = "operand types differ", false;
  std::vector<int64_t> od;
  if (!broadcast_dims({a.dims, b.dims}, &od)) return *why = "shapes do not broadcast", false;
  Tensor o;
  if (!alloc(env, a.dtype, od, &o, why)) return false;
  bool ok;
  switch (a.dtype) {
    case DType::F32: ok = arith_typed<float, true>(kOp, a, b, &o, why); break;
    case DType::F64: ok = arith_typed<double, true>(kOp, a, b, &o, why); break;
    case DType::I32: ok = arith_typed<int32_t, false>(kOp, a, b, &o, why); break;
    case DType::I64: ok = arith_typed<int64_t, false>(kOp, a, b, &o, why); break;
    default: *why = std::string("dtype ") + dtype_name(a.dtype) + " is not folded"; ok = false;
  }
  if (!ok) return false;
  out->push_back(std::move(o));
  return true;
}

// Equal (7+; bool from 11): numeric types compared by value, NaN unequal to itself.
bool eval_equal(const Node&, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  if (a.dtype != b.dtype) return *why = "operand types differ", false;
  const DType t = a.dtype;
  const bool is_float = t == DType::F32 || t == DType::F64;
  const bool is_int = t == DType::I32 || t == DType::I64 || t == DType::I8 || t == DType::U8 || t == DType::I16 ||
                      t == DType::U16 || t == DType::U32 || t == DType::Bool;
  if (!is_float && !is_int) return *why = std::string("dtype ") + dtype_name(t) + " is not folded", false;
  std::vector<int64_t> od;
  if (!broadcast_dims({a.dims, b.dims}, &od)) return *why = "shapes do not broadcast", false;
  Tensor o;
  if (!alloc(env, DType::Bool, od, &o, why)) return false;
  BroadcastWalk w(od, {a.dims, b.dims});
  const uint64_t total = o.numel();
  for (uint64_t i = 0; i < total; ++i, w.next())
    o.data[i] = is_float ? a.get_f64(w.off[0]) == b.get_f64(w.off[1]) : a.get_i64(w.off[0]) == b.get_i64(w.off[1]);
  out->push_back(std::move(o));
  return true;
}

bool eval_where(const Node&, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& c = *in[0];
  const Tensor& x = *in[1];
  const Tensor& y = *in[2];
  if (c.dtype != DType::Bool || x.dtype != y.dtype || !byte_sized(x.dtype)) return *why = "unsupported types", false;
  std::vector<int64_t> od;
  if (!broadcast_dims({c.dims, x.dims, y.dims}, &od)) return *why = "shapes do not broadcast", false;
  Tensor o;
  if (!alloc(env, x.dtype, od, &o, why)) return false;
  const size_t es = elem_size(x.dtype);
  BroadcastWalk w(od, {c.dims, x.dims, y.dims});
  const uint64_t total = o.numel();
  for (uint64_t i = 0; i < total; ++i, w.next()) {
    const bool pick_x = c.data[w.off[0]] != 0;
    std::memcpy(o.data.data() + i * es, (pick_x ? x : y).data.data() + (pick_x ? w.off[1] : w.off[2]) * es, es);
  }
  out->push_back(std::move(o));
  return true;
}

// ---- Cast -----------------------------------------------------------------------------

bool cast_supported(DType t) {
  switch (t) {
    case DType::F32: case DType::F64: case DType::F16: case DType::I8: case DType::U8: case DType::I16:
    case DType::U16: case DType::I32: case DType::I64: case DType::U32: case DType::Bool:
      return true;
    default:
      return false;
  }
}

// Writes integer v into element i of an integer/bool tensor, wrapping to the width.
void store_int(Tensor& o, uint64_t i, int64_t v) {
  switch (o.dtype) {
    case DType::I8: store<int8_t>(o, i, static_cast<int8_t>(v)); break;
    case DType::U8: store<uint8_t>(o, i, static_cast<uint8_t>(v)); break;
    case DType::I16: store<int16_t>(o, i, static_cast<int16_t>(v)); break;
    case DType::U16: store<uint16_t>(o, i, static_cast<uint16_t>(v)); break;
    case DType::I32: store<int32_t>(o, i, static_cast<int32_t>(v)); break;
    case DType::U32: store<uint32_t>(o, i, static_cast<uint32_t>(v)); break;
    case DType::I64: store<int64_t>(o, i, v); break;
    case DType::Bool: o.data[i] = v != 0; break;
    default: break;
  }
}

bool eval_cast(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  const Tensor& x = *in[0];
  const int64_t to_code = n.attr_int("to", 0);
  if (!dtype_is_known(static_cast<int32_t>(to_code))) return *why = "unknown target type", false;
  const DType to = static_cast<DType>(to_code);
  if (!cast_supported(x.dtype) || !cast_supported(to)) return *why = "types not folded", false;
  if (x.dtype == DType::F64 && to == DType::F16) return *why = "double to half is not folded (double rounding)", false;
  const bool from_float = dtype_info(x.dtype).is_float;
  const bool to_float = dtype_info(to).is_float;
  Tensor o;
  if (!alloc(env, to, x.dims, &o, why)) return false;
  const uint64_t total = x.numel();
  for (uint64_t i = 0; i < total; ++i) {
    if (from_float) {
      const double v = x.get_f64(i);
      if (to == DType::F32) store<float>(o, i, static_cast<float>(v));
      else if (to == DType::F64) store<double>(o, i, v);
      else if (to == DType::F16) store<uint16_t>(o, i, float_to_half(static_cast<float>(v)));
      else if (to == DType::Bool) o.data[i] = v != 0.0;
      else {
        // Float to integer truncates toward zero; out-of-range values are undefined in
        // ONNX, so such a node is not folded.
        if (!std::isfinite(v)) return *why = "non-finite value cast to an integer type", false;
        const double t = std::trunc(v);
        const DTypeInfo& ti = dtype_info(to);
        const double lo = ti.is_signed ? -std::ldexp(1.0, static_cast<int>(ti.bits) - 1) : 0.0;
        const double hi = ti.is_signed ? std::ldexp(1.0, static_cast<int>(ti.bits) - 1) : std::ldexp(1.0, ti.bits);
        if (t < lo || t >= hi) return *why = "value out of range of the target type", false;
        store_int(o, i, static_cast<int64_t>(t));
      }
    } else {
      const int64_t v = x.get_i64(i);
      if (to == DType::F32) store<float>(o, i, static_cast<float>(v));
      else if (to == DType::F64) store<double>(o, i, static_cast<double>(v));
      else if (to == DType::F16) {
        // int64 → float → half could round twice; only exact-in-float values fold.
        if (v > (1 << 24) || v < -(1 << 24)) return *why = "integer too large for an exact half cast", false;
        store<uint16_t>(o, i, float_to_half(static_cast<float>(v)));
      } else store_int(o, i, v);
    }
  }
  (void)to_float;
  out->push_back(std::move(o));
  return true;
}

// ---- generators -----------------------------------------------------------------------

bool scalar_of(const Tensor* t) { return t && t->numel() == 1 && t->dims.size() <= 1; }

template <typename T>
bool range_typed(const Tensor& s, const Tensor& l, const Tensor& d, const FoldEnv& env, Tensor* o, Why* why) {
  const T start = load<T>(s, 0), limit = load<T>(l, 0), delta = load<T>(d, 0);
  if (delta == 0) return *why = "delta is 0", false;
  int64_t count;
  if constexpr (std::is_floating_point<T>::value) {
    // As the reference: ceil((limit - start) / delta), the difference in T.
    const double c = std::ceil(static_cast<double>(static_cast<T>(limit - start)) / static_cast<double>(delta));
    if (!std::isfinite(c)) return *why = "non-finite count", false;
    if (c > 9.0e15) return *why = "count too large", false;
    count = c > 0 ? static_cast<int64_t>(c) : 0;
  } else {
    const __int128 diff = static_cast<__int128>(limit) - start;
    const __int128 dl = delta;
    __int128 q = diff / dl;
    if (q * dl != diff && ((diff > 0) == (dl > 0))) ++q;  // ceil
    if (q > (static_cast<__int128>(1) << 62)) return *why = "count too large", false;
    count = q > 0 ? static_cast<int64_t>(q) : 0;
  }
  if (!alloc(env, s.dtype, {count}, o, why)) return false;
  T v = start;  // the spec's function body accumulates: x_{i+1} = x_i + delta
  for (int64_t i = 0; i < count; ++i) {
    store<T>(*o, i, v);
    v = static_cast<T>(v + delta);
  }
  return true;
}

bool eval_range(const Node&, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  if (!scalar_of(in[0]) || !scalar_of(in[1]) || !scalar_of(in[2])) return *why = "inputs are not scalars", false;
  const DType t = in[0]->dtype;
  if (in[1]->dtype != t || in[2]->dtype != t) return *why = "input types differ", false;
  Tensor o;
  bool ok;
  switch (t) {
    case DType::F32: ok = range_typed<float>(*in[0], *in[1], *in[2], env, &o, why); break;
    case DType::F64: ok = range_typed<double>(*in[0], *in[1], *in[2], env, &o, why); break;
    case DType::I16: ok = range_typed<int16_t>(*in[0], *in[1], *in[2], env, &o, why); break;
    case DType::I32: ok = range_typed<int32_t>(*in[0], *in[1], *in[2], env, &o, why); break;
    case DType::I64: ok = range_typed<int64_t>(*in[0], *in[1], *in[2], env, &o, why); break;
    default: *why = "dtype not folded"; ok = false;
  }
  if (!ok) return false;
  out->push_back(std::move(o));
  return true;
}

bool eval_constant_of_shape(const Node& n, const Inputs& in, const FoldEnv& env, std::vector<Tensor>* out, Why* why) {
  if (in[0]->dtype != DType::I64 || in[0]->dims.size() != 1) return *why = "shape is not a 1-D int64 tensor", false;
  const std::vector<int64_t> od = ints_of(*in[0]);
  for (int64_t d : od)
    if (d < 0) return *why = "negative dim", false;
  Tensor fill = Tensor::make_f32("", {1}, {0.f});
  if (const Attribute* a = n.attr("value")) {
    if (a->type != AttrType::Tensor || a->tensors.size() != 1 || a->tensors[0].numel() != 1 ||
        !byte_sized(a->tensors[0].dtype))
      return *why = "value is not a one-element tensor", false;
    fill = a->tensors[0];
  }
  Tensor o;
  if (!alloc(env, fill.dtype, od, &o, why)) return false;
  const size_t es = elem_size(fill.dtype);
  const uint64_t total = o.numel();
  for (uint64_t i = 0; i < total; ++i) std::memcpy(o.data.data() + i * es, fill.data.data(), es);
  out->push_back(std::move(o));
  return true;
}

// True when a float tensor holds NaN or Inf.
bool has_non_finite(const Tensor& t) {
  if (!dtype_info(t.dtype).is_float || !byte_sized(t.dtype)) return false;
  const uint64_t n = t.numel();
  for (uint64_t i = 0; i < n; ++i)
    if (!std::isfinite(t.get_f64(i))) return true;
  return false;
}

// ---- the table ------------------------------------------------------------------------

using Evaluator = bool (*)(const Node&, const Inputs&, const FoldEnv&, std::vector<Tensor>*, Why*);

struct FoldRule {
  const char* op;
  int64_t min_opset;  // first opset whose semantics the evaluator implements
  size_t min_inputs;  // required (non-omitted) leading inputs
  Evaluator eval;
};

const FoldRule kRules[] = {
    {"Identity", 1, 1, eval_identity},
    {"Gather", 1, 2, eval_gather},
    {"Slice", 1, 1, eval_slice},
    {"Concat", 4, 1, eval_concat},  // axis required from 4
    {"Unsqueeze", 1, 1, eval_unsqueeze},
    {"Squeeze", 1, 1, eval_squeeze},
    {"Cast", 6, 1, eval_cast},  // `to` is an int from 6
    {"Reshape", 5, 2, eval_reshape},
    {"Transpose", 1, 1, eval_transpose},
    {"Add", 7, 2, eval_arith<Arith::Add>},  // multidirectional broadcasting from 7
    {"Sub", 7, 2, eval_arith<Arith::Sub>},
    {"Mul", 7, 2, eval_arith<Arith::Mul>},
    {"Div", 7, 2, eval_arith<Arith::Div>},
    {"Equal", 7, 2, eval_equal},
    {"Where", 9, 3, eval_where},
    {"Range", 11, 3, eval_range},
    {"ConstantOfShape", 9, 1, eval_constant_of_shape},
};

const FoldRule* find_rule(const std::string& op) {
  for (const auto& r : kRules)
    if (op == r.op) return &r;
  return nullptr;
}

}  // namespace

PassReport fold_constants(Model& m, PassContext& ctx) {
  PassReport r;
  Graph& g = m.graph;
  FoldEnv env;
  env.opset = m.opset("");
  uint64_t weight_bytes = 0;
  for (const auto& t : g.initializers) weight_bytes += t.data.size();
  uint64_t four_x = 0;
  if (!checked_mul(weight_bytes, 4, &four_x)) four_x = UINT64_MAX;
  env.budget = ctx.option_u64("fold_constants.max_output_bytes", 0);
  if (env.budget == 0) env.budget = std::max<uint64_t>(16ull << 20, four_x);

  std::unordered_set<std::string> constant;
  for (const auto& t : g.initializers)
    if (!g.is_graph_input(t.name)) constant.insert(t.name);

  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  int64_t folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    auto keep = [&](const std::string& why) {
      if (!why.empty()) r.left_alone.push_back(describe_node(n, i) + ": " + why);
      kept.push_back(std::move(n));
    };
    if (!n.is_default_domain()) { keep(""); continue; }
    bool outputs_ok = !n.outputs.empty();
    for (const auto& o : n.outputs)
      if (o.empty() || g.is_graph_output(o)) outputs_ok = false;
    std::vector<Tensor> results;

    if ((n.op_type == "Shape" || n.op_type == "Size") && n.inputs.size() == 1) {
      // The value's shape, from an initializer or static value_info.
      std::vector<int64_t> dims;
      bool known = false;
      if (const Tensor* t = g.initializer(n.inputs[0]); t && constant.count(t->name)) {
        dims = t->dims;
        known = true;
      } else if (const ValueInfo* v = g.value(n.inputs[0]); v && v->is_tensor() && v->shape_is_static()) {
        dims = v->static_shape();
        known = true;
      }
      if (!known || !outputs_ok) { keep(""); continue; }
      if (n.op_type == "Shape") {
        int64_t b, e;
        shape_slice(n, env.opset, static_cast<int64_t>(dims.size()), &b, &e);
        results.push_back(Tensor::make_i64("", {e - b}, std::vector<int64_t>(dims.begin() + b, dims.begin() + e)));
      } else {
        uint64_t numel = 0;
        if (!checked_numel(dims, &numel) || numel > static_cast<uint64_t>(INT64_MAX)) { keep("size overflows"); continue; }
        results.push_back(Tensor::make_i64("", {}, {static_cast<int64_t>(numel)}));
      }
    } else {
      const FoldRule* rule = find_rule(n.op_type);
      if (!rule || env.opset < rule->min_opset || !outputs_ok) { keep(""); continue; }
      Inputs in;
      bool all_const = n.inputs.size() >= rule->min_inputs;
      bool has_bytes = true;
      for (size_t k = 0; k < n.inputs.size() && all_const; ++k) {
        const std::string& name = n.inputs[k];
        if (name.empty()) {
          if (k < rule->min_inputs) all_const = false;
          in.push_back(nullptr);
          continue;
        }
        if (!constant.count(name)) { all_const = false; break; }
        const Tensor* t = g.initializer(name);
        if (!byte_sized(t->dtype)) has_bytes = false;
        in.push_back(t);
      }
      if (!all_const) { keep(""); continue; }
      if (!has_bytes) { keep("input of a type that folding does not handle (string or packed)"); continue; }
      Why why;
      if (!rule->eval(n, in, env, &results, &why)) { keep(why); continue; }
      if (results.size() != n.outputs.size()) { keep("evaluator produced an unexpected number of outputs"); continue; }
    }
    // A non-finite value that folding creates from finite inputs is a defect the caller
    // must see (new_tensors is checked); one that was already in the inputs (a -inf
    // mask, say) is carried along, not created.
    bool inputs_non_finite = false;
    for (const auto& name : n.inputs)
      if (const Tensor* t = name.empty() ? nullptr : g.initializer(name); t && has_non_finite(*t)) inputs_non_finite = true;
    if (const Attribute* a = n.attr("value"); a && a->type == AttrType::Tensor && !a->tensors.empty() &&
                                              has_non_finite(a->tensors[0]))
      inputs_non_finite = true;
    std::string shapes;
    for (size_t k = 0; k < results.size(); ++k) {
      results[k].name = n.outputs[k];
      constant.insert(n.outputs[k]);
      if (!inputs_non_finite) r.new_tensors.push_back(n.outputs[k]);
      std::string s;
      for (int64_t d : results[k].dims) s += (s.empty() ? "" : "x") + std::to_string(d);
      shapes += (k ? ", " : "") + n.outputs[k] + " [" + (s.empty() ? "scalar" : s) + "]";
      g.initializers.push_back(std::move(results[k]));
    }
    r.changes.push_back("folded " + describe_node(n, i) + " → " + shapes);
    ++folded;
  }
  g.nodes = std::move(kept);
  r.counters["folded"] = folded;
  r.counters["left_alone"] = static_cast<int64_t>(r.left_alone.size());
  r.summary = "folded " + std::to_string(folded) + " node(s) into constants";
  if (!r.left_alone.empty()) r.summary += ", " + std::to_string(r.left_alone.size()) + " constant node(s) not folded";
  return r;
}

}  // namespace mc
