// Code generation: one TorchScript statement per IR node, ONNX semantics spelled with
// torch functions (Gemm's transposes and alpha/beta, Flatten to 2-D, Reshape's 0 as
// x.size(i), asymmetric pads as constant_pad_nd). Weights: float initializers become
// parameters p0, p1, ... (the IR name is kept in a comment of the source); int64
// shape tensors and Clip bounds are written into the source as literals.
#include "distill/torchscript_export.h"

#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "compress/error.h"
#include "compress/io/file_io.h"

namespace mc::distill {
namespace {

std::string list(const std::vector<int64_t>& v) {
  std::string r = "[";
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + "]";
}

std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "float('inf')" : "-float('inf')";
  std::ostringstream s;
  s << std::setprecision(17) << v;
  std::string r = s.str();
  if (r.find_first_of(".eEn") == std::string::npos) r += ".0";
  return r;
}

struct Generator {
  Generator(const Model& model, std::string f) : m(model), file(std::move(f)) {}
  const Model& m;
  std::string file;
  std::map<std::string, std::string> expr;    // IR value → TorchScript variable
  std::map<std::string, std::string> params;  // initializer → parameter name
  std::vector<const Tensor*> param_order;
  std::ostringstream body;
  int next = 0;

  [[noreturn]] void fail(const Node& n, const std::string& why) const {
    throw_input_error(file, "node '" + n.name + "' (" + n.op_type + "): " + why + " (export --format torchscript)");
  }

  std::map<std::string, Tensor> node_consts;  // outputs of Constant nodes

  const Tensor* init(const std::string& name) const {
    if (auto it = node_consts.find(name); it != node_consts.end()) return &it->second;
    return m.graph.initializer(name);
  }

  std::string value(const Node& n, const std::string& name) {
    if (auto it = expr.find(name); it != expr.end()) return it->second;
    const Tensor* t = init(name);
    if (!t) fail(n, "input '" + name + "' is not produced before it is used");
    if (t->dtype != DType::F32 || t->quant) fail(n, "initializer '" + name + "' is not plain float32");
    const std::string p = "p" + std::to_string(param_order.size());
    params[name] = p;
    param_order.push_back(t);
    expr[name] = "self." + p;
    return expr[name];
  }

  std::vector<int64_t> ints(const Node& n, const std::string& name) const {
    const Tensor* t = init(name);
    if (!t) fail(n, "'" + name + "' must be a constant");
    std::vector<int64_t> r;
    for (uint64_t i = 0; i < t->numel(); ++i) r.push_back(t->get_i64(i));
    return r;
  }

  std::optional<double> scalar(const Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
    const Tensor* t = init(n.inputs[i]);
    if (!t || t->numel() != 1) fail(n, "input " + std::to_string(i) + " must be a constant scalar");
    return t->get_f64(0);
  }

  int rank_of(const std::string& name) const {
    const ValueInfo* vi = m.graph.value(name);
    return vi && vi->has_shape ? static_cast<int>(vi->shape.size()) : -1;
  }

  std::string fresh() { return "v" + std::to_string(next++); }

