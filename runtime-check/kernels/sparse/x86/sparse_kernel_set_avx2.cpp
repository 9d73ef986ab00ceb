// The AVX2+FMA and AVX-512F sparse tables. Compiled WITHOUT -mavx2: it checks cpuid before handing out the
// table whose functions live in the -mavx2 -mfma translation unit.
#include "../sparse_kernel_sets.h"

namespace mcrt {

const SparseKernelSet* sparse_kernels_avx2() {
  static const SparseKernelSet set = {"avx2",
                                      sparse_avx2::fc_extra_size,
                                      sparse_avx2::fc_extra_pack,
                                      8,
                                      sparse_avx2::fc_scratch_size,
                                      sparse_avx2::fc_run,
                                      sparse_avx2::pointwise_run};
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok ? &set : nullptr;
}

const SparseKernelSet* sparse_kernels_avx512() {
  static const SparseKernelSet set = {"avx512",
                                      sparse_avx512::fc_extra_size,
                                      sparse_avx512::fc_extra_pack,
                                      8,
                                      sparse_avx512::fc_scratch_size,
                                      sparse_avx512::fc_run,
                                      sparse_avx512::pointwise_run};
  static const bool ok = [] {
    if (sparse_kernels_avx2() == nullptr) return false;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return false;
    // The OS must save the opmask and zmm state (XCR0 bits 1, 2, 5, 6, 7).
    uint32_t lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6u) == 0xe6u;
  }();
  return ok ? &set : nullptr;
}

}  // namespace mcrt
