#include "compress/onnx/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "compress/error.h"
#include "compress/io/file_io.h"

#include <unordered_set>

namespace mc {
namespace {

struct ExternalSink {
  const ExportOptions* opts = nullptr;
  std::string bytes;  // contents of the external-data file being built
};

void tensor_to_proto(const Tensor& t, onnx::TensorProto* tp, ExternalSink* sink) {
  tp->set_name(t.name);
  tp->set_data_type(static_cast<int32_t>(t.dtype));
  for (int64_t d : t.dims) tp->add_dims(d);
  if (!t.doc_string.empty()) tp->set_doc_string(t.doc_string);
  if (t.dtype == DType::String) {
    for (const auto& s : t.strings) tp->add_string_data(s);
    return;
  }
  if (sink && sink->opts && !sink->opts->external_data_file.empty() && t.data.size() >= sink->opts->external_threshold) {
    // 4 KiB alignment lets readers mmap each tensor.
    while (sink->bytes.size() % 4096) sink->bytes.push_back('\0');
    const size_t offset = sink->bytes.size();
    sink->bytes.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
    tp->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = tp->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", sink->opts->external_data_file);
    add("offset", std::to_string(offset));
    add("length", std::to_string(t.data.size()));
    return;
  }
  tp->set_raw_data(t.data.data(), t.data.size());
}

void value_to_proto(const ValueInfo& v, onnx::ValueInfoProto* vp) {
  vp->set_name(v.name);
  if (!v.doc_string.empty()) vp->set_doc_string(v.doc_string);
  if (!v.is_tensor()) {
    if (!vp->mutable_type()->ParseFromString(v.opaque_type))
      throw Error(ErrorKind::Internal, "value '" + v.name + "': stored type does not parse");
    return;
  }
  if (v.dtype == DType::Undefined && !v.has_shape) return;  // no type information at all
  auto* tt = vp->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (v.has_shape) {
    auto* sh = tt->mutable_shape();
    for (const auto& d : v.shape) {
      auto* dp = sh->add_dim();
      if (d.is_known()) dp->set_dim_value(d.value);
      else if (!d.param.empty()) dp->set_dim_param(d.param);
    }
  }
}

void graph_to_proto(const Graph& g, onnx::GraphProto* gp, ExternalSink* sink);

void attr_to_proto(const Attribute& a, onnx::AttributeProto* ap, ExternalSink* sink) {
  if (!a.opaque.empty()) {
    if (!ap->ParseFromString(a.opaque)) throw Error(ErrorKind::Internal, "attribute '" + a.name + "' does not parse");
    return;
  }
  ap->set_name(a.name);
  if (!a.doc_string.empty()) ap->set_doc_string(a.doc_string);
  if (!a.ref_attr_name.empty()) ap->set_ref_attr_name(a.ref_attr_name);
  ap->set_type(static_cast<onnx::AttributeProto_AttributeType>(a.type));
  switch (a.type) {
    case AttrType::Float: ap->set_f(a.f); break;
    case AttrType::Int: ap->set_i(a.i); break;
    case AttrType::String: ap->set_s(a.s); break;
    case AttrType::Tensor:
      if (!a.tensors.empty()) tensor_to_proto(a.tensors[0], ap->mutable_t(), nullptr);
      break;
    case AttrType::Graph:
      if (!a.graphs.empty()) graph_to_proto(*a.graphs[0], ap->mutable_g(), sink);
      break;
    case AttrType::Floats: for (float f : a.floats) ap->add_floats(f); break;
    case AttrType::Ints: for (int64_t i : a.ints) ap->add_ints(i); break;
    case AttrType::Strings: for (const auto& s : a.strings) ap->add_strings(s); break;
    case AttrType::Tensors: for (const auto& t : a.tensors) tensor_to_proto(t, ap->add_tensors(), nullptr); break;
    case AttrType::Graphs: for (const auto& sg : a.graphs) graph_to_proto(*sg, ap->add_graphs(), sink); break;
    default: break;
  }
}

void graph_to_proto(const Graph& g, onnx::GraphProto* gp, ExternalSink* sink) {
  gp->set_name(g.name);
  if (!g.doc_string.empty()) gp->set_doc_string(g.doc_string);
  for (const auto& t : g.initializers) tensor_to_proto(t, gp->add_initializer(), sink);
  for (const auto& s : g.opaque_sparse_initializers) gp->add_sparse_initializer()->ParseFromString(s);
  for (const auto& s : g.opaque_quantization_annotation) gp->add_quantization_annotation()->ParseFromString(s);
  for (const auto& v : g.inputs) value_to_proto(v, gp->add_input());
  for (const auto& v : g.outputs) value_to_proto(v, gp->add_output());
  // Shapes of intermediate values: only for names that still exist.
  std::unordered_set<std::string> live;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) live.insert(o);
  for (const auto& v : g.value_info)
    if (live.count(v.name) && !g.is_graph_output(v.name)) value_to_proto(v, gp->add_value_info());
  for (const auto& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& a : n.attrs) attr_to_proto(a, np->add_attribute(), sink);
  }
}

