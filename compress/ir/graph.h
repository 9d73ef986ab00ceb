// The graph part of the IR: values, nodes, attributes, subgraphs.
// Op types and attribute names keep ONNX semantics, so the ONNX spec is the
// reference for what a node means. Anything ONNX can carry that the passes do
// not need to look into (non-tensor types, sparse initializers, functions) is
// kept as serialized protobuf bytes in `opaque_*` fields so that import followed
// by export loses nothing.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "compress/ir/tensor.h"

namespace mc {

struct Graph;

// One dimension: a fixed size (value >= 0), a symbol (param non-empty), or unknown.
struct Dim {
  int64_t value = -1;
  std::string param;
  bool is_known() const { return value >= 0; }
  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim symbol(std::string p) { return Dim{-1, std::move(p)}; }
};

// A named value flowing along the graph's edges.
struct ValueInfo {
  std::string name;
  DType dtype = DType::Undefined;
  bool has_shape = false;   // false: rank unknown
  std::vector<Dim> shape;
  std::string doc_string;
  std::string opaque_type;  // serialized onnx.TypeProto when the value is not a tensor
  bool is_tensor() const { return opaque_type.empty(); }
  bool shape_is_static() const;
  std::vector<int64_t> static_shape() const;  // requires shape_is_static()
};

enum class AttrType : int32_t {  // onnx.AttributeProto.AttributeType values
  Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5,
  SparseTensor = 11, TypeProto = 13,
  Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10,
  SparseTensors = 12, TypeProtos = 14,
};

struct Attribute {
  std::string name;
  AttrType type = AttrType::Undefined;
  float f = 0.f;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;                 // Tensor: one element
  std::vector<std::shared_ptr<Graph>> graphs;  // Graph: one element
  std::string ref_attr_name;                   // inside functions
  std::string doc_string;
  std::string opaque;  // serialized AttributeProto for sparse tensors and type protos
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" and "ai.onnx" are the default domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attrs;
  std::string doc_string;

  const Attribute* attr(const std::string& n) const;
  Attribute* attr(const std::string& n);
  int64_t attr_int(const std::string& n, int64_t def) const;
  float attr_float(const std::string& n, float def) const;
  std::string attr_string(const std::string& n, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& n, const std::vector<int64_t>& def = {}) const;
  void set_attr_int(const std::string& n, int64_t v);
  void set_attr_ints(const std::string& n, std::vector<int64_t> v);
  void set_attr_float(const std::string& n, float v);
  void set_attr_floats(const std::string& n, std::vector<float> v);
  void remove_attr(const std::string& n);
  bool is_default_domain() const { return domain.empty() || domain == "ai.onnx"; }

 private:
  // The attribute named n, cleared and given type t: the existing one in place, else a new one at the end.
  Attribute& reset_attr(const std::string& n, AttrType t);
};

struct Graph {
  std::string name;
  std::string doc_string;
  std::vector<Node> nodes;             // kept in topological order by every pass
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;   // shapes of intermediate values (from shape inference)
  std::vector<Tensor> initializers;
  std::vector<std::string> opaque_sparse_initializers;   // serialized SparseTensorProto
  std::vector<std::string> opaque_quantization_annotation;  // serialized TensorAnnotation

  const Tensor* initializer(const std::string& name) const;
  Tensor* initializer(const std::string& name);
  bool is_graph_input(const std::string& name) const;
  bool is_graph_output(const std::string& name) const;
  // Shape/type of any value: graph input, output, value_info or initializer. nullptr if unknown.
  const ValueInfo* value(const std::string& name) const;
  void set_value_info(ValueInfo vi);    // adds or replaces in value_info
  void remove_initializer(const std::string& name);
  // Graph inputs that are not initializers: what a caller must feed.
  std::vector<const ValueInfo*> real_inputs() const;
};

struct OpsetId {
  std::string domain;
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetId> opsets;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;
  Graph graph;
  std::vector<std::string> opaque_functions;      // serialized FunctionProto
  std::vector<std::string> opaque_training_info;  // serialized TrainingInfoProto
  // Not serialized: the files this model was read from (model file, external data),
  // so that writers can refuse to overwrite any of them.
  std::vector<std::string> source_files;

  int64_t opset(const std::string& domain = "") const;  // 0 if not imported
};

// Walks: explicit stacks, never recursion (security.md: graph depth).
// Topological order of g.nodes; throws mc::Error(Input) on a cycle or a value used
// before any producer. `extra_known` names values defined outside g (outer scopes).
std::vector<size_t> topological_order(const Graph& g, const std::vector<std::string>& extra_known = {});
// Number of nested subgraph levels below g (0 for a flat graph).
int subgraph_depth(const Graph& g);
// Total node count including every nested subgraph.
uint64_t total_node_count(const Graph& g);

}  // namespace mc
