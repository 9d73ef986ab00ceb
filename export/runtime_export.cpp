// IR → .mcrt through mcrt::ModelWriter (the one writer of the format).
//
// How it works: every node is mapped by one row of a table keyed by ONNX op type
// (kOps below). A row states the runtime op, which inputs must be constants (§6.3 of
// docs/runtime-format.md), and a mapper that converts the node's attributes to the
// runtime's, following the ONNX semantics of the model's opset (7–18): legacy
// attribute forms (Clip-6 min/max, Slice-1 starts/ends, Pad-2 pads/value, Upsample
// scales) become constant inputs or explicit attributes. Every attribute a mapper does
// not consume is an error, so nothing is silently dropped. After writing, the file is
// loaded and prepared by the runtime itself (batch 1): a combination that the runtime
// refuses as unsupported is reported as an Input error naming the node, so an exported
// file is one that runs.
#include "export/runtime_export.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/passes/check_new_tensors_finite.h"
#include "compress/passes/refresh_shapes.h"
#include "export/qdq_lowering.h"
#include "export/weight_encoding.h"
#include "format/file_header.h"
#include "format/writer.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace mc {
namespace {

namespace fb = mcrt::fb;
using mcrt::Attribute;

std::string node_label(const Node& n) { return "node '" + n.name + "' (" + n.op_type + ")"; }

[[noreturn]] void reject(const Node& n, const std::string& why) {
  throw Error(ErrorKind::Input, node_label(n) + ": " + why);
}

bool to_runtime_dtype(DType t, mcrt::DType* out) {
  switch (t) {
    case DType::F32: *out = mcrt::DType::kF32; return true;
    case DType::F16: *out = mcrt::DType::kF16; return true;
    case DType::I8: *out = mcrt::DType::kI8; return true;
    case DType::U8: *out = mcrt::DType::kU8; return true;
    case DType::I32: *out = mcrt::DType::kI32; return true;
    case DType::I64: *out = mcrt::DType::kI64; return true;
    case DType::Bool: *out = mcrt::DType::kBool; return true;
    default: return false;
  }
}

// The node being mapped: runtime inputs and attributes, plus the ONNX attributes consumed.
struct Mapped {
  fb::OpType op = fb::OpType_Relu;
  std::vector<std::string> inputs;  // ONNX value names; "" = absent optional input
  std::vector<int> extra_inputs;    // when >= 0 at position k: a synthesized constant (tensor index)
  std::vector<Attribute> attrs;
  std::set<std::string> consumed;
  size_t max_outputs = 1;
  // Output 0's shape when the mapper computed it (shape inference leaves it unknown).
  bool has_out_shape = false;
  std::vector<int64_t> out_shape;
};

// Attributes equal to the value the runtime assumes when they are absent (docs/runtime-format.md
// §5: ONNX defaults; act_min/act_max of the int8 ops: the full int8 range) are not written:
// for small quantized models the graph section, not the weights, is what grows the file.
std::vector<mcrt::Attribute> without_default_attrs(std::vector<mcrt::Attribute> attrs) {
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    for (int64_t e : v)
      if (e != x) return false;
    return true;
  };
  std::vector<mcrt::Attribute> kept;
  for (auto& a : attrs) {
    const bool ints = a.kind == fb::AttrKind_INTS, one = a.kind == fb::AttrKind_INT;
    const bool is_default = (ints && (a.key == fb::AttrKey_strides || a.key == fb::AttrKey_dilations) && all(a.ints, 1)) ||
                            (ints && a.key == fb::AttrKey_pads && all(a.ints, 0)) ||
                            (one && a.key == fb::AttrKey_group && a.i == 1) ||
                            (one && a.key == fb::AttrKey_act_min && a.i == -128) ||
                            (one && a.key == fb::AttrKey_act_max && a.i == 127);
    if (!is_default) kept.push_back(std::move(a));
  }
  return kept;
}

class Exporter;
using MapFn = void (*)(Exporter& ex, const Node& n, Mapped& mp);

struct OpRow {
  const char* onnx;
  fb::OpType op;
  uint32_t const_inputs;  // bit k: input k must be a constant (initializer)
  MapFn map;
};

class Exporter {
 public:
  Exporter(const Model& m, const RuntimeExportOptions& o, RuntimeExportReport* r)
      : m_(m), g_(m.graph), opts_(o), report_(r), opset_(m.opset("")) {
    // Graph::value and Graph::initializer scan lists, and the exporter asks per node and value:
    // quadratic in the node count (a 80,000-node chain took 35 s). The graph does not change
    // while it is exported, so both are indexed once; the first entry of a name wins, as there.
    for (const auto* list : {&g_.inputs, &g_.outputs, &g_.value_info})
      for (const auto& v : *list) values_.emplace(v.name, &v);
    for (const auto& t : g_.initializers) initializers_.emplace(t.name, &t);
  }

  std::vector<uint8_t> run();

  int64_t opset() const { return opset_; }
  // An initializer or Constant value, or nullptr.
  const Tensor* constant(const std::string& name) const {
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : it->second;
  }
  const Graph& graph() const { return g_; }
  // value(name) and initializer(name), through the indexes.
  const ValueInfo* value(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : it->second;
  }
  const Tensor* initializer(const std::string& name) const {
    auto it = initializers_.find(name);
    return it == initializers_.end() ? nullptr : it->second;
  }
  void note(const std::string& s) {
    if (report_) report_->notes.push_back(s);
  }
  // A constant made by the exporter from a legacy attribute (Slice-1 starts, Pad-2 pads...).
  int synth_i64(const Node& n, const std::string& what, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
    return w_.add_weight_i64(unique_name(n.name + "/" + what), std::move(dims), v);
  }
  int synth_f32(const Node& n, const std::string& what, std::vector<int64_t> dims, const std::vector<float>& v) {
    return w_.add_weight_f32(unique_name(n.name + "/" + what), std::move(dims), v);
  }
  int synth_scalar_like(const Node& n, const std::string& what, DType t, double v);
  // Static shape of a value (dim 0 may be dynamic: -1). Rejects otherwise, naming the node.
  std::vector<int64_t> shape_of(const Node& n, const std::string& value) const;
  // Rank of a value, or -1 when unknown.
  int64_t rank_of(const std::string& value) const {
    const ValueInfo* v = this->value(value);
    if (!v || !v->has_shape) return -1;
    return static_cast<int64_t>(v->shape.size());
  }

