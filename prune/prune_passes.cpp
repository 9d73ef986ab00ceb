#include "prune/prune_passes.h"

#include <cstdlib>
#include <sstream>

#include "compress/error.h"
#include "prune/prune_options.h"

namespace mc::prune {
namespace {

std::string opt(const PassContext& ctx, const std::string& pass, const std::string& key, const std::string& def) {
  auto it = ctx.options.find(pass + "." + key);
  return it == ctx.options.end() ? def : it->second;
}

PruneOptions options_from(const PassContext& ctx, const std::string& pass, Granularity g) {
  PruneOptions o;
  o.granularity = g;
  const std::string ratio = opt(ctx, pass, "ratio", "0.5");
  char* end = nullptr;
  o.ratio = std::strtod(ratio.c_str(), &end);
  if (ratio.empty() || !end || *end != '\0') throw Error(ErrorKind::Input, "option " + pass + ".ratio=" + ratio + ": not a number");
  o.criterion = parse_criterion(opt(ctx, pass, "criterion", "magnitude"));
  o.scope = parse_scope(opt(ctx, pass, "scope", "layer"));
  std::stringstream ss(opt(ctx, pass, "exclude", ""));
  for (std::string tok; std::getline(ss, tok, ',');)
    if (!tok.empty()) o.exclude.push_back(tok);
  if (g == Granularity::NM) {
    const std::string pattern = opt(ctx, pass, "pattern", "2:4");
    if (parse_granularity(pattern, &o.n, &o.m) != Granularity::NM)
      throw Error(ErrorKind::Input, "option " + pass + ".pattern=" + pattern + ": expected n:m");
  }
  return o;
}

PassReport run_unstructured(Model& m, PassContext& ctx) {
  return prune_model(m, options_from(ctx, "prune_unstructured", Granularity::Unstructured)).report;
}
PassReport run_n_m(Model& m, PassContext& ctx) {
  return prune_model(m, options_from(ctx, "prune_n_m", Granularity::NM)).report;
}
PassReport run_channels(Model& m, PassContext& ctx) {
  return prune_model(m, options_from(ctx, "prune_channels", Granularity::Channel)).report;
}

const std::vector<PassOption> kCommon = {
    {"ratio", "0.5", "fraction of weights (channels) to remove, in [0, 1)"},
    {"criterion", "magnitude", "l1, l2, magnitude or bn (channel)"},
    {"scope", "layer", "layer or global (unstructured only)"},
    {"exclude", "", "comma-separated node names or op types to leave alone"},
};

}  // namespace

const std::vector<PassInfo>& prune_passes() {
  static const std::vector<PassInfo> kPasses = {
      {"prune_unstructured", "Zero the smallest-magnitude weights of Conv/Gemm/MatMul (per layer or global)",
       kCommon, run_unstructured},
      {"prune_n_m", "Keep the n largest |w| of every m along the input dimension (e.g. 2:4)",
       [] {
         auto v = kCommon;
         v.push_back({"pattern", "2:4", "n:m"});
         return v;
       }(),
       run_n_m},
      {"prune_channels", "Remove the lowest-norm output channels of Conv/Gemm and rewrite their consumers",
       kCommon, run_channels},
  };
  return kPasses;
}

const PassInfo* find_prune_pass(const std::string& name) {
  for (const auto& p : prune_passes())
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace mc::prune