  void node(const Node& n) {
    const std::string& op = n.op_type;
    if (!n.is_default_domain()) fail(n, "domain " + n.domain + " has no TorchScript mapping");
    auto in = [&](size_t i) { return value(n, n.inputs.at(i)); };
    auto has = [&](size_t i) { return i < n.inputs.size() && !n.inputs[i].empty(); };
    if (n.outputs.empty()) fail(n, "no output");
    if (op == "Constant") {
      const Attribute* a = n.attr("value");
      if (!a || a->tensors.empty()) fail(n, "only the 'value' attribute is supported");
      Tensor t = a->tensors[0];
      t.name = n.outputs[0];
      node_consts[n.outputs[0]] = std::move(t);
      return;
    }
    if (op == "Identity" || op == "Dropout") {
      expr[n.outputs[0]] = in(0);
      return;
    }
    std::string rhs;
    if (op == "Conv") {
      const Tensor* w = init(n.inputs.at(1));
      if (!w) fail(n, "the weight must be an initializer");
      const size_t sp = w->dims.size() - 2;
      if (sp < 1 || sp > 3) fail(n, "only 1-D to 3-D convolution");
      const std::string ap = n.attr_string("auto_pad", "NOTSET");
      if (ap != "NOTSET" && ap != "VALID") fail(n, "auto_pad " + ap);
      auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
      std::string x = in(0);
      std::vector<int64_t> p(sp);
      bool sym = true;
      for (size_t i = 0; i < sp; ++i) sym = sym && pads[i] == pads[i + sp];
      if (sym) {
        for (size_t i = 0; i < sp; ++i) p[i] = pads[i];
      } else {
        std::vector<int64_t> ap2;
        for (size_t i = sp; i-- > 0;) ap2.push_back(pads[i]), ap2.push_back(pads[i + sp]);
        const std::string padded = fresh();
        body << "        " << padded << " = torch.constant_pad_nd(" << x << ", " << list(ap2) << ", 0.0)\n";
        x = padded;
      }
      rhs = "torch.conv" + std::to_string(sp) + "d(" + x + ", " + in(1) + ", " + (has(2) ? in(2) : "None") + ", " +
            list(n.attr_ints("strides", std::vector<int64_t>(sp, 1))) + ", " + list(p) + ", " +
            list(n.attr_ints("dilations", std::vector<int64_t>(sp, 1))) + ", " + std::to_string(n.attr_int("group", 1)) +
            ")";
    } else if (op == "Gemm") {
      const std::string a = in(0) + (n.attr_int("transA", 0) ? ".t()" : "");
      const std::string b = in(1) + (n.attr_int("transB", 0) ? ".t()" : "");
      rhs = "torch.matmul(" + a + ", " + b + ")";
      const float alpha = n.attr_float("alpha", 1.f), beta = n.attr_float("beta", 1.f);
      if (alpha != 1.f) rhs += " * " + num(alpha);
      if (has(2)) rhs += " + " + in(2) + (beta != 1.f ? " * " + num(beta) : "");
    } else if (op == "MatMul") {
      rhs = "torch.matmul(" + in(0) + ", " + in(1) + ")";
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      const char* sym = op == "Add" ? " + " : op == "Sub" ? " - " : op == "Mul" ? " * " : " / ";
      rhs = in(0) + sym + in(1);
    } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Erf") {
      std::string f = op;
      for (auto& c : f) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      rhs = "torch." + f + "(" + in(0) + ")";
    } else if (op == "Clip") {
      std::optional<double> lo, hi;
      if (m.opset("") < 11) {
        if (n.attr("min")) lo = n.attr_float("min", 0.f);
        if (n.attr("max")) hi = n.attr_float("max", 0.f);
      } else {
        lo = scalar(n, 1);
        hi = scalar(n, 2);
      }
      rhs = "torch.clamp(" + in(0) + ", " + (lo ? num(*lo) : "None") + ", " + (hi ? num(*hi) : "None") + ")";
    } else if (op == "HardSigmoid") {
      rhs = "torch.clamp(" + in(0) + " * " + num(n.attr_float("alpha", 0.2f)) + " + " + num(n.attr_float("beta", 0.5f)) +
            ", 0.0, 1.0)";
    } else if (op == "HardSwish") {
      rhs = in(0) + " * torch.clamp(" + in(0) + " / 6.0 + 0.5, 0.0, 1.0)";
    } else if (op == "BatchNormalization") {
      if (n.outputs.size() > 1) fail(n, "training-mode outputs");
      rhs = "torch.batch_norm(" + in(0) + ", " + in(1) + ", " + in(2) + ", " + in(3) + ", " + in(4) + ", False, 0.0, " +
            num(n.attr_float("epsilon", 1e-5f)) + ", False)";
    } else if (op == "LayerNormalization") {
      const Tensor* s = init(n.inputs.at(1));
      if (!s) fail(n, "the scale must be an initializer");
      rhs = "torch.layer_norm(" + in(0) + ", " + list(s->dims) + ", " + in(1) + ", " + (has(2) ? in(2) : "None") + ", " +
            num(n.attr_float("epsilon", 1e-5f)) + ", False)";
      const int r = rank_of(n.inputs[0]);
      int64_t axis = n.attr_int("axis", -1);
      if (r >= 0 && axis < 0) axis += r;
      if (r < 0 || axis + static_cast<int64_t>(s->dims.size()) != r) fail(n, "the scale must cover the dims from axis on");
    } else if (op == "MaxPool" || op == "AveragePool") {
      const auto k = n.attr_ints("kernel_shape");
      if (k.size() != 2) fail(n, "only 2-D pooling");
      const std::string ap = n.attr_string("auto_pad", "NOTSET");
      if (ap != "NOTSET" && ap != "VALID") fail(n, "auto_pad " + ap);
      const auto pads = n.attr_ints("pads", {0, 0, 0, 0});
      if (pads[0] != pads[2] || pads[1] != pads[3]) fail(n, "asymmetric pads");
      const std::string s = list(n.attr_ints("strides", {1, 1})), p = list({pads[0], pads[1]});
      const std::string ceil = n.attr_int("ceil_mode", 0) ? "True" : "False";
      if (op == "MaxPool") {
        if (n.outputs.size() > 1) fail(n, "the Indices output");
        rhs = "torch.max_pool2d(" + in(0) + ", " + list(k) + ", " + s + ", " + p + ", " +
              list(n.attr_ints("dilations", {1, 1})) + ", " + ceil + ")";
      } else {
        rhs = "torch.avg_pool2d(" + in(0) + ", " + list(k) + ", " + s + ", " + p + ", " + ceil + ", " +
              (n.attr_int("count_include_pad", 0) ? "True" : "False") + ")";
      }
    } else if (op == "GlobalAveragePool") {
      const int r = rank_of(n.inputs[0]);
      if (r < 3) fail(n, "the input rank must be known");
      std::vector<int64_t> dims;
      for (int d = 2; d < r; ++d) dims.push_back(d);
      rhs = "torch.mean(" + in(0) + ", " + list(dims) + ", True)";
    } else if (op == "ReduceMean") {
      if (m.opset("") >= 18) fail(n, "opset 18 ReduceMean (axes as an input)");
      const auto axes = n.attr_ints("axes");
      if (axes.empty()) fail(n, "ReduceMean over all dims");
      rhs = "torch.mean(" + in(0) + ", " + list(axes) + ", " + (n.attr_int("keepdims", 1) ? "True" : "False") + ")";
    } else if (op == "Flatten") {
      int64_t axis = n.attr_int("axis", 1);
      const int r = rank_of(n.inputs[0]);
      if (axis < 0) {
        if (r < 0) fail(n, "a negative axis needs a known rank");
        axis += r;
      }
      if (axis == 0) rhs = in(0) + ".reshape([1, -1])";
      else if (axis == 1) rhs = "torch.flatten(" + in(0) + ", 1)";
      else rhs = "torch.flatten(torch.flatten(" + in(0) + ", " + std::to_string(axis) + "), 0, " + std::to_string(axis - 1) + ")";
    } else if (op == "Reshape") {
      auto shape = ints(n, n.inputs.at(1));
      const std::string x = in(0);
      std::string l = "[";
      for (size_t i = 0; i < shape.size(); ++i) {
        l += i ? ", " : "";
        l += shape[i] == 0 && !n.attr_int("allowzero", 0) ? x + ".size(" + std::to_string(i) + ")" : std::to_string(shape[i]);
      }
      rhs = x + ".reshape(" + l + "])";
    } else if (op == "Transpose") {
      auto perm = n.attr_ints("perm");
      if (perm.empty()) {
        const int r = rank_of(n.inputs[0]);
        if (r < 0) fail(n, "no perm and an unknown rank");
        for (int d = r; d-- > 0;) perm.push_back(d);
      }
      rhs = in(0) + ".permute(" + list(perm) + ")";
    } else if (op == "Concat") {
      std::string l = "[";
      for (size_t i = 0; i < n.inputs.size(); ++i) l += (i ? ", " : "") + in(i);
      rhs = "torch.cat(" + l + "], " + std::to_string(n.attr_int("axis", 0)) + ")";
    } else if (op == "Softmax" || op == "LogSoftmax") {
      if (m.opset("") < 13) fail(n, "opset < 13 softmax semantics (run optimize/export on opset >= 13)");
      rhs = std::string(op == "Softmax" ? "torch.softmax(" : "torch.log_softmax(") + in(0) + ", " +
            std::to_string(n.attr_int("axis", -1)) + ")";
    } else {
      fail(n, "no TorchScript mapping");
    }
    if (n.outputs.size() > 1) fail(n, "more than one output");
    const std::string v = fresh();
    body << "        " << v << " = " << rhs << "\n";
    expr[n.outputs[0]] = v;
  }