 private:
  int tensor_index(const Node* n, const std::string& name);
  int add_initializer(const Node* n, const std::string& name, const Tensor& t);
  // Dense, BITMASK or CSR, whichever is smallest on disk (docs/runtime-format.md §4.4).
  int add_weight_smallest(const std::string& name, mcrt::DType rt, const std::vector<int64_t>& dims,
                          const uint8_t* data, size_t esz, uint64_t count);
  std::vector<int64_t> declared_shape(const Node* n, const std::string& name, bool graph_input) const;
  std::string unique_name(const std::string& base) {
    std::string s = base;
    for (int k = 1; names_.count(s) || value(s) || initializer(s); ++k) s = base + "_" + std::to_string(k);
    names_.insert(s);
    return s;
  }
  void map_node(const Node& n);
  void map_int8_node(const Node& n);  // an "mcompress.int8" node of export/qdq_lowering

  const Model& m_;
  const Graph& g_;
  std::unordered_map<std::string, const ValueInfo*> values_;
  std::unordered_map<std::string, const Tensor*> initializers_;
  RuntimeExportOptions opts_;
  RuntimeExportReport* report_;
  int64_t opset_;
  mcrt::ModelWriter w_;
  std::unordered_map<std::string, int> index_;
  std::unordered_set<std::string> names_;
  std::unordered_set<std::string> exact_weights_;  // never stored as fp16 (scales, bounds, pad values)
  std::unordered_set<std::string> matrix_weights_;  // Gemm/MatMul B, Conv W: stored sparse when smaller
  std::unordered_map<std::string, const Tensor*> constants_;  // initializers and Constant node values
  // §4.3 weight-only storage: DequantizeLinear chains written as one quantized constant.
  std::unordered_map<std::string, QuantizedWeight> quantized_;  // by the chain's output value
  std::unordered_set<size_t> folded_nodes_;                       // the chains' nodes (not exported)
  std::deque<Tensor> folded_;                                     // constants_ entries of the outputs
  uint64_t weight_bytes_ = 0;
};

// ---- attribute helpers --------------------------------------------------------------------

void copy_int(const Node& n, Mapped& mp, const char* name, fb::AttrKey key) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::Int) reject(n, std::string("attribute '") + name + "' must be an int");
    mp.attrs.push_back(Attribute::Int(key, a->i));
    mp.consumed.insert(name);
  }
}
void copy_float(const Node& n, Mapped& mp, const char* name, fb::AttrKey key) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::Float) reject(n, std::string("attribute '") + name + "' must be a float");
    mp.attrs.push_back(Attribute::Float(key, a->f));
    mp.consumed.insert(name);
  }
}
void copy_ints(const Node& n, Mapped& mp, const char* name, fb::AttrKey key) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::Ints) reject(n, std::string("attribute '") + name + "' must be a list of ints");
    mp.attrs.push_back(Attribute::Ints(key, a->ints));
    mp.consumed.insert(name);
  }
}
void copy_string(const Node& n, Mapped& mp, const char* name, fb::AttrKey key,
                 const std::vector<std::string>& allowed) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::String) reject(n, std::string("attribute '") + name + "' must be a string");
    bool ok = allowed.empty();
    for (const auto& s : allowed) ok = ok || s == a->s;
    if (!ok) reject(n, std::string(name) + " = '" + a->s + "' is not supported by the runtime");
    mp.attrs.push_back(Attribute::String(key, a->s));
    mp.consumed.insert(name);
  }
}
// An attribute that the runtime has no field for, accepted only at its default value.
void require_default_int(const Node& n, Mapped& mp, const char* name, int64_t def) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::Int || a->i != def)
      reject(n, std::string("attribute '") + name + "' other than " + std::to_string(def) + " is not supported");
    mp.consumed.insert(name);
  }
}
void require_default_string(const Node& n, Mapped& mp, const char* name, const std::string& def) {
  if (const mc::Attribute* a = n.attr(name)) {
    if (a->type != AttrType::String || a->s != def)
      reject(n, std::string("attribute '") + name + "' other than '" + def + "' is not supported");
    mp.consumed.insert(name);
  }
}

const std::vector<std::string> kAutoPad = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

// ---- per-op mappers -----------------------------------------------------------------------

