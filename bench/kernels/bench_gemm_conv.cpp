// Microbenchmark of the runtime's fp32 kernels (not a test): SGEMM at square sizes and the conv / fc
// layers of the bundled Fashion-MNIST models, single thread, best-of-N per-thread CPU time.
// Prints GFLOP/s and the fraction of single-core peak = FLOP/cycle peak x measured clock, where the
// clock comes from a calibrated chain of dependent integer adds (1 cycle each), with /proc/cpuinfo
// "cpu MHz" printed alongside.
//   usage: bench_kernels [reference|avx2|avx512|neon]   (default: kernels_best())
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"

namespace {

// All timings use this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time: the machine is
// shared, and time spent descheduled is not the kernel's. Best-of-N filters the rest of the noise.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
};

double seconds_since(double t0) { return Clock::now() - t0; }

// Cycles per second from a chain of dependent adds: each add waits for the previous one (1 cycle).
double measure_clock_hz() {
  double best = 0.0;
  for (int rep = 0; rep < 20; ++rep) {
    uint64_t x = 0;
    const long iters = 200000;
    const auto t0 = Clock::now();
    for (long i = 0; i < iters; ++i) {
#if defined(__x86_64__)
      asm volatile(
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          : "+r"(x));
#elif defined(__aarch64__)
      asm volatile(
          "add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\t"
          "add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\t"
          "add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\t"
          "add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\t"
          : "+r"(x));
#else
      x += i;
#endif
    }
    const double t = seconds_since(t0);
    best = std::max(best, 20.0 * iters / t);
    if (x == 1) std::puts("");  // keep x alive
  }
  return best;
}

double cpuinfo_mhz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::atof(line.substr(line.find(':') + 1).c_str());
  return 0.0;
}

struct Aligned {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> p;
  explicit Aligned(size_t bytes) : p(bytes ? std::aligned_alloc(64, (bytes + 63) & ~size_t(63)) : nullptr) {
    if (bytes) std::memset(p.get(), 0, (bytes + 63) & ~size_t(63));
  }
  void* get() const { return p.get(); }
};

std::vector<float> rnd(size_t n, uint32_t seed) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(r);
  return v;
}

// Best time of `reps` runs after a warm-up, repeating f enough times to last >= ~20 ms per sample.
template <class F>
double best_seconds(F&& f, int reps = 7) {
  f();
  int inner = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    if (seconds_since(t0) > 0.02 || inner > (1 << 20)) break;
    inner *= 2;
  }
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    best = std::min(best, seconds_since(t0) / inner);
  }
  return best;
}

// A minimal persistent pool for the ParallelFor hook (benchmark only): workers and the caller take
// chunks of one item from a shared counter.
class BenchPool {
 public:
  explicit BenchPool(int threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { loop(); });
  }
  ~BenchPool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  mcrt::ParallelFor hook() { return {&BenchPool::run, this}; }

 private:
  static void run(void* pool, int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t)) {
    BenchPool* p = static_cast<BenchPool*>(pool);
    {
      std::lock_guard<std::mutex> l(p->m_);
      p->n_ = n;
      p->ctx_ = ctx;
      p->body_ = body;
      p->next_ = 0;
      p->busy_ = int(p->workers_.size());
      ++p->gen_;
    }
    p->cv_.notify_all();
    p->work();
    std::unique_lock<std::mutex> l(p->m_);
    p->done_.wait(l, [p] { return p->busy_ == 0; });
  }
  void work() {
    for (int64_t i; (i = next_.fetch_add(1)) < n_;) body_(ctx_, i, i + 1);
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return stop_ || gen_ != seen; });
        if (stop_) return;
        seen = gen_;
      }
      work();
      std::lock_guard<std::mutex> l(m_);
      if (--busy_ == 0) done_.notify_all();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, done_;
  bool stop_ = false;
  uint64_t gen_ = 0;
  int busy_ = 0;
  int64_t n_ = 0;
  void* ctx_ = nullptr;
  void (*body_)(void*, int64_t, int64_t) = nullptr;
  std::atomic<int64_t> next_{0};
};

