// Gemm and MatMul (ONNX), fp32.
//   Gemm: Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N].
//   MatMul: NumPy matmul, batched with broadcasting of the batch dims, 1-D operands promoted.
// A constant B (weights) takes the fully connected path: packed once, alpha folded into
// the packed weights, beta*C folded into the epilogue bias when C is per-column; otherwise
// the general sgemm kernel runs per batch. A fused Relu/Clip goes into the epilogue (fc)
// or is applied after sgemm. When B holds few nonzeros, the fc path packs it as CSR for the
// sparse kernels instead (kernels/sparse/), where the cost model says they beat the dense ones.
#include <climits>
#include <cstdio>
#include <cstring>

#include "ops/broadcast.h"
#include "ops/ops.h"
#include "runtime/weights.h"

namespace mcrt {
namespace {

struct FcState : OpState {
  int M = 0, N = 0, K = 0;
  void* packed = nullptr;
  Epilogue ep;
};

struct FcSparseState : OpState {
  int M = 0;
  CsrMatrix w;  // [N, K], packed in the weight store
  const void* extra = nullptr;  // the kernel set's second packed form of w (or nullptr)
  Epilogue ep;
  const SparseKernelSet* ks = nullptr;
};

struct SgemmState : OpState {
  int M = 0, N = 0, K = 0;
  bool transA = false, transB = false;
  float alpha = 1.f, beta = 0.f;
  int lda = 0, ldb = 0;
  std::vector<int64_t> a_off, b_off;  // per batch, element offsets (MatMul broadcasting)
  int64_t c_size = 0;                 // elements of one output matrix
  // Gemm's C: broadcast plan into [M, N] (has_c), or nothing.
  bool has_c = false;
  BroadcastPlan c_plan;
  bool clamp = false;
  float lo = -INFINITY, hi = INFINITY;
};

void run_fc(const NodePlan& n, const ExecContext& ctx) {
  const FcState& st = static_cast<const FcState&>(*n.state);
  Epilogue ep = st.ep;
  if (n.residual_input >= 0) ep.residual = ctx.inf(n.inputs[n.residual_input]);  // fused residual Add
  ctx.kernels->fc_run(st.M, st.N, st.K, ctx.inf(n.inputs[0]), st.K, st.packed, ep, ctx.outf(n.outputs[0]), st.N,
                      ctx.pf);
}

void run_fc_sparse(const NodePlan& n, const ExecContext& ctx) {
  const FcSparseState& st = static_cast<const FcSparseState&>(*n.state);
  st.ks->fc_run(st.M, st.w, st.extra, ctx.inf(n.inputs[0]), st.w.cols, st.ep, ctx.outf(n.outputs[0]), st.w.rows, ctx.scratch(n),
                ctx.pf);
}

void run_sgemm(const NodePlan& n, const ExecContext& ctx) {
  const SgemmState& st = static_cast<const SgemmState&>(*n.state);
  const float* a = ctx.inf(n.inputs[0]);
  const float* b = ctx.inf(n.inputs[1]);
  float* y = ctx.outf(n.outputs[0]);
  float beta = 0.f;
  if (st.has_c) {  // Y = C broadcast, then Y = alpha*AB + beta*Y
    const float* c = ctx.inf(n.inputs[2]);
    const BroadcastPlan& p = st.c_plan;
    const int64_t inner = p.dims[p.rank - 1];
    static const float kZero = 0.f;
    for (int64_t r = 0; r < p.outer; ++r) {
      int64_t oa, ob;
      broadcast_row_offsets(p, r, &oa, &ob);
      ctx.kernels->binary(BinaryOp::Add, inner, c + oa, (int)p.sa[p.rank - 1], &kZero, 0, y + r * inner);
    }
    beta = st.beta;
  }
  for (size_t i = 0; i < st.a_off.size(); ++i)
    ctx.kernels->sgemm(st.M, st.N, st.K, st.alpha, a + st.a_off[i], st.lda, st.transA, b + st.b_off[i], st.ldb,
                       st.transB, beta, y + (int64_t)i * st.c_size, st.N, ctx.scratch(n), ctx.pf);
  if (n.residual_input >= 0) {  // fused residual Add (Gemm only), before the fused clamp
    const int64_t total = st.c_size * (int64_t)st.a_off.size();
    ctx.kernels->binary(BinaryOp::Add, total, y, 1, ctx.inf(n.inputs[n.residual_input]), 1, y);
  }
  if (st.clamp)
    ctx.kernels->unary(UnaryOp::Clip, st.c_size * (int64_t)st.a_off.size(), y, y, st.lo, st.hi);
}

bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }

// FC path: y[M,N] = x[M,K] * (alpha * W) + bias; w is [K,N] or [N,K] (w_is_nk).
Status prepare_fc(PrepareContext& ctx, NodePlan& n, int64_t M, int64_t N, int64_t K, const float* w, bool w_is_nk,
                  float alpha, const std::vector<float>& bias) {
  auto st = std::make_unique<FcState>();
  st->M = (int)M;
  st->N = (int)N;
  st->K = (int)K;
  std::vector<float> scaled;
  if (alpha != 1.f) {
    scaled.assign(w, w + K * N);
    for (float& v : scaled) v *= alpha;
    w = scaled.data();
  }
  Epilogue ep;
  if (!bias.empty()) {
    void* b = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights((size_t)N * 4, &b));
    std::memcpy(b, bias.data(), (size_t)N * 4);
    ep.bias = static_cast<const float*>(b);
  }
  if (n.fused) {
    ep.lo = n.fuse_lo;
    ep.hi = n.fuse_hi;
  }
  n.prepare_only_inputs |= 1u << 1 | 1u << 2;
  // Sparse or dense: the cost model decides from the density of W (sparse_cost_model.h).
  const int64_t nnz = count_stored(w, K * N);
  // (The sparse kernels take no residual: a Gemm with a fused residual Add stays dense.)
  if (nnz < K * N && ctx.sparse_policy != SparsePolicy::kDense && n.residual_input < 0) {
    const double density = (double)nnz / ((double)K * (double)N);
    const double limit = sparse_fc_max_density(ctx.sparse_kernels->name, (int)M, (int)N, (int)K);
    char why[96];
    if (ctx.sparse_policy == SparsePolicy::kSparse || density < limit) {
      auto sp = std::make_unique<FcSparseState>();
      void* packed = nullptr;
      MCRT_RETURN_IF_ERROR(ctx.alloc_weights(csr_packed_size((int)N, nnz), &packed));
      csr_pack_dense((int)N, (int)K, w, !w_is_nk, packed, &sp->w);
      sp->M = (int)M;
      sp->ep = ep;
      sp->ks = ctx.sparse_kernels;
      const size_t extra_bytes = sp->ks->fc_extra_size(sp->w);
      if (extra_bytes > 0) {
        void* extra = nullptr;
        MCRT_RETURN_IF_ERROR(ctx.alloc_weights(extra_bytes, &extra));
        sp->ks->fc_extra_pack(sp->w, extra);
        sp->extra = extra;
        if (M < sp->ks->fc_extra_only_below_rows) {  // the CSR arrays are not read at run
          ctx.weights->release(packed);
          sp->w.row_ptr = sp->w.col_idx = nullptr;
          sp->w.values = nullptr;
        }
      }
      n.scratch_bytes = sp->ks->fc_scratch_size((int)M, (int)K);
      n.state = std::move(sp);
      n.run = run_fc_sparse;
      n.kernel_name = std::string("fc_sparse_csr_") + ctx.sparse_kernels->name;
      if (density < limit) std::snprintf(why, sizeof why, "density %.2f < %.2f", density, limit);
      else std::snprintf(why, sizeof why, "density %.2f, sparse forced", density);
      n.kernel_reason = why;
      return Status::Ok();
    }
    std::snprintf(why, sizeof why, "density %.2f: dense is faster", density);
    n.kernel_reason = why;
  }
  MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ctx.kernels->fc_packed_size((int)K, (int)N), &st->packed));
  ctx.kernels->fc_pack((int)K, (int)N, w, w_is_nk, st->packed);
  st->ep = ep;
  n.state = std::move(st);
  n.run = run_fc;
  n.kernel_name = std::string("fc_") + ctx.kernels->name;
  return Status::Ok();
}

}  // namespace

