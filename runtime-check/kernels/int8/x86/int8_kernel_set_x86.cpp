// The x86 int8 tables. Compiled WITHOUT ISA flags: each getter checks cpuid (through libgcc, which
// also checks that the OS saves the ymm/zmm state) before handing out its table.
#include "../int8_sets.h"

namespace mcrt {

const Int8KernelSet* int8_kernels_avx2() {
  static const Int8KernelSet set = MCRT_INT8_TABLE(int8_avx2, "avx2");
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return ok ? &set : nullptr;
}

const Int8KernelSet* int8_kernels_avx512vnni() {
  static const Int8KernelSet set = MCRT_INT8_TABLE(int8_avx512vnni, "avx512vnni");
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }();
  return ok ? &set : nullptr;
}

}  // namespace mcrt
