// The x86 int8 tables. Compiled WITHOUT ISA flags: each getter checks cpuid (through libgcc, which
// also checks that the OS saves the ymm/zmm state) before handing out its table.
#include <cstdlib>
#include <cstring>

#include "../int8_sets.h"

namespace mcrt {

const Int8KernelSet* int8_kernels_avx2() {
  static const Int8KernelSet set = [] {
    Int8KernelSet s = MCRT_INT8_TABLE(int8_avx2, "avx2");
    s.conv1_packed_size = int8_avx2::conv1_packed_size;
    s.conv1_pack = int8_avx2::conv1_pack;
    s.conv1_run = int8_avx2::conv1_run;
    return s;
  }();
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return ok ? &set : nullptr;
}

bool int8_x86_avx512vbmi() {
  static const bool ok = [] {
    __builtin_cpu_init();
    const char* cap = std::getenv("MCRT_KERNELS");
    return __builtin_cpu_supports("avx512vbmi") && int8_kernels_avx512vnni() != nullptr &&
           !(cap != nullptr && std::strcmp(cap, "avx512vnni") == 0);
  }();
  return ok;
}

const Int8KernelSet* int8_kernels_avx512vnni() {
  static const Int8KernelSet set = [] {
    Int8KernelSet s = MCRT_INT8_TABLE(int8_avx512vnni, "avx512vnni");
    s.conv1_packed_size = int8_avx512vnni::conv1_packed_size;
    s.conv1_pack = int8_avx512vnni::conv1_pack;
    s.conv1_run = int8_avx512vnni::conv1_run;
    s.conv_image = int8_avx512vnni::conv_image;
    return s;
  }();
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }();
  return ok ? &set : nullptr;
}

}  // namespace mcrt
