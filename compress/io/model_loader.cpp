#include "compress/io/model_loader.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

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

std::map<std::string, std::vector<int64_t>>& default_input_shapes() {
  static std::map<std::string, std::vector<int64_t>> shapes;
  return shapes;
}

}  // namespace

std::pair<std::string, std::vector<int64_t>> parse_input_shape(const std::string& spec) {
  auto fail = [&](const std::string& why) {
    throw Error(ErrorKind::Input, "--input-shape '" + spec + "': " + why + " (expected NAME=D1,D2,...)");
  };
  const auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) fail("no NAME=");
  if (spec.back() == ',') fail("trailing comma");
  std::vector<int64_t> dims;
  std::stringstream ss(spec.substr(eq + 1));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      fail("'" + tok + "' is not an integer");
    }
    if (used != tok.size() || v < -1) fail("'" + tok + "' is not a dim (>= 0, or -1 for dynamic)");
    dims.push_back(v);
  }
  return {spec.substr(0, eq), dims};
}

void add_input_shape(std::map<std::string, std::vector<int64_t>>& shapes, const std::string& spec) {
  auto [name, dims] = parse_input_shape(spec);
  if (!shapes.emplace(name, std::move(dims)).second)
    throw Error(ErrorKind::Input, "--input-shape '" + spec + "': input '" + name + "' is given twice");
}

void set_default_input_shapes(std::map<std::string, std::vector<int64_t>> shapes) {
  default_input_shapes() = std::move(shapes);
}

void register_model_loader(const std::string& extension, ModelLoader loader) {
  loaders()[lower_extension("x" + extension)] = loader;
}

Model load_model_file(const std::string& path, const ImportOptions& given) {
  ImportOptions opts = given;
  for (const auto& [name, dims] : default_input_shapes()) opts.input_shapes.emplace(name, dims);  // given wins
  const std::string ext = lower_extension(path);
  const auto it = loaders().find(ext);
  if (it != loaders().end()) return it->second(path, opts);
  if (ext == ".pt" || ext == ".pth")
    throw_input_error(path, "a TorchScript archive, but this mcompress was built without LibTorch (distill/)");
  return import_onnx_file(path, opts);
}

}  // namespace mc
