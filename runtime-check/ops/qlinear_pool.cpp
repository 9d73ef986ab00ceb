// int8 pooling: QLinearAveragePool, QLinearGlobalAveragePool (runtime int8 ops) and MaxPool on int8
// (its output keeps the input's quant), 1-D to 3-D windows as the fp32 pooling ops.
//   average: y = clamp(rhe((float)Σ(x - z_x) * (s_x / (s_y * count))) + z_y, -128, 127), float32 in
//            that order; count = taps inside the input (count_include_pad = 0) or inside the padded
//            input (= 1), as ONNX AveragePool. The sum is an exact int32.
//   max:     the largest int8 of the window (monotonic, so no requantization).
#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "kernels/parallel_for.h"
#include "ops/qlinear_common.h"
#include "ops/spatial_geometry.h"

namespace mcrt {
namespace {

struct QPoolState : OpState {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
  int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
  int64_t planes = 0;
  bool is_max = false, include_pad = false, simd = false;  // simd: the plan's int8 set is not the reference
  float sx = 1.f, sy = 1.f;
  int32_t zx = 0, zy = 0;
};

// Per dim: the taps [lo, hi) inside the input, and the taps inside the declared padding.
inline void taps(int64_t start, int64_t k, int64_t d, int64_t len, int64_t pad_end, int64_t* lo, int64_t* hi,
                 int64_t* padded) {
  *lo = start >= 0 ? 0 : (-start + d - 1) / d;
  const int64_t last = len - 1 - start;
  *hi = last < 0 ? 0 : std::min(k, last / d + 1);
  if (*hi < *lo) *hi = *lo;
  const int64_t lim = len + pad_end - start;
  *padded = lim <= 0 ? 0 : std::min(k, (lim + d - 1) / d);
}

inline int8_t requant_avg(int32_t sum, int64_t count, const QPoolState& st) {
  const float m = st.sx / (st.sy * (float)count);
  float f = (float)sum * m;
  const float lo = (float)(-128 - st.zy), hi = (float)(127 - st.zy);
  f = f < lo ? lo : (f > hi ? hi : f);
  return (int8_t)((int32_t)std::nearbyint(f) + st.zy);
}

// MaxPool over 1-D/2-D windows: per output row the in-range rows of the window, per column the
// in-range taps, precomputed once per run (max is exact, so this is the reference's result).
inline bool maxpool_inside(const QPoolState& st) {
  return st.pb[1] == 0 && st.pb[2] == 0 && st.d[1] == 1 && st.d[2] == 1 &&
         (st.out[1] - 1) * st.s[1] + st.k[1] <= st.in[1] && (st.out[2] - 1) * st.s[2] + st.k[2] <= st.in[2] &&
         st.in[2] <= 4096;
}
// 2x2 stride 2 with every window inside: SSE2 (x86-64) unless the plan runs the reference int8 set.
inline bool maxpool_2x2s2_sse2(const QPoolState& st) {
#if defined(__SSE2__)
  return st.simd && st.in[0] == 1 && st.out[0] == 1 && maxpool_inside(st) && st.k[1] == 2 && st.k[2] == 2 && st.s[1] == 2 &&
         st.s[2] == 2;
#else
  (void)st;
  return false;
#endif
}

void run_maxpool_2d(const QPoolState& st, const int8_t* x, int8_t* y, const ParallelFor* pf) {
  const int64_t H = st.in[1], W = st.in[2], OH = st.out[1], OW = st.out[2];
  const bool inside = maxpool_inside(st);
#if defined(__SSE2__)
  if (maxpool_2x2s2_sse2(st)) {  // 2x2 stride 2 (LeNet, VGG)
    parallel_for(pf, st.planes, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oy = 0; oy < OH; ++oy) {
          const int8_t* r0 = x + p * H * W + oy * 2 * W;
          const int8_t* r1 = r0 + W;
          int8_t* yr = y + (p * OH + oy) * OW;
          int64_t ox = 0;
          for (; ox + 8 <= OW; ox += 8) {  // 16 input bytes per row; int16 lanes: even bytes, odd bytes
            const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 2 * ox));
            const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + 2 * ox));
            const __m128i ma = _mm_max_epi16(_mm_srai_epi16(_mm_slli_epi16(a, 8), 8), _mm_srai_epi16(a, 8));
            const __m128i mb = _mm_max_epi16(_mm_srai_epi16(_mm_slli_epi16(b, 8), 8), _mm_srai_epi16(b, 8));
            const __m128i m = _mm_max_epi16(ma, mb);
            _mm_storel_epi64(reinterpret_cast<__m128i*>(yr + ox), _mm_packs_epi16(m, m));
          }
          for (; ox < OW; ++ox) {
            const int8_t* c0 = r0 + 2 * ox;
            const int8_t* c1 = r1 + 2 * ox;
            const int8_t m0 = c0[0] > c0[1] ? c0[0] : c0[1], m1 = c1[0] > c1[1] ? c1[0] : c1[1];
            yr[ox] = m0 > m1 ? m0 : m1;
          }
        }
    });
    return;
  }