  std::string run() {
    const auto ins = m.graph.real_inputs();
    if (ins.size() != 1 || m.graph.outputs.size() != 1)
      throw_input_error(file, "TorchScript export needs one input and one output");
    expr[ins[0]->name] = "x";
    for (const Node& n : m.graph.nodes) node(n);
    const std::string& out = m.graph.outputs[0].name;
    auto it = expr.find(out);
    if (it == expr.end()) throw_input_error(file, "the output '" + out + "' is never produced");
    std::ostringstream src;
    src << "    def forward(self, x: Tensor) -> Tensor:\n";
    for (const auto& [ir, p] : params) src << "        # " << p << ": " << ir << "\n";
    src << body.str() << "        return " << it->second << "\n";
    return src.str();
  }
};

}  // namespace

std::string torchscript_source(const Model& m, const std::string& file) {
  Generator g{m, file};
  return g.run();
}

void export_torchscript_file(const Model& m, const std::string& path, const std::vector<std::string>& inputs) {
  const std::string file = m.source_files.empty() ? path : m.source_files[0];
  Generator g{m, file};
  const std::string src = g.run();
  std::ostringstream os;
  try {
    torch::jit::Module mod("__torch__.mcompress.Model");
    for (size_t i = 0; i < g.param_order.size(); ++i) {
      const Tensor* t = g.param_order[i];
      at::Tensor v = torch::from_blob(const_cast<uint8_t*>(t->data.data()), t->dims, at::kFloat).clone();
      mod.register_parameter("p" + std::to_string(i), v, false);
    }
    mod.define(src);
    mod.eval();
    std::string shapes = "{\"x\": [";
    const ValueInfo* in = m.graph.real_inputs()[0];
    for (size_t i = 0; i < in->shape.size(); ++i)
      shapes += (i ? ", " : "") + std::to_string(in->shape[i].is_known() ? in->shape[i].value : -1);
    shapes += "]}";
    mod.save(os, torch::jit::ExtraFilesMap{{"input_shapes", shapes}});
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw Error(ErrorKind::Internal, "TorchScript export: generated code rejected by LibTorch: " + msg);
  }
  write_file_atomic(path, os.str(), inputs);
}

}  // namespace mc::distill
