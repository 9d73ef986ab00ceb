// ONNX ops of the IR on ATen (see ir_executor.h for what trains and how masks work).
#include "distill/ir_executor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "compress/error.h"
#include "distill/ir_on_libtorch.h"

namespace mc::distill {
namespace {

const std::set<std::string> kSupported = {
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Erf", "Clip",
    "HardSigmoid", "HardSwish", "BatchNormalization", "LayerNormalization", "MaxPool", "AveragePool",
    "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Transpose", "Concat", "Softmax", "LogSoftmax", "Identity",
    "Dropout", "Constant", "QuantizeLinear", "DequantizeLinear"};

at::Tensor to_torch(const Tensor& t, const std::string& file) {
  std::vector<int64_t> dims(t.dims.begin(), t.dims.end());
  switch (t.dtype) {
    case DType::F32:
      return torch::from_blob(const_cast<uint8_t*>(t.data.data()), dims, at::kFloat).clone();
    case DType::I64:
      return torch::from_blob(const_cast<uint8_t*>(t.data.data()), dims, at::kLong).clone();
    case DType::I32:
      return torch::from_blob(const_cast<uint8_t*>(t.data.data()), dims, at::kInt).clone().to(at::kLong);
    default: {
      (void)file;  // integer tensors (QDQ int8 weights, int32 biases, zero points): their values
      std::vector<float> v(t.numel());
      for (uint64_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t.get_f64(i));
      return torch::from_blob(v.data(), dims, at::kFloat).clone();
    }
  }
}

// pads [b0, b1, ..., e0, e1, ...] → symmetric per-dim padding, or nullopt.
std::optional<std::vector<int64_t>> symmetric(const std::vector<int64_t>& pads, size_t sp) {
  if (pads.empty()) return std::vector<int64_t>(sp, 0);
  std::vector<int64_t> p(sp);
  for (size_t i = 0; i < sp; ++i) {
    if (pads[i] != pads[i + sp]) return std::nullopt;
    p[i] = pads[i];
  }
  return p;
}

// ATen's constant_pad_nd order: last dim first, (begin, end) pairs.
std::vector<int64_t> aten_pads(const std::vector<int64_t>& pads, size_t sp) {
  std::vector<int64_t> r;
  for (size_t i = sp; i-- > 0;) {
    r.push_back(pads[i]);
    r.push_back(pads[i + sp]);
  }
  return r;
}

// Broadcast a per-axis vector along `axis` of a rank-`rank` tensor.
at::Tensor along(const at::Tensor& v, int64_t axis, int64_t rank) {
  if (axis < 0 || v.numel() == 1) return v.reshape({});
  std::vector<int64_t> shape(static_cast<size_t>(rank), 1);
  shape[static_cast<size_t>(axis)] = v.numel();
  return v.reshape(shape);
}

}  // namespace

at::Tensor IrExecutor::weight_scale(const at::Tensor& w, int64_t axis) const {
  at::Tensor a = w.detach().abs();
  at::Tensor mx = axis < 0 ? a.max().reshape({1}) : a.transpose(0, axis).reshape({w.size(axis), -1}).amax(1);
  return at::where(mx > 0, mx / 127.0f, at::ones_like(mx)).contiguous();
}

void IrExecutor::setup_qat(const Model& m) {
  std::unordered_map<std::string, const Node*> producer;
  std::unordered_map<std::string, int> readers;
  for (const Node& n : nodes_) {
    for (const auto& o : n.outputs) producer[o] = &n;
    for (const auto& i : n.inputs) ++readers[i];
  }
  auto consumer = [&](const std::string& v) -> const Node* {
    for (const Node& n : nodes_)
      for (const auto& i : n.inputs)
        if (i == v) return &n;
    return nullptr;
  };
  auto zero_point_ok = [&](const Node& n) {
    if (n.inputs.size() < 3 || n.inputs[2].empty()) return true;
    auto it = consts_.find(n.inputs[2]);
    return it != consts_.end() && it->second.abs().max().item<double>() == 0.0;
  };
  for (const Node& n : nodes_) {
    auto fail = [&](const std::string& why) { throw_input_error(file_, "node '" + n.name + "' (" + n.op_type + "): " + why); };
    if (n.op_type == "QuantizeLinear") {
      if (n.inputs.size() < 2 || !consts_.count(n.inputs[1]) || consts_.at(n.inputs[1]).numel() != 1)
        fail("quantization-aware training needs a constant per-tensor activation scale");
      std::pair<int64_t, int64_t> r{0, 255};  // no zero point: uint8
      if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const Tensor* zp = m.graph.initializer(n.inputs[2]);
        if (!zp || zp->numel() != 1) fail("quantization-aware training needs a constant per-tensor zero point");
        if (zp->dtype == DType::I8) r = {-128, 127};
        else if (zp->dtype != DType::U8) fail(std::string("zero point of type ") + dtype_name(zp->dtype) + " (int8/uint8 only)");
      }
      qrange_[n.outputs[0]] = r;
      continue;
    }
    if (n.op_type != "DequantizeLinear" || n.inputs.empty()) continue;
    const Tensor* q = m.graph.initializer(n.inputs[0]);
    if (!q) continue;  // an activation: (q - zp) * s
    if (q->dtype != DType::I8 && q->dtype != DType::I32)
      fail(std::string("a quantized ") + dtype_name(q->dtype) + " initializer cannot be trained (int8 weights, int32 biases)");
    if (n.inputs.size() < 2 || !m.graph.initializer(n.inputs[1]) || !zero_point_ok(n))
      fail("quantization-aware training needs a constant scale and zero point 0 for '" + q->name + "'");
    if (readers[n.inputs[0]] != 1 || readers[n.inputs[1]] != 1)
      fail("'" + q->name + "' or its scale is shared; quantization-aware training needs them read once");
    const Node* c = consumer(n.outputs[0]);
    if (!c || (c->op_type != "Conv" && c->op_type != "Gemm" && c->op_type != "MatMul"))
      fail("'" + q->name + "' is not the weight or bias of a Conv/Gemm/MatMul");
    if (q->dtype == DType::I8) {
      const double amax = consts_.at(n.inputs[0]).abs().max().item<double>();
      if (amax > 0 && amax <= 7)
        fail("'" + q->name + "' holds 4-bit values (|q| <= 7); quantization-aware training re-quantizes to int8 [-127, 127] "
             "and trains only 8-bit weights (quantize --mode static)");
    }
    QatShadow sh;
    sh.scale = n.inputs[1];
    const at::Tensor& s = consts_.at(sh.scale);
    const int64_t rank = static_cast<int64_t>(q->dims.size());
    if (s.numel() > 1) {
      sh.axis = n.attr_int("axis", 1);
      if (sh.axis < 0) sh.axis += rank;
      if (sh.axis < 0 || sh.axis >= rank || q->dims[static_cast<size_t>(sh.axis)] != s.numel())
        fail("the scale does not match axis " + std::to_string(sh.axis) + " of '" + q->name + "'");
    }
    if (q->dtype == DType::I32) {
      sh.bias = true;
      const Node* wdq = c->inputs.size() > 1 ? producer[c->inputs[1]] : nullptr;
      const Node* xdq = producer[c->inputs[0]];
      if (c->inputs.size() < 3 || c->inputs[2] != n.outputs[0] || !wdq || wdq->op_type != "DequantizeLinear" ||
          !m.graph.initializer(wdq->inputs[0]) || !xdq || xdq->op_type != "DequantizeLinear" || xdq->inputs.size() < 2 ||
          !consts_.count(xdq->inputs[1]) || consts_.at(xdq->inputs[1]).numel() != 1)
        fail("int32 bias '" + q->name + "' is not DQ(x) -> op <- DQ(int8 weight) (docs/quantization.md §3)");
      sh.weight = wdq->inputs[0];
      sh.input_scale = consts_.at(xdq->inputs[1]).item<float>();
    } else if (c->inputs.size() < 2 || c->inputs[1] != n.outputs[0]) {
      fail("int8 '" + q->name + "' is not the weight (input B/W) of " + c->op_type);
    }
    at::Tensor v = consts_.at(n.inputs[0]) * along(s, sh.axis, rank);
    consts_[n.inputs[0]] = v.contiguous();
    qat_[n.inputs[0]] = sh;
  }
}

