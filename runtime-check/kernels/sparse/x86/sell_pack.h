// Internal, x86 sparse TUs: the "sliced ELL" form of a CSR matrix that the AVX2 and AVX-512 fc kernels
// read for batch rows outside 8-row blocks (batch 1), instead of gathering x.
//
// Outputs are taken in groups of G (lane i = output G*g + i) and inputs in segments of S columns. For
// each group, every segment in which some row of the group has a stored weight is one entry
// {seg, count}, count = the largest number of stored weights of one row in that segment. Each of the
// count steps holds, per lane, that row's next stored weight in the segment (value, column within the
// segment) or nothing (mask bit 0, column 0xFF, value 0). A kernel keeps the S x values of a segment
// in registers and reads them with one permute per step, so every lane sums its row in increasing
// column order. Layout (64-aligned parts after a 64-byte header {G, E, T} as int64): entry_start
// u32[G + 1], step_start u32[G], entries {u32 seg, u32 count}[E], masks u16[T], cols u8[G T],
// values f32[G T]. Size: T <= nnz and T <= groups * segments, so the form is at most 80 bytes per
// stored weight and at most 5 G / S bytes per dense element.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../sparse_kernels.h"

namespace mcrt {
namespace {

template <int G, int S>
struct Sell {
  static_assert(G <= 16 && S <= 255, "lanes fit the u16 mask, columns fit u8");
  struct Layout {
    int64_t groups = 0, E = 0, T = 0;
    size_t entry_start = 0, step_start = 0, entries = 0, masks = 0, cols = 0, values = 0, bytes = 0;
  };

  static size_t r64(size_t b) { return (b + 63) / 64 * 64; }

  // Walks group g segment by segment: f(seg, count, p, q) with lane i's entries in [p[i], q[i]).
  template <class F>
  static void walk_group(const CsrMatrix& w, int64_t g, F&& f) {
    int32_t p[G], e[G], q[G];
    for (int i = 0; i < G; ++i) {
      const int64_t r = g * G + i;
      p[i] = r < w.rows ? w.row_ptr[r] : 0;
      e[i] = r < w.rows ? w.row_ptr[r + 1] : 0;
    }
    for (;;) {
      int32_t seg = INT32_MAX;
      for (int i = 0; i < G; ++i)
        if (p[i] < e[i] && w.col_idx[p[i]] / S < seg) seg = w.col_idx[p[i]] / S;
      if (seg == INT32_MAX) return;
      int32_t count = 0;
      for (int i = 0; i < G; ++i) {
        q[i] = p[i];
        while (q[i] < e[i] && w.col_idx[q[i]] / S == seg) ++q[i];
        if (q[i] - p[i] > count) count = q[i] - p[i];
      }
      f(seg, count, p, q);
      for (int i = 0; i < G; ++i) p[i] = q[i];
    }
  }

  static Layout layout_from(int64_t groups, int64_t E, int64_t T) {
    Layout l;
    l.groups = groups;
    l.E = E;
    l.T = T;
    l.entry_start = 64;
    l.step_start = l.entry_start + r64((size_t)(groups + 1) * 4);
    l.entries = l.step_start + r64((size_t)groups * 4);
    l.masks = l.entries + r64((size_t)E * 8);
    l.cols = l.masks + r64((size_t)T * 2);
    l.values = l.cols + r64((size_t)T * G);
    l.bytes = l.values + r64((size_t)T * G * 4);
    return l;
  }

  static Layout layout(const CsrMatrix& w) {
    const int64_t groups = ((int64_t)w.rows + G - 1) / G;
    int64_t E = 0, T = 0;
    for (int64_t g = 0; g < groups; ++g)
      walk_group(w, g, [&](int32_t, int32_t count, const int32_t*, const int32_t*) {
        ++E;
        T += count;
      });
    return layout_from(groups, E, T);
  }

  static Layout layout_header(const void* extra) {
    const int64_t* h = static_cast<const int64_t*>(extra);
    return layout_from(h[0], h[1], h[2]);
  }

  static void pack(const CsrMatrix& w, void* extra) {
    const Layout l = layout(w);
    uint8_t* base = static_cast<uint8_t*>(extra);
    int64_t* header = reinterpret_cast<int64_t*>(base);
    header[0] = l.groups;
    header[1] = l.E;
    header[2] = l.T;
    uint32_t* entry_start = reinterpret_cast<uint32_t*>(base + l.entry_start);
    uint32_t* step_start = reinterpret_cast<uint32_t*>(base + l.step_start);
    uint32_t* entries = reinterpret_cast<uint32_t*>(base + l.entries);
    uint16_t* masks = reinterpret_cast<uint16_t*>(base + l.masks);
    uint8_t* cols = base + l.cols;
    float* vals = reinterpret_cast<float*>(base + l.values);
    uint32_t en = 0, t = 0;
    for (int64_t g = 0; g < l.groups; ++g) {
      entry_start[g] = en;
      step_start[g] = t;
      walk_group(w, g, [&](int32_t seg, int32_t count, const int32_t* p, const int32_t* q) {
        entries[2 * en] = (uint32_t)seg;
        entries[2 * en + 1] = (uint32_t)count;
        ++en;
        for (int32_t s = 0; s < count; ++s, ++t) {
          uint16_t m = 0;
          for (int i = 0; i < G; ++i) {
            const bool on = p[i] + s < q[i];
            m = (uint16_t)(m | (on ? 1u << i : 0u));
            cols[(size_t)t * G + i] = on ? (uint8_t)(w.col_idx[p[i] + s] - seg * S) : 0xFF;
            vals[(size_t)t * G + i] = on ? w.values[p[i] + s] : 0.f;
          }
          masks[t] = m;
        }
      });
    }
    entry_start[l.groups] = en;
  }
};

}  // namespace
}  // namespace mcrt
