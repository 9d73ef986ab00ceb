// QLinearMatMul and DynamicQuantizeMatMul (runtime int8 ops, docs/quantization.md §4).
//   QLinearMatMul:          x int8 [.., K] · B int8 const [K, N] (+ bias int32 [N]) -> y int8 [.., N],
//                           y = clamp(rhe((float)acc * (s_x*s_w[n])/s_y) + z_y, act_min, act_max)
//   DynamicQuantizeMatMul:  x fp32 is quantized per run to uint8 exactly as ONNX DynamicQuantizeLinear
//                           (range [min(0, min x), max(0, max x)], scale = range/255, zp = sat(rhe(-min/scale)),
//                           q = sat(rhe(x/scale) + zp)), then y = (float)acc * (s_x*s_w[n]) + bias[n] (fp32).
// Both run the Int8KernelSet GEMM on W = B^T (packed at prepare) and X = x^T: the x rows are packed as
// GEMM columns; one row (batch 1) writes y directly, more rows go through a [N, rows] block in scratch.
// A static QLinearMatMul whose B has zeros runs the int8 sparse kernels (kernels/sparse/sparse_int8_kernels.h)
// instead, when sparse_cost_model.h says they beat the dense int8 set at that density (same bytes either way).
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/sparse/sparse_cost_model.h"
#include "kernels/sparse/sparse_int8_kernels.h"
#include "ops/qlinear_common.h"

namespace mcrt {
namespace {

struct QMatMulState : OpState {
  int rows = 0, N = 0, K = 0;
  bool dynamic = false;
  void* packed = nullptr;
  std::vector<float> mult;   // static: (s_x*s_w[n])/s_y
  std::vector<float> sw;     // dynamic: s_w[n]
  std::vector<float> fbias;  // dynamic: bias (may be empty)
  int32_t zx = 0;
  Int8Out out;
  const Int8KernelSet* ks = nullptr;
  size_t x_bytes = 0;  // packed X at the start of scratch; then the [N, rows] block, then (dynamic) mult
  const Int8SparseKernelSet* sks = nullptr;  // sparse path: W = B^T in CSR (in `packed`), bias (or null)
  Int8CsrMatrix csr;
  const int32_t* bias = nullptr;
};

template <class T>
void transpose_out(const T* t, int N, int rows, T* y) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < N; ++c) y[(int64_t)r * N + c] = t[(int64_t)c * rows + r];
}

void run_qmatmul(const NodePlan& n, const ExecContext& ctx) {
  const QMatMulState& st = static_cast<const QMatMulState&>(*n.state);
  uint8_t* scratch = static_cast<uint8_t*>(ctx.scratch(n));
  int8_t* xp = reinterpret_cast<int8_t*>(scratch);
  int8_pack_rows(st.rows, st.K, static_cast<const int8_t*>(ctx.in(n.inputs[0])), st.K, xp);
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  if (st.rows == 1) {
    st.ks->gemm_run(st.N, 1, st.K, st.packed, xp, st.zx, st.out, y, 1, ctx.pf);
    return;
  }
  int8_t* t = reinterpret_cast<int8_t*>(scratch + st.x_bytes);
  st.ks->gemm_run(st.N, st.rows, st.K, st.packed, xp, st.zx, st.out, t, st.rows, ctx.pf);
  transpose_out(t, st.N, st.rows, y);
}

void run_qmatmul_sparse(const NodePlan& n, const ExecContext& ctx) {
  const QMatMulState& st = static_cast<const QMatMulState&>(*n.state);
  st.sks->fc_run(st.rows, st.csr, st.bias, static_cast<const int8_t*>(ctx.in(n.inputs[0])), st.K, st.zx, st.out,
                 static_cast<int8_t*>(ctx.out(n.outputs[0])), st.N, ctx.scratch(n), ctx.pf);
}

