// Loader: header, FlatBuffers structure and semantic checks. Each check names the
// section of docs/runtime-format.md it implements. Nothing here trusts the file:
// every index is range-checked and every size is overflow-checked before use.
#include "runtime/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "format/file_header.h"
#include "runtime/dtype.h"
#include "runtime/huffman.h"
#include "runtime/op_registry.h"

namespace mcrt {

bool checked_bytes(const int64_t* dims, size_t rank, uint64_t elem_size, uint64_t* bytes) {
  // Bounding every dim and the product of the non-zero dims keeps every partial product
  // that an op computes (outer sizes, strides, ...) inside int64, even when a zero dim
  // makes the tensor itself empty (§4.1).
  uint64_t n = elem_size;
  bool empty = false;
  for (size_t i = 0; i < rank; ++i) {
    if (dims[i] < 0 || dims[i] > kMaxDim) return false;
    if (dims[i] == 0) {
      empty = true;
      continue;
    }
    const uint64_t d = (uint64_t)dims[i];
    if (n > kMaxShapeBytes / d) return false;
    n *= d;
  }
  *bytes = empty ? 0 : n;
  return true;
}

namespace {

bool is_constant(const fb::Tensor* t) { return t->buffer() != 0 || t->sparsity() || t->palette(); }

// Reads a little-endian int32 from possibly unaligned bytes.
int32_t rd_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

class Verifier {
 public:
  Verifier(const Model& m, const fb::Model& g, const LoadLimits& lim, uint64_t nbuf)
      : m_(m), g_(g), lim_(lim), nbuf_(nbuf) {}

  Status run() {
    MCRT_RETURN_IF_ERROR(check_buffers());
    MCRT_RETURN_IF_ERROR(check_tensors());
    MCRT_RETURN_IF_ERROR(check_io());
    MCRT_RETURN_IF_ERROR(check_nodes());
    return Status::Ok();
  }

 private:
  Status bad_buffer_ref(uint32_t b, const char* what, uint32_t tensor) {
    return InvalidModel(str_format("§4.2: tensor %u: %s buffer index %u out of range (%llu buffers)", tensor, what, b,
                            (unsigned long long)nbuf_));
  }

  // §3: buffers[0] is empty; every buffer 64-byte aligned and inside the weights blob
  // (the range check itself happened in finish_load via buffer_size bounds).
  Status check_buffers() { return Status::Ok(); }

  Status check_tensors() {
    const auto* ts = g_.tensors();
    if (!ts) return InvalidModel("§4: model has no tensor table");
    if (ts->size() > lim_.max_tensors)
      return Status(StatusCode::kLimitExceeded,
                    str_format("§7: %u tensors exceed the limit of %u", ts->size(), lim_.max_tensors));
    std::vector<char> is_input(ts->size(), 0);
    if (g_.inputs())
      for (int32_t i : *g_.inputs())
        if (i >= 0 && (uint32_t)i < ts->size()) is_input[i] = 1;
    for (uint32_t ti = 0; ti < ts->size(); ++ti) {
      const fb::Tensor* t = ts->Get(ti);
      if (!dtype_valid(t->dtype())) return InvalidModel(str_format("§4.1: tensor %u: unknown dtype %d", ti, (int)t->dtype()));
      const uint64_t esz = dtype_size((DType)t->dtype());
      const auto* shape = t->shape();
      const size_t rank = shape ? shape->size() : 0;
      if (rank > lim_.max_rank)
        return InvalidModel(str_format("§4.1: tensor %u: rank %zu exceeds the limit of %u", ti, rank, lim_.max_rank));
      const bool constant = is_constant(t);
      for (size_t d = 0; d < rank; ++d) {
        const int64_t v = shape->Get(d);
        if (v >= 0) continue;
        if (v == -1 && d == 0 && !constant) continue;  // dynamic batch (§4.1)
        return InvalidModel(str_format("§4.1: tensor %u: dim %zu is %lld (only dim 0 of a non-constant tensor may be -1)",
                                ti, d, (long long)v));
      }
      if (t->buffer() >= nbuf_) return bad_buffer_ref(t->buffer(), "data", ti);
      if ((t->sparsity() || t->palette()) && t->buffer() != 0)
        return InvalidModel(str_format("§4.4: tensor %u: sparse/palettized tensor must have buffer 0", ti));
      if (t->sparsity() && t->palette())
        return InvalidModel(str_format("§4.4: tensor %u: sparse and palettized at once", ti));
      if (!constant && shape) {
        std::vector<int64_t> dims(shape->begin(), shape->end());
        for (int64_t& d : dims)
          if (d == -1) d = 1;
        uint64_t b = 0;
        if (!checked_bytes(dims.data(), dims.size(), esz, &b))
          return InvalidModel(str_format("§4.1: tensor %u: dims exceed 2^31-1 or their product overflows", ti));
      }
      uint64_t bytes = 0, numel = 0;
      if (constant) {
        if (!shape) return InvalidModel(str_format("§4.1: tensor %u: constant without a shape", ti));
        if (!checked_bytes(shape->data(), rank, esz, &bytes) || !checked_bytes(shape->data(), rank, 1, &numel))
          return InvalidModel(str_format("§4.1: tensor %u: dims exceed 2^31-1 or the element count overflows", ti));
      }
      if (t->dtype() == fb::DType_INT4) {  // §4.1: weight-only storage, two per byte
        if (!constant) return InvalidModel(str_format("§4.1: tensor %u: INT4 is a storage type of constants only", ti));
        if (t->sparsity()) return InvalidModel(str_format("§4.4: tensor %u: sparse INT4 storage is not defined", ti));
        if (!t->quant()) return InvalidModel(str_format("§4.3: tensor %u: INT4 constant without quantization parameters", ti));
        bytes = (numel + 1) / 2;
      }
      if (t->buffer() != 0 && m_.buffer_size(t->buffer()) != bytes)
        return InvalidModel(str_format("§4.2: tensor %u ('%s'): shape needs %llu bytes but buffer %u holds %llu", ti,
                                t->name() ? t->name()->c_str() : "", (unsigned long long)bytes, t->buffer(),
                                (unsigned long long)m_.buffer_size(t->buffer())));
      if (t->quant()) MCRT_RETURN_IF_ERROR(check_quant(ti, t, rank));
      if (t->sparsity()) MCRT_RETURN_IF_ERROR(check_sparse(ti, t, rank, numel, esz));
      if (t->palette()) MCRT_RETURN_IF_ERROR(check_palette(ti, t, numel));
    }
    return Status::Ok();
  }