void map_conv(Exporter&, const Node& n, Mapped& mp) {
  copy_string(n, mp, "auto_pad", fb::AttrKey_auto_pad, kAutoPad);
  copy_ints(n, mp, "dilations", fb::AttrKey_dilations);
  copy_int(n, mp, "group", fb::AttrKey_group);
  copy_ints(n, mp, "kernel_shape", fb::AttrKey_kernel_shape);
  copy_ints(n, mp, "pads", fb::AttrKey_pads);
  copy_ints(n, mp, "strides", fb::AttrKey_strides);
}
void map_conv_transpose(Exporter& ex, const Node& n, Mapped& mp) {
  map_conv(ex, n, mp);
  copy_ints(n, mp, "output_padding", fb::AttrKey_output_padding);
  copy_ints(n, mp, "output_shape", fb::AttrKey_output_shape);
}
void map_gemm(Exporter&, const Node& n, Mapped& mp) {
  copy_float(n, mp, "alpha", fb::AttrKey_alpha);
  copy_float(n, mp, "beta", fb::AttrKey_beta);
  copy_int(n, mp, "transA", fb::AttrKey_transA);
  copy_int(n, mp, "transB", fb::AttrKey_transB);
}
void map_plain(Exporter&, const Node&, Mapped&) {}
void map_leaky_relu(Exporter&, const Node& n, Mapped& mp) { copy_float(n, mp, "alpha", fb::AttrKey_alpha); }
void map_hard_sigmoid(Exporter&, const Node& n, Mapped& mp) {
  copy_float(n, mp, "alpha", fb::AttrKey_alpha);
  copy_float(n, mp, "beta", fb::AttrKey_beta);
}
void map_gelu(Exporter&, const Node& n, Mapped& mp) {
  copy_string(n, mp, "approximate", fb::AttrKey_approximate, {"none", "tanh"});
}
void map_clip(Exporter& ex, const Node& n, Mapped& mp) {
  if (ex.opset() < 11) {  // Clip-6: bounds are attributes
    copy_float(n, mp, "min", fb::AttrKey_min);
    copy_float(n, mp, "max", fb::AttrKey_max);
    ex.note("Clip '" + n.name + "': opset-6 min/max attributes");
  }
}
void map_max_pool(Exporter& ex, const Node& n, Mapped& mp) {
  copy_string(n, mp, "auto_pad", fb::AttrKey_auto_pad, kAutoPad);
  copy_int(n, mp, "ceil_mode", fb::AttrKey_ceil_mode);
  copy_ints(n, mp, "dilations", fb::AttrKey_dilations);
  copy_ints(n, mp, "kernel_shape", fb::AttrKey_kernel_shape);
  copy_ints(n, mp, "pads", fb::AttrKey_pads);
  copy_ints(n, mp, "strides", fb::AttrKey_strides);
  require_default_int(n, mp, "storage_order", 0);
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) reject(n, "the Indices output is not supported");
}
void map_average_pool(Exporter&, const Node& n, Mapped& mp) {
  copy_string(n, mp, "auto_pad", fb::AttrKey_auto_pad, kAutoPad);
  copy_int(n, mp, "ceil_mode", fb::AttrKey_ceil_mode);
  copy_int(n, mp, "count_include_pad", fb::AttrKey_count_include_pad);
  copy_ints(n, mp, "kernel_shape", fb::AttrKey_kernel_shape);
  copy_ints(n, mp, "pads", fb::AttrKey_pads);
  copy_ints(n, mp, "strides", fb::AttrKey_strides);
  if (const mc::Attribute* a = n.attr("dilations")) {
    for (int64_t d : a->ints)
      if (d != 1) reject(n, "dilations other than 1 are not supported");
    mp.consumed.insert("dilations");
  }
}
void map_softmax(Exporter& ex, const Node& n, Mapped& mp) {
  if (ex.opset() < 13) {
    mp.attrs.push_back(Attribute::Int(fb::AttrKey_softmax_legacy_2d, 1));
    mp.attrs.push_back(Attribute::Int(fb::AttrKey_axis, n.attr_int("axis", 1)));
    ex.note("Softmax '" + n.name + "': opset-" + std::to_string(ex.opset()) + " semantics (coerced to 2-D)");
  } else {
    mp.attrs.push_back(Attribute::Int(fb::AttrKey_axis, n.attr_int("axis", -1)));
  }
  mp.consumed.insert("axis");
}
void map_layer_norm(Exporter&, const Node& n, Mapped& mp) {
  copy_int(n, mp, "axis", fb::AttrKey_axis);
  copy_float(n, mp, "epsilon", fb::AttrKey_epsilon);
  copy_int(n, mp, "stash_type", fb::AttrKey_stash_type);
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (!n.outputs[k].empty()) reject(n, "the Mean and InvStdDev outputs are not supported");
}
void map_reduce(Exporter&, const Node& n, Mapped& mp) {
  copy_ints(n, mp, "axes", fb::AttrKey_axes);  // attribute form (ReduceSum < 13, ReduceMean < 18)
  copy_int(n, mp, "keepdims", fb::AttrKey_keepdims);
  copy_int(n, mp, "noop_with_empty_axes", fb::AttrKey_noop_with_empty_axes);
}
void map_reshape(Exporter&, const Node& n, Mapped& mp) { copy_int(n, mp, "allowzero", fb::AttrKey_allowzero); }
void map_flatten(Exporter&, const Node& n, Mapped& mp) { copy_int(n, mp, "axis", fb::AttrKey_axis); }
void map_transpose(Exporter&, const Node& n, Mapped& mp) { copy_ints(n, mp, "perm", fb::AttrKey_perm); }
void map_axis(Exporter&, const Node& n, Mapped& mp) { copy_int(n, mp, "axis", fb::AttrKey_axis); }
void map_slice(Exporter& ex, const Node& n, Mapped& mp) {
  if (ex.opset() >= 10) return;
  // Slice-1: starts/ends/axes are attributes; the runtime takes them as constant inputs.
  const mc::Attribute* s = n.attr("starts");
  const mc::Attribute* e = n.attr("ends");
  if (!s || !e) reject(n, "Slice-1 needs the starts and ends attributes");
  if (s->ints.size() != e->ints.size()) reject(n, "starts and ends differ in length");
  const int64_t k = static_cast<int64_t>(s->ints.size());
  mp.inputs.resize(3);
  mp.extra_inputs.assign(3, -1);
  mp.extra_inputs[1] = ex.synth_i64(n, "starts", {k}, s->ints);
  mp.extra_inputs[2] = ex.synth_i64(n, "ends", {k}, e->ints);
  mp.consumed.insert({"starts", "ends"});
  if (const mc::Attribute* a = n.attr("axes")) {
    if (a->ints.size() != s->ints.size()) reject(n, "axes and starts differ in length");
    mp.inputs.resize(4);
    mp.extra_inputs.resize(4, -1);
    mp.extra_inputs[3] = ex.synth_i64(n, "axes", {k}, a->ints);
    mp.consumed.insert("axes");
  }
  // ONNX's shape inference leaves Slice-1 outputs unknown; the shape follows from the attributes.
  std::vector<int64_t> shape = ex.shape_of(n, n.inputs.at(0));
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (axes.empty())
    for (int64_t i = 0; i < k; ++i) axes.push_back(i);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (ax < 0 || ax >= rank) reject(n, "axis " + std::to_string(axes[i]) + " is out of range");
    const int64_t dim = shape[static_cast<size_t>(ax)];
    if (dim < 0) reject(n, "Slice-1 along the dynamic batch dimension is not supported");
    auto clamp = [dim](int64_t v) { return std::min(std::max(v < 0 ? v + dim : v, int64_t{0}), dim); };
    shape[static_cast<size_t>(ax)] = std::max(int64_t{0}, clamp(e->ints[i]) - clamp(s->ints[i]));
  }
  mp.has_out_shape = true;
  mp.out_shape = shape;
  ex.note("Slice '" + n.name + "': opset-1 attributes written as constant inputs");
}
void map_squeeze(Exporter&, const Node& n, Mapped& mp) { copy_ints(n, mp, "axes", fb::AttrKey_axes); }
void map_pad(Exporter& ex, const Node& n, Mapped& mp) {
  copy_string(n, mp, "mode", fb::AttrKey_mode, {"constant", "reflect", "edge"});
  if (ex.opset() >= 11) return;
  // Pad-2: pads and value are attributes.
  const mc::Attribute* p = n.attr("pads");
  if (!p) reject(n, "Pad-2 needs the pads attribute");
  mp.inputs.resize(3);
  mp.extra_inputs.assign(3, -1);
  mp.extra_inputs[1] = ex.synth_i64(n, "pads", {static_cast<int64_t>(p->ints.size())}, p->ints);
  const ValueInfo* x = ex.value(n.inputs.at(0));
  const DType t = x ? x->dtype : DType::F32;
  mp.extra_inputs[2] = ex.synth_scalar_like(n, "value", t, n.attr_float("value", 0.f));
  mp.consumed.insert({"pads", "value"});
  ex.note("Pad '" + n.name + "': opset-2 attributes written as constant inputs");
}
// Nearest-neighbour at opset < 11 (Upsample, Resize-10) has no nearest_mode: ONNX's reference
// and ONNX Runtime agree on rounding down only when upsampling, so downsampling is refused.
void require_nearest_upsampling(Exporter& ex, const Node& n, const std::vector<float>& scales) {
  if (n.attr_string("mode", "nearest") != "nearest") return;
  for (float f : scales)
    if (!(f >= 1.f)) reject(n, "nearest-neighbour downsampling (scale " + std::to_string(f) + ") at opset " +
                                    std::to_string(ex.opset()) + " is not supported (its rounding is unspecified)");
}
std::vector<float> constant_floats(Exporter& ex, const std::string& name) {
  std::vector<float> v;
  if (const Tensor* t = ex.constant(name))
    for (uint64_t i = 0; i < t->numel(); ++i) v.push_back(static_cast<float>(t->get_f64(i)));
  return v;
}