void run_dqmatmul(const NodePlan& n, const ExecContext& ctx) {
  const QMatMulState& st = static_cast<const QMatMulState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  const int64_t count = (int64_t)st.rows * st.K;
  // DynamicQuantizeLinear (ONNX): uint8, range always containing 0.
  float lo = 0.f, hi = 0.f;
  for (int64_t i = 0; i < count; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float scale = (hi - lo) / 255.f;
  if (!(scale > 0.f) || !std::isfinite(scale)) scale = 1.f;  // all zeros (or non-finite input): any scale
  float zpf = std::nearbyint(0.f - lo / scale);
  zpf = zpf < 0.f ? 0.f : (zpf > 255.f ? 255.f : zpf);
  const int32_t zp = (int32_t)zpf;
  uint8_t* scratch = static_cast<uint8_t*>(ctx.scratch(n));
  int8_t* xp = reinterpret_cast<int8_t*>(scratch);
  const int64_t Np = int8_gemm_cols(st.rows);
  for (int r = 0; r < st.rows; ++r)
    for (int k = 0; k < st.K; ++k) {
      float v = std::nearbyint(x[(int64_t)r * st.K + k] / scale) + (float)zp;
      v = std::isnan(v) ? 0.f : (v < 0.f ? 0.f : (v > 255.f ? 255.f : v));
      xp[((k / 4) * Np + r) * 4 + k % 4] = (int8_t)((int32_t)v - 128);  // x - 128; zx below is zp - 128
    }
  float* mult = reinterpret_cast<float*>(scratch + st.x_bytes + (size_t)st.N * st.rows * 4);
  for (int c = 0; c < st.N; ++c) mult[c] = scale * st.sw[(size_t)c];
  Int8Out o = st.out;
  o.mult = mult;
  float* y = ctx.outf(n.outputs[0]);
  if (st.rows == 1) {
    st.ks->gemm_run(st.N, 1, st.K, st.packed, xp, zp - 128, o, y, 1, ctx.pf);
    return;
  }
  float* t = reinterpret_cast<float*>(scratch + st.x_bytes);
  st.ks->gemm_run(st.N, st.rows, st.K, st.packed, xp, zp - 128, o, t, st.rows, ctx.pf);
  transpose_out(t, st.N, st.rows, y);
}

bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }

