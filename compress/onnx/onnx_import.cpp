#include "compress/onnx/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/checked_math.h"
#include "compress/io/file_io.h"

namespace mc {
namespace {

struct Ctx {
  std::string file;       // for messages
  std::string model_dir;  // for external data
  const ImportOptions* opts;
  std::vector<std::string>* sources;  // external-data files read
};

[[noreturn]] void bad(const Ctx& c, const std::string& why) { throw_input_error(c.file, why); }

// ---- structure checks on the proto, before anything is converted -------------------------

// Depth and node count over every nested graph, with an explicit stack.
void check_graph_limits(const Ctx& c, const onnx::GraphProto& root) {
  uint64_t nodes = 0;
  std::vector<std::pair<const onnx::GraphProto*, int>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [g, depth] = stack.back();
    stack.pop_back();
    if (depth > c.opts->max_subgraph_depth)
      bad(c, "subgraphs nest deeper than " + std::to_string(c.opts->max_subgraph_depth) + " levels");
    nodes += static_cast<uint64_t>(g->node_size());
    if (nodes > c.opts->max_nodes) bad(c, "more than " + std::to_string(c.opts->max_nodes) + " nodes");
    for (const auto& n : g->node())
      for (const auto& a : n.attribute()) {
        if (a.has_g()) stack.push_back({&a.g(), depth + 1});
        for (const auto& sg : a.graphs()) stack.push_back({&sg, depth + 1});
      }
  }
}

// ---- tensors -----------------------------------------------------------------------------

template <typename Src, typename Dst>
void copy_typed(const google::protobuf::RepeatedField<Src>& src, std::vector<uint8_t>* out) {
  out->resize(static_cast<size_t>(src.size()) * sizeof(Dst));
  for (int i = 0; i < src.size(); ++i) {
    Dst v = static_cast<Dst>(src.Get(i));
    std::memcpy(out->data() + static_cast<size_t>(i) * sizeof(Dst), &v, sizeof(Dst));
  }
}

Tensor convert_tensor(const Ctx& c, const onnx::TensorProto& tp, const std::string& fallback_name) {
  Tensor t;
  t.name = tp.name().empty() ? fallback_name : tp.name();
  t.doc_string = tp.doc_string();
  const std::string who = "tensor '" + t.name + "'";
  if (!dtype_is_known(tp.data_type()))
    bad(c, who + " has unknown data type " + std::to_string(tp.data_type()));
  t.dtype = static_cast<DType>(tp.data_type());
  for (int64_t d : tp.dims()) {
    if (d < 0) bad(c, who + " has negative dimension " + std::to_string(d));
    t.dims.push_back(d);
  }
  uint64_t numel = 0;
  if (!checked_numel(t.dims, &numel)) bad(c, who + ": the product of its dimensions overflows");
  if (tp.has_segment()) bad(c, who + " uses segments, which are not supported");

  if (t.dtype == DType::String) {
    if (tp.has_raw_data() || tp.data_location() == onnx::TensorProto::EXTERNAL)
      bad(c, who + ": string tensors must use string_data");
    if (static_cast<uint64_t>(tp.string_data_size()) != numel)
      bad(c, who + " has " + std::to_string(tp.string_data_size()) + " strings, its shape needs " + std::to_string(numel));
    t.strings.assign(tp.string_data().begin(), tp.string_data().end());
    return t;
  }
  uint64_t expected = 0;
  if (!dtype_storage_bytes(t.dtype, numel, &expected)) bad(c, who + ": its byte size overflows");

  const int typed = tp.float_data_size() + tp.int32_data_size() + tp.int64_data_size() + tp.double_data_size() +
                    tp.uint64_data_size() + tp.string_data_size();
  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    if (tp.has_raw_data() || typed) bad(c, who + " is marked external but also carries inline data");
    ExternalDataRef ref;
    std::unordered_set<std::string> seen;
    bool has_location = false;
    for (const auto& kv : tp.external_data()) {
      if (!seen.insert(kv.key()).second) bad(c, who + ": external_data key '" + kv.key() + "' appears twice");
      auto parse_int = [&](const std::string& s) -> int64_t {
        if (s.empty() || s.size() > 19) bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        size_t i = (s[0] == '-') ? 1 : 0;
        if (i == s.size()) bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        for (size_t k = i; k < s.size(); ++k)
          if (s[k] < '0' || s[k] > '9') bad(c, who + ": external_data " + kv.key() + " '" + s + "' is not a number");
        return std::stoll(s);
      };
      if (kv.key() == "location") { ref.location = kv.value(); has_location = true; }
      else if (kv.key() == "offset") ref.offset = parse_int(kv.value());
      else if (kv.key() == "length") ref.length = parse_int(kv.value());
      else if (kv.key() == "checksum") {}  // informational (SHA1); not verified
      else bad(c, who + ": unknown external_data key '" + kv.key() + "'");
    }
    if (!has_location) bad(c, who + ": external data without a location");
    if (ref.length < 0 && seen.count("length")) bad(c, who + ": external data has negative length " + std::to_string(ref.length));
    std::string bytes = read_external_data(c.model_dir, ref, expected, c.file, t.name);
    const std::string full = c.model_dir + "/" + ref.location;
    if (std::find(c.sources->begin(), c.sources->end(), full) == c.sources->end()) c.sources->push_back(full);
    t.data.assign(bytes.begin(), bytes.end());
    return t;
  }
  if (tp.has_raw_data()) {
    if (typed) bad(c, who + " carries both raw_data and typed data");
    if (tp.raw_data().size() != expected)
      bad(c, who + " has " + std::to_string(tp.raw_data().size()) + " bytes of raw_data; its shape and type need " +
                 std::to_string(expected));
    t.data.assign(tp.raw_data().begin(), tp.raw_data().end());
    return t;
  }
  // Typed fields: the count must equal the element count (complex: twice).
  auto need = [&](int have, uint64_t want, const char* field) {
    if (static_cast<uint64_t>(have) != want)
      bad(c, who + " has " + std::to_string(have) + " values in " + field + "; its shape needs " + std::to_string(want));
  };
  switch (t.dtype) {
    case DType::F32: need(tp.float_data_size(), numel, "float_data"); copy_typed<float, float>(tp.float_data(), &t.data); break;
    case DType::C64: need(tp.float_data_size(), numel * 2, "float_data"); copy_typed<float, float>(tp.float_data(), &t.data); break;
    case DType::F64: need(tp.double_data_size(), numel, "double_data"); copy_typed<double, double>(tp.double_data(), &t.data); break;
    case DType::C128: need(tp.double_data_size(), numel * 2, "double_data"); copy_typed<double, double>(tp.double_data(), &t.data); break;
    case DType::I64: need(tp.int64_data_size(), numel, "int64_data"); copy_typed<int64_t, int64_t>(tp.int64_data(), &t.data); break;
    case DType::I32: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int32_t>(tp.int32_data(), &t.data); break;
    case DType::I16: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int16_t>(tp.int32_data(), &t.data); break;
    case DType::U16: case DType::F16: case DType::BF16:
      need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, uint16_t>(tp.int32_data(), &t.data); break;
    case DType::I8: need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, int8_t>(tp.int32_data(), &t.data); break;
    case DType::U8: case DType::Bool:
      need(tp.int32_data_size(), numel, "int32_data"); copy_typed<int32_t, uint8_t>(tp.int32_data(), &t.data); break;
    case DType::U32: need(tp.uint64_data_size(), numel, "uint64_data"); copy_typed<uint64_t, uint32_t>(tp.uint64_data(), &t.data); break;
    case DType::U64: need(tp.uint64_data_size(), numel, "uint64_data"); copy_typed<uint64_t, uint64_t>(tp.uint64_data(), &t.data); break;
    case DType::I4: case DType::U4: {
      need(tp.int32_data_size(), (numel + 1) / 2, "int32_data");
      copy_typed<int32_t, uint8_t>(tp.int32_data(), &t.data);
      break;
    }
    default: bad(c, who + ": unsupported data type " + dtype_name(t.dtype));
  }
  if (t.data.size() != expected) bad(c, who + ": decoded size does not match its shape");
  return t;
}

