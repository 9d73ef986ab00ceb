// Internal: the functions of each SIMD int8 set (x86/int8_avx2.cpp, x86/int8_avx512vnni.cpp,
// arm/int8_neon.cpp, arm/int8_neon_dotprod.cpp); tables in *_kernel_set_*.cpp, compiled without ISA flags.
#pragma once
#include "int8_kernels.h"

namespace mcrt {
#define MCRT_INT8_DECLARE_SET(ns)                                                                                 \
  namespace ns {                                                                                                  \
  size_t gemm_packed_size(int M, int K);                                                                          \
  void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed);                               \
  void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out,        \
                void* y, int64_t ldy, const ParallelFor* pf);                                                     \
  void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,          \
                const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf);            \
  size_t dw_packed_size(const ConvGeom& g);                                                                       \
  const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);                     \
  size_t dw_scratch_size(const ConvGeom& g);                                                                      \
  void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y, \
              void* scratch, const ParallelFor* pf);                                                              \
  void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y);   \
  }
MCRT_INT8_DECLARE_SET(int8_avx2)
MCRT_INT8_DECLARE_SET(int8_avx512vnni)
MCRT_INT8_DECLARE_SET(int8_neon)
MCRT_INT8_DECLARE_SET(int8_neon_dotprod)
#define MCRT_INT8_TABLE(ns, name)                                                                              \
  Int8KernelSet {                                                                                              \
    name, ns::gemm_packed_size, ns::gemm_pack, ns::gemm_run, ns::conv_run, ns::dw_packed_size, ns::dw_pack,       \
        ns::dw_scratch_size,                                                                                   \
        ns::dw_run, ns::add_run, nullptr, nullptr, nullptr, nullptr                                            \
  }
// The AVX-512 VBMI gather kernels (x86/int8_avx512vbmi_dw.cpp): depthwise and one-input-channel conv on a
// plan of vpermb index tables built at pack. Used by the AVX-512 VNNI set when int8_x86_avx512vbmi().
namespace int8_avx512vbmi {
// Bytes of the packed plan for g (group == C == M, or C == 1 and group 1), 0 when the plan does not fit.
size_t plan_size(const ConvGeom& g);
void plan_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);  // packed: plan_size(g)
void plan_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
              const ParallelFor* pf);
}  // namespace int8_avx512vbmi
// cpuid AVX512_VBMI (and AVX-512 VNNI) present and MCRT_KERNELS is not avx512vnni (x86 only).
bool int8_x86_avx512vbmi();
namespace int8_avx512vnni {
size_t conv1_packed_size(const ConvGeom& g);
const char* conv1_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);
void conv1_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
               const ParallelFor* pf);
void conv_image(const ConvGeom& g, const Int8ConvImage& im, const int8_t* x, int8_t zx, int8_t* img);
}  // namespace int8_avx512vnni
// The AVX2 one-input-channel conv (x86/int8_avx2.cpp): an int16 plane and the int16 GEMM loop.
namespace int8_avx2 {
size_t conv1_packed_size(const ConvGeom& g);
const char* conv1_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);
void conv1_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
               const ParallelFor* pf);
}  // namespace int8_avx2
}  // namespace mcrt
