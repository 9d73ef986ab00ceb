// The kernel-set registry: the reference table and the one-time choice of the best set for this CPU.
#include <cstdlib>
#include <cstring>

#include "kernels.h"
#include "reference/reference_kernels.h"

namespace mcrt {

const KernelSet& kernels_reference() {
  static const KernelSet set = {
      "reference",       ref::conv2d_packed_size, ref::conv2d_pack, ref::conv2d_scratch_size, ref::conv2d_run,
      ref::fc_packed_size, ref::fc_pack,          ref::fc_run,      ref::sgemm,                ref::sgemm_scratch_size,
      ref::binary,       ref::unary,
  };
  return set;
}

#if !defined(MCRT_HAVE_AVX2)
const KernelSet* kernels_avx2() { return nullptr; }
const KernelSet* kernels_avx512() { return nullptr; }
#endif
#if !defined(MCRT_HAVE_NEON)
const KernelSet* kernels_neon() { return nullptr; }
#endif

const KernelSet& kernels_best() {
  static const KernelSet* const best = [] {
    const char* cap = std::getenv("MCRT_KERNELS");
    if (cap != nullptr && std::strcmp(cap, "reference") == 0) return &kernels_reference();
    const bool avx2_only = cap != nullptr && std::strcmp(cap, "avx2") == 0;
    if (const KernelSet* s = kernels_neon()) return s;
    if (!avx2_only)
      if (const KernelSet* s = kernels_avx512()) return s;
    if (const KernelSet* s = kernels_avx2()) return s;
    return &kernels_reference();
  }();
  return *best;
}

}  // namespace mcrt
