// Writes a small CNN classifier (.mcrt) for the mcrun smoke test:
// Conv(3x3, 4) + Relu -> MaxPool 2x2 -> GlobalAveragePool -> Flatten -> Gemm(10) -> Softmax.
#include <cstdio>
#include <cstring>
#include <random>

#include "npy/npy.h"
#include "format/writer.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: %s OUT.mcrt [INPUT.npy BAD_SHAPE_INPUT.npy]\n", argv[0]);
    return 2;
  }
  using mcrt::Attribute;
  using mcrt::DType;
  namespace fb = mcrt::fb;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (float& f : v) f = u(rng);
    return v;
  };
  mcrt::ModelWriter w;
  const int x = w.add_tensor("image", DType::kF32, {-1, 1, 12, 12});
  const int k = w.add_weight_f32("conv.w", {4, 1, 3, 3}, rnd(36));
  const int b = w.add_weight_f32("conv.b", {4}, rnd(4));
  const int c = w.add_tensor("conv", DType::kF32, {-1, 4, 12, 12});
  w.add_node(fb::OpType_Conv, {x, k, b}, {c}, {Attribute::Ints(fb::AttrKey_pads, {1, 1, 1, 1})}, "conv");
  const int r = w.add_tensor("relu", DType::kF32, {-1, 4, 12, 12});
  w.add_node(fb::OpType_Relu, {c}, {r}, {}, "relu");
  const int p = w.add_tensor("pool", DType::kF32, {-1, 4, 6, 6});
  w.add_node(fb::OpType_MaxPool, {r}, {p},
             {Attribute::Ints(fb::AttrKey_kernel_shape, {2, 2}), Attribute::Ints(fb::AttrKey_strides, {2, 2})}, "pool");
  const int g = w.add_tensor("gap", DType::kF32, {-1, 4, 1, 1});
  w.add_node(fb::OpType_GlobalAveragePool, {p}, {g}, {}, "gap");
  const int f = w.add_tensor("flat", DType::kF32, {-1, 4});
  w.add_node(fb::OpType_Flatten, {g}, {f}, {}, "flatten");
  const int fw = w.add_weight_f32("fc.w", {10, 4}, rnd(40));
  const int fbias = w.add_weight_f32("fc.b", {10}, rnd(10));
  const int logits = w.add_tensor("logits", DType::kF32, {-1, 10});
  w.add_node(fb::OpType_Gemm, {f, fw, fbias}, {logits}, {Attribute::Int(fb::AttrKey_transB, 1)}, "fc");
  const int prob = w.add_tensor("prob", DType::kF32, {-1, 10});
  w.add_node(fb::OpType_Softmax, {logits}, {prob}, {Attribute::Int(fb::AttrKey_axis, -1)}, "softmax");
  w.set_inputs({x});
  w.set_outputs({prob});
  mcrt::Status s = w.write_file(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  if (argc == 4) {  // an input image for batch 2, and one of the wrong shape
    mcrt::NpyArray a;
    a.dtype = mcrt::NpyDtype::kF32;
    a.shape = {2, 1, 12, 12};
    std::vector<float> v = rnd(2 * 144);
    a.bytes.resize(v.size() * 4);
    std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    mcrt::NpyStatus ns = mcrt::npy_write_file(argv[2], a);
    a.shape = {2, 1, 144};
    if (ns.ok()) ns = mcrt::npy_write_file(argv[3], a);
    if (!ns.ok()) {
      std::fprintf(stderr, "%s\n", ns.message().c_str());
      return 1;
    }
  }
  return 0;
}
