// Shared support for the kernel diff tests: aligned buffers, seeded random data, the list of
// optimised kernel sets available on this CPU, a thread pool for ParallelFor, and the tolerance check
//   |y - ref| <= rel * mag + abs,
// where mag is the same computation on absolute values (sum of |products|, plus |bias|).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels.h"

namespace mcrt_test {

// 64-byte aligned float buffer (the kernels' contract for packed and scratch buffers).
struct Buffer {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> mem;
  size_t bytes = 0;
  explicit Buffer(size_t b = 0) : bytes(b) {
    if (b > 0) {
      mem.reset(std::aligned_alloc(64, (b + 63) & ~size_t(63)));
      std::memset(mem.get(), 0xA5, (b + 63) & ~size_t(63));  // garbage, not zeros
    }
  }
  void* get() const { return mem.get(); }
  float* f() const { return static_cast<float*>(mem.get()); }
};

inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<float> abs_vec(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(v[i]);
  return r;
}

// Every non-reference kernel set this build and CPU provide.
inline std::vector<const mcrt::KernelSet*> optimised_sets() {
  std::vector<const mcrt::KernelSet*> s;
  if (const mcrt::KernelSet* k = mcrt::kernels_avx2()) s.push_back(k);
  if (const mcrt::KernelSet* k = mcrt::kernels_avx512()) s.push_back(k);
  if (const mcrt::KernelSet* k = mcrt::kernels_neon()) s.push_back(k);
  return s;
}

// Index of the first element that violates the tolerance, or -1.
inline int64_t first_mismatch(const float* y, const float* ref, const float* mag, size_t n, double rel = 1e-5,
                              double abs_tol = 1e-6) {
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(y[i]) - double(ref[i]));
    if (!(d <= rel * double(mag[i]) + abs_tol)) return int64_t(i);
  }
  return -1;
}

// A real thread pool for ParallelFor: `threads` workers take chunks of `chunk` items in turn.
struct TestPool {
  int threads = 3;
  int64_t chunk = 1;
  static void run(void* pool, int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t)) {
    const TestPool* p = static_cast<const TestPool*>(pool);
    std::atomic<int64_t> next{0};
    auto worker = [&] {
      for (;;) {
        const int64_t b = next.fetch_add(p->chunk);
        if (b >= n) return;
        body(ctx, b, std::min(n, b + p->chunk));
      }
    };
    std::vector<std::thread> ts;
    for (int t = 1; t < p->threads; ++t) ts.emplace_back(worker);
    worker();
    for (auto& t : ts) t.join();
  }
  mcrt::ParallelFor hook() { return mcrt::ParallelFor{&TestPool::run, this}; }
};

inline std::string geom_str(const mcrt::ConvGeom& g) {
  char b[256];
  std::snprintf(b, sizeof b, "N%d C%d H%d W%d M%d k%dx%d s%dx%d d%dx%d pad%d,%d,%d,%d g%d -> %dx%d", g.N, g.C, g.H,
                g.W, g.M, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pad_t, g.pad_l, g.pad_b, g.pad_r, g.group, g.OH, g.OW);
  return b;
}

// A ConvGeom with OH, OW filled in.
inline mcrt::ConvGeom conv_geom(int N, int C, int H, int W, int M, int kh, int kw, int sh, int sw, int dh, int dw,
                                int pt, int pl, int pb, int pr, int group) {
  mcrt::ConvGeom g{N, C, H, W, M, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group, 0, 0};
  mcrt::conv2d_geom_finish(g);
  return g;
}

// Packs w and runs one convolution with `ks`; scratch starts filled with `scratch_fill` bytes
// (garbage that must not reach the output). y starts as NaN.
inline std::vector<float> run_conv(const mcrt::KernelSet& ks, const mcrt::ConvGeom& g, const std::vector<float>& x,
                                   const std::vector<float>& w, const mcrt::Epilogue& ep, const mcrt::ParallelFor* pf,
                                   int scratch_fill = 0xA5) {
  Buffer packed(ks.conv2d_packed_size(g)), scratch(ks.conv2d_scratch_size(g));
  if (scratch.bytes > 0) std::memset(scratch.get(), scratch_fill, (scratch.bytes + 63) & ~size_t(63));
  ks.conv2d_pack(g, w.data(), packed.get());
  std::vector<float> y(size_t(g.N) * g.M * g.OH * g.OW, std::nanf(""));
  ks.conv2d_run(g, packed.get(), ep, x.data(), y.data(), scratch.get(), pf);
  return y;
}

}  // namespace mcrt_test