void model_to_proto_impl(const Model& m, onnx::ModelProto* mp, ExternalSink* sink) {
  mp->set_ir_version(m.ir_version);
  for (const auto& o : m.opsets) {
    auto* op = mp->add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  if (!m.producer_name.empty()) mp->set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) mp->set_producer_version(m.producer_version);
  if (!m.domain.empty()) mp->set_domain(m.domain);
  if (m.model_version) mp->set_model_version(m.model_version);
  if (!m.doc_string.empty()) mp->set_doc_string(m.doc_string);
  for (const auto& [k, v] : m.metadata) {
    auto* e = mp->add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  for (const auto& f : m.opaque_functions) mp->add_functions()->ParseFromString(f);
  for (const auto& t : m.opaque_training_info) mp->add_training_info()->ParseFromString(t);
  graph_to_proto(m.graph, mp->mutable_graph(), sink);
}

}  // namespace

void model_to_proto(const Model& m, onnx::ModelProto* out) { model_to_proto_impl(m, out, nullptr); }

std::string export_onnx_bytes(const Model& m) {
  onnx::ModelProto mp;
  model_to_proto_impl(m, &mp, nullptr);
  std::string out;
  if (!mp.SerializeToString(&out))
    throw Error(ErrorKind::Internal, "the model does not serialize (larger than 2 GiB? use external data)");
  return out;
}

void export_onnx_file(const Model& m, const std::string& path, const ExportOptions& opts,
                      const std::vector<std::string>& inputs) {
  ExternalSink sink;
  sink.opts = &opts;
  if (!opts.external_data_file.empty()) {
    const std::string& e = opts.external_data_file;
    if (e.find('/') != std::string::npos || e == "." || e == "..")
      throw_input_error(e, "external data file must be a plain file name next to the model");
  }
  onnx::ModelProto mp;
  model_to_proto_impl(m, &mp, &sink);
  if (opts.run_checker) {
    // The checker requires a shape on every graph input and output. One that has none came from the
    // input model (declared without one, and shape inference could not find it): an input problem.
    auto no_shape = [&](const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& vs, const char* what) {
      for (const auto& v : vs)
        if (v.type().has_tensor_type() && !v.type().tensor_type().has_shape())
          throw Error(ErrorKind::Input, path + ": cannot write graph " + what + " '" + v.name() +
                                            "' without a shape: the input model declares none and shape inference "
                                            "cannot find one (ONNX requires it)");
    };
    no_shape(mp.graph().input(), "input");
    no_shape(mp.graph().output(), "output");
    try {
      // The checker looks for external files relative to the working folder; check the
      // in-memory equivalent instead, before anything is written.
      if (opts.external_data_file.empty()) {
        onnx::checker::check_model(mp);
      } else {
        onnx::ModelProto inline_copy;
        model_to_proto_impl(m, &inline_copy, nullptr);
        onnx::checker::check_model(inline_copy);
      }
    } catch (const std::exception& ex) {
      throw Error(ErrorKind::Internal, path + ": the exported model fails the ONNX checker: " + ex.what());
    }
  }
  std::string bytes;
  if (!mp.SerializeToString(&bytes))
    throw Error(ErrorKind::Internal, path + ": the model does not serialize (over 2 GiB? use --external-data)");
  if (!opts.external_data_file.empty()) {
    const std::string data_path = dirname_of(path) + "/" + opts.external_data_file;
    write_file_atomic(data_path, sink.bytes, inputs);
  }
  write_file_atomic(path, bytes, inputs);
}

}  // namespace mc
