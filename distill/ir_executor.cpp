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
    "Dropout", "Constant"};

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
      if (t.quant) throw_input_error(file, "tensor '" + t.name + "' is quantized; the LibTorch executor trains fp32 models");
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

}  // namespace

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
    if (!train.count(t.name)) continue;
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
  for (const auto& name : trainable_names_) {
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
