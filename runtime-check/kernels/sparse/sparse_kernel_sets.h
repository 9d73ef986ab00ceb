// Internal: the per-ISA entry points behind the SparseKernelSet tables (sparse_kernel_set.cpp).
#pragma once

#include "sparse_kernels.h"

namespace mcrt {

// Epilogue of one output: min(max(acc + bias, lo), hi), as the dense kernels apply it.
inline float sparse_epilogue(float acc, const Epilogue& ep, int channel) {
  float v = ep.bias ? acc + ep.bias[channel] : acc;
  v = v < ep.lo ? ep.lo : v;
  return v > ep.hi ? ep.hi : v;
}

#define MCRT_SPARSE_ISA_DECLS(ns)                                                                                     \
  namespace ns {                                                                                                      \
  size_t fc_extra_size(const CsrMatrix& w);                                                                           \
  void fc_extra_pack(const CsrMatrix& w, void* extra);                                                                \
  size_t fc_scratch_size(int M, int K);                                                                               \
  void fc_run(int M, const CsrMatrix& w, const void* extra, const float* x, int ldx, const Epilogue& ep, float* y,    \
              int ldy, void* scratch, const ParallelFor* pf);                                                         \
  void pointwise_run(int P, const CsrMatrix& w, const float* x, const Epilogue& ep, float* y, const ParallelFor* pf); \
  }

MCRT_SPARSE_ISA_DECLS(sparse_ref)
MCRT_SPARSE_ISA_DECLS(sparse_avx2)
MCRT_SPARSE_ISA_DECLS(sparse_avx512)
MCRT_SPARSE_ISA_DECLS(sparse_neon)

#undef MCRT_SPARSE_ISA_DECLS

}  // namespace mcrt