void map_resize_attrs(const Node& n, Mapped& mp) {
  copy_string(n, mp, "mode", fb::AttrKey_mode, {"nearest", "linear"});
  copy_string(n, mp, "coordinate_transformation_mode", fb::AttrKey_coordinate_transformation_mode,
              {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest"});
  copy_string(n, mp, "nearest_mode", fb::AttrKey_nearest_mode,
              {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"});
  copy_float(n, mp, "cubic_coeff_a", fb::AttrKey_cubic_coeff_a);
  copy_int(n, mp, "exclude_outside", fb::AttrKey_exclude_outside);
  copy_float(n, mp, "extrapolation_value", fb::AttrKey_extrapolation_value);
  require_default_int(n, mp, "antialias", 0);
  require_default_string(n, mp, "keep_aspect_ratio_policy", "stretch");
  if (n.attr("axes")) reject(n, "the axes attribute is not supported");
}
void map_resize(Exporter& ex, const Node& n, Mapped& mp) {
  map_resize_attrs(n, mp);
  // ONNX measures align_corners / pytorch_half_pixel with the unrounded length in·scale;
  // the runtime uses the rounded output size, so the two agree only when in·scale is whole.
  const std::string ctm = n.attr_string("coordinate_transformation_mode", "half_pixel");
  if (ex.opset() >= 11 && (ctm == "align_corners" || ctm == "pytorch_half_pixel") && n.inputs.size() > 2 &&
      !n.inputs[2].empty()) {
    const Tensor* sc = ex.constant(n.inputs[2]);
    if (sc && sc->numel() > 0) {
      const std::vector<int64_t> in = ex.shape_of(n, n.inputs[0]);
      for (size_t d = 0; d < in.size() && d < sc->numel(); ++d) {
        const double len = static_cast<double>(in[d]) * static_cast<double>(static_cast<float>(sc->get_f64(d)));
        if (in[d] >= 0 && len != std::floor(len))
          reject(n, "coordinate_transformation_mode '" + ctm + "' with scales that give a fractional length (" +
                        std::to_string(in[d]) + " x " + std::to_string(sc->get_f64(d)) +
                        ") is not supported (the runtime uses the rounded output size)");
      }
    }
  }
  if (ex.opset() < 11) {
    // Resize-10: (X, scales), asymmetric coordinates, nearest rounds down.
    mp.inputs = {n.inputs.at(0), "", n.inputs.size() > 1 ? n.inputs[1] : ""};
    require_nearest_upsampling(ex, n, constant_floats(ex, mp.inputs[2]));
    mp.attrs.push_back(Attribute::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"));
    mp.attrs.push_back(Attribute::String(fb::AttrKey_nearest_mode, "floor"));
    ex.note("Resize '" + n.name + "': opset-10 semantics (asymmetric, nearest rounds down)");
  }
}
void map_upsample(Exporter& ex, const Node& n, Mapped& mp) {
  copy_string(n, mp, "mode", fb::AttrKey_mode, {"nearest", "linear"});
  mp.attrs.push_back(Attribute::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"));
  mp.attrs.push_back(Attribute::String(fb::AttrKey_nearest_mode, "floor"));
  if (ex.opset() < 9) {
    const mc::Attribute* s = n.attr("scales");
    if (!s) reject(n, "Upsample-7 needs the scales attribute");
    mp.inputs = {n.inputs.at(0), "", ""};
    require_nearest_upsampling(ex, n, s->floats);
    mp.extra_inputs = {-1, -1, ex.synth_f32(n, "scales", {static_cast<int64_t>(s->floats.size())}, s->floats)};
    mp.consumed.insert("scales");
  } else {
    mp.inputs = {n.inputs.at(0), "", n.inputs.size() > 1 ? n.inputs[1] : ""};
    require_nearest_upsampling(ex, n, constant_floats(ex, mp.inputs[2]));
  }
  ex.note("Upsample '" + n.name + "': written as Resize (asymmetric, nearest rounds down)");
}
void map_cast(Exporter&, const Node& n, Mapped& mp) {
  copy_int(n, mp, "to", fb::AttrKey_to);
  copy_int(n, mp, "saturate", fb::AttrKey_saturate);
}
void map_quantize(Exporter&, const Node& n, Mapped& mp) {
  copy_int(n, mp, "axis", fb::AttrKey_axis);
  copy_int(n, mp, "saturate", fb::AttrKey_saturate);
}
void map_dequantize(Exporter&, const Node& n, Mapped& mp) { copy_int(n, mp, "axis", fb::AttrKey_axis); }
// Identity / Dropout (inference): y = x, written as a Reshape to x's own shape, which the
// runtime computes as a copy. `optimize` removes them; this covers --no-optimize.
void map_identity(Exporter& ex, const Node& n, Mapped& mp) {
  if (n.op_type == "Dropout") {
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) reject(n, "the mask output is not supported");
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const Tensor* t = ex.initializer(n.inputs[2]);
      if (!t || t->numel() != 1 || t->get_f64(0) != 0) reject(n, "training_mode must be a constant false");
    }
    mp.consumed.insert({"ratio", "seed"});  // inference: Dropout is the identity
    require_default_int(n, mp, "is_test", 1);
  }
  std::vector<int64_t> s = ex.shape_of(n, n.inputs.at(0));
  if (!s.empty() && s[0] < 0) s[0] = 0;  // 0 = copy the input's (batch) dim; allowzero = 0
  mp.inputs = {n.inputs[0], ""};
  mp.extra_inputs = {-1, ex.synth_i64(n, "shape", {static_cast<int64_t>(s.size())}, s)};
  ex.note(n.op_type + " '" + n.name + "': written as a Reshape to its own shape (run optimize to remove it)");
}

// The table: every ONNX op the runtime runs. Inputs marked constant are shape-carrying
// (or packed weights, or Q/DQ parameters).
constexpr uint32_t C(int k) { return 1u << k; }
const OpRow kOps[] = {
    {"Conv", fb::OpType_Conv, C(1) | C(2), map_conv},
    {"ConvTranspose", fb::OpType_ConvTranspose, C(1) | C(2), map_conv_transpose},
    {"Gemm", fb::OpType_Gemm, 0, map_gemm},
    {"MatMul", fb::OpType_MatMul, 0, map_plain},
    {"Add", fb::OpType_Add, 0, map_plain},
    {"Sub", fb::OpType_Sub, 0, map_plain},
    {"Mul", fb::OpType_Mul, 0, map_plain},
    {"Div", fb::OpType_Div, 0, map_plain},
    {"Pow", fb::OpType_Pow, 0, map_plain},
    {"Relu", fb::OpType_Relu, 0, map_plain},
    {"LeakyRelu", fb::OpType_LeakyRelu, 0, map_leaky_relu},
    {"Clip", fb::OpType_Clip, C(1) | C(2), map_clip},
    {"Sigmoid", fb::OpType_Sigmoid, 0, map_plain},
    {"HardSigmoid", fb::OpType_HardSigmoid, 0, map_hard_sigmoid},
    {"HardSwish", fb::OpType_HardSwish, 0, map_plain},
    {"Tanh", fb::OpType_Tanh, 0, map_plain},
    {"Erf", fb::OpType_Erf, 0, map_plain},
    {"Gelu", fb::OpType_Gelu, 0, map_gelu},
    {"Sqrt", fb::OpType_Sqrt, 0, map_plain},
    {"Exp", fb::OpType_Exp, 0, map_plain},
    {"MaxPool", fb::OpType_MaxPool, 0, map_max_pool},
    {"AveragePool", fb::OpType_AveragePool, 0, map_average_pool},
    {"GlobalAveragePool", fb::OpType_GlobalAveragePool, 0, map_plain},
    {"Softmax", fb::OpType_Softmax, 0, map_softmax},
    {"LayerNormalization", fb::OpType_LayerNormalization, 0, map_layer_norm},
    {"ReduceMean", fb::OpType_ReduceMean, C(1), map_reduce},
    {"ReduceSum", fb::OpType_ReduceSum, C(1), map_reduce},
    {"Reshape", fb::OpType_Reshape, C(1), map_reshape},
    {"Flatten", fb::OpType_Flatten, 0, map_flatten},
    {"Transpose", fb::OpType_Transpose, 0, map_transpose},
    {"Concat", fb::OpType_Concat, 0, map_axis},
    {"Slice", fb::OpType_Slice, C(1) | C(2) | C(3) | C(4), map_slice},
    {"Squeeze", fb::OpType_Squeeze, C(1), map_squeeze},
    {"Unsqueeze", fb::OpType_Unsqueeze, C(1), map_squeeze},
    {"Gather", fb::OpType_Gather, 0, map_axis},
    {"Pad", fb::OpType_Pad, C(1) | C(2) | C(3), map_pad},
    {"Resize", fb::OpType_Resize, C(1) | C(2) | C(3), map_resize},
    {"Upsample", fb::OpType_Resize, C(1), map_upsample},
    {"Cast", fb::OpType_Cast, 0, map_cast},
    {"QuantizeLinear", fb::OpType_QuantizeLinear, C(1) | C(2), map_quantize},
    {"DequantizeLinear", fb::OpType_DequantizeLinear, C(1) | C(2), map_dequantize},
    {"Identity", fb::OpType_Reshape, 0, map_identity},
    {"Dropout", fb::OpType_Reshape, C(2), map_identity},
};

const OpRow* find_row(const Node& n) {
  if (!n.is_default_domain()) return nullptr;
  for (const OpRow& r : kOps)
    if (n.op_type == r.onnx) return &r;
  return nullptr;
}

// Inputs whose value must stay exact (never stored as fp16 with --fp16).
bool exact_position(const std::string& op, size_t k) {
  if (op == "Clip" || op == "Pad" || op == "Resize" || op == "Upsample") return k >= 1;
  if (op == "QuantizeLinear" || op == "DequantizeLinear") return k >= 1;
  return false;
}

// ---- Exporter -----------------------------------------------------------------------------

int Exporter::synth_scalar_like(const Node& n, const std::string& what, DType t, double v) {
  mcrt::DType rt;
  if (!to_runtime_dtype(t, &rt) || t == DType::F16) reject(n, std::string("data type ") + dtype_name(t) + " is not supported");
  std::vector<uint8_t> bytes(mcrt::dtype_size(rt));
  switch (t) {
    case DType::F32: { float f = static_cast<float>(v); std::memcpy(bytes.data(), &f, 4); break; }
    case DType::I8: { int8_t x = static_cast<int8_t>(v); std::memcpy(bytes.data(), &x, 1); break; }
    case DType::U8: case DType::Bool: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(bytes.data(), &x, 1); break; }
    case DType::I32: { int32_t x = static_cast<int32_t>(v); std::memcpy(bytes.data(), &x, 4); break; }
    case DType::I64: { int64_t x = static_cast<int64_t>(v); std::memcpy(bytes.data(), &x, 8); break; }
    default: break;
  }
  return w_.add_weight(unique_name(n.name + "/" + what), rt, {}, bytes.data(), bytes.size());
}

std::vector<int64_t> Exporter::declared_shape(const Node* n, const std::string& name, bool graph_input) const {
  const ValueInfo* v = value(name);
  auto fail = [&](const std::string& why) -> std::vector<int64_t> {
    const std::string msg = "value '" + name + "' " + why;
    if (n) reject(*n, msg);
    throw Error(ErrorKind::Input, (graph_input ? "graph input: " : "graph output: ") + msg);
  };
  if (!v || !v->is_tensor()) return fail("has no tensor type");
  if (!v->has_shape) return fail("has no inferred shape (all shapes must be static; run optimize)");
  std::vector<int64_t> s;
  for (size_t d = 0; d < v->shape.size(); ++d) {
    if (v->shape[d].is_known()) s.push_back(v->shape[d].value);
    else if (d == 0) s.push_back(-1);  // dynamic batch
    else return fail("has a dynamic dimension " + std::to_string(d) + " (only a leading batch dim may be dynamic)");
  }
  return s;
}

std::vector<int64_t> Exporter::shape_of(const Node& n, const std::string& value) const {
  if (const Tensor* t = initializer(value)) return t->dims;
  return declared_shape(&n, value, false);
}

int Exporter::add_initializer(const Node* n, const std::string& name, const Tensor& t) {
  mcrt::DType rt;
  if (!to_runtime_dtype(t.dtype, &rt)) {
    const std::string msg = "constant '" + name + "' has data type " + dtype_name(t.dtype) +
                            ", which the runtime does not support";
    if (n) reject(*n, msg);
    throw Error(ErrorKind::Input, msg);
  }
  names_.insert(name);
  if (auto q = quantized_.find(name); q != quantized_.end()) return add_quantized_weight(w_, name, q->second, &weight_bytes_);
  if (opts_.fp16_weights && t.dtype == DType::F32 && !exact_weights_.count(name)) {
    const uint64_t count = t.numel();
    std::vector<uint16_t> h(count);
    bool fits = true;
    for (uint64_t i = 0; i < count && fits; ++i) {
      float f;
      std::memcpy(&f, t.data.data() + 4 * i, 4);
      h[i] = float_to_half(f);
      fits = !std::isfinite(f) || std::isfinite(half_to_float(h[i]));
    }
    if (fits) {
      if (matrix_weights_.count(name))
        return add_weight_smallest(name, mcrt::DType::kF16, t.dims, reinterpret_cast<const uint8_t*>(h.data()), 2,
                                   count);
      weight_bytes_ += h.size() * 2;
      return w_.add_weight(name, mcrt::DType::kF16, t.dims, h.data(), h.size() * 2);
    }
    note("weight '" + name + "' kept as fp32: its values exceed the fp16 range");
  }
  const size_t esz = mcrt::dtype_size(rt);
  if (matrix_weights_.count(name) && !t.dims.empty() && t.data.size() == t.numel() * esz)
    return add_weight_smallest(name, rt, t.dims, t.data.data(), esz, t.numel());
  weight_bytes_ += t.data.size();
  return w_.add_weight(name, rt, t.dims, t.data.data(), t.data.size());
}

// The §4.4 rule: an element is stored when any of its bytes is non-zero (so -0.0 and NaN are kept
// and the encoding is lossless). Sizes count each buffer rounded up to the 64-byte alignment of the
// weights blob: dense = r(numel*esz); BITMASK = r(ceil(numel/8)) + r(nnz*esz); CSR over
// rows = dims[0] = r((rows+1)*4) + r(nnz*4) + r(nnz*esz). The smallest wins; a tie keeps dense,
// then BITMASK.
int Exporter::add_weight_smallest(const std::string& name, mcrt::DType rt, const std::vector<int64_t>& dims,
                                  const uint8_t* data, size_t esz, uint64_t count) {
  auto is_stored = [&](uint64_t i) {
    for (size_t b = 0; b < esz; ++b)
      if (data[i * esz + b] != 0) return true;
    return false;
  };
  const uint64_t rows = dims.empty() ? 0 : static_cast<uint64_t>(dims[0]);
  const uint64_t cols = rows ? count / rows : 0;
  const PlainSizes ps = plain_sizes(data, esz, count, rows);
  const uint64_t nnz = ps.nnz, dense = ps.dense, bitmask = ps.bitmask, csr = ps.csr;
  // §4.5: an fp32 weight with <= 256 distinct values is a palette when that is smaller still.
  PaletteEncoding pal;
  if (rt == mcrt::DType::kF32 && palette_encoding(reinterpret_cast<const float*>(data), count, &pal) &&
      pal.disk_bytes < std::min({dense, bitmask, csr})) {
    weight_bytes_ += pal.codebook.size() * 4 + pal.packed.size();
    return w_.add_palettized_weight(name, dims, pal.bits, pal.codebook, pal.packed);
  }
  if (dense <= bitmask && dense <= csr) {
    weight_bytes_ += count * esz;
    return w_.add_weight(name, rt, dims, data, count * esz);
  }
  std::vector<uint8_t> values;
  values.reserve(nnz * esz);
  if (bitmask <= csr) {
    std::vector<uint8_t> mask((count + 7) / 8, 0);
    for (uint64_t i = 0; i < count; ++i)
      if (is_stored(i)) {
        mask[i / 8] = static_cast<uint8_t>(mask[i / 8] | (1u << (i % 8)));
        values.insert(values.end(), data + i * esz, data + (i + 1) * esz);
      }
    weight_bytes_ += mask.size() + values.size();
    return w_.add_sparse_bitmask_weight(name, rt, dims, mask, values.data(), values.size());
  }
  std::vector<int32_t> row_ptr(rows + 1, 0), col_idx;
  col_idx.reserve(nnz);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      const uint64_t i = r * cols + c;
      if (!is_stored(i)) continue;
      col_idx.push_back(static_cast<int32_t>(c));
      values.insert(values.end(), data + i * esz, data + (i + 1) * esz);
    }
    row_ptr[r + 1] = static_cast<int32_t>(col_idx.size());
  }
  weight_bytes_ += row_ptr.size() * 4 + col_idx.size() * 4 + values.size();
  return w_.add_sparse_csr_weight(name, rt, dims, row_ptr, col_idx, values.data(), values.size());
}

int Exporter::tensor_index(const Node* n, const std::string& name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  auto c = constants_.find(name);
  if (c != constants_.end()) {
    const int k = add_initializer(n, name, *c->second);
    index_[name] = k;
    return k;
  }
  // Any other value is created where it is defined (graph input or node output).
  const std::string msg = "value '" + name + "' is not defined before its use";
  if (n) reject(*n, msg);
  throw Error(ErrorKind::Input, msg);
}

// int8 ops made by lower_qdq: inputs as written, quant on the int8 tensors (§4.3, §5).
void Exporter::map_int8_node(const Node& n) {
  const Int8NodeSpec sp = describe_int8_node(n);
  std::vector<int> ins;
  for (const auto& v : sp.inputs) ins.push_back(v.empty() ? -1 : tensor_index(&n, v));
  if (n.outputs.size() != 1 || index_.count(n.outputs[0]) || constants_.count(n.outputs[0]))
    reject(n, "needs exactly one output, defined once");
  const std::string& o = n.outputs[0];
  const ValueInfo* v = value(o);
  mcrt::DType rt;
  if (!v || !to_runtime_dtype(v->dtype, &rt)) reject(n, "output '" + o + "' has no data type the runtime supports");
  const int k = w_.add_tensor(o, rt, declared_shape(&n, o, false));
  names_.insert(o);
  index_[o] = k;
  for (const auto& q : sp.quant) w_.set_quantization(index_.at(q.first), q.second);
  w_.add_node(sp.op, ins, {k}, without_default_attrs(sp.attrs), n.name);
  if (report_) ++report_->nodes;
}

void Exporter::map_node(const Node& n) {
  if (is_int8_node(n)) return map_int8_node(n);
  const OpRow* row = find_row(n);
  if (n.is_default_domain() && n.op_type == "Constant") {
    const mc::Attribute* a = n.attr("value");
    if (!a || a->type != AttrType::Tensor || a->tensors.size() != 1)
      reject(n, "only the 'value' tensor form is supported (run optimize)");
    if (n.outputs.size() != 1) reject(n, "needs one output");
    return;  // registered in constants_ by run()
  }
  if (!row) {
    if (!n.is_default_domain()) reject(n, "domain '" + n.domain + "' is not supported by the runtime");
    reject(n, "op is not supported by the runtime");
  }
  Mapped mp;
  mp.op = row->op;
  mp.inputs = n.inputs;
  mp.max_outputs = (n.op_type == "MaxPool" || n.op_type == "LayerNormalization" || n.op_type == "Dropout") ? 3 : 1;
  row->map(*this, n, mp);
  for (const auto& a : n.attrs)
    if (!mp.consumed.count(a.name)) reject(n, "attribute '" + a.name + "' is not supported by the runtime");
  mp.extra_inputs.resize(mp.inputs.size(), -1);
  // Trailing absent inputs are dropped; shape-carrying inputs must be constants.
  while (!mp.inputs.empty() && mp.inputs.back().empty() && mp.extra_inputs[mp.inputs.size() - 1] < 0) {
    mp.inputs.pop_back();
    mp.extra_inputs.pop_back();
  }
  std::vector<int> ins;
  for (size_t k = 0; k < mp.inputs.size(); ++k) {
    if (mp.extra_inputs[k] >= 0) { ins.push_back(mp.extra_inputs[k]); continue; }
    if (mp.inputs[k].empty()) { ins.push_back(-1); continue; }
    if ((row->const_inputs >> k & 1u) && !constants_.count(mp.inputs[k]))
      reject(n, "input " + std::to_string(k) + " ('" + mp.inputs[k] +
                    "') must be a constant (initializer) for the runtime; it is " +
                    (g_.is_graph_input(mp.inputs[k]) ? "a graph input" : "computed by another node"));
    ins.push_back(tensor_index(&n, mp.inputs[k]));
  }
  // Outputs: trailing optional outputs that nobody named are dropped.
  std::vector<std::string> outs = n.outputs;
  while (outs.size() > 1 && outs.back().empty()) outs.pop_back();
  if (outs.size() > mp.max_outputs) reject(n, "has more outputs than the runtime supports");
  std::vector<int> out_idx;
  for (const auto& o : outs) {
    if (o.empty()) reject(n, "an absent output before a present one is not supported");
    if (index_.count(o) || constants_.count(o)) reject(n, "output '" + o + "' is defined twice");
    const ValueInfo* v = value(o);
    mcrt::DType rt;
    if (!v || !to_runtime_dtype(v->dtype, &rt))
      reject(n, "output '" + o + "' has data type " + (v ? dtype_name(v->dtype) : "unknown") +
                    ", which the runtime does not support");
    if (rt == mcrt::DType::kF16) reject(n, "output '" + o + "' is float16; the runtime computes in float32 only");
    const int k = w_.add_tensor(o, rt, (mp.has_out_shape && out_idx.empty()) ? mp.out_shape : declared_shape(&n, o, false));
    names_.insert(o);
    index_[o] = k;
    out_idx.push_back(k);
  }
  w_.add_node(mp.op, ins, out_idx, without_default_attrs(mp.attrs), n.name);
  if (report_) ++report_->nodes;
}

std::vector<uint8_t> Exporter::run() {
  if (opset_ != 0 && (opset_ < 7 || opset_ > 18))
    throw Error(ErrorKind::Input, "default-domain opset " + std::to_string(opset_) +
                                      " is outside the exporter's range 7..18");
  for (const auto& t : g_.initializers) constants_[t.name] = &t;
  for (const auto& n : g_.nodes)
    if (n.is_default_domain() && n.op_type == "Constant" && n.outputs.size() == 1) {
      const mc::Attribute* a = n.attr("value");
      if (a && a->type == AttrType::Tensor && a->tensors.size() == 1) {
        constants_[n.outputs[0]] = &a->tensors[0];
        // The Constant's value is registered under the output name.
      }
    }
  for (QuantizedWeight& q : find_quantized_weights(g_)) {
    folded_nodes_.insert(q.nodes.begin(), q.nodes.end());
    Tensor placeholder;  // the chain's output is a constant from here on; its bytes come from quantized_
    placeholder.name = q.output;
    placeholder.dtype = DType::F32;
    placeholder.dims = q.dims;
    folded_.push_back(std::move(placeholder));
    constants_[q.output] = &folded_.back();
    note("weight-only: '" + q.output + "' stored as a quantized constant (" + std::to_string(q.nodes.size()) +
         " nodes folded" + (q.block_size ? ", blocks of " + std::to_string(q.block_size) : std::string()) + ")");
    quantized_.emplace(q.output, std::move(q));
  }
  for (const auto& n : g_.nodes)
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (!n.inputs[k].empty() && exact_position(n.op_type, k)) exact_weights_.insert(n.inputs[k]);
  for (const auto& n : g_.nodes)
    if (n.is_default_domain() && (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv") &&
        n.inputs.size() > 1 && !n.inputs[1].empty())
      matrix_weights_.insert(n.inputs[1]);
  // int8 weights of QLinearMatMul and QLinearConv: bitmask/CSR when smaller, like fp32 (§4.4);
  // the runtime densifies them to int8 at prepare and the sparse int8 kernels pick their own layout.
  for (const auto& n : g_.nodes)
    if (is_int8_node(n) && (n.op_type == "QLinearConv" || n.op_type == "QLinearMatMul") && n.inputs.size() > 1 &&
        !n.inputs[1].empty())
      matrix_weights_.insert(n.inputs[1]);

  // Graph inputs first (those that are not initializers).
  std::vector<int> inputs;
  for (const ValueInfo* v : g_.real_inputs()) {
    mcrt::DType rt;
    if (!v->is_tensor() || !to_runtime_dtype(v->dtype, &rt) || rt == mcrt::DType::kF16)
      throw Error(ErrorKind::Input, "graph input '" + v->name + "' has data type " + dtype_name(v->dtype) +
                                        ", which the runtime does not accept as an input");
    const int k = w_.add_tensor(v->name, rt, declared_shape(nullptr, v->name, true));
    names_.insert(v->name);
    index_[v->name] = k;
    inputs.push_back(k);
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    if (folded_nodes_.count(i)) continue;
    if (!n.name.empty()) {
      map_node(n);
      continue;
    }
    Node named = n;  // messages name an unnamed node "<op>_<index>", as model_stats does
    named.name = n.op_type + "_" + std::to_string(i);
    map_node(named);
  }
  std::vector<int> outputs;
  for (const auto& o : g_.outputs) {
    auto it = index_.find(o.name);
    if (it == index_.end() && constants_.count(o.name)) it = index_.emplace(o.name, tensor_index(nullptr, o.name)).first;
    if (it == index_.end()) throw Error(ErrorKind::Input, "graph output '" + o.name + "' is not produced by any node");
    outputs.push_back(it->second);
  }
  w_.set_inputs(inputs);
  w_.set_outputs(outputs);
  w_.set_producer("mcompress export (" + (m_.producer_name.empty() ? std::string("unknown producer") : m_.producer_name) + ")");
  w_.set_coded_body(opts_.entropy_coding);
  w_.set_strip_names(opts_.strip_names);
  std::vector<uint8_t> bytes;
  const mcrt::Status st = w_.finish(&bytes);
  if (!st.ok()) throw Error(ErrorKind::Internal, "runtime writer: " + st.to_string());
  if (opts_.entropy_coding) {
    mcrt::FileHeader h;
    mcrt::decode_file_header(bytes.data(), &h);
    const uint64_t image = h.weights_offset + h.weights_size;
    note("entropy coding: graph and weights coded as one body, " + std::to_string(image) + " -> " +
         std::to_string(bytes.size()) + " bytes");
  }
  if (report_) report_->weight_bytes = weight_bytes_;
  return bytes;
}

// The runtime's own verdict on the file: load (structure, §2–§7) and prepare at batch 1
// (shapes, kernels). Unsupported combinations become Input errors.
void verify_with_runtime(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<mcrt::Model> model;
  mcrt::Status st = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model);
  if (!st.ok()) throw Error(ErrorKind::Internal, "the runtime refuses the exported file: " + st.to_string());
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = 1;
  st = mcrt::Interpreter::prepare(*model, po, &it);
  if (st.ok()) return;
  if (st.code() == mcrt::StatusCode::kUnsupported || st.code() == mcrt::StatusCode::kLimitExceeded ||
      st.code() == mcrt::StatusCode::kOutOfMemory)
    throw Error(ErrorKind::Input, "runtime: " + st.to_string());
  throw Error(ErrorKind::Internal, "the runtime cannot prepare the exported file: " + st.to_string());
}

}  // namespace

