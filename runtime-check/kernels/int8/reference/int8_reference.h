// The int8 reference kernels (the specification of int8_kernels.h), scalar.
#pragma once
#include "../int8_kernels.h"

namespace mcrt {
namespace int8_ref {

size_t gemm_packed_size(int M, int K);
void gemm_pack(int M, int K, const int8_t* w, const int32_t* bias, void* packed);
void gemm_run(int M, int N, int K, const void* packed, const int8_t* xp, int32_t zx, const Int8Out& out, void* y,
              int64_t ldy, const ParallelFor* pf);
void conv_run(int M, int OH, int OW, int K, const void* packed, const int8_t* img, int64_t row_step,
              const int64_t* qoff, int32_t zx, const Int8Out& out, int8_t* y, const ParallelFor* pf);
size_t dw_packed_size(const ConvGeom& g);
const char* dw_pack(const ConvGeom& g, const int8_t* w, const int32_t* bias, void* packed);
size_t dw_scratch_size(const ConvGeom& g);
void dw_run(const ConvGeom& g, const void* packed, const int8_t* x, int32_t zx, const Int8Out& out, int8_t* y,
            void* scratch, const ParallelFor* pf);
void add_run(int64_t n, const int8_t* a, int as, const int8_t* b, int bs, const Int8AddParams& p, int8_t* y);

}  // namespace int8_ref
}  // namespace mcrt