  // §4.3 quantization parameters.
  Status check_quant(uint32_t ti, const fb::Tensor* t, size_t rank) {
    const fb::Quantization* q = t->quant();
    const size_t ns = q->scale() ? q->scale()->size() : 0;
    if (ns == 0) return InvalidModel(str_format("§4.3: tensor %u: quantization without scale", ti));
    const size_t nz = q->zero_point() ? q->zero_point()->size() : 0;
    if (nz != 0 && nz != ns)
      return InvalidModel(str_format("§4.3: tensor %u: %zu zero points for %zu scales", ti, nz, ns));
    const int32_t bs = q->block_size();
    if (bs < 0) return InvalidModel(str_format("§4.3: tensor %u: block_size %d is negative", ti, bs));
    if (bs > 0) {
      // Block-wise: weight-only constants; shape[axis] split into ceil(dim / bs) blocks, one scale
      // per block and per position of the other dims (row-major, the block index at `axis`).
      const fb::DType dt = t->dtype();
      if (!is_constant(t) || (dt != fb::DType_INT8 && dt != fb::DType_UINT8 && dt != fb::DType_INT4))
        return InvalidModel(str_format("§4.3: tensor %u: block-wise scales apply only to INT8/UINT8/INT4 constants", ti));
      int64_t axis = q->axis();
      if (axis < 0) axis += (int64_t)rank;
      if (axis < 0 || axis >= (int64_t)rank)
        return InvalidModel(str_format("§4.3: tensor %u: quantization axis %d out of range for rank %zu", ti, q->axis(), rank));
      uint64_t numel = 0;
      if (!checked_bytes(t->shape()->data(), rank, 1, &numel))
        return InvalidModel(str_format("§4.1: tensor %u: dims exceed 2^31-1 or the element count overflows", ti));
      const uint64_t dim = (uint64_t)t->shape()->Get((size_t)axis);
      const uint64_t blocks = dim == 0 ? 0 : numel / dim * ((dim + (uint64_t)bs - 1) / (uint64_t)bs);
      if (ns != blocks)
        return InvalidModel(str_format("§4.3: tensor %u: %zu scales but %llu blocks of %d along axis %lld", ti, ns,
                                (unsigned long long)blocks, bs, (long long)axis));
    } else if (ns > 1) {
      int64_t axis = q->axis();
      if (axis < 0) axis += (int64_t)rank;
      if (axis < 0 || axis >= (int64_t)rank)
        return InvalidModel(str_format("§4.3: tensor %u: quantization axis %d out of range for rank %zu", ti, q->axis(), rank));
      const int64_t ch = t->shape()->Get((size_t)axis);
      if (ch < 0 || (uint64_t)ch != ns)
        return InvalidModel(str_format("§4.3: tensor %u: %zu scales but %lld channels on axis %lld", ti, ns, (long long)ch,
                                (long long)axis));
    }
    for (size_t i = 0; i < ns; ++i) {
      const float s = q->scale()->Get(i);
      if (!(s > 0.f) || !std::isfinite(s)) return InvalidModel(str_format("§4.3: tensor %u: scale %zu is not finite > 0", ti, i));
    }
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (t->dtype() == fb::DType_INT8) lo = -128, hi = 127;
    if (t->dtype() == fb::DType_UINT8) lo = 0, hi = 255;
    if (t->dtype() == fb::DType_INT4) lo = -8, hi = 7;
    for (size_t i = 0; i < nz; ++i) {
      const int64_t z = q->zero_point()->Get(i);
      if (z < lo || z > hi) return InvalidModel(str_format("§4.3: tensor %u: zero point %lld out of the dtype's range", ti, (long long)z));
    }
    return Status::Ok();
  }