std::vector<std::string> runtime_constant_inputs(const Model& m) {
  std::vector<std::string> out;
  for (const auto& n : m.graph.nodes) {
    const OpRow* row = find_row(n);
    if (!row) continue;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const std::string& v = n.inputs[k];
      if ((row->const_inputs >> k & 1u) && !v.empty() && !m.graph.initializer(v) && m.graph.is_graph_input(v) &&
          std::find(out.begin(), out.end(), v) == out.end())
        out.push_back(v);
    }
  }
  return out;
}

std::vector<PassReport> optimize_for_runtime(Model& m, PassContext& ctx) {
  std::vector<PassReport> reports = run_passes(m, ctx, default_optimize_pipeline());
  check_new_tensors_finite(m, reports);
  const std::string shape_error = refresh_shapes(m);
  if (!shape_error.empty()) {
    const auto log = ctx.log ? ctx.log : spdlog::default_logger();
    log->warn("shape inference after optimize failed, shapes kept: {}", shape_error);
  }
  return reports;
}

std::vector<uint8_t> export_runtime_bytes(const Model& m, const RuntimeExportOptions& opts,
                                          RuntimeExportReport* report) {
  RuntimeExportReport local;
  RuntimeExportReport* r = report ? report : &local;
  *r = RuntimeExportReport{};
  Model lowered;  // QDQ patterns -> runtime int8 ops (export/qdq_lowering.h); the rest as it is
  const bool qdq = has_qdq(m.graph);
  if (qdq) {
    lowered = m;
    for (const std::string& s : lower_qdq(lowered.graph, opts.lower_qdq).notes) r->notes.push_back("int8: " + s);
  }
  Exporter ex(qdq ? lowered : m, opts, r);
  std::vector<uint8_t> bytes = ex.run();
  if (opts.verify) verify_with_runtime(bytes);
  return bytes;
}

void export_runtime_file(const Model& m, const std::string& path, const RuntimeExportOptions& opts,
                         const std::vector<std::string>& inputs, RuntimeExportReport* report) {
  for (const auto& in : inputs)
    if (in == path || same_file(in, path))
      throw Error(ErrorKind::Input, path + ": the output is one of the input files; write to another file");
  const std::vector<uint8_t> bytes = export_runtime_bytes(m, opts, report);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()), inputs);
}

}  // namespace mc
