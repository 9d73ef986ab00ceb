// The AArch64 int8 tables. Compiled without +dotprod: the dotprod table is handed out only when the
// kernel reports the feature (getauxval(AT_HWCAP) & HWCAP_ASIMDDP).
#include <sys/auxv.h>

#include "../int8_sets.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

namespace mcrt {

const Int8KernelSet* int8_kernels_neon() {
  static const Int8KernelSet set = MCRT_INT8_TABLE(int8_neon, "neon");
  return &set;
}

const Int8KernelSet* int8_kernels_neon_dotprod() {
  static const Int8KernelSet set = MCRT_INT8_TABLE(int8_neon_dotprod, "neon_dotprod");
  static const bool ok = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return ok ? &set : nullptr;
}

}  // namespace mcrt