  // §4.4 sparse encodings: every stored position inside the dense shape.
  Status check_sparse(uint32_t ti, const fb::Tensor* t, size_t rank, uint64_t numel, uint64_t esz) {
    const fb::Sparsity* s = t->sparsity();
    for (uint32_t b : {s->values_buffer(), s->mask_buffer(), s->row_ptr_buffer(), s->col_idx_buffer()})
      if (b >= nbuf_) return bad_buffer_ref(b, "sparse", ti);
    uint64_t nnz = 0;
    if (s->format() == fb::SparseFormat_BITMASK) {
      const uint64_t mask_bytes = (numel + 7) / 8;
      if (m_.buffer_size(s->mask_buffer()) != mask_bytes)
        return InvalidModel(str_format("§4.4: tensor %u: bitmask holds %llu bytes, needs %llu", ti,
                                (unsigned long long)m_.buffer_size(s->mask_buffer()), (unsigned long long)mask_bytes));
      const uint8_t* mask = m_.buffer_data(s->mask_buffer());
      for (uint64_t i = 0; i < mask_bytes; ++i) nnz += (uint64_t)__builtin_popcount(mask[i]);
      if (numel % 8 && (mask[mask_bytes - 1] >> (numel % 8)) != 0)
        return InvalidModel(str_format("§4.4: tensor %u: bitmask sets bits past the last element", ti));
    } else if (s->format() == fb::SparseFormat_CSR) {
      if (rank < 1) return InvalidModel(str_format("§4.4: tensor %u: CSR needs rank >= 1", ti));
      const uint64_t rows = (uint64_t)t->shape()->Get(0);
      const uint64_t cols = rows ? numel / rows : 0;
      if (m_.buffer_size(s->row_ptr_buffer()) != (rows + 1) * 4)
        return InvalidModel(str_format("§4.4: tensor %u: CSR row_ptr must hold %llu int32", ti, (unsigned long long)(rows + 1)));
      const uint8_t* rp = m_.buffer_data(s->row_ptr_buffer());
      if (rd_i32(rp) != 0) return InvalidModel(str_format("§4.4: tensor %u: CSR row_ptr[0] != 0", ti));
      for (uint64_t r = 0; r < rows; ++r)
        if (rd_i32(rp + 4 * (r + 1)) < rd_i32(rp + 4 * r))
          return InvalidModel(str_format("§4.4: tensor %u: CSR row_ptr decreases at row %llu", ti, (unsigned long long)r));
      nnz = (uint64_t)rd_i32(rp + 4 * rows);
      if (nnz > numel) return InvalidModel(str_format("§4.4: tensor %u: CSR nnz %llu > numel", ti, (unsigned long long)nnz));
      if (m_.buffer_size(s->col_idx_buffer()) != nnz * 4)
        return InvalidModel(str_format("§4.4: tensor %u: CSR col_idx must hold %llu int32", ti, (unsigned long long)nnz));
      const uint8_t* ci = m_.buffer_data(s->col_idx_buffer());
      for (uint64_t r = 0; r < rows; ++r) {
        int64_t prev = -1;
        for (int32_t k = rd_i32(rp + 4 * r); k < rd_i32(rp + 4 * (r + 1)); ++k) {
          const int32_t c = rd_i32(ci + 4 * (uint64_t)k);
          if (c < 0 || (uint64_t)c >= cols || c <= prev)
            return InvalidModel(str_format("§4.4: tensor %u: CSR column index %d out of bounds [0, %llu) or not increasing",
                                    ti, c, (unsigned long long)cols));
          prev = c;
        }
      }
    } else {
      return InvalidModel(str_format("§4.4: tensor %u: unknown sparse format %d", ti, (int)s->format()));
    }
    if (m_.buffer_size(s->values_buffer()) != nnz * esz)
      return InvalidModel(str_format("§4.4: tensor %u: sparse values hold %llu bytes, need %llu", ti,
                              (unsigned long long)m_.buffer_size(s->values_buffer()), (unsigned long long)(nnz * esz)));
    return Status::Ok();
  }

  // §4.5 palettized weights: every index below the palette size.
  Status check_palette(uint32_t ti, const fb::Tensor* t, uint64_t numel) {
    const fb::Palette* p = t->palette();
    if (t->dtype() != fb::DType_FLOAT32) return InvalidModel(str_format("§4.5: tensor %u: palettized tensor must be float32", ti));
    if (p->codebook_buffer() >= nbuf_) return bad_buffer_ref(p->codebook_buffer(), "codebook", ti);
    if (p->indices_buffer() >= nbuf_) return bad_buffer_ref(p->indices_buffer(), "indices", ti);
    const int bits = p->bits();
    if (bits != 1 && bits != 2 && bits != 4 && bits != 8)
      return InvalidModel(str_format("§4.5: tensor %u: palette bit width %d not in {1,2,4,8}", ti, bits));
    if (p->palette_size() < 1 || p->palette_size() > (1u << bits))
      return InvalidModel(str_format("§4.5: tensor %u: palette size %u invalid for %d bits", ti, p->palette_size(), bits));
    if (m_.buffer_size(p->codebook_buffer()) != (uint64_t)p->palette_size() * 4)
      return InvalidModel(str_format("§4.5: tensor %u: codebook must hold %u float32", ti, p->palette_size()));
    const uint64_t need = (numel * (uint64_t)bits + 7) / 8;
    if (m_.buffer_size(p->indices_buffer()) != need)
      return InvalidModel(str_format("§4.5: tensor %u: packed indices hold %llu bytes, need %llu", ti,
                              (unsigned long long)m_.buffer_size(p->indices_buffer()), (unsigned long long)need));
    const uint8_t* idx = m_.buffer_data(p->indices_buffer());
    const uint32_t mask = (1u << bits) - 1;
    for (uint64_t i = 0; i < numel; ++i) {
      const uint64_t bit = i * (uint64_t)bits;
      const uint32_t v = (idx[bit / 8] >> (bit % 8)) & mask;  // bits divides 8: never straddles a byte
      if (v >= p->palette_size())
        return InvalidModel(str_format("§4.5: tensor %u: palette index %u at element %llu >= palette size %u", ti, v,
                                (unsigned long long)i, p->palette_size()));
    }
    return Status::Ok();
  }