#endif
  if (inside) {  // every window inside the input: row maxima, then column maxima
    parallel_for(pf, st.planes, [&](int64_t p0, int64_t p1) {
      int8_t t[4096];
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oy = 0; oy < OH; ++oy) {
          const int8_t* r = x + p * H * W + oy * st.s[1] * W;
          for (int64_t i = 0; i < W; ++i) t[i] = r[i];
          for (int64_t ky = 1; ky < st.k[1]; ++ky)
            for (int64_t i = 0; i < W; ++i) t[i] = r[ky * W + i] > t[i] ? r[ky * W + i] : t[i];
          int8_t* yr = y + (p * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) {
            int8_t m = t[ox * st.s[2]];
            for (int64_t kx = 1; kx < st.k[2]; ++kx) m = t[ox * st.s[2] + kx] > m ? t[ox * st.s[2] + kx] : m;
            yr[ox] = m;
          }
        }
    });
    return;
  }
  parallel_for(pf, st.planes, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int8_t* xp = x + p * H * W;
      int8_t* yp = y + p * OH * OW;
      for (int64_t oy = 0; oy < OH; ++oy) {
        int64_t a0, b0, c0;
        const int64_t s0 = oy * st.s[1] - st.pb[1];
        taps(s0, st.k[1], st.d[1], H, st.pe[1], &a0, &b0, &c0);
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t a1, b1, c1;
          const int64_t s1 = ox * st.s[2] - st.pb[2];
          taps(s1, st.k[2], st.d[2], W, st.pe[2], &a1, &b1, &c1);
          int32_t m = -128;
          for (int64_t ky = a0; ky < b0; ++ky) {
            const int8_t* r = xp + (s0 + ky * st.d[1]) * W + s1;
            for (int64_t kx = a1; kx < b1; ++kx) m = r[kx * st.d[2]] > m ? r[kx * st.d[2]] : m;
          }
          yp[oy * OW + ox] = (int8_t)m;
        }
      }
    }
  });
}

void run_qpool(const NodePlan& n, const ExecContext& ctx) {
  const QPoolState& st = static_cast<const QPoolState&>(*n.state);
  const int8_t* x = static_cast<const int8_t*>(ctx.in(n.inputs[0]));
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  if (st.is_max && st.in[0] == 1 && st.out[0] == 1) return run_maxpool_2d(st, x, y, ctx.pf);
  const int64_t in_plane = st.in[0] * st.in[1] * st.in[2], out_plane = st.out[0] * st.out[1] * st.out[2];
  parallel_for(ctx.pf, st.planes, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int8_t* xp = x + p * in_plane;
      int8_t* yp = y + p * out_plane;
      for (int64_t o0 = 0; o0 < st.out[0]; ++o0) {
        int64_t a0, b0, c0;
        const int64_t s0 = o0 * st.s[0] - st.pb[0];
        taps(s0, st.k[0], st.d[0], st.in[0], st.pe[0], &a0, &b0, &c0);
        for (int64_t o1 = 0; o1 < st.out[1]; ++o1) {
          int64_t a1, b1, c1;
          const int64_t s1 = o1 * st.s[1] - st.pb[1];
          taps(s1, st.k[1], st.d[1], st.in[1], st.pe[1], &a1, &b1, &c1);
          for (int64_t o2 = 0; o2 < st.out[2]; ++o2) {
            int64_t a2, b2, c2;
            const int64_t s2 = o2 * st.s[2] - st.pb[2];
            taps(s2, st.k[2], st.d[2], st.in[2], st.pe[2], &a2, &b2, &c2);
            int32_t acc = st.is_max ? -128 : 0;
            for (int64_t k0 = a0; k0 < b0; ++k0)
              for (int64_t k1 = a1; k1 < b1; ++k1)
                for (int64_t k2 = a2; k2 < b2; ++k2) {
                  const int32_t v =
                      xp[((s0 + k0 * st.d[0]) * st.in[1] + s1 + k1 * st.d[1]) * st.in[2] + s2 + k2 * st.d[2]];
                  if (st.is_max) acc = v > acc ? v : acc;
                  else acc += v - st.zx;
                }
            const int64_t count = st.include_pad ? c0 * c1 * c2 : (b0 - a0) * (b1 - a1) * (b2 - a2);
            int8_t r;
            if (st.is_max) r = (int8_t)acc;
            else r = count ? requant_avg(acc, count, st) : (int8_t)std::min(127, std::max(-128, st.zy));
            yp[(o0 * st.out[1] + o1) * st.out[2] + o2] = r;
          }
        }
      }
    }
  });
}

struct QGapState : OpState {
  int64_t planes = 0, size = 0;
  QPoolState q;
};

void run_qgap(const NodePlan& n, const ExecContext& ctx) {
  const QGapState& st = static_cast<const QGapState&>(*n.state);
  const int8_t* x = static_cast<const int8_t*>(ctx.in(n.inputs[0]));
  int8_t* y = static_cast<int8_t*>(ctx.out(n.outputs[0]));
  for (int64_t p = 0; p < st.planes; ++p) {
    const int8_t* xp = x + p * st.size;
    int32_t acc = 0;
    for (int64_t i = 0; i < st.size; ++i) acc += xp[i];
    acc -= (int32_t)(st.q.zx * st.size);
    y[p] = requant_avg(acc, st.size, st.q);
  }
}

