// Where a verb writes when -o is not given: next to the model, its file name without the
// extension plus ".<tag>.<ext>", so `mcompress prune --ratio 0.7 model.onnx` writes
// model.pruned.onnx. The verbs' own check that the output is not the input applies either way.
#pragma once
#include <string>

namespace mc::cli {

// tag may be empty ("model.mcrt"); ext has no dot.
std::string default_output(const std::string& model, const std::string& tag, const std::string& ext);

// The file extension of a --format: runtime → mcrt, torchscript → pt, anything else → onnx.
std::string format_extension(const std::string& format);

// `output` when given, else default_output(model, tag, ext).
inline std::string output_or_default(const std::string& output, const std::string& model, const std::string& tag,
                                     const std::string& ext) {
  return output.empty() ? default_output(model, tag, ext) : output;
}

}  // namespace mc::cli