  // §6.5 graph inputs and outputs.
  Status check_io() {
    const uint32_t nt = g_.tensors()->size();
    if (!g_.inputs() || !g_.outputs() || g_.outputs()->size() == 0)
      return InvalidModel("§6.5: model must list its inputs and at least one output");
    for (int32_t i : *g_.inputs()) {
      if (i < 0 || (uint32_t)i >= nt) return InvalidModel(str_format("§6.5: graph input index %d out of range [0, %u)", i, nt));
      if (is_constant(g_.tensors()->Get(i))) return InvalidModel(str_format("§6.5: graph input %d is a constant", i));
    }
    for (int32_t o : *g_.outputs())
      if (o < 0 || (uint32_t)o >= nt) return InvalidModel(str_format("§6.5: graph output index %d out of range [0, %u)", o, nt));
    return Status::Ok();
  }

  // §6 nodes: op known, arity, indices, attributes, topological order.
  Status check_nodes() {
    const auto* ts = g_.tensors();
    const uint32_t nt = ts->size();
    const auto* nodes = g_.nodes();
    const uint32_t nn = nodes ? nodes->size() : 0;
    if (nn > lim_.max_nodes)
      return Status(StatusCode::kLimitExceeded, str_format("§7: %u nodes exceed the limit of %u", nn, lim_.max_nodes));
    // available[t]: value of t exists before the current node (constants, graph inputs, earlier outputs).
    std::vector<char> available(nt, 0), produced(nt, 0);
    for (uint32_t t = 0; t < nt; ++t) available[t] = is_constant(ts->Get(t));
    for (int32_t i : *g_.inputs()) available[i] = 1;
    for (uint32_t ni = 0; ni < nn; ++ni) {
      const fb::Node* n = nodes->Get(ni);
      const OpDef* def = find_op(n->op());
      if (!def) return InvalidModel(str_format("§6.1: node %u: unknown op type %d", ni, (int)n->op()));
      const int nin = n->inputs() ? (int)n->inputs()->size() : 0;
      const int nout = n->outputs() ? (int)n->outputs()->size() : 0;
      if (nin < def->min_inputs || nin > def->max_inputs)
        return InvalidModel(str_format("§6.3: node %u (%s): %d inputs, expected %d..%d", ni, def->name, nin, def->min_inputs,
                                def->max_inputs));
      if (nout < def->min_outputs || nout > def->max_outputs)
        return InvalidModel(str_format("§6.3: node %u (%s): %d outputs, expected %d..%d", ni, def->name, nout,
                                def->min_outputs, def->max_outputs));
      for (int k = 0; k < nin; ++k) {
        const int32_t t = n->inputs()->Get(k);
        if (t == -1 && (def->optional_inputs >> k & 1u)) continue;
        if (t == -1)
          return InvalidModel(str_format("§6.3: node %u (%s): input %d is -1 but that input is not optional", ni, def->name, k));
        if (t < 0 || (uint32_t)t >= nt)
          return InvalidModel(str_format("§6.2: node %u (%s): input %d tensor index %d out of range [0, %u)", ni, def->name, k,
                                  t, nt));
        if ((def->const_inputs >> k & 1u) && !is_constant(ts->Get(t)))
          return InvalidModel(str_format("§6.3: node %u (%s): input %d must be a constant weight", ni, def->name, k));
        if (!available[t])
          return InvalidModel(str_format("§6.4: node %u (%s): input tensor %d is used before it is produced "
                                  "(graph has a cycle or is not topologically ordered)",
                                  ni, def->name, t));
      }
      for (int k = 0; k < nout; ++k) {
        const int32_t t = n->outputs()->Get(k);
        if (t < 0 || (uint32_t)t >= nt)
          return InvalidModel(str_format("§6.2: node %u (%s): output %d tensor index %d out of range [0, %u)", ni, def->name,
                                  k, t, nt));
        if (is_constant(ts->Get(t)) || produced[t] || available[t])
          return InvalidModel(str_format("§6.2: node %u (%s): output tensor %d is a constant, a graph input or produced twice",
                                  ni, def->name, t));
        produced[t] = 1;
      }
      for (int k = 0; k < nout; ++k) available[n->outputs()->Get(k)] = 1;
      MCRT_RETURN_IF_ERROR(check_attrs(ni, n, def));
      MCRT_RETURN_IF_ERROR(check_int8_weight(ni, n, def));
    }
    for (int32_t o : *g_.outputs())
      if (!available[o]) return InvalidModel(str_format("§6.5: graph output %d is never produced", o));
    return Status::Ok();
  }

