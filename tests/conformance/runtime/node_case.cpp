#include "node_case.h"

#include <algorithm>
#include <filesystem>

#include "compress/error.h"
#include "compress/io/file_io.h"
#include "compress/onnx/onnx_import.h"
#include "compress/onnx/tensor_proto.h"
#include "compress/passes/pass.h"
#include "compress/passes/refresh_shapes.h"
#include "export/runtime_export.h"

namespace mc::conformance {
namespace fs = std::filesystem;
using mcrt::conformance::CaseTensor;

namespace {

constexpr uint64_t kMaxPbBytes = 64ull << 20;

bool to_case_tensor(const Tensor& t, CaseTensor* out) {
  switch (t.dtype) {
    case DType::F32: out->dtype = mcrt::DType::kF32; break;
    case DType::I8: out->dtype = mcrt::DType::kI8; break;
    case DType::U8: out->dtype = mcrt::DType::kU8; break;
    case DType::I32: out->dtype = mcrt::DType::kI32; break;
    case DType::I64: out->dtype = mcrt::DType::kI64; break;
    case DType::Bool: out->dtype = mcrt::DType::kBool; break;
    default: return false;
  }
  out->shape = t.dims;
  out->data = t.data;
  return true;
}

Tensor read_pb(const std::string& path) {
  return tensor_from_proto_bytes(read_file_bounded(path, kMaxPbBytes), TensorProtoSource{path, "", nullptr});
}

std::vector<Tensor> read_numbered(const std::string& dir, const char* prefix) {
  std::vector<Tensor> out;
  for (int k = 0;; ++k) {
    const std::string p = dir + "/" + prefix + std::to_string(k) + ".pb";
    if (!fs::exists(p)) break;
    out.push_back(read_pb(p));
  }
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) { return a.dtype == b.dtype && a.dims == b.dims && a.data == b.data; }

}  // namespace

std::vector<std::string> list_node_cases(const std::string& node_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(node_dir))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

NodeCase prepare_node_case(const std::string& case_dir, bool optimize) {
  NodeCase c;
  c.name = fs::path(case_dir).filename().string();
  try {
    Model m = import_onnx_file(case_dir + "/model.onnx");
    std::vector<std::string> input_names;
    for (const ValueInfo* v : m.graph.real_inputs()) input_names.push_back(v->name);

    std::vector<std::vector<Tensor>> set_inputs, set_outputs;
    std::vector<std::string> sets;
    for (const auto& e : fs::directory_iterator(case_dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
        sets.push_back(e.path().string());
    std::sort(sets.begin(), sets.end());
    for (const auto& s : sets) {
      set_inputs.push_back(read_numbered(s, "input_"));
      set_outputs.push_back(read_numbered(s, "output_"));
    }
    if (sets.empty()) throw Error(ErrorKind::Input, "no test data set");

    // Inputs the runtime needs as constants become initializers with data set 0's values;
    // a data set that gives them other values cannot use the same file and is skipped.
    const std::vector<std::string> frozen = runtime_constant_inputs(m);
    std::vector<size_t> frozen_pos;
    for (const auto& f : frozen) {
      const size_t pos = static_cast<size_t>(std::find(input_names.begin(), input_names.end(), f) - input_names.begin());
      if (pos >= set_inputs[0].size()) throw Error(ErrorKind::Input, "input '" + f + "' has no data");
      Tensor t = set_inputs[0][pos];
      t.name = f;
      m.graph.initializers.push_back(std::move(t));
      m.graph.inputs.erase(std::remove_if(m.graph.inputs.begin(), m.graph.inputs.end(),
                                          [&](const ValueInfo& v) { return v.name == f; }),
                           m.graph.inputs.end());
      frozen_pos.push_back(pos);
      c.notes.push_back("input '" + f + "' frozen as a constant");
    }
    PassContext ctx;
    if (optimize) (void)run_passes(m, ctx, default_optimize_pipeline());
    const std::string shape_error = refresh_shapes(m);
    if (!shape_error.empty()) throw Error(ErrorKind::Input, "shape inference after optimize: " + shape_error);

    RuntimeExportOptions eo;
    eo.verify = false;  // the runtime's verdict is taken by run_case, the same way on every target
    RuntimeExportReport rep;
    c.model_bytes = export_runtime_bytes(m, eo, &rep);
    for (auto& n : rep.notes) c.notes.push_back(std::move(n));

    std::vector<std::string> runtime_inputs;
    for (const ValueInfo* v : m.graph.real_inputs()) runtime_inputs.push_back(v->name);
    for (size_t s = 0; s < sets.size(); ++s) {
      bool usable = true;
      for (size_t k = 0; k < frozen.size(); ++k)
        usable = usable && frozen_pos[k] < set_inputs[s].size() && same_values(set_inputs[s][frozen_pos[k]], set_inputs[0][frozen_pos[k]]);
      if (!usable) continue;
      std::vector<CaseTensor> ins, outs;
      for (const auto& name : runtime_inputs) {
        const size_t pos = static_cast<size_t>(std::find(input_names.begin(), input_names.end(), name) - input_names.begin());
        if (pos >= set_inputs[s].size()) throw Error(ErrorKind::Input, "no data for input '" + name + "'");
        CaseTensor t;
        if (!to_case_tensor(set_inputs[s][pos], &t))
          throw Error(ErrorKind::Input, std::string("input data type ") + dtype_name(set_inputs[s][pos].dtype) + " is not supported");
        ins.push_back(std::move(t));
      }
      for (const auto& o : set_outputs[s]) {
        CaseTensor t;
        if (!to_case_tensor(o, &t))
          throw Error(ErrorKind::Input, std::string("output data type ") + dtype_name(o.dtype) + " is not supported");
        outs.push_back(std::move(t));
      }
      c.inputs.push_back(std::move(ins));
      c.expected.push_back(std::move(outs));
    }
    c.exported = true;
  } catch (const Error& e) {
    c.exported = false;
    c.internal_error = e.kind() != ErrorKind::Input;
    c.message = e.what();
  } catch (const std::exception& e) {
    c.exported = false;
    c.internal_error = true;
    c.message = std::string("internal error: ") + e.what();
  }
  return c;
}

}  // namespace mc::conformance
