// Small graph-rewriting primitives shared by the passes of this folder: who reads
// a value, renaming a value everywhere it is read, fresh names, and the schema
// lookup that decides whether a node's op is one ONNX defines.
#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compress/ir/graph.h"

namespace onnx { class OpSchema; }

namespace mc {

// Number of reads of each value in g: node inputs, names that subgraphs read from
// g (implicit inputs of If/Loop/Scan), and graph outputs (each counts one read).
std::unordered_map<std::string, int> count_value_uses(const Graph& g);

// Names that n's subgraphs (If/Loop/Scan bodies, at any depth) read from the
// graph that holds n: its implicit inputs. Explicit stack, no recursion.
std::vector<std::string> subgraph_outer_reads(const Node& n);

// Replaces every read of `from` by `to` in g's node inputs and in subgraphs that
// read `from` from g (a subgraph that defines its own `from` shadows it and is left
// alone). Graph outputs are not touched. Walks subgraphs with an explicit stack.
void rename_value_uses(Graph& g, const std::string& from, const std::string& to);

// A name not yet used by any value, node output or initializer of g: base, base_1, ...
std::string fresh_value_name(const Graph& g, const std::string& base);

// ONNX's schema for the node at the model's opset for its domain; nullptr when ONNX's
// registry does not know the op (custom domains, misspelt or too-new ops).
const onnx::OpSchema* find_op_schema(const Model& m, const Node& n);

// Throws Error(Input) naming the op, the node and the opset when find_op_schema fails.
// `why` says what the calling pass needed the op's semantics for.
void require_known_op(const Model& m, const Node& n, const std::string& pass, const std::string& why);

// require_known_op for every default-domain node of the main graph: a model that uses
// an op ONNX does not define at its opset cannot be written back as valid ONNX.
void require_known_default_domain_ops(const Model& m, const std::string& who);

// "name (Op)" or "#index (Op)" for messages.
std::string describe_node(const Node& n, size_t index);

}  // namespace mc