Status prepare_gemm(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& a = ctx.t(n.inputs[0]);
  const TensorPlan& b = ctx.t(n.inputs[1]);
  if (a.dtype != DType::kF32 || b.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 Gemm");
  if (a.shape.size() != 2 || b.shape.size() != 2) return fail(n, StatusCode::kInvalidModel, "Gemm inputs must be 2-D");
  const bool ta = n.attrs.i(fb::AttrKey_transA, 0) != 0, tb = n.attrs.i(fb::AttrKey_transB, 0) != 0;
  const float alpha = n.attrs.f(fb::AttrKey_alpha, 1.f), beta = n.attrs.f(fb::AttrKey_beta, 1.f);
  const int64_t M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1];
  const int64_t KB = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
  if (K != KB) return fail(n, StatusCode::kInvalidModel, "Gemm inner dimensions differ");
  if (!fits(M) || !fits(N) || !fits(K) || !fits(M * K) || !fits(K * N) || !fits(M * N))
    return fail(n, StatusCode::kLimitExceeded, "Gemm dimensions exceed 2^31");
  const Shape out = {M, N};
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)M * (double)N * (double)(K + 1)));
  const bool has_c = ctx.present(n, 2) && beta != 0.f;
  Shape cs;
  if (ctx.present(n, 2)) {
    const TensorPlan& c = ctx.t(n.inputs[2]);
    Shape bc;
    if (c.dtype != DType::kF32 || c.shape.size() > 2 || !broadcast_shape(c.shape, out, &bc) || bc != out)
      return fail(n, StatusCode::kInvalidModel, "Gemm C must be float32 and broadcast to [M, N]");
    cs = c.shape;
  }
  // FC path: B constant, A not transposed, C absent or a constant per-column vector.
  if (b.is_const && !ta && K > 0) {
    std::vector<float> bias;
    bool ok = true;
    if (has_c) {
      const TensorPlan& c = ctx.t(n.inputs[2]);
      const int64_t cn = shape_numel(c.shape);
      const bool per_col = c.is_const && (cn == 1 || (cn == N && (c.shape.size() == 1 || c.shape[0] == 1)));
      if (per_col) {
        const float* cv = reinterpret_cast<const float*>(c.const_data);
        bias.resize((size_t)N);
        for (int64_t j = 0; j < N; ++j) bias[(size_t)j] = beta * cv[cn == 1 ? 0 : j];
      } else {
        ok = false;
      }
    }
    if (ok) return prepare_fc(ctx, n, M, N, K, reinterpret_cast<const float*>(b.const_data), tb, alpha, bias);
  }
  auto st = std::make_unique<SgemmState>();
  st->M = (int)M;
  st->N = (int)N;
  st->K = (int)K;
  st->transA = ta;
  st->transB = tb;
  st->alpha = alpha;
  st->beta = beta;
  st->lda = (int)a.shape[1];
  st->ldb = (int)b.shape[1];
  st->a_off = {0};
  st->b_off = {0};
  st->c_size = M * N;
  st->has_c = has_c;
  if (has_c) st->c_plan = make_broadcast_plan(cs, out, out);
  if (n.fused) {
    st->clamp = true;
    st->lo = n.fuse_lo;
    st->hi = n.fuse_hi;
  }
  n.scratch_bytes = ctx.kernels->sgemm_scratch_size((int)M, (int)N, (int)K);
  n.state = std::move(st);
  n.run = run_sgemm;
  n.kernel_name = std::string("sgemm_") + ctx.kernels->name;
  return Status::Ok();
}