  // §5.1 int8 ops: an int8 weight whose quantization is per tensor or per output channel
  // (QLinearConv: axis 0 of W; QLinearMatMul, DynamicQuantizeMatMul: axis 1 of B [K, N]).
  Status check_int8_weight(uint32_t ni, const fb::Node* n, const OpDef* def) {
    if (n->op() != fb::OpType_QLinearConv && n->op() != fb::OpType_QLinearMatMul &&
        n->op() != fb::OpType_DynamicQuantizeMatMul)
      return Status::Ok();
    {
      const fb::Tensor* w = g_.tensors()->Get(n->inputs()->Get(1));
      const int axis = n->op() == fb::OpType_QLinearConv ? 0 : 1;
      const size_t rank = w->shape() ? w->shape()->size() : 0;
      if (w->dtype() != fb::DType_INT8 || !w->quant() || rank <= (size_t)axis)
        return InvalidModel(str_format("§5.1: node %u (%s): weight must be int8 with quantization parameters", ni, def->name));
      const size_t ns = w->quant()->scale()->size();
      int64_t qa = w->quant()->axis();
      if (qa < 0) qa += (int64_t)rank;
      if (ns != 1 && qa != axis)
        return InvalidModel(str_format("§5.1: node %u (%s): %zu weight scales on axis %d, expected 1 or one per output channel "
                                "on axis %d",
                                ni, def->name, ns, w->quant()->axis(), axis));
    }
    return Status::Ok();
  }

  // §5.2 / §5.3 attributes: known key, accepted by the op, right kind, sane values.
  Status check_attrs(uint32_t ni, const fb::Node* n, const OpDef* def) {
    if (!n->attrs()) return Status::Ok();
    uint64_t seen = 0;
    for (const fb::Attr* a : *n->attrs()) {
      const int key = (int)a->key();
      if (key < 0 || key > (int)fb::AttrKey_MAX)
        return InvalidModel(str_format("§5.2: node %u (%s): unknown attribute key %d", ni, def->name, key));
      const char* an = fb::EnumNameAttrKey(a->key());
      if (!(def->allowed_attrs >> key & 1u))
        return InvalidModel(str_format("§5.2: node %u (%s): attribute '%s' is not defined for this op", ni, def->name, an));
      if (seen >> key & 1u) return InvalidModel(str_format("§5.2: node %u (%s): attribute '%s' given twice", ni, def->name, an));
      seen |= 1ull << key;
      if (a->kind() != attr_kind(a->key()))
        return InvalidModel(str_format("§5.2: node %u (%s): attribute '%s' has the wrong kind", ni, def->name, an));
      const auto* ints = a->ints();
      switch (a->key()) {
        case fb::AttrKey_pads:
        case fb::AttrKey_output_padding:
          if (ints)
            for (int64_t v : *ints)
              if (v < 0 || v > kMaxDim)
                return InvalidModel(str_format("§5.3: node %u (%s): %s must be in [0, 2^31-1]", ni, def->name, an));
          break;
        case fb::AttrKey_strides:
        case fb::AttrKey_dilations:
        case fb::AttrKey_kernel_shape:
          if (ints)
            for (int64_t v : *ints)
              if (v <= 0 || v > (1 << 20))
                return InvalidModel(str_format("§5.3: node %u (%s): %s must be in [1, 2^20]", ni, def->name, an));
          break;
        case fb::AttrKey_output_shape:
          if (ints)
            for (int64_t v : *ints)
              if (v < 1 || v > kMaxDim)
                return InvalidModel(str_format("§5.3: node %u (%s): output_shape must be in [1, 2^31-1]", ni, def->name));
          break;
        case fb::AttrKey_group:
          if (a->i() <= 0 || a->i() > (1 << 24)) return InvalidModel(str_format("§5.3: node %u (%s): group must be > 0", ni, def->name));
          break;
        default:
          break;
      }
    }
    // §5.3: group divides the channel counts when they are known here.
    if (n->op() == fb::OpType_Conv || n->op() == fb::OpType_ConvTranspose || n->op() == fb::OpType_QLinearConv) {
      int64_t group = 1;
      for (const fb::Attr* a : *n->attrs())
        if (a->key() == fb::AttrKey_group) group = a->i();
      const fb::Tensor* x = g_.tensors()->Get(n->inputs()->Get(0));
      const fb::Tensor* w = g_.tensors()->Get(n->inputs()->Get(1));
      if (!w->shape() || w->shape()->size() < 3)
        return InvalidModel(str_format("§5.3: node %u (%s): weight must have rank >= 3", ni, def->name));
      const int64_t w0 = w->shape()->Get(0), w1 = w->shape()->Get(1);
      if (x->shape() && x->shape()->size() >= 2 && x->shape()->Get(1) >= 0) {
        const int64_t c = x->shape()->Get(1);
        const bool ok = n->op() != fb::OpType_ConvTranspose ? (c % group == 0 && w0 % group == 0 && c / group == w1)
                                                  : (c % group == 0 && w0 == c);
        if (!ok)
          return InvalidModel(str_format("§5.3: node %u (%s): group %lld does not divide the channels consistently (C=%lld, "
                                  "W=[%lld,%lld,...])",
                                  ni, def->name, (long long)group, (long long)c, (long long)w0, (long long)w1));
      }
    }
    return Status::Ok();
  }

