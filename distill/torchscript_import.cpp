// TorchScript → IR: load, freeze, inline, remove mutation, then map each aten op that
// feeds a graph output to ONNX ops. Nodes no output depends on (shape assertions such
// as adaptive_avg_pool2d's rank check) are not mapped. Scalars and int lists must be
// constants; the one dynamic idiom accepted is x.view(x.size(0), ...) (size(x, i) at
// position i of its own view's shape), which becomes ONNX Reshape's 0 ("copy the dim").
// The IR is then serialized and read back through the ONNX importer, so shape
// inference and every check of import_onnx_bytes apply to TorchScript input too.
#include "distill/torchscript_import.h"

#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/remove_mutation.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_export.h"

namespace mc::distill {
namespace {

using JValue = torch::jit::Value;
using JNode = torch::jit::Node;

std::string kind_of(const JNode* n) { return n->kind().toQualString(); }

class Builder {
 public:
  explicit Builder(std::string file) : file_(std::move(file)) {}

  Graph build(const std::shared_ptr<torch::jit::Graph>& g,
              const std::map<std::string, std::vector<int64_t>>& archive_shapes, const ImportOptions& opts) {
    ir_.name = "torchscript";
    for (const JValue* in : g->inputs()) {
      if (in->type()->kind() != c10::TypeKind::TensorType) {
        if (in == g->inputs()[0]) continue;  // self
        fail("forward() input '" + in->debugName() + "' is not a Tensor");
      }
      const std::string name = fresh(base_name(in->debugName()));
      names_[in] = name;
      std::vector<int64_t> dims;
      if (auto it = opts.input_shapes.find(name); it != opts.input_shapes.end()) dims = it->second;
      else if (auto jt = archive_shapes.find(name); jt != archive_shapes.end()) dims = jt->second;
      else
        fail("input '" + name + "' has no shape: the archive has no \"input_shapes\" entry for it; pass --input-shape " +
             name + "=N,C,H,W");
      ValueInfo vi;
      vi.name = name;
      vi.dtype = DType::F32;
      vi.has_shape = true;
      for (int64_t d : dims) vi.shape.push_back(d < 0 ? Dim::symbol("N") : Dim::known(d));
      rank_[in] = static_cast<int>(dims.size());
      ir_.inputs.push_back(vi);
    }
    for (size_t i = 0; i < g->outputs().size(); ++i)
      output_values_[g->outputs()[i]] = g->outputs().size() == 1 ? "output" : "output_" + std::to_string(i);
    // Only what the outputs depend on (explicit stack).
    std::unordered_set<const JNode*> needed;
    std::vector<const JNode*> stack;
    for (const JValue* o : g->outputs()) stack.push_back(o->node());
    while (!stack.empty()) {
      const JNode* n = stack.back();
      stack.pop_back();
      if (n->kind() == c10::prim::Param || !needed.insert(n).second) continue;
      for (const JValue* v : n->inputs()) stack.push_back(v->node());
    }
    for (const JNode* n : g->nodes())
      if (needed.count(n)) map_node(n);
    for (const JValue* o : g->outputs()) {
      if (o->type()->kind() != c10::TypeKind::TensorType)
        fail("forward() returns a " + o->type()->str() + "; only Tensor outputs are supported");
      std::string name = tensor(o, nullptr);
      if (ir_.is_graph_input(name) || ir_.initializer(name) || output_names_.count(name)) {
        const std::string id = fresh("output");
        emit("Identity", {name}, {id});
        name = id;
      }
      output_names_.insert(name);
      ValueInfo vi;
      vi.name = name;
      vi.dtype = DType::F32;
      ir_.outputs.push_back(vi);
    }
    return std::move(ir_);
  }

  int64_t opset() const { return opset_; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw_input_error(file_, what); }

  static std::string base_name(const std::string& debug) {
    // "x.1" → "x"; TorchScript's uniquing suffix is not part of the user's name.
    const auto dot = debug.rfind('.');
    if (dot != std::string::npos && dot + 1 < debug.size() &&
        debug.find_first_not_of("0123456789", dot + 1) == std::string::npos)
      return debug.substr(0, dot);
    return debug;
  }

  std::string fresh(const std::string& base) {
    std::string b = base.empty() ? "v" : base;
    std::string n = b;
    for (int i = 1; used_.count(n); ++i) n = b + "_" + std::to_string(i);
    used_.insert(n);
    return n;
  }