void make_deterministic(uint64_t seed) {
  at::set_num_threads(1);
  at::globalContext().setDeterministicAlgorithms(true, false);
  torch::manual_seed(seed);
}

IrExecutor::IrExecutor(const Model& m, const std::string& file) : file_(file), nodes_(m.graph.nodes) {
  opset_ = m.opset("");
  const auto inputs = m.graph.real_inputs();
  if (inputs.size() != 1 || m.graph.outputs.size() != 1)
    throw_input_error(file, "the LibTorch executor needs one input and one output (the model has " +
                                std::to_string(inputs.size()) + " and " + std::to_string(m.graph.outputs.size()) + ")");
  if (inputs[0]->dtype != DType::F32 || m.graph.outputs[0].dtype != DType::F32)
    throw_input_error(file, "the LibTorch executor needs a float32 input and output");
  input_ = inputs[0]->name;
  output_ = m.graph.outputs[0].name;
  if (inputs[0]->has_shape)
    for (const Dim& d : inputs[0]->shape) input_shape_.push_back(d.is_known() ? d.value : -1);
  for (const Node& n : nodes_) {
    if (!n.is_default_domain() || !kSupported.count(n.op_type))
      throw_input_error(file, "op " + (n.domain.empty() ? "" : n.domain + ".") + n.op_type + " (node '" + n.name +
                                  "') is not supported by the LibTorch executor (training)");
    if (n.op_type == "Conv" || n.op_type == "MaxPool" || n.op_type == "AveragePool") {
      const std::string ap = n.attr_string("auto_pad", "NOTSET");
      if (ap != "NOTSET" && ap != "VALID")
        throw_input_error(file, "node '" + n.name + "': auto_pad " + ap + " is not supported by the LibTorch executor");
    }
  }
  for (const Tensor& t : m.graph.initializers) consts_[t.name] = to_torch(t, file);
  setup_qat(m);
  // Trainable initializers: see ir_executor.h.
  std::set<std::string> train, maskable;
  auto is_float_init = [&](const std::string& name) {
    const Tensor* t = m.graph.initializer(name);
    return t && t->dtype == DType::F32 && !t->quant;
  };
  for (const Node& n : nodes_) {
    auto mark = [&](size_t i, bool mask) {
      if (i < n.inputs.size() && is_float_init(n.inputs[i])) {
        train.insert(n.inputs[i]);
        if (mask) maskable.insert(n.inputs[i]);
      }
    };
    if (n.op_type == "Conv") mark(1, true), mark(2, false);
    else if (n.op_type == "Gemm") mark(0, true), mark(1, true), mark(2, false);
    else if (n.op_type == "MatMul") mark(0, true), mark(1, true);
    else if (n.op_type == "BatchNormalization" || n.op_type == "LayerNormalization") mark(1, false), mark(2, false);
    else if (n.op_type == "Add" || n.op_type == "Mul")
      for (size_t i = 0; i < 2 && i < n.inputs.size(); ++i)
        if (is_float_init(n.inputs[i]) && m.graph.initializer(n.inputs[i])->numel() > 1) mark(i, false);
  }
  for (const Tensor& t : m.graph.initializers) {  // initializer order: deterministic
    if (!train.count(t.name) && !qat_.count(t.name)) continue;
    trainable_names_.push_back(t.name);
    at::Tensor& v = consts_[t.name];
    if (maskable.count(t.name) && t.numel() > 1) {
      at::Tensor mask = (v != 0).to(at::kFloat);
      if (mask.sum().item<double>() < static_cast<double>(t.numel())) masks_[t.name] = mask;
    }
    v.set_requires_grad(true);
  }
}