  const Model& m_;
  const fb::Model& g_;
  const LoadLimits& lim_;
  uint64_t nbuf_;
};

// §3: the FlatBuffers 2.0.8 verifier checks only the 4-byte length prefix of a vector, so
// a vector of 8-byte elements (int64, BufferRef) may sit at a 4-but-not-8-aligned offset
// and pass. Reading it would be a misaligned load; reject such files. The graph section
// starts 64-byte aligned in memory, so absolute addresses tell the file alignment.
template <class V>
bool aligned8(const V* v) {
  return !v || v->size() == 0 || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0;  // empty: never read
}

Status check_alignment(const fb::Model& g) {
  if (!aligned8(g.buffers())) return InvalidModel("§3: Model.buffers is not 8-byte aligned");
  if (g.tensors())
    for (uint32_t i = 0; i < g.tensors()->size(); ++i) {
      const fb::Tensor* t = g.tensors()->Get(i);
      if (!aligned8(t->shape()) || (t->quant() && !aligned8(t->quant()->zero_point())))
        return InvalidModel(str_format("§3: tensor %u: an int64 vector is not 8-byte aligned", i));
    }
  if (g.nodes())
    for (uint32_t i = 0; i < g.nodes()->size(); ++i) {
      const fb::Node* n = g.nodes()->Get(i);
      if (n->attrs())
        for (const fb::Attr* a : *n->attrs())
          if (!aligned8(a->ints())) return InvalidModel(str_format("§3: node %u: an int64 attribute vector is not 8-byte aligned", i));
    }
  return Status::Ok();
}

// §7 decode ratio: `decoded` bytes produced at load from a file of `file_bytes` must stay within
// LoadLimits::max_decode_ratio per file byte (decompression bombs: the codecs alone allow 2040).
Status check_decode_ratio(uint64_t decoded, uint64_t file_bytes, const LoadLimits& limits, const char* what) {
  const uint64_t r = limits.max_decode_ratio;  // decoded > r·file_bytes, without overflow
  const bool over = r == 0 ? decoded > 0 : decoded / r > file_bytes || (decoded / r == file_bytes && decoded % r != 0);
  if (!over) return Status::Ok();
  return Status(StatusCode::kLimitExceeded,
                str_format("§7: %s: %llu bytes decoded at load, %.1f times the %llu-byte file, above the decode ratio limit of %llu "
                    "(LoadLimits::max_decode_ratio; a decompression bomb?)",
                    what, (unsigned long long)decoded, file_bytes ? (double)decoded / (double)file_bytes : 0.0,
                    (unsigned long long)file_bytes, (unsigned long long)r));
}

void* aligned_alloc64(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, n ? n : 64) != 0) return nullptr;
  return p;
}

}  // namespace

Model::~Model() {
  for (const Decoded& d : decoded_) std::free(d.data);
  if (mapped_) munmap(mapped_, mapped_size_);
  std::free(owned_);
}

const uint8_t* Model::buffer_data(uint32_t index) const {
  const auto* refs = graph_->buffers();
  if (!refs || index >= refs->size() || index == 0) return nullptr;
  if (index < decoded_.size() && decoded_[index].data) return static_cast<const uint8_t*>(decoded_[index].data);
  return weights_ + refs->Get(index)->offset();
}

uint64_t Model::buffer_size(uint32_t index) const {
  const auto* refs = graph_->buffers();
  if (!refs || index >= refs->size()) return 0;
  if (index < decoded_.size() && decoded_[index].data) return decoded_[index].size;
  return refs->Get(index)->size();
}

Status Model::load_buffer(const void* data, size_t size, std::unique_ptr<Model>* out, bool copy,
                          const LoadLimits& limits) {
  std::unique_ptr<Model> m(new (std::nothrow) Model());
  if (!m) return OutOfMemory("model object");
  if (!data && size) return Status(StatusCode::kInvalidArgument, "null buffer");
  if (size > limits.max_file_bytes)
    return Status(StatusCode::kLimitExceeded, str_format("§7: model of %zu bytes exceeds the limit", size));
  if (copy || ((uintptr_t)data % kWeightAlign) != 0) {
    m->owned_ = aligned_alloc64(size);
    if (!m->owned_) return OutOfMemory(str_format("cannot allocate %zu bytes for the model copy", size));
    if (size) std::memcpy(m->owned_, data, size);
    m->data_ = static_cast<const uint8_t*>(m->owned_);
  } else {
    m->data_ = static_cast<const uint8_t*>(data);
  }
  m->size_ = size;
  return finish_load(std::move(m), out, limits);
}

