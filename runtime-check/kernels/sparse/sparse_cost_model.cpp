// The density thresholds of sparse_cost_model.h, one row per sparse kernel set (paired with the dense
// set prepare uses alongside it). Break-even densities measured with bench_sparse on an AMD EPYC
// (AVX-512), single thread, FC 1024x1024 and 1x1 Conv 256->256 at 14x14 and 128->128 at 4x4:
//   avx512 vs fc_avx512:  fc M=1 > 0.50 (1.30x at 0.50) | fc M=8 0.25 | pw P=196 0.30 | pw P=16 0.20
//   avx2 vs fc_avx2:      fc M=1 ~0.21 (1.05x at 0.20, 0.91x at 0.25) | fc M=8 > 0.50 (1.07x at 0.50)
//                         | pw P=196 ~0.37 | pw P=16 ~0.22
//   reference:            the dense reference is a naive loop; sparse wins at every density measured.
//   neon:                 not measured on hardware (qemu only). Its small-batch path fills lanes from x
//                         one by one (no gathers, no sliced ELL yet), so it gets a low 0.07 there, and
//                         the AVX-512 values otherwise (blocks and pointwise tiles are the same algorithm).
#include "sparse_cost_model.h"

#include <cstring>

namespace mcrt {
namespace {

struct Thresholds {
  const char* set;
  double fc_small_batch;  // M < 8
  double fc_blocks;       // M >= 8
  double pw_small;        // P < 64
  double pw_large;        // P >= 64
};

constexpr Thresholds kTable[] = {
    {"avx512", 0.50, 0.20, 0.18, 0.25},
    {"avx2", 0.18, 0.45, 0.18, 0.33},
    {"neon", 0.07, 0.20, 0.18, 0.25},
    {"reference", 0.50, 0.50, 0.50, 0.50},
};

const Thresholds& row(const char* set_name) {
  for (const Thresholds& t : kTable)
    if (std::strcmp(t.set, set_name) == 0) return t;
  return kTable[2];  // an unknown set gets the neon row (the lowest small-batch threshold)
}

// int8: break-even densities measured with bench_sparse_int8 (31 runs, single thread, AMD EPYC) of the int8
// sparse set (avx2 on x86) against each dense int8 set, then lowered a little. dense/sparse at density d:
//   avx512vnni: fc M=1 0.43x at d=0.05 (never) | fc M=8 0.97x at 0.10, 1.36x at 0.05 | pw P=196 0.82x at
//               0.10, 1.42x at 0.05 | pw P=16 0.82x at 0.20, 1.27x at 0.10
//   avx2:       fc M=1 0.67x at 0.50, 1.12x at 0.30 | fc M=8 0.84x at 0.20, 1.32x at 0.10 | pw P=196 0.95x at
//               0.30, 1.37x at 0.20 | pw P=16 0.85x at 0.50, 1.31x at 0.30
//   reference:  sparse reference faster at every density measured (3.1x-61x at 0.05-0.50).
//   neon, neon_dotprod: not measured on hardware (qemu only); neon gets the avx2 row and neon_dotprod the
//               avx512vnni row (a dot-product dense kernel, like VNNI).
constexpr Thresholds kInt8Table[] = {
    {"avx512vnni", 0.0, 0.07, 0.14, 0.07},
    {"avx2", 0.30, 0.14, 0.38, 0.25},
    {"neon", 0.30, 0.14, 0.38, 0.25},
    {"neon_dotprod", 0.0, 0.07, 0.14, 0.07},
    {"reference", 0.50, 0.50, 0.50, 0.50},
};

const Thresholds& int8_row(const char* dense_set) {
  for (const Thresholds& t : kInt8Table)
    if (std::strcmp(t.set, dense_set) == 0) return t;
  return kInt8Table[0];  // an unknown dense set gets the lowest thresholds
}

}  // namespace

double sparse_int8_fc_max_density(const char* dense_int8_set, int M, int, int) {
  const Thresholds& t = int8_row(dense_int8_set);
  return M < 8 ? t.fc_small_batch : t.fc_blocks;
}

double sparse_int8_pointwise_max_density(const char* dense_int8_set, int P, int, int) {
  const Thresholds& t = int8_row(dense_int8_set);
  return P < 64 ? t.pw_small : t.pw_large;
}

double sparse_fc_max_density(const char* set_name, int M, int, int) {
  const Thresholds& t = row(set_name);
  return M < 8 ? t.fc_small_batch : t.fc_blocks;
}

double sparse_pointwise_max_density(const char* set_name, int P, int, int) {
  const Thresholds& t = row(set_name);
  return P < 64 ? t.pw_small : t.pw_large;
}

}  // namespace mcrt