Status prepare_common(PrepareContext& ctx, NodePlan& n, bool dynamic) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& b = ctx.t(n.inputs[1]);
  if (x.shape.empty()) return fail(n, StatusCode::kInvalidModel, "input is a scalar");
  if (b.shape.size() != 2) return fail(n, StatusCode::kInvalidModel, "B must be 2-D [K, N]");
  const int64_t K = x.shape.back(), N = b.shape[1];
  if (b.shape[0] != K) return fail(n, StatusCode::kInvalidModel, "inner dimensions differ");
  const int64_t rows = K > 0 ? shape_numel(x.shape) / K : 0;
  MCRT_RETURN_IF_ERROR(int8_check_k(n, K));
  if (!fits(rows) || !fits(N) || !fits(rows * N) || !fits(K * N) || rows < 1 || N < 1)
    return fail(n, StatusCode::kLimitExceeded, "dimensions exceed 2^31 or are empty");
  auto st = std::make_unique<QMatMulState>();
  st->rows = (int)rows;
  st->N = (int)N;
  st->K = (int)K;
  st->dynamic = dynamic;
  st->ks = ctx.int8_kernels;
  std::vector<float> sw;
  MCRT_RETURN_IF_ERROR(int8_weight_scales(n, b, 1, N, &sw));
  Shape oshape(x.shape.begin(), x.shape.end() - 1);
  oshape.push_back(N);
  ActQuant qx, qy;
  if (dynamic) {
    if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "DynamicQuantizeMatMul input must be float32");
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, oshape));
    st->sw = sw;
    st->out.f32 = true;
  } else {
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, x, "input", &qx));
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, oshape));
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "output", &qy));
    MCRT_RETURN_IF_ERROR(int8_multipliers(n, qx.scale, sw, qy.scale, &st->mult));
    st->out.mult = st->mult.data();
    st->out.zero_point = qy.zp;
    st->zx = qx.zp;
    MCRT_RETURN_IF_ERROR(int8_act_range(n, &st->out.act_min, &st->out.act_max));
  }
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)rows * (double)N * (double)K));
  std::vector<int32_t> bias;
  n.prepare_only_inputs |= 1u << 1;
  if (ctx.present(n, 2)) {
    const TensorPlan& bt = ctx.t(n.inputs[2]);
    const DType want = dynamic ? DType::kF32 : DType::kI32;
    if (bt.dtype != want || shape_numel(bt.shape) != N)
      return fail(n, StatusCode::kInvalidModel, std::string("bias must be ") + dtype_name(want) + " with N elements");
    if (dynamic) {
      st->fbias.resize((size_t)N);
      std::memcpy(st->fbias.data(), bt.const_data, (size_t)N * 4);
      st->out.fbias = st->fbias.data();
    } else {
      bias.resize((size_t)N);
      std::memcpy(bias.data(), bt.const_data, (size_t)N * 4);
    }
    n.prepare_only_inputs |= 1u << 2;
  }
  // W = B^T [N, K].
  std::vector<int8_t> wt((size_t)(N * K));
  const int8_t* bd = reinterpret_cast<const int8_t*>(b.const_data);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < N; ++c) wt[(size_t)(c * K + k)] = bd[k * N + c];
  const Int8KernelSet& ks = *ctx.int8_kernels;
  // Sparse or dense (static only): the int8 cost model decides from the density of B (sparse_cost_model.h).
  const int64_t nnz = dynamic ? N * K : int8_count_nonzero(wt.data(), N * K);
  if (nnz < N * K && ctx.sparse_policy != SparsePolicy::kDense) {
    const double density = (double)nnz / ((double)N * (double)K);
    const double limit = sparse_int8_fc_max_density(ks.name, (int)rows, (int)N, (int)K);
    char why[96];
    if (ctx.sparse_policy == SparsePolicy::kSparse || density < limit) {
      const Int8SparseKernelSet& sks =
          std::strcmp(ks.name, "reference") == 0 ? int8_sparse_kernels_reference() : int8_sparse_kernels_best();
      MCRT_RETURN_IF_ERROR(ctx.alloc_weights(int8_csr_packed_size((int)N, nnz), &st->packed));
      int8_csr_pack_dense((int)N, (int)K, wt.data(), false, st->packed, &st->csr);
      if (!bias.empty()) {
        void* b = nullptr;
        MCRT_RETURN_IF_ERROR(ctx.alloc_weights((size_t)N * 4, &b));
        std::memcpy(b, bias.data(), (size_t)N * 4);
        st->bias = static_cast<const int32_t*>(b);
      }
      st->sks = &sks;
      n.scratch_bytes = sks.fc_scratch_size((int)rows, (int)K);
      n.kernel_name = std::string("qmatmul_sparse_csr_") + sks.name + int8_clamp_suffix(st->out.act_min, st->out.act_max);
      if (density < limit) std::snprintf(why, sizeof why, "density %.2f < %.2f", density, limit);
      else std::snprintf(why, sizeof why, "density %.2f, sparse forced", density);
      n.kernel_reason = why;
      n.state = std::move(st);
      n.run = run_qmatmul_sparse;
      return Status::Ok();
    }
    std::snprintf(why, sizeof why, "density %.2f: dense is faster", density);
    n.kernel_reason = why;
  }
  MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ks.gemm_packed_size((int)N, (int)K), &st->packed));
  ks.gemm_pack((int)N, (int)K, wt.data(), bias.empty() ? nullptr : bias.data(), st->packed);
  st->x_bytes = (int8_gemm_x_size(K, rows) + 63) / 64 * 64;
  // Scratch: packed X, then the [N, rows] output block (static: only for rows > 1; dynamic: always
  // reserved, followed by the per-run multipliers [N]).
  n.scratch_bytes = st->x_bytes + (dynamic ? (size_t)(N * rows) * 4 + (size_t)N * 4 : rows > 1 ? (size_t)(N * rows) : 0);
  n.kernel_name = std::string(dynamic ? "dq_matmul_u8_gemm_" : "qmatmul_gemm_") + ks.name +
                  (dynamic ? "" : int8_clamp_suffix(st->out.act_min, st->out.act_max));
  n.state = std::move(st);
  n.run = dynamic ? run_dqmatmul : run_qmatmul;
  return Status::Ok();
}

}  // namespace

Status prepare_qlinear_matmul(PrepareContext& ctx, NodePlan& n) { return prepare_common(ctx, n, false); }
Status prepare_dynamic_quantize_matmul(PrepareContext& ctx, NodePlan& n) { return prepare_common(ctx, n, true); }

}  // namespace mcrt
