#include "compress/io/model_loader.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "compress/error.h"

namespace mc {
namespace {

std::string lower_extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

std::map<std::string, ModelLoader>& loaders() {
  static std::map<std::string, ModelLoader> table;
  return table;
}

}  // namespace

void register_model_loader(const std::string& extension, ModelLoader loader) {
  loaders()[lower_extension("x" + extension)] = loader;
}

Model load_model_file(const std::string& path, const ImportOptions& opts) {
  const std::string ext = lower_extension(path);
  const auto it = loaders().find(ext);
  if (it != loaders().end()) return it->second(path, opts);
  if (ext == ".pt" || ext == ".pth")
    throw_input_error(path, "a TorchScript archive, but this mcompress was built without LibTorch (distill/)");
  return import_onnx_file(path, opts);
}

}  // namespace mc