// ---- types and values --------------------------------------------------------------------

ValueInfo convert_value(const Ctx& c, const onnx::ValueInfoProto& v) {
  ValueInfo vi;
  vi.name = v.name();
  vi.doc_string = v.doc_string();
  if (!v.has_type()) return vi;
  const auto& tp = v.type();
  if (tp.value_case() != onnx::TypeProto::kTensorType) {
    vi.opaque_type = tp.SerializeAsString();
    return vi;
  }
  const auto& tt = tp.tensor_type();
  if (tt.elem_type() != 0 && !dtype_is_known(tt.elem_type()))
    bad(c, "value '" + vi.name + "' has unknown element type " + std::to_string(tt.elem_type()));
  vi.dtype = static_cast<DType>(tt.elem_type());
  if (tt.has_shape()) {
    vi.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) bad(c, "value '" + vi.name + "' has negative dimension " + std::to_string(d.dim_value()));
        vi.shape.push_back(Dim::known(d.dim_value()));
      } else if (d.has_dim_param()) {
        vi.shape.push_back(Dim::symbol(d.dim_param()));
      } else {
        vi.shape.push_back(Dim{});
      }
    }
  }
  return vi;
}

std::shared_ptr<Graph> convert_graph(const Ctx& c, const onnx::GraphProto& gp, int depth);

