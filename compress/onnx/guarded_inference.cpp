#include "compress/onnx/guarded_inference.h"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <map>
#include <optional>
#include <vector>

namespace mc {
namespace {

using Dims = std::vector<int64_t>;

// Index of the weight input of the Conv-family ops whose inference derives the kernel from it.
int weight_input(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return -1;
  const std::string& op = n.op_type();
  if (op == "Conv" || op == "ConvInteger" || op == "ConvTranspose") return 1;
  if (op == "QLinearConv") return 3;
  return -1;
}

bool has_attr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return true;
  return false;
}

// Statically known dims of the values of one graph (and its enclosing graphs), before inference.
class KnownDims {
 public:
  KnownDims(const onnx::GraphProto& g, const KnownDims* outer) : outer_(outer) {
    for (const auto& t : g.initializer()) dims_[t.name()] = Dims(t.dims().begin(), t.dims().end());
    for (const auto& in : g.input()) {  // a declared input shape is what inference uses for it
      if (!in.type().has_tensor_type() || !in.type().tensor_type().has_shape()) continue;
      Dims d;
      for (const auto& dim : in.type().tensor_type().shape().dim()) d.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
      dims_[in.name()] = d;
    }
    // Shape-preserving producers, in node order (the importer orders nodes; an unordered file
    // just leaves more values unknown).
    for (const auto& n : g.node()) {
      const std::string& op = n.op_type();
      if (n.input_size() < 1 || n.output_size() < 1 || (!n.domain().empty() && n.domain() != "ai.onnx")) continue;
      if (op != "DequantizeLinear" && op != "QuantizeLinear" && op != "Identity" && op != "Cast") continue;
      if (auto d = find(n.input(0))) dims_[n.output(0)] = *d;
    }
  }
  std::optional<Dims> find(const std::string& name) const {
    auto it = dims_.find(name);
    if (it != dims_.end()) return it->second;
    return outer_ ? outer_->find(name) : std::nullopt;
  }

 private:
  std::map<std::string, Dims> dims_;
  const KnownDims* outer_;
};

// Adds kernel_shape where it is missing; false (with `why`) when a weight's dims are unknown.
bool guard_graph(onnx::GraphProto& g, const KnownDims* outer, std::string* why) {
  const KnownDims known(g, outer);
  for (auto& n : *g.mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g() && !guard_graph(*a.mutable_g(), &known, why)) return false;
      for (auto& sg : *a.mutable_graphs())
        if (!guard_graph(sg, &known, why)) return false;
    }
    const int wi = weight_input(n);
    if (wi < 0 || has_attr(n, "kernel_shape") || n.input_size() <= wi) continue;
    const std::optional<Dims> w = known.find(n.input(wi));
    bool ok = w.has_value() && w->size() >= 2;
    if (ok)
      for (size_t i = 2; i < w->size(); ++i) ok = ok && (*w)[i] >= 0;
    if (!ok) {
      *why = n.op_type() + " '" + n.name() + "' has no kernel_shape and its weight's shape is not known before inference";
      return false;
    }
    onnx::AttributeProto* ks = n.add_attribute();
    ks->set_name("kernel_shape");
    ks->set_type(onnx::AttributeProto::INTS);
    for (size_t i = 2; i < w->size(); ++i) ks->add_ints((*w)[i]);
  }
  return true;
}

}  // namespace

std::string infer_shapes_guarded(onnx::ModelProto& mp) {
  std::string why;
  if (!guard_graph(*mp.mutable_graph(), nullptr, &why)) return "shape inference not run: " + why;
  try {
    onnx::ShapeInferenceOptions so(/*check_type=*/false, /*error_mode=*/0, /*enable_data_propagation=*/true);
    onnx::shape_inference::InferShapes(mp, onnx::OpSchemaRegistry::Instance(), so);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace mc
