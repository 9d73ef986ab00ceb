#include "cli/before_after.h"

#include <cstdio>

#include "cli/text_format.h"
#include "compress/analysis/file_size.h"
#include "compress/analysis/model_stats.h"

namespace mc::cli {

ModelFigures measure_model(const Model& m, const std::vector<std::string>& files) {
  const ModelStats st = compute_stats(m);
  const FileSizes fs = measure_files(files);
  ModelFigures f;
  f.nodes = st.nodes;
  f.params = st.params;
  f.nonzero_params = st.params - st.zero_weights;
  f.macs = st.macs;
  f.bytes = fs.bytes;
  f.gzip_bytes = fs.gzip_bytes;
  return f;
}

std::string before_after_line(const std::string& verb, const std::vector<FigureChange>& figures) {
  std::string line = verb + ":";
  for (size_t i = 0; i < figures.size(); ++i) {
    const FigureChange& c = figures[i];
    line += (i ? ", " : " ") + c.name + " " + thousands(c.before) + " → " + thousands(c.after);
    if (c.ratio) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " (%.3fx)",
                    c.before ? static_cast<double>(c.after) / static_cast<double>(c.before) : 0.0);
      line += buf;
    }
  }
  return line;
}

std::string before_after_line(const std::string& verb, const ModelFigures& before, const ModelFigures& after) {
  return before_after_line(verb, {{"nodes", before.nodes, after.nodes},
                                  {"params", before.params, after.params},
                                  {"MACs", before.macs, after.macs},
                                  {"bytes", before.bytes, after.bytes}});
}

}  // namespace mc::cli