Status prepare_window(PrepareContext& ctx, NodePlan& n, QPoolState* st) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  const std::vector<int64_t> kernel = n.attrs.ints(fb::AttrKey_kernel_shape);
  if (kernel.empty()) return fail(n, StatusCode::kInvalidModel, "kernel_shape is required");
  SpatialGeom g;
  MCRT_RETURN_IF_ERROR(resolve_spatial(n, x.shape, kernel, n.attrs.i(fb::AttrKey_ceil_mode, 0) != 0, &g));
  const int off = 3 - g.rank;
  for (int i = 0; i < g.rank; ++i) {
    st->in[off + i] = g.in[i];
    st->out[off + i] = g.out[i];
    st->k[off + i] = g.k[i];
    st->s[off + i] = g.s[i];
    st->d[off + i] = g.d[i];
    st->pb[off + i] = g.pb[i];
    st->pe[off + i] = g.pe[i];
  }
  st->planes = x.shape[0] * x.shape[1];
  Shape out = {x.shape[0], x.shape[1]};
  for (int i = 0; i < g.rank; ++i) out.push_back(g.out[i]);
  MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, out));
  double window = 1;
  for (int i = 0; i < g.rank; ++i) window *= (double)std::min(g.k[i], g.in[i]);
  return ctx.add_work(n, (double)shape_numel(out) * window);
}

}  // namespace

Status prepare_qlinear_pool(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  ActQuant qx, qy;
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, x, "input", &qx));
  if (x.shape.size() < 3 || x.shape.size() > 5) return fail(n, StatusCode::kUnsupported, "pooling needs rank 3..5");
  if (n.op == fb::OpType_QLinearGlobalAveragePool) {
    auto st = std::make_unique<QGapState>();
    st->planes = x.shape[0] * x.shape[1];
    st->size = shape_numel(x.shape) / (st->planes ? st->planes : 1);
    if (st->size == 0) return fail(n, StatusCode::kInvalidModel, "empty spatial dims");
    if (st->size > (1 << 23)) return fail(n, StatusCode::kUnsupported, "window of more than 2^23 elements (int32 sum)");
    Shape out(x.shape.size(), 1);
    out[0] = x.shape[0];
    out[1] = x.shape[1];
    MCRT_RETURN_IF_ERROR(ctx.set_output(n, 0, DType::kI8, out));
    MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "output", &qy));
    st->q.sx = qx.scale;
    st->q.zx = qx.zp;
    st->q.sy = qy.scale;
    st->q.zy = qy.zp;
    n.state = std::move(st);
    n.run = run_qgap;
    n.kernel_name = "qglobal_avgpool_reference";
    return Status::Ok();
  }
  if (n.attrs.has(fb::AttrKey_dilations))
    for (int64_t v : n.attrs.ints(fb::AttrKey_dilations))
      if (v != 1) return fail(n, StatusCode::kUnsupported, "AveragePool with dilations != 1");
  auto st = std::make_unique<QPoolState>();
  MCRT_RETURN_IF_ERROR(prepare_window(ctx, n, st.get()));
  if (st->k[0] * st->k[1] * st->k[2] > (1 << 23))
    return fail(n, StatusCode::kUnsupported, "window of more than 2^23 elements (int32 sum)");
  MCRT_RETURN_IF_ERROR(int8_act_quant(n, ctx.t(n.outputs[0]), "output", &qy));
  st->include_pad = n.attrs.i(fb::AttrKey_count_include_pad, 0) != 0;
  st->sx = qx.scale;
  st->zx = qx.zp;
  st->sy = qy.scale;
  st->zy = qy.zp;
  n.state = std::move(st);
  n.run = run_qpool;
  n.kernel_name = "qavgpool_reference";
  return Status::Ok();
}

Status prepare_maxpool_s8(PrepareContext& ctx, NodePlan& n) {
  const TensorPlan& x = ctx.t(n.inputs[0]);
  if (x.shape.size() < 3 || x.shape.size() > 5) return fail(n, StatusCode::kUnsupported, "pooling needs rank 3..5");
  if (n.outputs.size() > 1) return fail(n, StatusCode::kUnsupported, "MaxPool Indices output is not supported");
  if (n.attrs.i(fb::AttrKey_storage_order, 0) != 0) return fail(n, StatusCode::kUnsupported, "storage_order = 1");
  auto st = std::make_unique<QPoolState>();
  MCRT_RETURN_IF_ERROR(prepare_window(ctx, n, st.get()));
  MCRT_RETURN_IF_ERROR(carry_quant(ctx, n));
  st->is_max = true;
  st->simd = ctx.int8_kernels && std::strcmp(ctx.int8_kernels->name, "reference") != 0;
  n.kernel_name = maxpool_2x2s2_sse2(*st) ? "maxpool_s8_2x2s2_sse2" : "maxpool_s8_reference";
  n.state = std::move(st);
  n.run = run_qpool;
  return Status::Ok();
}

}  // namespace mcrt