Attribute convert_attr(const Ctx& c, const onnx::AttributeProto& ap, int depth) {
  Attribute a;
  a.name = ap.name();
  a.doc_string = ap.doc_string();
  a.ref_attr_name = ap.ref_attr_name();
  a.type = static_cast<AttrType>(ap.type());
  switch (ap.type()) {
    case onnx::AttributeProto::FLOAT: a.f = ap.f(); break;
    case onnx::AttributeProto::INT: a.i = ap.i(); break;
    case onnx::AttributeProto::STRING: a.s = ap.s(); break;
    case onnx::AttributeProto::TENSOR: a.tensors.push_back(convert_tensor(c, ap.t(), a.name)); break;
    case onnx::AttributeProto::GRAPH: a.graphs.push_back(convert_graph(c, ap.g(), depth + 1)); break;
    case onnx::AttributeProto::FLOATS: a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
    case onnx::AttributeProto::INTS: a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
    case onnx::AttributeProto::STRINGS: a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
    case onnx::AttributeProto::TENSORS:
      for (const auto& t : ap.tensors()) a.tensors.push_back(convert_tensor(c, t, a.name));
      break;
    case onnx::AttributeProto::GRAPHS:
      for (const auto& g : ap.graphs()) a.graphs.push_back(convert_graph(c, g, depth + 1));
      break;
    case onnx::AttributeProto::SPARSE_TENSOR:
    case onnx::AttributeProto::SPARSE_TENSORS:
    case onnx::AttributeProto::TYPE_PROTO:
    case onnx::AttributeProto::TYPE_PROTOS:
      a.opaque = ap.SerializeAsString();
      break;
    default:
      if (!ap.ref_attr_name().empty()) break;  // attribute reference inside a function body
      bad(c, "attribute '" + a.name + "' has unknown type " + std::to_string(ap.type()));
  }
  return a;
}

