// The prune-side pass table. compress/passes/pass_registry.cpp holds the table of
// compress/'s own passes, and compress/ may not depend on prune/ (architecture.md),
// so the pruning passes are listed here, with the same PassInfo rows. A driver that
// wants every pass concatenates mc::all_passes() and mc::prune::prune_passes().
//
// Options (PassContext::options, "pass.option"), the same for every row:
//   <pass>.ratio (default 0.5), <pass>.criterion (magnitude), <pass>.scope (layer),
//   <pass>.exclude (comma-separated names/op types), prune_n_m.pattern (2:4).
#pragma once
#include <vector>

#include "compress/passes/pass.h"

namespace mc::prune {

const std::vector<PassInfo>& prune_passes();
const PassInfo* find_prune_pass(const std::string& name);

}  // namespace mc::prune
