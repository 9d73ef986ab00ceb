// One way to read a MODEL argument, whatever its format. ONNX is built in; other
// formats come from loaders registered by extension at start-up (cli/main.cpp
// registers distill's TorchScript importer for ".pt" and ".pth"), so that compress/
// does not depend on the libraries that read them.
//
// The format is chosen by the file's extension only, never by sniffing its bytes:
// a TorchScript archive is executable code (security.md) and is loaded only when
// the user names a .pt/.pth file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/onnx/onnx_import.h"

namespace mc {

// Reads the model at `path`; `opts.input_shapes` supplies or overrides input shapes.
// Throws mc::Error(Input) naming the file on any problem.
using ModelLoader = Model (*)(const std::string& path, const ImportOptions& opts);

// Registers `loader` for files ending in `extension` (".pt", case-insensitive).
// Called explicitly at start-up (no self-registering statics); a later call for the
// same extension replaces the earlier one.
void register_model_loader(const std::string& extension, ModelLoader loader);

// The registered loader for the file's extension; ONNX for anything else. A .pt/.pth
// file with no loader registered is an Input error saying that TorchScript support
// is not in this build.
Model load_model_file(const std::string& path, const ImportOptions& opts = {});

// "NAME=1,3,224,224" → (NAME, dims); -1 marks a dynamic dim. Throws Error(Input) naming the
// spec and the problem.
std::pair<std::string, std::vector<int64_t>> parse_input_shape(const std::string& spec);
// parse_input_shape(spec) added to `shapes`; a NAME given twice is an Error(Input) (which of two
// shapes was meant is not guessed).
void add_input_shape(std::map<std::string, std::vector<int64_t>>& shapes, const std::string& spec);

// Input shapes given once on the command line (`mcompress --input-shape NAME=D1,...` before or
// after any verb) for models that do not carry them (TorchScript without "input_shapes", ONNX
// inputs without shapes). load_model_file adds them to opts.input_shapes for every model it
// reads; a shape in opts itself wins.
void set_default_input_shapes(std::map<std::string, std::vector<int64_t>> shapes);

}  // namespace mc
