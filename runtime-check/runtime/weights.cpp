#include "runtime/weights.h"

#include <cstdlib>
#include <cstring>

namespace mcrt {

WeightStore::~WeightStore() {
  for (const Block& b : blocks_) std::free(b.p);
}

bool WeightStore::release(const void* p) {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (blocks_[i].p != p) continue;
    std::free(blocks_[i].p);
    bytes_ -= blocks_[i].bytes;
    blocks_.erase(blocks_.begin() + (long)i);
    return true;
  }
  return false;
}

Status WeightStore::alloc(size_t bytes, void** out) {
  void* p = nullptr;
  const size_t n = (bytes + 63) / 64 * 64;
  if (n < bytes || posix_memalign(&p, 64, n ? n : 64) != 0)
    return OutOfMemory("cannot allocate " + std::to_string(bytes) + " bytes of weights");
  std::memset(p, 0, n ? n : 64);
  blocks_.push_back({p, bytes});
  bytes_ += bytes;
  *out = p;
  return Status::Ok();
}

namespace {

// Dense bytes of a sparse tensor, in its storage dtype (§4.4).
void densify_sparse(const Model& m, const fb::Tensor& t, uint64_t numel, size_t esz, uint8_t* dense) {
  const fb::Sparsity* s = t.sparsity();
  const uint8_t* vals = m.buffer_data(s->values_buffer());
  if (s->format() == fb::SparseFormat_BITMASK) {
    const uint8_t* mask = m.buffer_data(s->mask_buffer());
    uint64_t k = 0;
    for (uint64_t i = 0; i < numel; ++i)
      if (mask[i / 8] >> (i % 8) & 1u) std::memcpy(dense + i * esz, vals + (k++) * esz, esz);
  } else {
    const uint8_t* rp = m.buffer_data(s->row_ptr_buffer());
    const uint8_t* ci = m.buffer_data(s->col_idx_buffer());
    const uint64_t rows = (uint64_t)t.shape()->Get(0);
    const uint64_t cols = rows ? numel / rows : 0;
    for (uint64_t r = 0; r < rows; ++r) {
      int32_t b, e;
      std::memcpy(&b, rp + 4 * r, 4);
      std::memcpy(&e, rp + 4 * (r + 1), 4);
      for (int32_t k = b; k < e; ++k) {
        int32_t c;
        std::memcpy(&c, ci + 4 * (uint64_t)k, 4);
        std::memcpy(dense + (r * cols + (uint64_t)c) * esz, vals + (uint64_t)k * esz, esz);
      }
    }
  }
}

}  // namespace

Status materialize_int8_weight(const Model& m, const fb::Tensor& t, WeightStore* store, TensorPlan* tp) {
  tp->shape.assign(t.shape()->begin(), t.shape()->end());
  tp->is_const = true;
  tp->dtype = DType::kI8;
  uint64_t numel = 0;
  checked_bytes(tp->shape.data(), tp->shape.size(), 1, &numel);  // verified at load (§4.2)
  tp->bytes = (size_t)numel;
  if (!t.sparsity()) {
    tp->const_data = m.buffer_data(t.buffer());
    return Status::Ok();
  }
  void* out = nullptr;
  MCRT_RETURN_IF_ERROR(store->alloc(numel, &out));
  densify_sparse(m, t, numel, 1, static_cast<uint8_t*>(out));
  tp->const_data = static_cast<const uint8_t*>(out);
  return Status::Ok();
}

