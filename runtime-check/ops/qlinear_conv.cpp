// QLinearConv (runtime int8 op, docs/quantization.md §4): Conv attributes, 1-D and 2-D, any group.
//   acc[m, p] = Σ (x - z_x) · W[m, ...] + bias[m]  (int32, exact; K bounded at prepare)
//   y = clamp(rhe((float)acc * M[m]) + z_y, act_min, act_max),  M[m] = (s_x * s_w[m]) / s_y
// Depthwise (group == C == M) runs the Int8KernelSet's depthwise kernel; group 1 an implicit GEMM on the
// image re-laid out with 4 channels per word (no im2col; a plain 1x1 conv takes the GEMM below, whose
// packing is then that same interleave); other groups an int8 GEMM per image and group on im2col columns.
// Weights are packed once at prepare; the im2col block lives in the node's scratch. A pointwise conv whose
// weight has zeros runs the int8 sparse kernels (kernels/sparse/sparse_int8_kernels.h) where the cost model
// (sparse_cost_model.h) says they beat the dense GEMM (same bytes either way).
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/parallel_for.h"
#include "kernels/sparse/sparse_cost_model.h"
#include "kernels/sparse/sparse_int8_kernels.h"
#include "ops/qlinear_common.h"
#include "ops/spatial_geometry.h"