std::vector<at::Tensor> IrExecutor::trainable() const {
  std::vector<at::Tensor> r;
  for (const auto& n : trainable_names_) r.push_back(consts_.at(n));
  return r;
}

void IrExecutor::mask_gradients() {
  for (auto& [name, mask] : masks_) {
    at::Tensor& g = consts_[name].mutable_grad();
    if (g.defined()) g.mul_(mask);
  }
}

void IrExecutor::apply_masks() {
  torch::NoGradGuard ng;
  for (auto& [name, mask] : masks_) consts_[name].mul_(mask);
}

uint64_t IrExecutor::masked_weights() const {
  uint64_t z = 0;
  for (const auto& [name, mask] : masks_) z += static_cast<uint64_t>(mask.numel() - mask.sum().item<int64_t>());
  return z;
}

uint64_t IrExecutor::trainable_count() const {
  uint64_t c = 0;
  for (const auto& n : trainable_names_) c += static_cast<uint64_t>(consts_.at(n).numel());
  return c;
}

void IrExecutor::write_back(Model& m) const {
  auto set_scale = [&](const std::string& name, const at::Tensor& sv, Tensor* q) {
    Tensor* st = m.graph.initializer(name);
    if (!st || st->dtype != DType::F32 || st->numel() != static_cast<uint64_t>(sv.numel()))
      throw Error(ErrorKind::Internal, "write_back: scale '" + name + "' changed");
    std::memcpy(st->data.data(), sv.data_ptr<float>(), st->data.size());
    if (q->quant) q->quant->scale.assign(sv.data_ptr<float>(), sv.data_ptr<float>() + sv.numel());
  };
  for (int pass = 0; pass < 2; ++pass)  // weights first: the bias scales use the new weight scales
    for (const auto& name : trainable_names_) {
      auto it = qat_.find(name);
      if (it == qat_.end() || it->second.bias != (pass == 1)) continue;
      const QatShadow& sh = it->second;
      Tensor* t = m.graph.initializer(name);
      const at::Tensor w = consts_.at(name).detach().contiguous();
      if (!t || static_cast<uint64_t>(w.numel()) != t->numel())
        throw Error(ErrorKind::Internal, "write_back: '" + name + "' changed shape");
      const int64_t rank = w.dim();
      if (!sh.bias) {
        const at::Tensor s = weight_scale(w, sh.axis);
        const at::Tensor q = at::clamp(at::round(w / along(s, sh.axis, rank)), -127, 127).to(at::kChar).contiguous();
        std::memcpy(t->data.data(), q.data_ptr<int8_t>(), t->data.size());
        set_scale(sh.scale, s, t);
      } else {
        const QatShadow& wsh = qat_.at(sh.weight);
        const at::Tensor sb = (weight_scale(consts_.at(sh.weight), wsh.axis) * sh.input_scale).contiguous();
        if (sb.numel() != consts_.at(sh.scale).numel())
          throw Error(ErrorKind::Internal, "write_back: bias scale of '" + name + "' does not match its weight");
        const at::Tensor q = at::clamp(at::round(w.to(at::kDouble) / along(sb, sh.axis, rank).to(at::kDouble)),
                                       -2147483648.0, 2147483647.0).to(at::kInt).contiguous();
        std::memcpy(t->data.data(), q.data_ptr<int32_t>(), t->data.size());
        set_scale(sh.scale, sb, t);
      }
    }
  for (const auto& name : trainable_names_) {
    if (qat_.count(name)) continue;
    Tensor* t = m.graph.initializer(name);
    if (!t) throw Error(ErrorKind::Internal, "write_back: no initializer '" + name + "'");
    const at::Tensor v = consts_.at(name).detach().contiguous();
    if (static_cast<uint64_t>(v.numel()) != t->numel() || t->dtype != DType::F32)
      throw Error(ErrorKind::Internal, "write_back: '" + name + "' changed shape or type");
    std::memcpy(t->data.data(), v.data_ptr<float>(), t->data.size());
  }
}

