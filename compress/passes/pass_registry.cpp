// The one table of passes. Later passes (prune, quantize, lowrank) add a row here.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>

#include "compress/error.h"
#include "compress/lowrank/lowrank.h"
#include "compress/passes/pass.h"

namespace mc {

const std::vector<PassInfo>& all_passes() {
  static const std::vector<PassInfo> kPasses = {
      {"constant_to_initializer",
       "Constant nodes (value, value_float(s), value_int(s)) become initializers; sparse_value stays",
       {},
       constant_to_initializer},
      {"remove_identity_and_dropout",
       "Remove Identity and inference-mode Dropout, keeping graph output names",
       {},
       remove_identity_and_dropout},
      {"fold_constants",
       "Evaluate nodes whose inputs are all constant (and Shape of statically shaped values)",
       {{"max_output_bytes", "0",
         "largest folded output in bytes; 0 = max(16 MiB, 4x the model's weight bytes)"}},
       fold_constants},
      {"fold_batchnorm_into_conv",
       "Fold BatchNormalization into the preceding Conv, ConvTranspose or Gemm (fp32)",
       {},
       fold_batchnorm_into_conv},
      {"eliminate_dead_nodes",
       "Remove nodes whose outputs reach no graph output, and unused initializers",
       {},
       eliminate_dead_nodes},
      {"lowrank", "Factorize Gemm/MatMul/Conv weights by truncated SVD where it cuts MACs (not in the optimize default)", {{"rank_ratio", "", "rank as a fraction of full rank, (0, 1]"}, {"energy", "", "retained energy sum(s^2 top)/sum(s^2), (0, 1]"}, {"target_params", "", "total model params to reach"}, {"exclude", "", "comma-separated node names or op types"}}, lowrank},
  };
  return kPasses;
}

const PassInfo* find_pass(const std::string& name) {
  for (const auto& p : all_passes())
    if (name == p.name) return &p;
  return nullptr;
}

std::vector<std::string> default_optimize_pipeline() {
  // Identity removal comes before folding so that an Identity of a weight (which
  // exporters emit for de-duplicated initializers) is rewired, not copied.
  return {"constant_to_initializer", "remove_identity_and_dropout", "fold_constants",
          "fold_batchnorm_into_conv", "eliminate_dead_nodes"};
}

std::vector<PassReport> run_passes(Model& m, PassContext& ctx, const std::vector<std::string>& names) {
  std::vector<const PassInfo*> chosen;
  for (const auto& n : names) {
    const PassInfo* p = find_pass(n);
    if (!p) {
      std::string known;
      for (const auto& q : all_passes()) known += std::string(known.empty() ? "" : ", ") + q.name;
      throw Error(ErrorKind::Input, "unknown pass '" + n + "' (known: " + known + ")");
    }
    chosen.push_back(p);
  }
  std::vector<PassReport> reports;
  for (const PassInfo* p : chosen) {
    ctx.debug(std::string("running pass ") + p->name);
    PassReport r = p->run(m, ctx);
    r.pass = p->name;
    ctx.debug(r.pass + ": " + r.summary);
    for (const auto& c : r.changes) ctx.debug("  " + c);
    for (const auto& c : r.left_alone) ctx.debug("  left alone: " + c);
    reports.push_back(std::move(r));
  }
  return reports;
}

uint64_t PassContext::option_u64(const std::string& key, uint64_t def) const {
  auto it = options.find(key);
  if (it == options.end()) return def;
  const std::string& s = it->second;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || errno != 0 || !end || *end != '\0')
    throw Error(ErrorKind::Input, "option " + key + "=" + s + ": expected a non-negative integer");
  return v;
}

void PassContext::info(const std::string& msg) const {
  if (log) log->info(msg);
  else spdlog::info(msg);
}

void PassContext::debug(const std::string& msg) const {
  if (log) log->debug(msg);
  else spdlog::debug(msg);
}

}  // namespace mc
