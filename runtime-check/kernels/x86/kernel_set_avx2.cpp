// The AVX2+FMA kernel set. Compiled WITHOUT -mavx2: it only checks cpuid before handing out the
// table whose functions live in the -mavx2 -mfma translation units.
#include "avx2_kernels.h"

namespace mcrt {

const KernelSet* kernels_avx2() {
  static const KernelSet set = {
      "avx2",           avx2::conv2d_packed_size, avx2::conv2d_pack, avx2::conv2d_scratch_size, avx2::conv2d_run,
      avx2::fc_packed_size, avx2::fc_pack,        avx2::fc_run,      avx2::sgemm,              avx2::sgemm_scratch_size,
      avx2::binary,     avx2::unary,
  };
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok ? &set : nullptr;
}

}  // namespace mcrt