Status Model::load_file(const std::string& path, std::unique_ptr<Model>* out, const LoadLimits& limits) {
  // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status(StatusCode::kIoError, path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kIoError, path + ": not a regular file");
  }
  const size_t size = (size_t)st.st_size;
  if ((uint64_t)st.st_size > limits.max_file_bytes) {
    ::close(fd);
    return Status(StatusCode::kLimitExceeded, path + ": file exceeds the size limit (§7)");
  }
  std::unique_ptr<Model> m(new (std::nothrow) Model());
  if (!m) {
    ::close(fd);
    return OutOfMemory("model object");
  }
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return Status(StatusCode::kIoError, path + ": mmap failed: " + std::strerror(errno));
    }
    m->mapped_ = p;
    m->mapped_size_ = size;
    m->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  m->size_ = size;
  Status s = finish_load(std::move(m), out, limits);
  if (!s.ok()) return Status(s.code(), path + ": " + s.message());
  return s;
}

// §2.1 coded body: the header's sections describe the decoded image; the segments after the
// header must decode to exactly that many bytes. Bounded before allocating (image size <=
// max_file_bytes, <= max_decode_ratio times the file and <= what the segments' coded bytes can
// hold), proven (prove_coded_body), then decoded into one 64-byte aligned image that replaces
// the file bytes: every later check reads the image.
Status Model::decode_body(const LoadLimits& limits) {
  FileHeader h;
  decode_file_header(data_, &h);
  if (h.weights_offset > limits.max_file_bytes || h.weights_size > limits.max_file_bytes - h.weights_offset)
    return Status(StatusCode::kLimitExceeded, str_format("§7: the decoded image [0, %llu + %llu) exceeds the limit of %llu bytes",
                                                  (unsigned long long)h.weights_offset, (unsigned long long)h.weights_size,
                                                  (unsigned long long)limits.max_file_bytes));
  const uint64_t image = h.weights_offset + h.weights_size;
  if (image <= kHeaderSize) return InvalidModel("§2.1: the header's sections leave no image to decode");
  MCRT_RETURN_IF_ERROR(check_decode_ratio(image, disk_size_, limits, "the coded body (§2.1)"));
  std::vector<BodySegment> segs;
  try {
    MCRT_RETURN_IF_ERROR(parse_coded_body(data_ + kHeaderSize, size_ - kHeaderSize, image - kHeaderSize, &segs));
  } catch (const std::bad_alloc&) {
    return OutOfMemory("cannot allocate the segment table");
  }
  // Memory follows proof: every segment's coded data is checked (its Huffman stage decoded, its LZ
  // stream walked) before the image exists, and the image is not zero-filled: decoding writes each
  // of its bytes.
  CodedBodyProof proof;
  MCRT_RETURN_IF_ERROR(prove_coded_body(data_ + kHeaderSize, segs, &proof));
  void* p = aligned_alloc64(image);
  if (!p) return OutOfMemory(str_format("cannot allocate %llu bytes for the decoded image", (unsigned long long)image));
  Status st = decode_coded_body(data_ + kHeaderSize, segs, proof, static_cast<uint8_t*>(p) + kHeaderSize);
  if (!st.ok()) {
    std::free(p);
    return st;
  }
  h.flags &= ~kFlagCodedBody;  // the image is an uncoded file
  encode_file_header(h, static_cast<uint8_t*>(p));
  if (mapped_) munmap(mapped_, mapped_size_);
  mapped_ = nullptr;
  std::free(owned_);
  owned_ = p;
  data_ = static_cast<const uint8_t*>(p);
  size_ = image;
  segments_ = std::move(segs);
  return Status::Ok();
}