// Conversion recurses into subgraphs; the depth was bounded by check_graph_limits.
std::shared_ptr<Graph> convert_graph(const Ctx& c, const onnx::GraphProto& gp, int depth) {
  auto g = std::make_shared<Graph>();
  g->name = gp.name();
  g->doc_string = gp.doc_string();
  std::unordered_set<std::string> init_names;
  for (const auto& tp : gp.initializer()) {
    if (tp.name().empty()) bad(c, "an initializer has no name");
    if (!init_names.insert(tp.name()).second) bad(c, "initializer '" + tp.name() + "' is defined twice");
    g->initializers.push_back(convert_tensor(c, tp, tp.name()));
  }
  for (const auto& sp : gp.sparse_initializer()) g->opaque_sparse_initializers.push_back(sp.SerializeAsString());
  for (const auto& qa : gp.quantization_annotation()) g->opaque_quantization_annotation.push_back(qa.SerializeAsString());
  std::unordered_set<std::string> input_names;
  for (const auto& v : gp.input()) {
    if (!input_names.insert(v.name()).second) bad(c, "graph input '" + v.name() + "' is declared twice");
    g->inputs.push_back(convert_value(c, v));
  }
  for (const auto& v : gp.output()) g->outputs.push_back(convert_value(c, v));
  for (const auto& v : gp.value_info()) g->value_info.push_back(convert_value(c, v));

  std::unordered_set<std::string> produced;
  for (const auto& np : gp.node()) {
    Node n;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = np.domain();
    n.doc_string = np.doc_string();
    if (n.op_type.empty()) bad(c, "a node has an empty op_type");
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const auto& o : n.outputs) {
      if (o.empty()) continue;
      if (!produced.insert(o).second) bad(c, "value '" + o + "' is produced by more than one node");
      if (init_names.count(o)) bad(c, "value '" + o + "' is both an initializer and a node output");
    }
    std::unordered_set<std::string> attr_names;
    for (const auto& ap : np.attribute()) {
      if (!attr_names.insert(ap.name()).second)
        bad(c, "node '" + n.name + "' (" + n.op_type + ") has attribute '" + ap.name() + "' twice");
      n.attrs.push_back(convert_attr(c, ap, depth));
    }
    g->nodes.push_back(std::move(n));
  }
  return g;
}

// Puts nodes in topological order (a no-op for valid ONNX) and rejects cycles and
// reads of undefined values. Nested graphs may read names from enclosing scopes.
void order_graph(const Ctx& c, Graph& g, const std::vector<std::string>& outer) {
  std::vector<size_t> order;
  try {
    order = topological_order(g, outer);
  } catch (const Error& e) {
    bad(c, e.what());
  }
  std::vector<Node> sorted;
  sorted.reserve(g.nodes.size());
  for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
}

void order_all_graphs(const Ctx& c, Graph& root) {
  // Explicit stack of (graph, names visible from enclosing scopes).
  std::vector<std::pair<Graph*, std::vector<std::string>>> stack;
  stack.push_back({&root, {}});
  while (!stack.empty()) {
    auto [g, outer] = std::move(stack.back());
    stack.pop_back();
    order_graph(c, *g, outer);
    std::vector<std::string> visible = outer;
    for (const auto& v : g->inputs) visible.push_back(v.name);
    for (const auto& t : g->initializers) visible.push_back(t.name);
    for (const auto& n : g->nodes)
      for (const auto& o : n.outputs) visible.push_back(o);
    for (auto& n : g->nodes)
      for (auto& a : n.attrs)
        for (auto& sg : a.graphs) stack.push_back({sg.get(), visible});
  }
}

void apply_input_shapes(const Ctx& c, onnx::ModelProto& mp) {
  for (const auto& [name, dims] : c.opts->input_shapes) {
    bool found = false;
    for (auto& in : *mp.mutable_graph()->mutable_input()) {
      if (in.name() != name) continue;
      found = true;
      auto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
      shape->clear_dim();
      for (int64_t d : dims) {
        auto* dim = shape->add_dim();
        if (d >= 0) dim->set_dim_value(d);
        else dim->set_dim_param(name + "_dim" + std::to_string(shape->dim_size() - 1));
      }
    }
    if (!found) bad(c, "--input-shape names '" + name + "', which is not a graph input");
  }
}

}  // namespace

