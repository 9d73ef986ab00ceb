#include "cli/runtime_file_options.h"

#include "compress/error.h"

namespace mc::cli {

void add_runtime_file_options(CLI::App& sub, RuntimeFileArgs& args) {
  sub.add_flag("--entropy-coding", args.entropy_coding,
               "Store graph and weights of the runtime file as an entropy-coded body (LZ77 + Huffman), decoded at "
               "load (--format runtime; docs/runtime-format.md §2.1)");
  sub.add_flag("--strip-names", args.strip_names,
               "Write no internal tensor and node names into the runtime file (--format runtime; graph inputs and "
               "outputs keep theirs; tools label the rest #index)");
}

void check_runtime_file_options(const RuntimeFileArgs& args, const std::string& format) {
  if (format == "runtime") return;
  if (args.entropy_coding) throw Error(ErrorKind::Input, "--entropy-coding applies to --format runtime only");
  if (args.strip_names) throw Error(ErrorKind::Input, "--strip-names applies to --format runtime only");
}

void apply_runtime_file_options(const RuntimeFileArgs& args, RuntimeExportOptions& eo) {
  eo.entropy_coding = args.entropy_coding;
  eo.strip_names = args.strip_names;
}

}  // namespace mc::cli
