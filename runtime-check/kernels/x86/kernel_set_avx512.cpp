// The AVX-512F kernel set: 6x32 GEMM-based conv / fc / sgemm, AVX2 depthwise and element-wise.
// Compiled WITHOUT -mavx512f: it only checks cpuid (and, through libgcc, that the OS saves zmm
// state) before handing out the table.
#include "avx2_kernels.h"
#include "avx512_kernels.h"

namespace mcrt {

const KernelSet* kernels_avx512() {
  static const KernelSet set = {
      "avx512",       avx512::conv2d_packed_size, avx512::conv2d_pack, avx512::conv2d_scratch_size,
      avx512::conv2d_run, avx512::fc_packed_size, avx512::fc_pack,     avx512::fc_run,
      avx512::sgemm,  avx512::sgemm_scratch_size, avx2::binary,        avx2::unary,
  };
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok ? &set : nullptr;
}

}  // namespace mcrt