Status materialize_constant(const Model& m, const fb::Tensor& t, WeightStore* store, TensorPlan* tp) {
  const DType stored = (DType)t.dtype();
  tp->shape.assign(t.shape()->begin(), t.shape()->end());
  tp->is_const = true;
  uint64_t numel = 0;
  checked_bytes(tp->shape.data(), tp->shape.size(), 1, &numel);  // verified at load (§4.2)
  const size_t esz = dtype_size(stored);

  // 1. Raw element bytes in the storage dtype.
  const uint8_t* raw = nullptr;
  if (t.palette()) {
    const fb::Palette* p = t.palette();
    void* out = nullptr;
    MCRT_RETURN_IF_ERROR(store->alloc(numel * 4, &out));
    const uint8_t* cb = m.buffer_data(p->codebook_buffer());
    const uint8_t* idx = m.buffer_data(p->indices_buffer());
    const int bits = p->bits();
    const uint32_t mask = (1u << bits) - 1;
    float* o = static_cast<float*>(out);
    for (uint64_t i = 0; i < numel; ++i) {
      const uint64_t bit = i * (uint64_t)bits;
      const uint32_t v = (idx[bit / 8] >> (bit % 8)) & mask;  // < palette_size, checked at load
      std::memcpy(&o[i], cb + 4 * v, 4);
    }
    tp->dtype = DType::kF32;
    tp->const_data = static_cast<const uint8_t*>(out);
    tp->bytes = numel * 4;
    return Status::Ok();
  }
  if (t.sparsity()) {
    void* out = nullptr;
    MCRT_RETURN_IF_ERROR(store->alloc(numel * esz, &out));
    densify_sparse(m, t, numel, esz, static_cast<uint8_t*>(out));
    raw = static_cast<const uint8_t*>(out);
  } else {
    raw = m.buffer_data(t.buffer());
  }

  // 2. Conversions to the dtype the ops see.
  if (stored == DType::kF16) {
    void* out = nullptr;
    MCRT_RETURN_IF_ERROR(store->alloc(numel * 4, &out));
    float* o = static_cast<float*>(out);
    for (uint64_t i = 0; i < numel; ++i) {
      uint16_t h;
      std::memcpy(&h, raw + 2 * i, 2);
      o[i] = half_to_float(h);
    }
    tp->dtype = DType::kF32;
    tp->const_data = static_cast<const uint8_t*>(out);
    tp->bytes = numel * 4;
    return Status::Ok();
  }
  if ((stored == DType::kI8 || stored == DType::kU8 || stored == DType::kI4) && t.quant()) {
    // Weight-only quantization (§4.3): w = (q - zero_point) * scale, per tensor, per axis or per
    // block along the axis. INT4 holds two values per byte, element 2i in the low nibble.
    const fb::Quantization* q = t.quant();
    const size_t ns = q->scale()->size();
    const uint64_t bs = q->block_size() > 0 ? (uint64_t)q->block_size() : 0;
    int64_t axis = q->axis();
    if (axis < 0) axis += (int64_t)tp->shape.size();
    uint64_t inner = 1, ch = 1;
    if (ns > 1 || bs > 0) {
      ch = (uint64_t)tp->shape[(size_t)axis];
      for (size_t d = (size_t)axis + 1; d < tp->shape.size(); ++d) inner *= (uint64_t)tp->shape[d];
    }
    const uint64_t nb = bs > 0 ? (ch + bs - 1) / bs : 0;  // blocks along the axis
    void* out = nullptr;
    MCRT_RETURN_IF_ERROR(store->alloc(numel * 4, &out));
    float* o = static_cast<float*>(out);
    const bool has_zp = q->zero_point() && q->zero_point()->size() > 0;
    for (uint64_t i = 0; i < numel; ++i) {
      size_t c = 0;  // scale index, counts checked at load
      if (bs > 0) {
        const uint64_t a = (i / inner) % ch, outer = i / (inner * ch);
        c = (size_t)((outer * nb + a / bs) * inner + i % inner);
      } else if (ns > 1) {
        c = (size_t)((i / inner) % ch);
      }
      int32_t v;
      if (stored == DType::kI4) {
        const int nib = (raw[i / 2] >> (i % 2 ? 4 : 0)) & 0x0F;
        v = nib >= 8 ? nib - 16 : nib;
      } else {
        v = stored == DType::kI8 ? (int32_t)(int8_t)raw[i] : (int32_t)raw[i];
      }
      const int32_t zp = has_zp ? (int32_t)q->zero_point()->Get(c) : 0;
      o[i] = (float)(v - zp) * q->scale()->Get(c);
    }
    tp->dtype = DType::kF32;
    tp->const_data = static_cast<const uint8_t*>(out);
    tp->bytes = numel * 4;
    return Status::Ok();
  }
  tp->dtype = stored;
  tp->const_data = raw;
  tp->bytes = numel * esz;
  return Status::Ok();
}

}  // namespace mcrt
