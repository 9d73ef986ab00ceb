// bench_int8_conv1: the one-input-channel int8 conv (a stem on a grey image) three ways, in one run, on the
// AVX-512 VNNI set: its conv1 kernel (the VBMI gather plan, x86/int8_avx512vbmi_dw.cpp), an im2col of
// tap quads (K = kh*kw taps, 4 per 32-bit word: 12 bytes per column for 3x3) fed to its GEMM, and the
// implicit GEMM on the conv image (4 channels per word, so 3 of 4 bytes are zero with one channel) that
// QLinearConv ran before. Not a test: prints p50 of 300 runs (1 thread) and the ratios. Needs AVX-512 VNNI
// and VBMI (says so and exits 0 otherwise).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/int8/int8_kernels.h"

using namespace mcrt;

namespace {

// 64-byte aligned buffer (the kernels' contract for packed and image buffers).
struct Buf {
  void* p = nullptr;
  explicit Buf(size_t n) {
    if (posix_memalign(&p, 64, n + 64) != 0) p = nullptr;
    if (p) std::memset(p, 0, n + 64);
  }
  ~Buf() { std::free(p); }
  int8_t* i8() const { return static_cast<int8_t*>(p); }
};

double p50(const std::function<void()>& f) {
  std::vector<double> t;
  for (int r = 0; r < 30; ++r) f();  // warm-up
  for (int r = 0; r < 300; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main() {
  if (int8_kernels_avx512vnni() == nullptr) {
    std::printf("bench_int8_conv1: no AVX-512 VNNI on this CPU\n");
    return 0;
  }
  const Int8KernelSet& ks = *int8_kernels_avx512vnni();
  struct G { int M, H, k, p; const char* name; };
  for (G c : {G{16, 28, 3, 1, "mobile/resnet stem"}, G{6, 28, 5, 0, "lenet5 conv1"}}) {
    ConvGeom g{}; g.N=1; g.C=1; g.group=1; g.M=c.M; g.H=g.W=c.H; g.kh=g.kw=c.k; g.sh=g.sw=1; g.dh=g.dw=1; g.pad_t=g.pad_l=g.pad_b=g.pad_r=c.p;
    conv2d_geom_finish(g);
    const int K = c.k * c.k, P = g.OH * g.OW;
    std::vector<int8_t> w((size_t)c.M * K), x((size_t)c.H * c.H), y((size_t)c.M * P);
    for (size_t i = 0; i < w.size(); ++i) w[i] = (int8_t)(i * 37 % 255 - 127);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (int8_t)(i * 91 % 256 - 128);
    std::vector<float> mult(c.M, 0.001f);
    Int8Out o; o.mult = mult.data();
    if (ks.conv1_packed_size(g) == 0) {
      std::printf("%-20s no conv1 kernel here (needs AVX512_VBMI; MCRT_KERNELS=avx512vnni turns it off)\n", c.name);
      continue;
    }
    // (a) conv1 gather plan
    Buf p1(ks.conv1_packed_size(g));
    ks.conv1_pack(g, w.data(), nullptr, p1.p);
    const double a = p50([&] { ks.conv1_run(g, p1.p, x.data(), 3, o, y.data(), nullptr); });
    // (b) im2col of tap quads (K = kh*kw taps, 4 per quad) + gemm_run
    Buf p2(ks.gemm_packed_size(c.M, K)), xp(int8_gemm_x_size(K, P));
    ks.gemm_pack(c.M, K, w.data(), nullptr, p2.p);
    const double b = p50([&] {
      int8_im2col(g, 1, x.data(), 3, xp.i8());
      ks.gemm_run(c.M, P, K, p2.p, xp.i8(), 3, o, y.data(), P, nullptr);
    });
    const double b_gemm = p50([&] { ks.gemm_run(c.M, P, K, p2.p, xp.i8(), 3, o, y.data(), P, nullptr); });
    // (c) implicit GEMM on the image (the previous path)
    const Int8ConvImage im = int8_conv_image_layout(g);
    std::vector<int64_t> qoff((size_t)im.taps * im.Cq);
    int8_conv_qoffsets(g, im, qoff.data());
    const int K2 = im.taps * im.Cq * 4;
    std::vector<int8_t> w2((size_t)c.M * K2);
    int8_conv_reorder_weights(g, w.data(), w2.data());
    Buf p3(ks.gemm_packed_size(c.M, K2)), img(im.bytes);
    ks.gemm_pack(c.M, K2, w2.data(), nullptr, p3.p);
    const double cc = p50([&] {
      int8_conv_image(g, im, x.data(), 3, img.i8());
      ks.conv_run(c.M, g.OH, g.OW, K2, p3.p, img.i8(), im.row_step, qoff.data(), 3, o, y.data(), nullptr);
    });
    std::printf("%-20s conv1 gather %.2f us | im2col tap quads + gemm %.2f us (gemm alone %.2f) | implicit gemm %.2f us"
                " | gather/im2col %.2f, gather/implicit %.2f\n",
                c.name, a, b, b_gemm, cc, a / b, a / cc);
  }
}