std::vector<int64_t> IrExecutor::ints_of(const std::string& name) const {
  auto it = consts_.find(name);
  if (it == consts_.end())
    throw_input_error(file_, "'" + name + "' must be a constant for the LibTorch executor");
  const at::Tensor t = it->second.to(at::kLong).contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

at::Tensor IrExecutor::forward(const at::Tensor& x) const {
  try {
    return forward_unchecked(x);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw_input_error(file_, "cannot run on LibTorch: " + msg);
  }
}

at::Tensor IrExecutor::forward_unchecked(const at::Tensor& x) const {
  std::unordered_map<std::string, at::Tensor> env;
  env[input_] = x;
  for (const Node& n : nodes_) {
    std::vector<at::Tensor> in;
    for (const auto& name : n.inputs) {
      if (name.empty()) {
        in.emplace_back();
        continue;
      }
      auto e = env.find(name);
      if (e != env.end()) {
        in.push_back(e->second);
        continue;
      }
      auto c = consts_.find(name);
      if (c == consts_.end()) throw_input_error(file_, "node '" + n.name + "' reads '" + name + "', which nothing produces");
      in.push_back(c->second);
    }
    at::Tensor y = run_node(n, in);
    if (!n.outputs.empty()) env[n.outputs[0]] = y;
  }
  auto it = env.find(output_);
  if (it == env.end()) {
    auto c = consts_.find(output_);
    if (c == consts_.end()) throw_input_error(file_, "the output '" + output_ + "' is never produced");
    return c->second;
  }
  return it->second;
}

at::Tensor IrExecutor::run_node(const Node& n, const std::vector<at::Tensor>& in) const {
  const std::string& op = n.op_type;
  auto has = [&](size_t i) { return i < in.size() && in[i].defined(); };
  auto fail = [&](const std::string& why) -> at::Tensor { throw_input_error(file_, "node '" + n.name + "' (" + op + "): " + why); };
  if (op == "Conv") {
    const at::Tensor& x = in[0];
    const at::Tensor& w = in[1];
    const size_t sp = static_cast<size_t>(w.dim() - 2);
    auto strides = n.attr_ints("strides", std::vector<int64_t>(sp, 1));
    auto dil = n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    at::Tensor xin = x;
    auto sym = symmetric(pads, sp);
    std::vector<int64_t> p;
    if (sym) {
      p = *sym;
    } else {
      xin = at::constant_pad_nd(x, aten_pads(pads, sp), 0);
      p.assign(sp, 0);
    }
    return at::convolution(xin, w, has(2) ? in[2] : at::Tensor(), strides, p, dil, false,
                           std::vector<int64_t>(sp, 0), n.attr_int("group", 1));
  }
  if (op == "Gemm") {
    at::Tensor a = n.attr_int("transA", 0) ? in[0].t() : in[0];
    at::Tensor b = n.attr_int("transB", 0) ? in[1].t() : in[1];
    at::Tensor y = at::matmul(a, b);
    const float alpha = n.attr_float("alpha", 1.f), beta = n.attr_float("beta", 1.f);
    if (alpha != 1.f) y = y * alpha;
    if (has(2)) y = beta != 1.f ? y + in[2] * beta : y + in[2];
    return y;
  }
  if (op == "MatMul") return at::matmul(in[0], in[1]);
  if (op == "Add") return in[0] + in[1];
  if (op == "Sub") return in[0] - in[1];
  if (op == "Mul") return in[0] * in[1];
  if (op == "Div") return in[0] / in[1];
  if (op == "Relu") return at::relu(in[0]);
  if (op == "Sigmoid") return at::sigmoid(in[0]);
  if (op == "Tanh") return at::tanh(in[0]);
  if (op == "Erf") return at::erf(in[0]);
  if (op == "Clip") {
    c10::optional<at::Scalar> lo, hi;
    if (opset_ < 11) {
      if (n.attr("min")) lo = n.attr_float("min", 0.f);
      if (n.attr("max")) hi = n.attr_float("max", 0.f);
    } else {
      if (has(1)) lo = in[1].item<float>();
      if (has(2)) hi = in[2].item<float>();
    }
    if (!lo && !hi) return in[0];
    return at::clamp(in[0], lo, hi);
  }
  if (op == "HardSigmoid")
    return at::clamp(in[0] * n.attr_float("alpha", 0.2f) + n.attr_float("beta", 0.5f), 0.0, 1.0);
  if (op == "HardSwish") return in[0] * at::clamp(in[0] / 6.0 + 0.5, 0.0, 1.0);
  if (op == "BatchNormalization") {
    if (n.outputs.size() > 1) return fail("training-mode outputs are not supported");
    return at::batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.0, n.attr_float("epsilon", 1e-5f), false);
  }
  if (op == "LayerNormalization") {
    int64_t axis = n.attr_int("axis", -1);
    if (axis < 0) axis += in[0].dim();
    if (axis < 0 || axis >= in[0].dim()) return fail("axis out of range");
    std::vector<int64_t> shape(in[0].sizes().begin() + axis, in[0].sizes().end());
    return at::layer_norm(in[0], shape, in[1], has(2) ? in[2] : at::Tensor(), n.attr_float("epsilon", 1e-5f));
  }
  if (op == "MaxPool" || op == "AveragePool") {
    const auto k = n.attr_ints("kernel_shape");
    const size_t sp = k.size();
    if (sp != 2 || in[0].dim() != 4) return fail("only 2-D pooling is supported");
    auto strides = n.attr_ints("strides", std::vector<int64_t>(sp, 1));
    auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    const bool ceil = n.attr_int("ceil_mode", 0) != 0;
    auto sym = symmetric(pads, sp);
    if (op == "MaxPool") {
      auto dil = n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
      if (n.outputs.size() > 1) return fail("the Indices output is not supported");
      at::Tensor x = in[0];
      std::vector<int64_t> p = sym ? *sym : std::vector<int64_t>(sp, 0);
      if (!sym) x = at::constant_pad_nd(x, aten_pads(pads, sp), -std::numeric_limits<double>::infinity());
      return at::max_pool2d(x, k, strides, p, dil, ceil);
    }
    if (!sym) return fail("asymmetric pads are not supported");
    return at::avg_pool2d(in[0], k, strides, *sym, ceil, n.attr_int("count_include_pad", 0) != 0);
  }
  if (op == "GlobalAveragePool") {
    std::vector<int64_t> dims;
    for (int64_t d = 2; d < in[0].dim(); ++d) dims.push_back(d);
    return at::mean(in[0], dims, true);
  }
  if (op == "ReduceMean") {
    std::vector<int64_t> axes = opset_ >= 18 ? (has(1) ? ints_of(n.inputs[1]) : std::vector<int64_t>{})
                                              : n.attr_ints("axes");
    if (axes.empty())
      for (int64_t d = 0; d < in[0].dim(); ++d) axes.push_back(d);
    return at::mean(in[0], axes, n.attr_int("keepdims", 1) != 0);
  }
  if (op == "Flatten") {
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += in[0].dim();
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= in[0].size(d);
    return in[0].reshape({outer, -1});
  }
  if (op == "Reshape") {
    auto shape = ints_of(n.inputs[1]);
    const bool allowzero = n.attr_int("allowzero", 0) != 0;
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] == 0 && !allowzero) {
        if (static_cast<int64_t>(i) >= in[0].dim()) return fail("0 in the shape past the input's rank");
        shape[i] = in[0].size(static_cast<int64_t>(i));
      }
    return in[0].reshape(shape);
  }
  if (op == "Transpose") {
    auto perm = n.attr_ints("perm");
    if (perm.empty())
      for (int64_t d = in[0].dim(); d-- > 0;) perm.push_back(d);
    return in[0].permute(perm);
  }
  if (op == "Concat") return at::cat(in, n.attr_int("axis", 0));
  if (op == "Softmax" || op == "LogSoftmax") {
    const bool lg = op == "LogSoftmax";
    int64_t axis = n.attr_int("axis", opset_ >= 13 ? -1 : 1);
    if (opset_ >= 13) return lg ? at::log_softmax(in[0], axis) : at::softmax(in[0], axis);
    if (axis < 0) axis += in[0].dim();
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= in[0].size(d);
    at::Tensor f = in[0].reshape({outer, -1});
    return (lg ? at::log_softmax(f, 1) : at::softmax(f, 1)).reshape(in[0].sizes());
  }
  if (op == "QuantizeLinear") {
    const auto [qmin, qmax] = qrange_.at(n.outputs[0]);
    const double s = in[1].item<float>();
    const int64_t zp = has(2) ? static_cast<int64_t>(std::llround(in[2].item<double>())) : 0;
    // Integer values as floats, with the straight-through gradient of fake quantization.
    return at::fake_quantize_per_tensor_affine(in[0], s, zp, qmin, qmax) / s + static_cast<double>(zp);
  }
  if (op == "DequantizeLinear") {
    auto q = qat_.find(n.inputs[0]);
    if (q != qat_.end()) {
      if (q->second.bias) return in[0];
      const at::Tensor s = weight_scale(in[0], q->second.axis);
      if (q->second.axis < 0) return at::fake_quantize_per_tensor_affine(in[0], s.item<float>(), 0, -127, 127);
      return at::fake_quantize_per_channel_affine(in[0], s, at::zeros({s.numel()}, at::kInt), q->second.axis, -127, 127);
    }
    int64_t axis = -1;
    if (in[1].numel() > 1) {
      axis = n.attr_int("axis", 1);
      if (axis < 0) axis += in[0].dim();
    }
    at::Tensor x = has(2) ? in[0] - along(in[2], axis, in[0].dim()) : in[0];
    return x * along(in[1], axis, in[0].dim());
  }
  if (op == "Identity" || op == "Dropout") return in[0];
  if (op == "Constant") {
    const Attribute* a = n.attr("value");
    if (!a || a->tensors.empty()) return fail("only the 'value' attribute is supported");
    return to_torch(a->tensors[0], file_);
  }
  return fail("not supported by the LibTorch executor");
}

std::vector<float> run_ir_on_libtorch(const Model& m, const std::vector<int64_t>& shape,
                                      const std::vector<float>& input, std::vector<int64_t>* out_shape) {
  IrExecutor ex(m, m.source_files.empty() ? "model" : m.source_files[0]);
  torch::NoGradGuard ng;
  at::Tensor x = torch::from_blob(const_cast<float*>(input.data()), shape, at::kFloat).clone();
  at::Tensor y = ex.forward(x).contiguous();
  if (out_shape) *out_shape = y.sizes().vec();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

}  // namespace mc::distill
