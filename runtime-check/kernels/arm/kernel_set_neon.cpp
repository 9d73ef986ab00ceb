// The AArch64 NEON kernel set. Advanced SIMD is mandatory on AArch64, so no run-time check is needed.
#include "neon_kernels.h"

namespace mcrt {

const KernelSet* kernels_neon() {
  static const KernelSet set = {
      "neon",           neon::conv2d_packed_size, neon::conv2d_pack, neon::conv2d_scratch_size, neon::conv2d_run,
      neon::fc_packed_size, neon::fc_pack,        neon::fc_run,      neon::sgemm,              neon::sgemm_scratch_size,
      neon::binary,     neon::unary,
  };
  return &set;
}

}  // namespace mcrt