Status Model::finish_load(std::unique_ptr<Model> m, std::unique_ptr<Model>* out, const LoadLimits& limits) {
  // §2 header.
  m->disk_size_ = m->size_;
  if (m->size_ < kHeaderSize)
    return InvalidModel(str_format("§2: file is %zu bytes, shorter than the %u-byte header (truncated?)", m->size_, kHeaderSize));
  FileHeader h;
  if (!decode_file_header(m->data_, &h)) return InvalidModel("§2: bad magic (not an .mcrt file)");
  if (h.major != kFormatMajor)
    return InvalidModel(str_format("§2: format version %u.%u is not supported (this runtime reads %u.x)", h.major, h.minor,
                            kFormatMajor));
  if (h.flags & ~kFlagCodedBody) return InvalidModel(str_format("§2: unknown header flags 0x%x", h.flags));
  if (h.flags & kFlagCodedBody) {
    MCRT_RETURN_IF_ERROR(m->decode_body(limits));
    h.flags = 0;
  }
  if (h.header_size != kHeaderSize || h.flags != 0 || h.graph_offset != kHeaderSize)
    return InvalidModel("§2: header size, flags or graph offset invalid");
  if (h.graph_size > m->size_ - h.graph_offset)
    return InvalidModel(str_format("§2: graph section [%llu, +%llu) runs past the end of the %zu-byte file (truncated?)",
                            (unsigned long long)h.graph_offset, (unsigned long long)h.graph_size, m->size_));
  if (h.weights_offset % kWeightAlign != 0 || h.weights_offset < h.graph_offset + h.graph_size ||
      h.weights_offset > m->size_ || h.weights_size > m->size_ - h.weights_offset)
    return InvalidModel(str_format("§2: weights section [%llu, +%llu) misaligned or outside the %zu-byte file (truncated?)",
                            (unsigned long long)h.weights_offset, (unsigned long long)h.weights_size, m->size_));
  m->major_ = h.major;
  m->minor_ = h.minor;
  // §3 FlatBuffers structure.
  const uint8_t* gp = m->data_ + h.graph_offset;
  flatbuffers::Verifier::Options vo;
  vo.max_depth = 16;
  vo.max_tables = 4u * 1000u * 1000u;
  flatbuffers::Verifier v(gp, (size_t)h.graph_size, vo);
  if (!fb::ModelBufferHasIdentifier(gp)) return InvalidModel("§3: graph section lacks the MCRT identifier");
  if (!fb::VerifyModelBuffer(v)) return InvalidModel("§3: FlatBuffers verification of the graph failed");
  m->graph_ = fb::GetModel(gp);
  MCRT_RETURN_IF_ERROR(check_alignment(*m->graph_));
  m->weights_ = m->data_ + h.weights_offset;
  const auto* refs = m->graph_->buffers();
  if (!refs || refs->size() == 0 || refs->Get(0)->offset() != 0 || refs->Get(0)->size() != 0)
    return InvalidModel("§3: buffers[0] must exist and be the empty buffer");
  for (uint32_t i = 0; i < refs->size(); ++i) {
    const fb::BufferRef* r = refs->Get(i);
    if (r->offset() % kWeightAlign != 0)
      return InvalidModel(str_format("§3: buffer %u offset %llu is not a multiple of 64", i, (unsigned long long)r->offset()));
    if (r->offset() > h.weights_size || r->size() > h.weights_size - r->offset())
      return InvalidModel(str_format("§3: buffer %u [%llu, +%llu) lies outside the %llu-byte weights section", i,
                              (unsigned long long)r->offset(), (unsigned long long)r->size(),
                              (unsigned long long)h.weights_size));
  }
  MCRT_RETURN_IF_ERROR(m->decode_codings(limits));
  Verifier sem(*m, *m->graph_, limits, refs->size());
  try {  // the checker's bookkeeping vectors throw only std::bad_alloc
    MCRT_RETURN_IF_ERROR(sem.run());
  } catch (const std::bad_alloc&) {
    return OutOfMemory("allocation failed while verifying the model");
  }
  *out = std::move(m);
  return Status::Ok();
}

// §3.1 entropy-coded buffers: each coding names an existing non-empty buffer index once, a
// known codec, and a raw_size the coded bytes can hold (>= 1 bit per byte) within the limits on
// decoded bytes (max_file_bytes, max_decode_ratio). The buffer is decoded into owned aligned
// memory, which buffer_data/buffer_size then return, so every later check (§4) sees the decoded bytes.
Status Model::decode_codings(const LoadLimits& limits) {
  const auto* cs = graph_->codings();
  if (!cs || cs->size() == 0) return Status::Ok();
  const auto* refs = graph_->buffers();
  const uint32_t nbuf = refs->size();
  decoded_.assign(nbuf, Decoded{});
  for (uint32_t i = 0; i < cs->size(); ++i) {
    const fb::BufferCoding* c = cs->Get(i);
    const uint32_t b = c->buffer();
    if (b == 0 || b >= nbuf) return InvalidModel(str_format("§3.1: coding %u: buffer index %u out of range [1, %u)", i, b, nbuf));
    if (decoded_[b].data) return InvalidModel(str_format("§3.1: coding %u: buffer %u is coded twice", i, b));
    if (c->codec() != fb::Codec_HUFFMAN)
      return InvalidModel(str_format("§3.1: coding %u: unknown codec %d", i, (int)c->codec()));
    const uint64_t coded = refs->Get(b)->size();
    const uint64_t raw = c->raw_size();
    if (raw == 0 || raw > huffman_max_raw_size(coded))
      return InvalidModel(str_format("§3.1: coding %u: raw_size %llu outside [1, %llu] for the %llu coded bytes of buffer %u", i,
                              (unsigned long long)raw, (unsigned long long)huffman_max_raw_size(coded),
                              (unsigned long long)coded, b));
    if (raw > limits.max_file_bytes - decoded_bytes_)
      return Status(StatusCode::kLimitExceeded, str_format("§7: decoded buffers exceed the limit of %llu bytes",
                                                    (unsigned long long)limits.max_file_bytes));
    // Everything decoded at load (the coded body's image, if any, and the decoded buffers) per file byte.
    MCRT_RETURN_IF_ERROR(check_decode_ratio(
        (coded_body() ? size_ : 0) + decoded_bytes_ + raw, disk_size_, limits,
        coded_body() ? "the coded body (§2.1) and the entropy-coded buffers (§3.1)" : "the entropy-coded buffers (§3.1)"));
    // At most 8 bytes per coded byte, not zero-filled: pages are touched only as the decoder
    // reaches them, and it stops at the first bad code.
    void* p = aligned_alloc64(raw);
    if (!p) return OutOfMemory(str_format("cannot allocate %llu bytes for decoded buffer %u", (unsigned long long)raw, b));
    decoded_[b] = Decoded{p, raw};  // owned from here on (freed by the destructor)
    decoded_bytes_ += raw;
    if (const char* err = huffman_decode(weights_ + refs->Get(b)->offset(), coded, static_cast<uint8_t*>(p), raw))
      return InvalidModel(str_format("§3.1: coding %u (buffer %u): %s", i, b, err));
  }
  return Status::Ok();
}

}  // namespace mcrt
