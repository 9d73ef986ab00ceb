#include "compress/onnx/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

#include "compress/error.h"
#include "compress/io/checked_math.h"
#include "compress/io/file_io.h"
#include "compress/onnx/guarded_inference.h"
#include "compress/onnx/value_info_proto.h"
#include "compress/onnx/tensor_proto.h"

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

Tensor convert_tensor(const Ctx& c, const onnx::TensorProto& tp, const std::string& fallback_name) {
  return tensor_from_proto(tp, TensorProtoSource{c.file, c.model_dir, c.sources}, fallback_name);
}

// ---- types and values --------------------------------------------------------------------

ValueInfo convert_value(const Ctx& c, const onnx::ValueInfoProto& v) { return value_info_from_proto(v, c.file); }

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
    // An inconsistent model (or one inference cannot safely see, guarded_inference.h) keeps its
    // declared shapes.
    if (infer_shapes_guarded(inferred).empty()) {
      mp.mutable_graph()->mutable_value_info()->CopyFrom(inferred.graph().value_info());
      // Outputs may gain shapes too.
      for (int i = 0; i < mp.graph().output_size() && i < inferred.graph().output_size(); ++i)
        if (!mp.graph().output(i).type().tensor_type().has_shape())
          *mp.mutable_graph()->mutable_output(i) = inferred.graph().output(i);
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