  Node& emit(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs) {
    Node n;
    n.op_type = op;
    n.name = op + "_" + std::to_string(ir_.nodes.size());
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    ir_.nodes.push_back(std::move(n));
    return ir_.nodes.back();
  }

  std::string add_initializer(const std::string& base, const at::Tensor& t0) {
    const at::Tensor t = t0.detach().to(at::kFloat).contiguous();
    std::vector<float> v(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    const std::string name = fresh(base);
    ir_.initializers.push_back(Tensor::make_f32(name, t.sizes().vec(), v));
    return name;
  }

  std::string add_i64(const std::string& base, const std::vector<int64_t>& v) {
    const std::string name = fresh(base);
    ir_.initializers.push_back(Tensor::make_i64(name, {static_cast<int64_t>(v.size())}, v));
    return name;
  }

  std::string add_scalar(double v) {
    return add_initializer("const", at::scalar_tensor(v, at::kFloat));
  }

  c10::optional<c10::IValue> cval(const JValue* v) const { return torch::jit::toIValue(v); }

  bool is_none(const JValue* v) const {
    auto c = cval(v);
    return c && c->isNone();
  }

  int64_t int_arg(const JNode* n, size_t i) const {
    auto c = cval(n->input(i));
    if (!c || !c->isInt()) fail(kind_of(n) + ": argument " + std::to_string(i) + " must be a constant int");
    return c->toInt();
  }
  double num_arg(const JNode* n, size_t i) const {
    auto c = cval(n->input(i));
    if (c && c->isDouble()) return c->toDouble();
    if (c && c->isInt()) return static_cast<double>(c->toInt());
    fail(kind_of(n) + ": argument " + std::to_string(i) + " must be a constant number");
  }
  bool bool_arg(const JNode* n, size_t i) const {
    auto c = cval(n->input(i));
    if (!c || !c->isBool()) fail(kind_of(n) + ": argument " + std::to_string(i) + " must be a constant bool");
    return c->toBool();
  }
  std::vector<int64_t> ints_arg(const JNode* n, size_t i) const {
    const JValue* v = n->input(i);
    if (auto c = cval(v)) {
      if (c->isIntList()) return c->toIntVector();
      if (c->isInt()) return {c->toInt()};
    }
    if (v->node()->kind() == c10::prim::ListConstruct) {
      std::vector<int64_t> r;
      for (const JValue* e : v->node()->inputs()) {
        auto c = cval(e);
        if (!c || !c->isInt()) fail(kind_of(n) + ": argument " + std::to_string(i) + " must be constant ints");
        r.push_back(c->toInt());
      }
      return r;
    }
    fail(kind_of(n) + ": argument " + std::to_string(i) + " must be a constant int list");
  }

  int rank(const JValue* v) const {
    auto it = rank_.find(v);
    return it == rank_.end() ? -1 : it->second;
  }

  // The IR name of a tensor operand: a mapped value, a constant tensor (becomes an
  // initializer) or a constant number (a float scalar initializer).
  std::string tensor(const JValue* v, const JNode* user) {
    if (auto it = names_.find(v); it != names_.end()) return it->second;
    if (auto c = cval(v)) {
      std::string name;
      if (c->isTensor()) {
        name = add_initializer(base_name(v->debugName()), c->toTensor());
        rank_[v] = static_cast<int>(c->toTensor().dim());
      } else if (c->isDouble() || c->isInt()) {
        name = add_scalar(c->isDouble() ? c->toDouble() : static_cast<double>(c->toInt()));
        rank_[v] = 0;
      } else {
        fail("a constant of type " + v->type()->str() + " where " + (user ? kind_of(user) : "the output") +
             " needs a tensor");
      }
      names_[v] = name;
      return name;
    }
    fail("the value '" + v->debugName() + "' (from " + kind_of(v->node()) + ") is not a tensor the importer can map" +
         (user ? " (used by " + kind_of(user) + ")" : ""));
  }

  std::string out(const JNode* n, int r) {
    const JValue* o = n->output(0);
    auto ov = output_values_.find(o);
    const std::string name = fresh(ov != output_values_.end() ? ov->second : base_name(o->debugName()));
    names_[o] = name;
    if (r >= 0) rank_[o] = r;
    return name;
  }

  void alias(const JNode* n, const JValue* to) {
    names_[n->output(0)] = tensor(to, n);
    if (rank(to) >= 0) rank_[n->output(0)] = rank(to);
  }

  void unary(const JNode* n, const std::string& op) {
    const std::string x = tensor(n->input(0), n);
    emit(op, {x}, {out(n, rank(n->input(0)))});
  }

  void clip(const JNode* n, double lo, double hi) {
    const std::string x = tensor(n->input(0), n);
    const std::string a = add_scalar(lo), b = add_scalar(hi);
    emit("Clip", {x, a, b}, {out(n, rank(n->input(0)))});
  }

  void binary(const JNode* n, const std::string& op) {
    if ((op == "Add" || op == "Sub") && n->inputs().size() > 2 && num_arg(n, 2) != 1.0)
      fail(kind_of(n) + " with alpha != 1 is not supported");
    const std::string a = tensor(n->input(0), n), b = tensor(n->input(1), n);
    emit(op, {a, b}, {out(n, std::max(rank(n->input(0)), rank(n->input(1))))});
  }

  void conv(const JNode* n, bool underscore) {
    // conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups)
    // _convolution/convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, ...)
    if (underscore && bool_arg(n, 6)) fail(kind_of(n) + ": transposed convolution is not supported");
    auto w = cval(n->input(1));
    if (!w || !w->isTensor()) fail(kind_of(n) + ": the weight must be a constant (freeze the module)");
    const auto kdims = w->toTensor().sizes().vec();
    const size_t sp = kdims.size() - 2;
    auto pad_c = cval(n->input(4));
    if (pad_c && pad_c->isString()) fail(kind_of(n) + ": padding='" + pad_c->toStringRef() + "' is not supported; give explicit pads");
    auto expand = [&](std::vector<int64_t> v) {
      if (v.size() == 1) v.assign(sp, v[0]);
      if (v.size() != sp) fail(kind_of(n) + ": stride/padding/dilation rank does not match the kernel");
      return v;
    };
    const auto strides = expand(ints_arg(n, 3)), pads = expand(ints_arg(n, 4)), dil = expand(ints_arg(n, 5));
    const int64_t groups = int_arg(n, underscore ? 8 : 6);
    std::vector<std::string> ins = {tensor(n->input(0), n), tensor(n->input(1), n)};
    if (!is_none(n->input(2))) ins.push_back(tensor(n->input(2), n));
    Node& c = emit("Conv", ins, {out(n, static_cast<int>(kdims.size()))});
    c.set_attr_ints("kernel_shape", std::vector<int64_t>(kdims.begin() + 2, kdims.end()));
    c.set_attr_ints("strides", strides);
    std::vector<int64_t> p = pads;
    p.insert(p.end(), pads.begin(), pads.end());
    c.set_attr_ints("pads", p);
    c.set_attr_ints("dilations", dil);
    c.set_attr_int("group", groups);
  }

  void linear(const JNode* n) {
    auto w = cval(n->input(1));
    const int r = rank(n->input(0));
    const bool has_bias = !is_none(n->input(2));
    if (r == 2) {
      std::vector<std::string> ins = {tensor(n->input(0), n), tensor(n->input(1), n)};
      if (has_bias) ins.push_back(tensor(n->input(2), n));
      Node& g = emit("Gemm", ins, {out(n, 2)});
      g.set_attr_int("transB", 1);
      return;
    }
    if (!w || !w->isTensor()) fail(kind_of(n) + ": the weight must be a constant (freeze the module)");
    const std::string x = tensor(n->input(0), n);
    const std::string wt = add_initializer(base_name(n->input(1)->debugName()) + "_t", w->toTensor().t());
    const std::string y = has_bias ? fresh(base_name(n->output(0)->debugName()) + "_mm") : out(n, r);
    emit("MatMul", {x, wt}, {y});
    if (has_bias) {
      const std::string b = tensor(n->input(2), n);
      emit("Add", {y, b}, {out(n, r)});
    }
  }

  void pool(const JNode* n, bool is_max) {
    // max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
    // avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    auto k = ints_arg(n, 1), s = ints_arg(n, 2), p = ints_arg(n, 3);
    const size_t sp = 2;
    auto expand = [&](std::vector<int64_t> v) {
      if (v.size() == 1) v.assign(sp, v[0]);
      return v;
    };
    k = expand(k);
    s = s.empty() ? k : expand(s);
    p = expand(p);
    if (k.size() != sp || s.size() != sp || p.size() != sp) fail(kind_of(n) + ": kernel/stride/padding must have 2 entries");
    Node& o = emit(is_max ? "MaxPool" : "AveragePool", {tensor(n->input(0), n)}, {out(n, rank(n->input(0)))});
    o.set_attr_ints("kernel_shape", k);
    o.set_attr_ints("strides", s);
    std::vector<int64_t> pads = p;
    pads.insert(pads.end(), p.begin(), p.end());
    o.set_attr_ints("pads", pads);
    if (is_max) {
      const auto d = expand(ints_arg(n, 4));
      if (d.size() != sp) fail(kind_of(n) + ": dilation must have 2 entries");
      o.set_attr_ints("dilations", d);
      o.set_attr_int("ceil_mode", bool_arg(n, 5) ? 1 : 0);
    } else {
      o.set_attr_int("ceil_mode", bool_arg(n, 4) ? 1 : 0);
      o.set_attr_int("count_include_pad", bool_arg(n, 5) ? 1 : 0);
      if (!is_none(n->input(6))) fail(kind_of(n) + ": divisor_override is not supported");
    }
  }

  // view/reshape's shape: constants, or size(x, i) of the reshaped tensor at position i (→ 0).
  std::vector<int64_t> shape_arg(const JNode* n) {
    const JValue* v = n->input(1);
    if (auto c = cval(v); c && c->isIntList()) return c->toIntVector();
    if (v->node()->kind() != c10::prim::ListConstruct) fail(kind_of(n) + ": the shape must be a list");
    std::vector<int64_t> r;
    for (size_t i = 0; i < v->node()->inputs().size(); ++i) {
      const JValue* e = v->node()->input(i);
      if (auto c = cval(e); c && c->isInt()) {
        r.push_back(c->toInt());
        continue;
      }
      const JNode* s = e->node();
      if (s->kind() == c10::aten::size && s->inputs().size() == 2 && s->input(0) == n->input(0)) {
        auto d = cval(s->input(1));
        if (d && d->isInt() && (d->toInt() == static_cast<int64_t>(i) ||
                                (rank(n->input(0)) > 0 && d->toInt() + rank(n->input(0)) == static_cast<int64_t>(i)))) {
          r.push_back(0);
          continue;
        }
      }
      fail(kind_of(n) + ": shape entry " + std::to_string(i) + " is computed (" + kind_of(s) +
           "); only constants and x.size(i) at position i are supported");
    }
    return r;
  }

  void map_node(const JNode* n) {
    const std::string k = kind_of(n);
    auto first = [&]() { return tensor(n->input(0), n); };
    const int r0 = n->inputs().empty() ? -1 : rank(n->input(0));
    // Resolved where they are used, never emitted.
    if (k == "prim::Constant" || k == "prim::ListConstruct" || k == "aten::size") return;
    if (k == "aten::conv1d" || k == "aten::conv2d" || k == "aten::conv3d") return conv(n, false);
    if (k == "aten::_convolution" || k == "aten::convolution") return conv(n, true);
    if (k == "aten::linear") return linear(n);
    if (k == "aten::matmul") {
      const int ra = rank(n->input(0)), rb = rank(n->input(1));
      const int r = (ra < 0 || rb < 0) ? -1 : ra == 1 && rb == 1 ? 0 : ra == 1 ? rb - 1 : rb == 1 ? ra - 1 : std::max(ra, rb);
      const std::string a = first(), b = tensor(n->input(1), n);
      emit("MatMul", {a, b}, {out(n, r)});
      return;
    }
    if (k == "aten::batch_norm") {
      if (bool_arg(n, 5)) fail(k + " in training mode; save the module in eval mode");
      auto ch = cval(n->input(3));
      if (!ch || !ch->isTensor() || is_none(n->input(4)))
        fail(k + ": running statistics must be constants (track_running_stats=True)");
      const int64_t c = ch->toTensor().numel();
      const std::string x = first();
      const std::string sc = is_none(n->input(1)) ? add_initializer("bn_scale", at::ones({c})) : tensor(n->input(1), n);
      const std::string b = is_none(n->input(2)) ? add_initializer("bn_bias", at::zeros({c})) : tensor(n->input(2), n);
      const std::string m = tensor(n->input(3), n), var = tensor(n->input(4), n);
      Node& bn = emit("BatchNormalization", {x, sc, b, m, var}, {out(n, r0)});
      bn.set_attr_float("epsilon", static_cast<float>(num_arg(n, 7)));
      bn.set_attr_float("momentum", static_cast<float>(1.0 - num_arg(n, 6)));
      return;
    }
    if (k == "aten::layer_norm") {
      const auto shape = ints_arg(n, 1);
      int64_t numel = 1;
      for (int64_t d : shape) numel *= d;
      const std::string x = first();
      const std::string sc = is_none(n->input(2)) ? add_initializer("ln_scale", at::ones(shape)) : tensor(n->input(2), n);
      std::vector<std::string> ins = {x, sc};
      if (!is_none(n->input(3))) ins.push_back(tensor(n->input(3), n));
      Node& ln = emit("LayerNormalization", ins, {out(n, r0)});
      ln.set_attr_int("axis", -static_cast<int64_t>(shape.size()));
      ln.set_attr_float("epsilon", static_cast<float>(num_arg(n, 4)));
      opset_ = std::max<int64_t>(opset_, 17);
      return;
    }
    if (k == "aten::relu" || k == "aten::relu_") return unary(n, "Relu");
    if (k == "aten::sigmoid" || k == "aten::sigmoid_") return unary(n, "Sigmoid");
    if (k == "aten::tanh" || k == "aten::tanh_") return unary(n, "Tanh");
    if (k == "aten::relu6" || k == "aten::relu6_") return clip(n, 0.0, 6.0);
    if (k == "aten::clamp" || k == "aten::clamp_") {
      const std::string x = first();
      auto bound = [&](size_t i) -> std::string {
        if (is_none(n->input(i))) return "";
        return add_scalar(num_arg(n, i));
      };
      const std::string lo = bound(1), hi = bound(2);
      std::vector<std::string> ins = {x, lo};
      if (!hi.empty()) ins.push_back(hi);
      emit("Clip", ins, {out(n, r0)});
      return;
    }
    if (k == "aten::erf") return unary(n, "Erf");
    if (k == "aten::t") {
      if (r0 != 2) fail(k + ": the input must have rank 2");
      Node& t = emit("Transpose", {first()}, {out(n, 2)});
      t.set_attr_ints("perm", {1, 0});
      return;
    }
    if (k == "aten::hardtanh" || k == "aten::hardtanh_") return clip(n, num_arg(n, 1), num_arg(n, 2));
    if (k == "aten::hardswish" || k == "aten::hardswish_") {
      opset_ = std::max<int64_t>(opset_, 14);
      return unary(n, "HardSwish");
    }
    if (k == "aten::hardsigmoid" || k == "aten::hardsigmoid_") {
      const std::string x = first();
      Node& h = emit("HardSigmoid", {x}, {out(n, r0)});
      h.set_attr_float("alpha", 1.0f / 6.0f);
      h.set_attr_float("beta", 0.5f);
      return;
    }
    if (k == "aten::gelu") {
      if (n->inputs().size() > 1) {
        auto a = cval(n->input(1));
        if (a && a->isString() && a->toStringRef() != "none")
          fail(k + ": approximate='" + a->toStringRef() + "' is not supported (only 'none')");
      }
      // gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2)))
      const std::string x = first();
      const std::string base = base_name(n->output(0)->debugName());
      const std::string d = fresh(base + "_div"), e = fresh(base + "_erf"), a = fresh(base + "_add"),
                        m = fresh(base + "_mul");
      emit("Div", {x, add_scalar(std::sqrt(2.0))}, {d});
      emit("Erf", {d}, {e});
      emit("Add", {e, add_scalar(1.0)}, {a});
      emit("Mul", {x, a}, {m});
      emit("Mul", {m, add_scalar(0.5)}, {out(n, r0)});
      return;
    }
    if (k == "aten::max_pool2d") return pool(n, true);
    if (k == "aten::avg_pool2d") return pool(n, false);
    if (k == "aten::adaptive_avg_pool2d") {
      const auto os = ints_arg(n, 1);
      if (!std::all_of(os.begin(), os.end(), [](int64_t v) { return v == 1; }))
        fail(k + ": only output size 1 (global average pooling) is supported");
      emit("GlobalAveragePool", {first()}, {out(n, r0)});
      return;
    }
    if (k == "aten::mean") {
      // mean(x, dims, keepdim, dtype): over every spatial dim with keepdim → GlobalAveragePool.
      auto dims = ints_arg(n, 1);
      const bool keep = bool_arg(n, 2);
      if (n->inputs().size() > 3 && !is_none(n->input(3))) fail(k + ": the dtype argument is not supported");
      for (auto& d : dims)
        if (d < 0) {
          if (r0 < 0) fail(k + ": negative dims need a known rank");
          d += r0;
        }
      std::sort(dims.begin(), dims.end());
      bool spatial = keep && r0 >= 3 && dims.size() == static_cast<size_t>(r0 - 2);
      for (size_t i = 0; spatial && i < dims.size(); ++i) spatial = dims[i] == static_cast<int64_t>(i) + 2;
      if (spatial) {
        emit("GlobalAveragePool", {first()}, {out(n, r0)});
        return;
      }
      Node& rm = emit("ReduceMean", {first()}, {out(n, keep || r0 < 0 ? r0 : r0 - static_cast<int>(dims.size()))});
      rm.set_attr_ints("axes", dims);
      rm.set_attr_int("keepdims", keep ? 1 : 0);
      return;
    }
    if (k == "aten::add" || k == "aten::add_") return binary(n, "Add");
    if (k == "aten::sub" || k == "aten::sub_") return binary(n, "Sub");
    if (k == "aten::mul" || k == "aten::mul_") return binary(n, "Mul");
    if (k == "aten::div" || k == "aten::div_") {
      if (n->inputs().size() > 2) fail(k + " with rounding_mode is not supported");
      return binary(n, "Div");
    }
    if (k == "aten::cat" || k == "aten::concat") {
      const JNode* list = n->input(0)->node();
      if (list->kind() != c10::prim::ListConstruct) fail(k + ": the tensor list must be built in the graph");
      std::vector<std::string> ins;
      int r = -1;
      for (const JValue* e : list->inputs()) {
        ins.push_back(tensor(e, n));
        r = std::max(r, rank(e));
      }
      Node& c = emit("Concat", ins, {out(n, r)});
      c.set_attr_int("axis", int_arg(n, 1));
      return;
    }
    if (k == "aten::flatten") {
      int64_t s = int_arg(n, 1), e = int_arg(n, 2);
      if (r0 < 0 && (s < 0 || e != -1)) fail(k + ": the input rank is unknown");
      if (s < 0) s += r0;
      if (e < 0) e += r0 < 0 ? 0 : r0;
      if (r0 >= 0 && e != r0 - 1) fail(k + ": only flattening up to the last dim is supported");
      const std::string x = first();
      if (s == 1) {
        Node& f = emit("Flatten", {x}, {out(n, 2)});
        f.set_attr_int("axis", 1);
        return;
      }
      std::vector<int64_t> shape(static_cast<size_t>(s), 0);
      shape.push_back(-1);
      emit("Reshape", {x, add_i64("shape", shape)}, {out(n, static_cast<int>(s) + 1)});
      return;
    }
    if (k == "aten::view" || k == "aten::reshape") {
      const auto shape = shape_arg(n);
      const std::string x = first();
      emit("Reshape", {x, add_i64("shape", shape)}, {out(n, static_cast<int>(shape.size()))});
      return;
    }
    if (k == "aten::permute") {
      auto perm = ints_arg(n, 1);
      for (auto& p : perm)
        if (p < 0) {
          if (r0 < 0) fail(k + ": negative dims need a known rank");
          p += r0;
        }
      Node& t = emit("Transpose", {first()}, {out(n, r0)});
      t.set_attr_ints("perm", perm);
      return;
    }
    if (k == "aten::softmax" || k == "aten::log_softmax") {
      if (n->inputs().size() > 2 && !is_none(n->input(2))) fail(k + ": the dtype argument is not supported");
      Node& s = emit(k == "aten::softmax" ? "Softmax" : "LogSoftmax", {first()}, {out(n, r0)});
      s.set_attr_int("axis", int_arg(n, 1));
      return;
    }
    if (k == "aten::dropout" || k == "aten::dropout_" || k == "aten::feature_dropout" || k == "aten::alpha_dropout") {
      if (bool_arg(n, 2)) fail(k + " in training mode; save the module in eval mode");
      return alias(n, n->input(0));
    }
    if (k == "aten::contiguous" || k == "aten::detach") return alias(n, n->input(0));
    fail("unsupported TorchScript op " + k);
  }

  std::string file_;
  Graph ir_;
  std::unordered_map<const JValue*, std::string> names_;
  std::unordered_map<const JValue*, int> rank_;
  std::set<std::string> used_;
  std::set<std::string> output_names_;
  std::unordered_map<const JValue*, std::string> output_values_;  // graph outputs get the names output / output_i
  int64_t opset_ = 13;
};

std::map<std::string, std::vector<int64_t>> parse_input_shapes(const std::string& file, const std::string& text) {
  std::map<std::string, std::vector<int64_t>> r;
  if (text.empty()) return r;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw_input_error(file, "the extra file input_shapes is not JSON");
  }
  if (!j.is_object()) throw_input_error(file, "the extra file input_shapes is not a JSON object");
  for (const auto& [name, dims] : j.items()) {
    if (!dims.is_array() || dims.size() > 8) throw_input_error(file, "input_shapes['" + name + "'] is not a list of at most 8 dims");
    std::vector<int64_t> d;
    for (const auto& v : dims) {
      if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() > (1 << 24))
        throw_input_error(file, "input_shapes['" + name + "'] has a dim that is not an integer in [-1, 2^24]");
      d.push_back(v.get<int64_t>());
    }
    r[name] = d;
  }
  return r;
}

torch::jit::Module load_module(const std::string& path, torch::jit::ExtraFilesMap* extra) {
  // Read through the bounded reader first: a missing, special or huge file is refused
  // before LibTorch sees it.
  const std::string bytes = read_file_bounded(path, (1ull << 31) - 1);
  std::istringstream in(bytes);
  try {
    torch::jit::Module m = torch::jit::load(in, c10::nullopt, *extra);
    m.eval();
    return m;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(path, "not a readable TorchScript archive (" + msg + ")");
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(path, "not a readable TorchScript archive (" + msg + ")");
  }
}

Model import_torchscript(const std::string& path, const ImportOptions& opts) {
  torch::jit::ExtraFilesMap extra{{"input_shapes", ""}};
  torch::jit::Module module = load_module(path, &extra);
  std::shared_ptr<torch::jit::Graph> graph;
  try {
    if (!module.find_method("forward")) throw_input_error(path, "the module has no forward() method");
    torch::jit::Module frozen = torch::jit::freeze_module(module);
    graph = frozen.get_method("forward").graph()->copy();
    torch::jit::Inline(*graph);
    torch::jit::RemoveListMutation(graph);
    torch::jit::RemoveTensorMutation(graph);
    torch::jit::ConstantPropagation(graph);  // e.g. w.t() of a frozen weight becomes a constant
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(path, "cannot freeze the module (" + msg + ")");
  }
  Builder b(path);
  Model m;
  m.graph = b.build(graph, parse_input_shapes(path, extra["input_shapes"]), opts);
  m.opsets = {OpsetId{"", b.opset()}};
  m.producer_name = "mcompress-torchscript";
  m.metadata.push_back({"source", "TorchScript " + basename_of(path)});
  // Through the ONNX importer: shape inference and its checks.
  const std::string bytes = export_onnx_bytes(m);
  Model r = import_onnx_bytes(bytes, dirname_of(path), path, opts);
  r.source_files = {path};
  return r;
}

}  // namespace

Model import_torchscript_file(const std::string& path, const ImportOptions& opts) {
  try {
    return import_torchscript(path, opts);
  } catch (const mc::Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(path, "TorchScript import failed (" + msg + ")");
  }
}

std::vector<float> run_torchscript_file(const std::string& path, const std::vector<int64_t>& shape,
                                        const std::vector<float>& input, std::vector<int64_t>* out_shape) {
  torch::jit::ExtraFilesMap extra;
  torch::jit::Module m = load_module(path, &extra);
  torch::NoGradGuard ng;
  at::Tensor x = torch::from_blob(const_cast<float*>(input.data()), shape, at::kFloat).clone();
  at::Tensor y = m.forward({x}).toTensor().contiguous().to(at::kFloat);
  if (out_shape) *out_shape = y.sizes().vec();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

}  // namespace mc::distill
