// Packing a dense fp32 matrix into the CSR block the sparse kernels read (sparse_kernels.h).
// Layout of the block: row_ptr int32[rows + 1] | col_idx int32[nnz] | values f32[nnz], each part
// starting at a 64-byte boundary.
#include <cstring>

#include "sparse_kernels.h"

namespace mcrt {
namespace {

size_t round64(size_t b) { return (b + 63) / 64 * 64; }

bool stored(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits != 0;
}

}  // namespace

int64_t count_stored(const float* w, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) k += stored(w[i]) ? 1 : 0;
  return k;
}

size_t csr_packed_size(int rows, int64_t nnz) {
  return round64(((size_t)rows + 1) * 4) + round64((size_t)nnz * 4) + round64((size_t)nnz * 4);
}

void csr_pack_dense(int rows, int cols, const float* w, bool transposed, void* packed, CsrMatrix* out) {
  int64_t nnz = 0;
  for (int64_t i = 0; i < (int64_t)rows * cols; ++i) nnz += stored(w[i]) ? 1 : 0;
  uint8_t* base = static_cast<uint8_t*>(packed);
  int32_t* rp = reinterpret_cast<int32_t*>(base);
  int32_t* ci = reinterpret_cast<int32_t*>(base + round64(((size_t)rows + 1) * 4));
  float* vals = reinterpret_cast<float*>(base + round64(((size_t)rows + 1) * 4) + round64((size_t)nnz * 4));
  int32_t k = 0;
  rp[0] = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float v = transposed ? w[(int64_t)c * rows + r] : w[(int64_t)r * cols + c];
      if (!stored(v)) continue;
      ci[k] = c;
      vals[k] = v;
      ++k;
    }
    rp[r + 1] = k;
  }
  out->rows = rows;
  out->cols = cols;
  out->row_ptr = rp;
  out->col_idx = ci;
  out->values = vals;
}

}  // namespace mcrt
