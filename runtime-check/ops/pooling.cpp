// MaxPool, AveragePool, GlobalAveragePool (ONNX), fp32, 1-D to 3-D windows.
// Reference kernels: for each output position, scan its (dilated) window, skipping
// padded positions. 1-D and 2-D MaxPool without dilation take a row-wise path with the same
// bytes (run_maxpool2d). AveragePool divides by the window size clipped to the input
// (count_include_pad = 0) or to the padded input (count_include_pad = 1); with
// ceil_mode the part of a window past the end padding never counts.
#include <algorithm>
#include <cfloat>

#include "kernels/parallel_for.h"
#include "ops/ops.h"
#include "ops/spatial_geometry.h"

namespace mcrt {
namespace {

struct PoolState : OpState {
  SpatialGeom g;
  int64_t planes = 0;  // N * C
  bool is_max = false, include_pad = false;
};

void run_pool(const NodePlan& n, const ExecContext& ctx) {
  const PoolState& st = static_cast<const PoolState&>(*n.state);
  const SpatialGeom& g = st.g;
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  // Pad spatial dims to 3 (leading size-1 dims) so one loop nest serves all ranks.
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
  int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
  const int off = 3 - g.rank;
  for (int i = 0; i < g.rank; ++i) {
    in[off + i] = g.in[i];
    out[off + i] = g.out[i];
    k[off + i] = g.k[i];
    s[off + i] = g.s[i];
    d[off + i] = g.d[i];
    pb[off + i] = g.pb[i];
    pe[off + i] = g.pe[i];
  }
  const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  // Per dim, the kernel taps [lo, hi) that land inside the input, and the number of taps
  // inside the declared padding (for count_include_pad). Only inside taps are visited, so
  // the work per output is bounded by the input window, whatever the pads.
  auto taps = [](int64_t start, int64_t k, int64_t d, int64_t len, int64_t pad_end, int64_t* lo, int64_t* hi,
                 int64_t* padded) {
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    const int64_t last = len - 1 - start;  // largest k*d that stays inside
    *hi = last < 0 ? 0 : std::min(k, last / d + 1);
    if (*hi < *lo) *hi = *lo;
    const int64_t lim = len + pad_end - start;  // taps with start + k*d < len + pad_end
    *padded = lim <= 0 ? 0 : std::min(k, (lim + d - 1) / d);
  };
  parallel_for(ctx.pf, st.planes, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * in_plane;
      float* yp = y + p * out_plane;
      for (int64_t o0 = 0; o0 < out[0]; ++o0) {
        int64_t a0, b0, c0;
        const int64_t s0 = o0 * s[0] - pb[0];
        taps(s0, k[0], d[0], in[0], pe[0], &a0, &b0, &c0);
        for (int64_t o1 = 0; o1 < out[1]; ++o1) {
          int64_t a1, b1, c1;
          const int64_t s1 = o1 * s[1] - pb[1];
          taps(s1, k[1], d[1], in[1], pe[1], &a1, &b1, &c1);
          for (int64_t o2 = 0; o2 < out[2]; ++o2) {
            int64_t a2, b2, c2;
            const int64_t s2 = o2 * s[2] - pb[2];
            taps(s2, k[2], d[2], in[2], pe[2], &a2, &b2, &c2);
            float acc = st.is_max ? -FLT_MAX : 0.f;
            bool any = false;
            for (int64_t k0 = a0; k0 < b0; ++k0)
              for (int64_t k1 = a1; k1 < b1; ++k1)
                for (int64_t k2 = a2; k2 < b2; ++k2) {
                  const float v = xp[((s0 + k0 * d[0]) * in[1] + s1 + k1 * d[1]) * in[2] + s2 + k2 * d[2]];
                  if (st.is_max) {
                    if (!any || v > acc) acc = v;
                  } else {
                    acc += v;
                  }
                  any = true;
                }
            const int64_t count = st.include_pad ? c0 * c1 * c2 : (b0 - a0) * (b1 - a1) * (b2 - a2);
            yp[(o0 * out[1] + o1) * out[2] + o2] = st.is_max ? acc : (count ? acc / (float)count : 0.f);
          }
        }
      }
    }
  });
}

// 2-D (or 1-D) MaxPool with dilation 1, the common case (LeNet's 2x2 stride 2 pools): per
// output row, the outputs whose window lies inside the input are computed tap by tap across the
// row, in loops the compiler vectorises; the few windows that touch padding take the
// reference's per-output scan. Every output visits its taps in the reference's order
// (row-major) with its comparison (the first tap inside, then `v > acc ? v : acc`), so the
// bytes equal the reference's, NaN and signed zeros included.