Model import_onnx_bytes(const std::string& bytes, const std::string& model_dir, const std::string& name,
                        const ImportOptions& opts) {
  std::vector<std::string> sources;
  Ctx c{name, model_dir, &opts, &sources};
  if (bytes.empty()) bad(c, "file is empty");
  onnx::ModelProto mp;
  {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
    in.SetTotalBytesLimit(INT_MAX);
    in.SetRecursionLimit(100);
    if (!mp.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
      bad(c, "not a valid ONNX model (protobuf parsing failed; truncated or not an ONNX file)");
  }
  if (!mp.has_graph()) bad(c, "not a valid ONNX model (no graph)");
  if (mp.ir_version() <= 0) bad(c, "not a valid ONNX model (ir_version missing)");
  if (mp.opset_import_size() == 0 && mp.ir_version() >= 3) bad(c, "no opset_import");
  int64_t default_opset = 0;
  std::unordered_set<std::string> domains;
  for (const auto& o : mp.opset_import()) {
    const std::string d = o.domain() == "ai.onnx" ? "" : o.domain();
    if (!domains.insert(d).second) bad(c, "opset_import lists domain '" + d + "' twice");
    if (d.empty()) default_opset = o.version();
  }
  if (default_opset != 0 && (default_opset < kMinOpset || default_opset > kMaxOpset))
    bad(c, "opset " + std::to_string(default_opset) + " is not supported (supported: " + std::to_string(kMinOpset) +
               " to " + std::to_string(kMaxOpset) + ")");
  check_graph_limits(c, mp.graph());
  apply_input_shapes(c, mp);

  if (opts.infer_shapes) {
    // ONNX's own inference, with data propagation so Shape→Reshape chains resolve.
    // Node-level errors are not fatal (error_mode 0): values simply stay unshaped.
    onnx::ModelProto inferred = mp;
    for (auto& t : *inferred.mutable_graph()->mutable_initializer())
      if (t.data_location() == onnx::TensorProto::EXTERNAL) { /* inference needs no bytes */ }
    try {
      onnx::ShapeInferenceOptions so(false, 0, true);
      onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), so);
      mp.mutable_graph()->mutable_value_info()->CopyFrom(inferred.graph().value_info());
      // Outputs may gain shapes too.
      for (int i = 0; i < mp.graph().output_size() && i < inferred.graph().output_size(); ++i)
        if (!mp.graph().output(i).type().tensor_type().has_shape())
          *mp.mutable_graph()->mutable_output(i) = inferred.graph().output(i);
    } catch (const std::exception& e) {
      // An inconsistent model: keep the declared shapes, note it for inspect.
      (void)e;
    }
  }

  Model m;
  m.ir_version = mp.ir_version();
  for (const auto& o : mp.opset_import()) m.opsets.push_back({o.domain(), o.version()});
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  m.domain = mp.domain();
  m.model_version = mp.model_version();
  m.doc_string = mp.doc_string();
  for (const auto& kv : mp.metadata_props()) m.metadata.emplace_back(kv.key(), kv.value());
  for (const auto& f : mp.functions()) m.opaque_functions.push_back(f.SerializeAsString());
  for (const auto& ti : mp.training_info()) m.opaque_training_info.push_back(ti.SerializeAsString());
  m.graph = std::move(*convert_graph(c, mp.graph(), 0));
  order_all_graphs(c, m.graph);
  m.source_files = std::move(sources);

  if (opts.require_input_shapes) {
    for (const ValueInfo* in : m.graph.real_inputs())
      if (in->is_tensor() && !in->has_shape)
        bad(c, "graph input '" + in->name + "' has no shape; give one with --input-shape " + in->name + "=1,3,224,224");
  }
  for (const auto& in : m.graph.real_inputs())
    if (in->is_tensor() && in->dtype == DType::Undefined && !mp.graph().input().empty())
      bad(c, "graph input '" + in->name + "' has no element type");
  return m;
}

Model import_onnx_file(const std::string& path, const ImportOptions& opts) {
  const std::string bytes = read_file_bounded(path, opts.max_file_bytes);
  Model m = import_onnx_bytes(bytes, dirname_of(path), path, opts);
  m.source_files.insert(m.source_files.begin(), path);
  return m;
}

}  // namespace mc