namespace mcrt {
namespace {

struct QConvState : OpState {
  ConvGeom g{};
  bool depthwise = false;
  bool conv1 = false;           // one input channel (group 1): the set's conv1 kernel (stem on a grey image)
  bool implicit = false;        // implicit GEMM on the re-laid-out image (group 1, not a plain 1x1)
  // The image's phase rows are exactly OW wide (no column of a row is junk: a 1x1 conv, or a kernel no
  // wider than the stride, e.g. ResNet's strided 1x1 downsample), so the output rows are one row of
  // OH*OW columns for conv_run.
  bool flat = false;
  Int8ConvImage im;
  std::vector<int64_t> qoff;    // implicit: K-quad offsets into the image
  int cg = 0, mg = 0, K = 0;  // channels per group (in, out), reduction length
  std::vector<void*> packed;  // per group (depthwise: one)
  std::vector<float> mult;    // [M]
  int32_t zx = 0;
  Int8Out out;
  const Int8KernelSet* ks = nullptr;
  const Int8SparseKernelSet* sks = nullptr;  // sparse pointwise: W [M, C] in CSR, bias (or null)
  Int8CsrMatrix csr;
  const int32_t* bias = nullptr;
  bool residual = false;  // fused QLinearAdd (NodePlan::residual_*): out.add, out.conv_is_a
};

void run_qconv(const NodePlan& n, const ExecContext& ctx) {
  const QConvState& st = static_cast<const QConvState&>(*n.state);
  const ConvGeom& g = st.g;
  const int8_t* x = static_cast<const int8_t*>(ctx.in(n.inputs[0]));
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  const int64_t in_img = (int64_t)g.C * g.H * g.W;
  const int64_t P = (int64_t)g.OH * g.OW, out_img = (int64_t)g.M * P;
  void* scratch = ctx.scratch(n);
  const int8_t* res = st.residual ? static_cast<const int8_t*>(ctx.in(n.inputs[(size_t)n.residual_input])) : nullptr;
  // Fused add outside conv_run: the add's rule on the image's int8 outputs, in place.
  auto add_after = [&](int b) {
    if (!res) return;
    int8_t* yb = y + b * out_img;
    const int8_t* rb = res + b * out_img;
    parallel_for(ctx.pf, g.M, [&](int64_t m0, int64_t m1) {
      int8_t* ym = yb + m0 * P;
      const int8_t* rm = rb + m0 * P;
      const int64_t len = (m1 - m0) * P;
      if (st.out.conv_is_a) st.ks->add_run(len, ym, 1, rm, 1, st.out.add, ym);
      else st.ks->add_run(len, rm, 1, ym, 1, st.out.add, ym);
    });
  };
  for (int b = 0; b < g.N; ++b) {
    if (st.sks) {
      st.sks->pointwise_run((int)P, st.csr, st.bias, x + b * in_img, st.zx, st.out, y + b * out_img, ctx.pf);
      add_after(b);
      continue;
    }
    if (st.depthwise) {
      st.ks->dw_run(g, st.packed[0], x + b * in_img, st.zx, st.out, y + b * out_img, scratch, ctx.pf);
      add_after(b);
      continue;
    }
    if (st.conv1) {
      st.ks->conv1_run(g, st.packed[0], x + b * in_img, st.zx, st.out, y + b * out_img, ctx.pf);
      add_after(b);
      continue;
    }
    if (st.implicit) {
      int8_t* img = static_cast<int8_t*>(scratch);
      int8_conv_image_with(*st.ks, g, st.im, x + b * in_img, (int8_t)st.zx, img);
      Int8Out o = st.out;  // a fused add happens in conv_run, on the outputs it has just stored
      if (res) o.residual = res + b * out_img;
      st.ks->conv_run(g.M, st.flat ? 1 : g.OH, st.flat ? (int)P : g.OW, st.K, st.packed[0], img, st.im.row_step,
                      st.qoff.data(), st.zx, o, y + b * out_img, ctx.pf);
      continue;
    }
    for (int gi = 0; gi < g.group; ++gi) {
      int8_t* xp = static_cast<int8_t*>(scratch);
      int8_im2col(g, st.cg, x + b * in_img + (int64_t)gi * st.cg * g.H * g.W, (int8_t)st.zx, xp);
      Int8Out o = st.out;
      o.mult = st.mult.data() + (int64_t)gi * st.mg;
      st.ks->gemm_run(st.mg, (int)P, st.K, st.packed[(size_t)gi], xp, st.zx, o, y + b * out_img + gi * st.mg * P, P,
                      ctx.pf);
    }
    add_after(b);
  }
}

}  // namespace

Status prepare_qlinear_conv(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const TensorPlan& w = ctx.t(n.inputs[1]);
  ActQuant qx, qy;
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, x, "input", &qx));
  SpatialGeom sg;
  ConvGeom g;
  MCRT_RETURN_IF_ERROR(resolve_conv_geom(n, x.shape, w.shape, &sg, &g));
  const int64_t group = g.group, C = g.C, M = g.M;
  std::vector<float> sw;
  MCRT_RETURN_IF_ERROR(int8_weight_scales(n, w, 0, M, &sw));
  const int64_t K = (C / group) * (int64_t)g.kh * g.kw, P = (int64_t)g.OH * g.OW;
  MCRT_RETURN_IF_ERROR(int8_check_k(n, K));
  if (!fits_int(P) || !fits_int(K) || !fits_int(P * 4 + 64)) return fail(n, StatusCode::kLimitExceeded, "dimension exceeds 2^31");
  Shape oshape = {x.shape[0], M};
  for (int i = 0; i < sg.rank; ++i) oshape.push_back(sg.out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, oshape));
  // A fused residual QLinearAdd: the conv's own output is tensor residual_mid, the step's output the add's.
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.residual_mid >= 0 ? n.residual_mid : n.outputs[0]), "output", &qy));
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)shape_numel(oshape) * (double)K));

  auto st = std::make_unique<QConvState>();
  st->g = g;
  st->zx = qx.zp;
  st->ks = ctx.int8_kernels;
  MCRT_RETURN_IF_ERROR(int8_multipliers(n, qx.scale, sw, qy.scale, &st->mult));
  st->out.mult = st->mult.data();
  st->out.zero_point = qy.zp;
  MCRT_RETURN_IF_ERROR(int8_act_range(n, &st->out.act_min, &st->out.act_max));
  if (n.residual_mid >= 0) {  // the add's rule (ops/qlinear_add.cpp) with the conv output as A or B
    ActQuant qr, qo;
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.inputs[(size_t)n.residual_input]), "residual input", &qr));
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "fused add output", &qo));
    const ActQuant& qa = n.residual_conv_is_a ? qy : qr;
    const ActQuant& qb = n.residual_conv_is_a ? qr : qy;
    Int8AddParams& ap = st->out.add;
    ap.ma = qa.scale / qo.scale;
    ap.mb = qb.scale / qo.scale;
    if (!std::isfinite(ap.ma) || !std::isfinite(ap.mb))
      return fail(n, StatusCode::kUnsupported, "fused add: scale ratio s_a/s_y or s_b/s_y is not finite");
    ap.za = qa.zp;
    ap.zb = qb.zp;
    ap.zy = qo.zp;
    MCRT_RETURN_IF_ERROR(int8_act_range(n, n.residual_attrs, &ap.lo, &ap.hi));
    st->out.conv_is_a = n.residual_conv_is_a;
    st->residual = true;
  }
  std::vector<int32_t> bias;
  n.prepare_only_inputs |= 1u << 1;
  if (ctx.present(n, 2)) {
    const TensorPlan& b = ctx.t(n.inputs[2]);
    if (b.dtype != DType::kI32 || shape_numel(b.shape) != M)
      return fail(n, StatusCode::kInvalidModel, "bias must be int32 with M elements");
    bias.resize((size_t)M);
    std::memcpy(bias.data(), b.const_data, (size_t)M * 4);
    n.prepare_only_inputs |= 1u << 2;
  }
  const int8_t* wd8 = reinterpret_cast<const int8_t*>(w.const_data);
  const Int8KernelSet& ks = *ctx.int8_kernels;
  st->depthwise = g.group == g.C && g.group == g.M;
  st->cg = (int)(C / group);
  st->mg = (int)(M / group);
  st->K = (int)K;
  // A pointwise conv (group 1, 1x1, stride 1, no pads) with zeros in W: sparse or dense by the int8 cost model.
  const bool pointwise = !st->depthwise && g.group == 1 && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 &&
                         g.pad_t == 0 && g.pad_l == 0 && g.pad_b == 0 && g.pad_r == 0;
  const int64_t nnz = pointwise ? int8_count_nonzero(wd8, M * C) : M * C;
  const double density = (double)nnz / ((double)M * (double)C);
  const double limit = pointwise ? sparse_int8_pointwise_max_density(ks.name, (int)P, g.M, g.C) : 0.0;
  const bool consider = nnz < M * C && ctx.sparse_policy != SparsePolicy::kDense;
  const bool sparse_pw = consider && (ctx.sparse_policy == SparsePolicy::kSparse || density < limit);
  if (st->depthwise) {
    void* p = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ks.dw_packed_size(g), &p));
    const char* variant = ks.dw_pack(g, wd8, bias.empty() ? nullptr : bias.data(), p);
    st->packed.push_back(p);
    n.scratch_bytes = ks.dw_scratch_size(g);
    n.kernel_name = std::string("qconv2d_depthwise_") + variant;
  } else if (sparse_pw) {
    // Sparse pointwise: W [M, C] in CSR.
    const Int8SparseKernelSet& sks =
        std::strcmp(ks.name, "reference") == 0 ? int8_sparse_kernels_reference() : int8_sparse_kernels_best();
    void* p = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights(int8_csr_packed_size(g.M, nnz), &p));
    int8_csr_pack_dense(g.M, g.C, wd8, false, p, &st->csr);
    st->packed.push_back(p);
    if (!bias.empty()) {
      void* b = nullptr;
      MCRT_RETURN_IF_ERROR(ctx.alloc_weights((size_t)M * 4, &b));
      std::memcpy(b, bias.data(), (size_t)M * 4);
      st->bias = static_cast<const int32_t*>(b);
    }
    st->sks = &sks;
    n.kernel_name = std::string("qconv2d_1x1_sparse_csr_") + sks.name;
    char why[96];
    if (density < limit) std::snprintf(why, sizeof why, "density %.2f < %.2f", density, limit);
    else std::snprintf(why, sizeof why, "density %.2f, sparse forced", density);
    n.kernel_reason = why;
  } else if (g.group == 1 && g.C == 1 && ks.conv1_packed_size != nullptr && ks.conv1_packed_size(g) > 0) {
    // One input channel (a stem on a grey image): K = kh * kw is too short for the GEMM's K-quads of 4
    // channels (3 of 4 bytes zero); the set's conv1 kernel gathers the taps themselves 4 per quad.
    st->conv1 = true;
    void* p = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ks.conv1_packed_size(g), &p));
    const char* variant = ks.conv1_pack(g, wd8, bias.empty() ? nullptr : bias.data(), p);
    st->packed.push_back(p);
    n.kernel_name = std::string("qconv2d_1ch_") + variant;
  } else if (g.group == 1) {
    // Implicit GEMM: the weight in the image's K order (tap-major, 4 channels per quad). Tiles run along
    // one output row, so a 7-wide output fills 7 of 16 lanes; im2col measured slower still (resnet's 7x7
    // layers 27.6 vs 18.8 us, LeNet-5's 1-channel conv1 6.4 vs 3.8 us). A pointwise conv (1x1, stride 1,
    // no pads) runs as one image row of H*W columns: the plain interleave.
    st->implicit = true;
    if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_t == 0 && g.pad_l == 0 && g.pad_b == 0 &&
        g.pad_r == 0) {
      st->g.W = st->g.OW = g.H * g.W;
      st->g.H = st->g.OH = 1;
    }
    st->im = int8_conv_image_layout(st->g);
    st->flat = st->im.Wph == st->g.OW;
    st->qoff.resize((size_t)st->im.taps * st->im.Cq);
    int8_conv_qoffsets(st->g, st->im, st->qoff.data());
    st->K = st->im.taps * st->im.Cq * 4;
    std::vector<int8_t> w2((size_t)M * st->K);
    int8_conv_reorder_weights(st->g, wd8, w2.data());
    void* p = nullptr;
    MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ks.gemm_packed_size(g.M, st->K), &p));
    ks.gemm_pack(g.M, st->K, w2.data(), bias.empty() ? nullptr : bias.data(), p);
    st->packed.push_back(p);
    n.scratch_bytes = st->im.bytes;
    n.kernel_name = std::string(g.kh == 1 && g.kw == 1 && (g.sh > 1 || g.sw > 1) ? "qconv2d_1x1_strided_gemm_"
                                : g.kh == 1 && g.kw == 1                     ? "qconv2d_1x1_gemm_"
                                                                             : "qconv2d_implicit_gemm_") +
                    ks.name;
    if (consider) {
      char why[64];
      std::snprintf(why, sizeof why, "density %.2f: dense is faster", density);
      n.kernel_reason = why;
    }
  } else {
    for (int gi = 0; gi < g.group; ++gi) {
      void* p = nullptr;
      MCRT_RETURN_IF_ERROR(ctx.alloc_weights(ks.gemm_packed_size(st->mg, (int)K), &p));
      ks.gemm_pack(st->mg, (int)K, wd8 + (int64_t)gi * st->mg * K, bias.empty() ? nullptr : bias.data() + gi * st->mg, p);
      st->packed.push_back(p);
    }
    n.scratch_bytes = int8_gemm_x_size(K, P);
    n.kernel_name = std::string(g.kh == 1 && g.kw == 1 ? "qconv2d_1x1_gemm_" : "qconv2d_im2col_gemm_") + ks.name;
  }
  n.kernel_name += int8_clamp_suffix(st->out.act_min, st->out.act_max);
  n.state = std::move(st);
  n.run = run_qconv;
  return Status::Ok();
}

}  // namespace mcrt