// Outputs [0, count) of one row whose windows are inside: x points at the first tap of the first
// output, `pitch` is the input row length, S the stride (0: the runtime `sw`).
template <int S>
void maxpool_row_inside(const float* x, int64_t pitch, int64_t rows, int64_t kw, int64_t sw, int64_t count,
                        float* y) {
  const int64_t st = S ? S : sw;
  for (int64_t o = 0; o < count; ++o) y[o] = x[o * st];
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t kx = r == 0 ? 1 : 0; kx < kw; ++kx) {
      const float* xk = x + r * pitch + kx;
      for (int64_t o = 0; o < count; ++o) {
        const float v = xk[o * st];
        const float a = y[o];
        y[o] = v > a ? v : a;
      }
    }
  }
}

// The same with the window fixed at KxK and the stride at S, taps unrolled inside the loop
// over outputs: one pass over the row instead of K*K (LeNet's 4x4 outputs are row overhead otherwise).
template <int S, int K>
void maxpool_row_inside_k(const float* x, int64_t pitch, int64_t count, float* y) {
  for (int64_t o = 0; o < count; ++o) {
    float acc = x[o * S];
    for (int r = 0; r < K; ++r)
      for (int kx = r == 0 ? 1 : 0; kx < K; ++kx) {
        const float v = x[r * pitch + o * S + kx];
        acc = v > acc ? v : acc;
      }
    y[o] = acc;
  }
}

void run_maxpool2d(const NodePlan& n, const ExecContext& ctx) {
  const PoolState& st = static_cast<const PoolState&>(*n.state);
  const SpatialGeom& g = st.g;
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  const int two = g.rank == 2;
  const int64_t H = two ? g.in[0] : 1, W = g.in[two], OH = two ? g.out[0] : 1, OW = g.out[two];
  const int64_t kh = two ? g.k[0] : 1, kw = g.k[two], sh = two ? g.s[0] : 1, sw = g.s[two];
  const int64_t pt = two ? g.pb[0] : 0, pl = g.pb[two];
  // Outputs [lo, hi) of every row have their whole window inside the row.
  const int64_t lo = std::min(OW, (pl + sw - 1) / sw);
  const int64_t hi = W - kw + pl < 0 ? lo : std::max(lo, std::min(OW, (W - kw + pl) / sw + 1));
  parallel_for(ctx.pf, st.planes, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * H * W;
      float* yp = y + p * OH * OW;
      for (int64_t oy = 0; oy < OH; ++oy) {
        const int64_t y0 = oy * sh - pt;
        const int64_t a = y0 >= 0 ? 0 : std::min(kh, -y0), b = std::max(a, std::min(kh, H - y0));
        float* yr = yp + oy * OW;
        // The reference's scan, for windows that touch padding (or have no row inside).
        auto scan = [&](int64_t ox) {
          const int64_t x0 = ox * sw - pl;
          float acc = -FLT_MAX;
          bool any = false;
          for (int64_t ky = a; ky < b; ++ky)
            for (int64_t kx = x0 >= 0 ? 0 : -x0; kx < kw && x0 + kx < W; ++kx) {
              const float v = xp[(y0 + ky) * W + x0 + kx];
              if (!any || v > acc) acc = v;
              any = true;
            }
          yr[ox] = acc;
        };
        const int64_t in_lo = b > a ? lo : OW;
        for (int64_t ox = 0; ox < in_lo; ++ox) scan(ox);
        if (b > a && hi > lo) {
          const float* x0 = xp + (y0 + a) * W + lo * sw - pl;
          const bool full = b - a == kh && kh == kw;
          if (full && kw == 2 && sw == 2)
            maxpool_row_inside_k<2, 2>(x0, W, hi - lo, yr + lo);
          else if (full && kw == 3 && sw == 2)
            maxpool_row_inside_k<2, 3>(x0, W, hi - lo, yr + lo);
          else if (full && kw == 3 && sw == 1)
            maxpool_row_inside_k<1, 3>(x0, W, hi - lo, yr + lo);
          else if (sw == 2)
            maxpool_row_inside<2>(x0, W, b - a, kw, sw, hi - lo, yr + lo);
          else if (sw == 1)
            maxpool_row_inside<1>(x0, W, b - a, kw, sw, hi - lo, yr + lo);
          else
            maxpool_row_inside<0>(x0, W, b - a, kw, sw, hi - lo, yr + lo);
        }
        for (int64_t ox = std::max(in_lo, hi); ox < OW; ++ox) scan(ox);
      }
    }
  });
}

