// Transpose (ONNX), any dtype: out[i_0..i_r] = in[i_perm^-1...]. Default perm reverses
// the dims. The reference walks the output in order with an odometer over input strides.
#include <cstring>

#include "ops/ops.h"

namespace mcrt {
namespace {

constexpr int kMaxR = 8;

struct TransposeState : OpState {
  int rank = 0;
  size_t esz = 4;
  int64_t odims[kMaxR] = {};
  int64_t istride[kMaxR] = {};  // input stride (elements) of output dim d
  int64_t numel = 0;
};

template <class T>
void transpose_typed(const TransposeState& st, const T* x, T* y) {
  int64_t idx[kMaxR] = {};
  int64_t src = 0;
  for (int64_t i = 0; i < st.numel; ++i) {
    y[i] = x[src];
    for (int d = st.rank - 1; d >= 0; --d) {
      ++idx[d];
      src += st.istride[d];
      if (idx[d] < st.odims[d]) break;
      src -= st.istride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

void run_transpose(const NodePlan& n, const ExecContext& ctx) {
  const TransposeState& st = static_cast<const TransposeState&>(*n.state);
  const void* x = ctx.in(n.inputs[0]);
  void* y = ctx.out(n.outputs[0]);
  switch (st.esz) {
    case 1: transpose_typed(st, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y)); break;
    case 2: transpose_typed(st, static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y)); break;
    case 4: transpose_typed(st, static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y)); break;
    default: transpose_typed(st, static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y)); break;
  }
}

}  // namespace

Status prepare_transpose(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const int rank = (int)x.shape.size();
  if (rank > kMaxR) return fail(n, StatusCode::kUnsupported, "rank > 8");
  std::vector<int64_t> perm = n.attrs.ints(fb::AttrKey_perm);
  if (perm.empty())
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  if ((int)perm.size() != rank) return fail(n, StatusCode::kInvalidModel, "perm length != rank");
  std::vector<char> seen((size_t)rank, 0);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[(size_t)p]) return fail(n, StatusCode::kInvalidModel, "perm is not a permutation");
    seen[(size_t)p] = 1;
  }
  auto st = std::make_unique<TransposeState>();
  st->rank = rank;
  st->esz = dtype_size(x.dtype);
  st->numel = shape_numel(x.shape);
  int64_t in_stride[kMaxR];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= x.shape[(size_t)d];
  }
  Shape out;
  for (int d = 0; d < rank; ++d) {
    out.push_back(x.shape[(size_t)perm[(size_t)d]]);
    st->odims[d] = out.back();
    st->istride[d] = in_stride[perm[(size_t)d]];
  }
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, x.dtype, out));
  MCRT_RETURN_IF_ERROR(carry_quant(ctx, n));  // int8: the output keeps the input's quant
  n.state = std::move(st);
  n.run = run_transpose;
  n.kernel_name = "transpose_reference";
  return Status::Ok();
}

}  // namespace mcrt