Status prepare_matmul(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& a = ctx.t(n.inputs[0]);
  const TensorPlan& b = ctx.t(n.inputs[1]);
  if (a.dtype != DType::kF32 || b.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 MatMul");
  if (a.shape.empty() || b.shape.empty()) return fail(n, StatusCode::kInvalidModel, "MatMul of a scalar");
  Shape as = a.shape, bs = b.shape;
  const bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), KB = bs[bs.size() - 2], N = bs.back();
  if (K != KB) return fail(n, StatusCode::kInvalidModel, "MatMul inner dimensions differ");
  const Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Shape batch;
  if (!broadcast_shape(abatch, bbatch, &batch)) return fail(n, StatusCode::kInvalidModel, "batch dims do not broadcast");
  if (batch.size() + 2 > (size_t)kMaxRank) return fail(n, StatusCode::kUnsupported, "rank > 8");
  Shape out = batch;
  if (!a1) out.push_back(M);
  if (!b1) out.push_back(N);
  if (!fits(M) || !fits(N) || !fits(K) || !fits(M * K) || !fits(K * N) || !fits(M * N))
    return fail(n, StatusCode::kLimitExceeded, "MatMul dimensions exceed 2^31");
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  const int64_t nb = shape_numel(batch);
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)nb * (double)M * (double)N * (double)(K + 1)));
  // FC path: constant 2-D (or 1-D) B; all batch rows of A stacked as one [nb*M, K] matrix.
  if (b.is_const && bbatch.empty() && K > 0 && fits(nb * M))
    return prepare_fc(ctx, n, nb * M, N, K, reinterpret_cast<const float*>(b.const_data), false, 1.f, {});
  auto st = std::make_unique<SgemmState>();
  st->M = (int)M;
  st->N = (int)N;
  st->K = (int)K;
  st->lda = (int)K;
  st->ldb = (int)N;
  st->c_size = M * N;
  // Per-batch offsets through a broadcast plan over the batch dims (+ a dummy inner dim).
  Shape ab = abatch, bb = bbatch, ob = batch;
  ab.push_back(1);
  bb.push_back(1);
  ob.push_back(1);
  const BroadcastPlan p = make_broadcast_plan(ab, bb, ob);
  st->a_off.resize((size_t)nb);
  st->b_off.resize((size_t)nb);
  for (int64_t i = 0; i < nb; ++i) {
    // Row i of the plan enumerates batch i (the inner dim has size 1).
    int64_t oa = 0, ob2 = 0, rem = i;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t idx = rem % p.dims[d];
      rem /= p.dims[d];
      oa += idx * p.sa[d];
      ob2 += idx * p.sb[d];
    }
    st->a_off[(size_t)i] = oa * M * K;
    st->b_off[(size_t)i] = ob2 * K * N;
  }
  n.scratch_bytes = ctx.kernels->sgemm_scratch_size((int)M, (int)N, (int)K);
  n.state = std::move(st);
  n.run = run_sgemm;
  n.kernel_name = std::string("sgemm_batched_") + ctx.kernels->name;
  return Status::Ok();
}

}  // namespace mcrt
