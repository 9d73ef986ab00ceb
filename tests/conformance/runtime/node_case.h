// One case of the ONNX node suite (libonnx-testdata), made ready for the runtime:
// import model.onnx, read test_data_set_*/input_K.pb and output_K.pb with the
// importer's own TensorProto conversion, turn graph inputs that the runtime needs as
// constants (Reshape shape, Slice starts, ...) into initializers holding the data
// set's values, run the optimize pipeline, and export to .mcrt bytes.
#pragma once
#include <string>
#include <vector>

#include "case_runner.h"

namespace mc::conformance {

struct NodeCase {
  std::string name;             // folder name, e.g. "test_conv_with_strides_padding"
  bool exported = false;        // false: rejected at import/export (see message)
  bool internal_error = false;  // exporter or optimize crashed: counts as a failure
  std::string message;
  std::vector<uint8_t> model_bytes;
  // One entry per usable data set: inputs in the file's input order, expected outputs.
  std::vector<std::vector<mcrt::conformance::CaseTensor>> inputs, expected;
  std::vector<std::string> notes;  // export notes, frozen inputs
};

// optimize = false skips the optimize pipeline (shape inference only), which exercises the
// exporter's own handling of Constant, Identity and Dropout nodes.
NodeCase prepare_node_case(const std::string& case_dir, bool optimize = true);

// Sorted case folders under node_dir (those with a model.onnx).
std::vector<std::string> list_node_cases(const std::string& node_dir);

}  // namespace mc::conformance
