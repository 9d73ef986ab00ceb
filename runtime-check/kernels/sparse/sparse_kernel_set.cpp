// The sparse kernel-set registry: the reference table and the one-time choice for this CPU.
// ISA tables live in x86/ and arm/ and are compiled in only for their architecture.
#include <cstdlib>
#include <cstring>

#include "sparse_kernel_sets.h"

namespace mcrt {

const SparseKernelSet& sparse_kernels_reference() {
  static const SparseKernelSet set = {
      "reference",        sparse_ref::fc_extra_size, sparse_ref::fc_extra_pack, 0, sparse_ref::fc_scratch_size,
      sparse_ref::fc_run, sparse_ref::pointwise_run};
  return set;
}

#if !defined(MCRT_SPARSE_HAVE_X86)
const SparseKernelSet* sparse_kernels_avx2() { return nullptr; }
const SparseKernelSet* sparse_kernels_avx512() { return nullptr; }
#endif
#if !defined(MCRT_SPARSE_HAVE_NEON)
const SparseKernelSet* sparse_kernels_neon() { return nullptr; }
#endif

const SparseKernelSet& sparse_kernels_best() {
  static const SparseKernelSet* const best = [] {
    const char* cap = std::getenv("MCRT_KERNELS");
    if (cap != nullptr && std::strcmp(cap, "reference") == 0) return &sparse_kernels_reference();
    const bool avx2_only = cap != nullptr && std::strcmp(cap, "avx2") == 0;
    if (const SparseKernelSet* s = sparse_kernels_neon()) return s;
    if (!avx2_only)
      if (const SparseKernelSet* s = sparse_kernels_avx512()) return s;
    if (const SparseKernelSet* s = sparse_kernels_avx2()) return s;
    return &sparse_kernels_reference();
  }();
  return *best;
}

}  // namespace mcrt