struct GapState : OpState {
  int64_t planes = 0, size = 0;
};

void run_global_avg(const NodePlan& n, const ExecContext& ctx) {
  const GapState& st = static_cast<const GapState&>(*n.state);
  const float* x = ctx.inf(n.inputs[0]);
  float* y = ctx.outf(n.outputs[0]);
  // Eight independent double accumulators (i mod 8), summed in a fixed order: the dependent add
  // chain of one accumulator made this 1.2 us of resnet's 113; the result does not depend on threads.
  const int64_t size = st.size;
  for (int64_t p = 0; p < st.planes; ++p) {
    const float* xp = x + p * size;
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= size; i += 8)
      for (int k = 0; k < 8; ++k) a[k] += xp[i + k];
    for (int k = 0; i < size; ++i, ++k) a[k] += xp[i];
    const double acc = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    y[p] = (float)(acc / (double)size);
  }
}

}  // namespace

Status prepare_pool(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.dtype == DType::kI8 && n.op == fb::OpType_MaxPool) return prepare_maxpool_s8(ctx, n);  // int8: qlinear_pool.cpp
  if (x.dtype != DType::kF32) return fail(n, StatusCode::kUnsupported, "only float32 pooling (and int8 MaxPool)");
  if (x.shape.size() < 3 || x.shape.size() > 5) return fail(n, StatusCode::kUnsupported, "pooling needs rank 3..5");
  if (n.op == fb::OpType_GlobalAveragePool) {
    auto st = std::make_unique<GapState>();
    st->planes = x.shape[0] * x.shape[1];
    st->size = shape_numel(x.shape) / (st->planes ? st->planes : 1);
    if (st->size == 0) return fail(n, StatusCode::kInvalidModel, "empty spatial dims");
    Shape out(x.shape.size(), 1);
    out[0] = x.shape[0];
    out[1] = x.shape[1];
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
    n.state = std::move(st);
    n.run = run_global_avg;
    n.kernel_name = "global_avgpool_reference";
    return Status::Ok();
  }
  if (n.outputs.size() > 1) return fail(n, StatusCode::kUnsupported, "MaxPool Indices output is not supported");
  if (n.attrs.i(fb::AttrKey_storage_order, 0) != 0) return fail(n, StatusCode::kUnsupported, "storage_order = 1");
  const std::vector<int64_t> kernel = n.attrs.ints(fb::AttrKey_kernel_shape);
  if (kernel.empty()) return fail(n, StatusCode::kInvalidModel, "kernel_shape is required");
  if (n.op == fb::OpType_AveragePool && n.attrs.has(fb::AttrKey_dilations)) {
    for (int64_t v : n.attrs.ints(fb::AttrKey_dilations))
      if (v != 1) return fail(n, StatusCode::kUnsupported, "AveragePool with dilations != 1");
  }
  auto st = std::make_unique<PoolState>();
  MCRT_RETURN_IF_ERROR(resolve_spatial(n, x.shape, kernel, n.attrs.i(fb::AttrKey_ceil_mode, 0) != 0, &st->g));
  st->planes = x.shape[0] * x.shape[1];
  st->is_max = n.op == fb::OpType_MaxPool;
  st->include_pad = n.attrs.i(fb::AttrKey_count_include_pad, 0) != 0;
  Shape out = {x.shape[0], x.shape[1]};
  for (int i = 0; i < st->g.rank; ++i) out.push_back(st->g.out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kF32, out));
  double window = 1;
  for (int i = 0; i < st->g.rank; ++i) window *= (double)std::min(st->g.k[i], st->g.in[i]);
  MCRT_RETURN_IF_ERROR(ctx.add_work(n, (double)shape_numel(out) * window));
  const bool rows_fast = st->is_max && st->g.rank <= 2 && st->g.d[0] == 1 && (st->g.rank == 1 || st->g.d[1] == 1);
  n.state = std::move(st);
  n.run = rows_fast ? run_maxpool2d : run_pool;
  n.kernel_name = rows_fast ? "maxpool2d_rows" : n.op == fb::OpType_MaxPool ? "maxpool_reference" : "avgpool_reference";
  return Status::Ok();
}

}  // namespace mcrt