// Best wall time of `reps` runs (for multi-threaded runs, where per-thread CPU time does not apply).
template <class F>
double best_wall_seconds(F&& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}


}  // namespace

int main(int argc, char** argv) {
  const mcrt::KernelSet* ks = &mcrt::kernels_best();
  if (argc > 1) {
    if (!std::strcmp(argv[1], "reference")) ks = &mcrt::kernels_reference();
    else if (!std::strcmp(argv[1], "avx2")) ks = mcrt::kernels_avx2();
    else if (!std::strcmp(argv[1], "avx512")) ks = mcrt::kernels_avx512();
    else if (!std::strcmp(argv[1], "neon")) ks = mcrt::kernels_neon();
    if (ks == nullptr) {
      std::fprintf(stderr, "kernel set %s not available here\n", argv[1]);
      return 2;
    }
  }
#if defined(__aarch64__)
  const double flop_per_cycle = 8.0;  // 1 x 128-bit FMA pipe assumed; emulated timings mean nothing
#else
  // 2 FMA units x 8 fp32 lanes x 2 (AVX2); the AVX-512 set is held to 2 x 16 lanes x 2.
  const double flop_per_cycle = std::strcmp(ks->name, "avx512") == 0 ? 64.0 : 32.0;
#endif
  const double hz = measure_clock_hz();
  const double peak = flop_per_cycle * hz;
  std::printf("kernel set: %s, single thread\n", ks->name);
  std::printf("clock: %.0f MHz, measured by a calibrated dependent-add loop (1 add/cycle, best of 20);\n"
              "       /proc/cpuinfo \"cpu MHz\" says %.0f (nominal; the core boosts above it)\n",
              hz / 1e6, cpuinfo_mhz());
  std::printf("single-core peak: %.0f FLOP/cycle x measured clock = %.1f GFLOP/s\n", flop_per_cycle, peak / 1e9);
  std::printf("times: best of N, per-thread CPU time\n\n");

  std::printf("SGEMM C = A*B (row-major, no transposes, alpha 1, beta 0)\n");
  std::printf("%6s %10s %10s %8s   %s\n", "size", "time_ms", "GFLOP/s", "%peak",
              "2 threads: GFLOP/s (wall time, machine shared: indicative only)");
  BenchPool pool2(2);
  const mcrt::ParallelFor pf2 = pool2.hook();
  for (int n : {64, 128, 256, 384, 512, 768, 1024}) {
    const auto A = rnd(size_t(n) * n, 1), B = rnd(size_t(n) * n, 2);
    std::vector<float> C(size_t(n) * n);
    Aligned scratch(ks->sgemm_scratch_size(n, n, n));
    const double t = best_seconds(
        [&] { ks->sgemm(n, n, n, 1.0f, A.data(), n, false, B.data(), n, false, 0.0f, C.data(), n, scratch.get(), nullptr); },
        n >= 768 ? 3 : 7);
    const double gf = 2.0 * n * n * n / t / 1e9;
    const double t2 = best_wall_seconds(
        [&] { ks->sgemm(n, n, n, 1.0f, A.data(), n, false, B.data(), n, false, 0.0f, C.data(), n, scratch.get(), &pf2); },
        n >= 768 ? 3 : 7);
    std::printf("%6d %10.3f %10.2f %7.1f%%   %10.2f\n", n, t * 1e3, gf, 100.0 * gf * 1e9 / peak, 2.0 * n * n * n / t2 / 1e9);
  }

  auto G = [](int C, int H, int W, int M, int k, int s, int pad, int group) {
    mcrt::ConvGeom g{1, C, H, W, M, k, k, s, s, 1, 1, pad, pad, pad, pad, group, 0, 0};
    mcrt::conv2d_geom_finish(g);
    return g;
  };
  // The conv and fc layers of examples/fashion-mnist/{lenet5,mobile,mlp,resnet}.onnx (BatchNorm folded).
  struct Layer {
    const char* model;
    const char* name;
    bool conv;
    mcrt::ConvGeom g;  // conv
    int K, N;          // fc
  };
  auto C = [&](const char* m, const char* n, mcrt::ConvGeom g) { return Layer{m, n, true, g, 0, 0}; };
  auto F = [&](const char* m, const char* n, int K, int N) { return Layer{m, n, false, {}, K, N}; };
  const Layer layers[] = {
      C("lenet5", "conv1 5x5", G(1, 28, 28, 6, 5, 1, 2, 1)),     C("lenet5", "conv2 5x5", G(6, 14, 14, 16, 5, 1, 0, 1)),
      F("lenet5", "fc 400-120", 400, 120),                       F("lenet5", "fc 120-84", 120, 84),
      F("lenet5", "fc 84-10", 84, 10),
      C("mobile", "stem 3x3", G(1, 28, 28, 16, 3, 1, 1, 1)),      C("mobile", "dw s2", G(16, 28, 28, 16, 3, 2, 1, 16)),
      C("mobile", "pw 16-32", G(16, 14, 14, 32, 1, 1, 0, 1)),     C("mobile", "dw s1", G(32, 14, 14, 32, 3, 1, 1, 32)),
      C("mobile", "pw 32-32", G(32, 14, 14, 32, 1, 1, 0, 1)),     C("mobile", "dw s2", G(32, 14, 14, 32, 3, 2, 1, 32)),
      C("mobile", "pw 32-64", G(32, 7, 7, 64, 1, 1, 0, 1)),       C("mobile", "dw s1", G(64, 7, 7, 64, 3, 1, 1, 64)),
      C("mobile", "pw 64-64", G(64, 7, 7, 64, 1, 1, 0, 1)),       C("mobile", "dw s2", G(64, 7, 7, 64, 3, 2, 1, 64)),
      C("mobile", "pw 64-128", G(64, 4, 4, 128, 1, 1, 0, 1)),     C("mobile", "dw s1", G(128, 4, 4, 128, 3, 1, 1, 128)),
      C("mobile", "pw 128-128", G(128, 4, 4, 128, 1, 1, 0, 1)),   F("mobile", "fc 128-10", 128, 10),
      F("mlp", "fc 784-300", 784, 300),                          F("mlp", "fc 300-100", 300, 100),
      F("mlp", "fc 100-10", 100, 10),
      C("resnet", "stem 3x3", G(1, 28, 28, 16, 3, 1, 1, 1)),     C("resnet", "3x3 16", G(16, 28, 28, 16, 3, 1, 1, 1)),
      C("resnet", "3x3 16", G(16, 28, 28, 16, 3, 1, 1, 1)),      C("resnet", "3x3 s2 16-32", G(16, 28, 28, 32, 3, 2, 1, 1)),
      C("resnet", "1x1 s2 16-32", G(16, 28, 28, 32, 1, 2, 0, 1)), C("resnet", "3x3 32", G(32, 14, 14, 32, 3, 1, 1, 1)),
      C("resnet", "3x3 s2 32-64", G(32, 14, 14, 64, 3, 2, 1, 1)), C("resnet", "1x1 s2 32-64", G(32, 14, 14, 64, 1, 2, 0, 1)),
      C("resnet", "3x3 64", G(64, 7, 7, 64, 3, 1, 1, 1)),        F("resnet", "fc 64-10", 64, 10),
  };
  std::printf("\nconv2d and fc layers of examples/fashion-mnist/*.onnx at batch 1, bias + Relu fused\n");
  std::printf("%-8s %-13s %-28s %9s %9s %8s\n", "model", "layer", "shape", "time_us", "GFLOP/s", "%peak");
  const char* model = layers[0].model;
  double model_total = 0.0;
  auto flush_model = [&] {
    std::printf("%-8s %-13s %-28s %9.2f   (sum of its conv/fc kernels)\n\n", model, "TOTAL", "", model_total * 1e6);
  };
  for (const Layer& L : layers) {
    if (std::strcmp(L.model, model) != 0) {
      flush_model();
      model = L.model;
      model_total = 0.0;
    }
    double t = 0.0, flop = 0.0;
    char shape[64];
    if (L.conv) {
      const mcrt::ConvGeom& g = L.g;
      const auto x = rnd(size_t(g.C) * g.H * g.W, 3), w = rnd(size_t(g.M) * (g.C / g.group) * g.kh * g.kw, 4),
                 b = rnd(size_t(g.M), 5);
      std::vector<float> y(size_t(g.M) * g.OH * g.OW);
      Aligned packed(ks->conv2d_packed_size(g)), scratch(ks->conv2d_scratch_size(g));
      ks->conv2d_pack(g, w.data(), packed.get());
      mcrt::Epilogue ep;
      ep.bias = b.data();
      ep.lo = 0.0f;
      t = best_seconds([&] { ks->conv2d_run(g, packed.get(), ep, x.data(), y.data(), scratch.get(), nullptr); });
      flop = 2.0 * g.M * g.OH * g.OW * (g.C / g.group) * g.kh * g.kw;
      std::snprintf(shape, sizeof shape, "%d,%dx%d->%d,%dx%d k%d s%d g%d", g.C, g.H, g.W, g.M, g.OH, g.OW, g.kh, g.sh,
                    g.group);
    } else {
      const auto x = rnd(size_t(L.K), 6), w = rnd(size_t(L.K) * L.N, 7), b = rnd(size_t(L.N), 8);
      std::vector<float> y(size_t(L.N));
      Aligned packed(ks->fc_packed_size(L.K, L.N));
      ks->fc_pack(L.K, L.N, w.data(), true, packed.get());
      mcrt::Epilogue ep;
      ep.bias = b.data();
      ep.lo = 0.0f;
      t = best_seconds([&] { ks->fc_run(1, L.N, L.K, x.data(), L.K, packed.get(), ep, y.data(), L.N, nullptr); });
      flop = 2.0 * L.K * L.N;
      std::snprintf(shape, sizeof shape, "M1 K%d N%d", L.K, L.N);
    }
    model_total += t;
    std::printf("%-8s %-13s %-28s %9.2f %9.2f %7.1f%%\n", L.model, L.name, shape, t * 1e6, flop / t / 1e9,
                100.0 * flop / t / peak);
  }
  flush_model();

  std::printf("fully connected at batch 32 (MLP layers)\n");
  std::printf("%-6s %-6s %-6s %9s %9s %8s\n", "M", "K", "N", "time_us", "GFLOP/s", "%peak");
  const int fcs[][3] = {{32, 784, 300}, {32, 300, 100}, {32, 100, 10}};
  for (const auto& f : fcs) {
    const int M = f[0], K = f[1], N = f[2];
    const auto x = rnd(size_t(M) * K, 6), w = rnd(size_t(K) * N, 7), b = rnd(size_t(N), 8);
    std::vector<float> y(size_t(M) * N);
    Aligned packed(ks->fc_packed_size(K, N));
    ks->fc_pack(K, N, w.data(), true, packed.get());
    mcrt::Epilogue ep;
    ep.bias = b.data();
    ep.lo = 0.0f;
    const double t = best_seconds([&] { ks->fc_run(M, N, K, x.data(), K, packed.get(), ep, y.data(), N, nullptr); });
    const double flop = 2.0 * M * N * K;
    std::printf("%-6d %-6d %-6d %9.2f %9.2f %7.1f%%\n", M, K, N, t * 1e6, flop / t / 1e9, 100.0 * flop / t / peak);
  }
  return 0;
}
