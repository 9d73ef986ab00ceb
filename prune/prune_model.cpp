// Option parsing and the dispatch from PruneOptions to the pass that implements it.
#include <cmath>
#include <cstdlib>

#include "compress/error.h"
#include "prune/channel_prune.h"
#include "prune/magnitude_prune.h"
#include "prune/prune_options.h"

namespace mc::prune {

namespace {
bool parse_positive(const std::string& s, int64_t* v) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  *v = std::strtoll(s.c_str(), nullptr, 10);
  return *v > 0;
}
}  // namespace

Granularity parse_granularity(const std::string& s, int64_t* n, int64_t* m) {
  if (s == "unstructured") return Granularity::Unstructured;
  if (s == "channel") return Granularity::Channel;
  if (s.rfind("block:", 0) == 0) {
    const std::string spec = s.substr(6);
    const auto x = spec.find('x');
    int64_t b = 0, k = 0;
    if (x == std::string::npos || !parse_positive(spec.substr(0, x), &b) || !parse_positive(spec.substr(x + 1), &k))
      throw Error(ErrorKind::Input, "--granularity '" + s + "': expected block:BxK with positive B and K (e.g. block:4x4)");
    *n = b;
    *m = k;
    return Granularity::Block;
  }
  const auto colon = s.find(':');
  int64_t a = 0, b = 0;
  if (colon != std::string::npos && parse_positive(s.substr(0, colon), &a) && parse_positive(s.substr(colon + 1), &b)) {
    if (a >= b) throw Error(ErrorKind::Input, "--granularity " + s + ": n:m needs n < m (e.g. 2:4)");
    *n = a;
    *m = b;
    return Granularity::NM;
  }
  throw Error(ErrorKind::Input, "--granularity '" + s + "': expected unstructured, channel, n:m (e.g. 2:4) or block:BxK (e.g. block:4x4)");
}

Criterion parse_criterion(const std::string& s) {
  if (s == "l1") return Criterion::L1;
  if (s == "l2") return Criterion::L2;
  if (s == "magnitude") return Criterion::Magnitude;
  if (s == "bn") return Criterion::BN;
  throw Error(ErrorKind::Input, "--criterion '" + s + "': expected l1, l2, magnitude or bn");
}

Scope parse_scope(const std::string& s) {
  if (s == "layer") return Scope::Layer;
  if (s == "global") return Scope::Global;
  throw Error(ErrorKind::Input, "--scope '" + s + "': expected global or layer");
}

void validate_ratio(double ratio) {
  if (!std::isfinite(ratio) || ratio < 0.0 || ratio >= 1.0)
    throw Error(ErrorKind::Input, "--ratio " + std::to_string(ratio) + ": must be in [0, 1)");
}

PruneResult prune_model(Model& m, const PruneOptions& opts) {
  if (opts.round_to < 1) throw Error(ErrorKind::Input, "--round-to " + std::to_string(opts.round_to) + ": must be at least 1");
  if (opts.round_to > 1 && opts.granularity != Granularity::Channel)
    throw Error(ErrorKind::Input, "--round-to rounds kept channel counts; it needs --granularity channel");
  if (opts.criterion == Criterion::BN && opts.granularity != Granularity::Channel)
    throw Error(ErrorKind::Input, "--criterion bn ranks channels by their BatchNormalization scale; it needs --granularity channel");
  switch (opts.granularity) {
    case Granularity::Unstructured: return prune_unstructured(m, opts);
    case Granularity::NM: return prune_n_m(m, opts);
    case Granularity::Channel: return prune_channels(m, opts);
    case Granularity::Block: return prune_blocks(m, opts);
  }
  throw Error(ErrorKind::Internal, "unknown granularity");
}

}  // namespace mc::prune
