#include "cli/output_path.h"

#include <filesystem>

namespace mc::cli {

std::string default_output(const std::string& model, const std::string& tag, const std::string& ext) {
  const std::filesystem::path p(model);
  std::string name = p.stem().string();
  if (name.empty() || name == "." || name == "..") name = "model";
  if (!tag.empty()) name += "." + tag;
  name += "." + ext;
  return (p.parent_path() / name).string();
}

std::string format_extension(const std::string& format) {
  if (format == "runtime") return "mcrt";
  if (format == "torchscript") return "pt";
  return "onnx";
}

}  // namespace mc::cli
