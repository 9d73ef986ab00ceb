// Weight storage passes (issue #4 items 4 and 6): how the weights of Conv, Gemm and MatMul
// are stored, without touching activations.
//
//  * KMeans (Deep Compression's weight sharing): per layer, k-means with 2^bits clusters over
//    the weight values (seeded k-means++ or linear initialisation, Lloyd iterations until no
//    assignment changes or `max_iterations`). The IR keeps fp32 weights that hold only the
//    codebook values, so the ONNX output is dense fp32 with shared values (it compresses well
//    with gzip) and the runtime exporter stores each such weight as a Palette (codebook +
//    packed indices, docs/runtime-format.md §4.5), entropy-coded when
//    RuntimeExportOptions::entropy_coding is set.
//  * WeightOnly int8/int4: symmetric quantization per output channel (block_size 0) or per
//    block of block_size elements along the input dimension. The IR gets
//    DequantizeLinear(int8 initializer, scale[, axis]) -> consumer (standard ONNX QDQ that
//    ONNX Runtime runs; int4 values [-7, 7] travel in an int8 container since ONNX 1.12 has no
//    int4). The runtime exporter writes the int8/int4 constant with its Quantization, and the
//    runtime dequantizes it to fp32 at prepare.
//  * Fp16: every selected weight is rounded to the nearest fp16 value (kept as fp32 in the IR,
//    so the ONNX output is fp32 holding fp16-exact values); the caller exports the runtime file
//    with RuntimeExportOptions::fp16_weights, which then stores them losslessly as FLOAT16.
//
// Deterministic: the only randomness is the k-means++ seeding, drawn from std::mt19937_64
// seeded with `seed` and mapped to [0, 1) by our own arithmetic (no std:: distributions), and
// every reduction runs in a fixed order. Same model + options -> bit-identical weights.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace mc {
namespace quant {

enum class WeightStorageMode { WeightOnly, Fp16, KMeans };
enum class KMeansInit { KMeansPlusPlus, Linear };

struct WeightStorageOptions {
  WeightStorageMode mode = WeightStorageMode::KMeans;
  int bits = 8;                 // WeightOnly: 8 or 4. KMeans: 2..8. Ignored by Fp16.
  int block_size = 0;           // WeightOnly: 0 = one scale per output channel; 32, 64 or 128 =
                                // one scale per block of that many elements along the input dim
  KMeansInit init = KMeansInit::KMeansPlusPlus;
  uint64_t seed = 0;            // k-means++ seeding
  int max_iterations = 100;     // Lloyd iterations cap (stops earlier when assignments settle)
  // Layers left alone: a node name, the weight's initializer name, or an op type
  // ("Conv", "Gemm", "MatMul"). Matches are exact.
  std::vector<std::string> exclude;
  // KMeans: layers whose filters have fewer than small_filter_fan_in weights (fan-in: weights per
  // output channel; 9 for a 3x3 depthwise or single-channel 3x3 Conv) are clustered with
  // small_filter_bits instead of `bits` when that is more. 0 bits: every layer gets `bits`.
  // The CLI asks for 6 bits below 16 weights when --bits is 4 or fewer
  // (docs/quantization.md, "k-means and small filters").
  int small_filter_bits = 0;
  int64_t small_filter_fan_in = 16;  // kSmallFilterFanIn (compress/ir/weight_axes.h)
  // Recorded for the caller: entropy coding is a property of the runtime file, so the caller
  // sets RuntimeExportOptions::entropy_coding from it (export/runtime_export.h).
  bool entropy_coding = false;
};

// The small-filter codebook `quantize --mode kmeans --bits B` asks for (0: none): 6 bits when
// B <= 4. On mobile (3x3 depthwise + 1-channel stem) kmeans4 gives 83.36 % top-1 with one 4-bit
// codebook for every layer, 91.38 % with 6 bits for the small filters (fp32 91.84 %), for
// 27,399 instead of 24,796 coded bytes.
inline int kmeans_small_filter_bits(int bits) { return bits <= 4 ? 6 : 0; }

// One row per Conv/Gemm/MatMul node seen.
struct LayerStorageReport {
  std::string name;        // node name
  std::string op;          // op type
  std::string weight;      // initializer name of the weight
  uint64_t elements = 0;   // weight elements
  bool applied = false;    // false: left in fp32, see `reason`
  std::string storage;     // "kmeans4 (16 clusters)", "int8 per-channel", "int4 block 32", "fp16", "fp32"
  double sqnr_db = 0;      // 10·log10(Σw² / Σ(w−ŵ)²) of the stored weight ŵ vs fp32 w (+inf if exact)
  double cosine = 1;       // cosine similarity of ŵ and w
  std::string reason;      // why it was left alone (excluded, weight not constant, shared, ...)
};

struct WeightStorageReport {
  std::vector<LayerStorageReport> layers;
  uint64_t layers_applied = 0;
  std::string summary;     // one line: "kmeans 4 bits: 3 of 3 layers, 266200 weights"
};

// Throws mc::Error(Input) naming the option when the options are inconsistent
// (bits out of range for the mode, block_size not in {0, 32, 64, 128}, block_size with a mode
// other than WeightOnly, max_iterations < 1).
void validate_weight_storage_options(const WeightStorageOptions& opts);

// Rewrites the weights of every Conv/Gemm/MatMul node whose weight (input 1) is an fp32
// initializer read by that node only, unless excluded. Run it on an optimized model
// (optimize_for_runtime / the default optimize pipeline): a layer still followed by a
// BatchNormalization is left alone (folding would rescale the stored weights afterwards). The model stays valid ONNX (for
// WeightOnly new DequantizeLinear nodes and int8/scale initializers are added; the model's
// default-domain opset must be >= 13 for per-channel/blocked scales, else Error(Input)).
// Layers it cannot handle are left in fp32 and named in the report with the reason.
WeightStorageReport apply_weight_storage(Model& model, const WeightStorageOptions& opts);

// ---- building blocks (exposed for tests and for other passes) ----------------------------

struct KMeansResult {
  std::vector<float> centroids;    // sorted ascending, unique, size <= k
  std::vector<uint32_t> assignment;  // per value: index into centroids
  int iterations = 0;
};
// 1-D k-means of `values` into at most k clusters (fewer when there are fewer distinct
// values). Deterministic for a given seed.
KMeansResult kmeans_1d(const std::vector<float>& values, int k, KMeansInit init, uint64_t seed,
                       int max_iterations);

// Packs int4 values (each in [-8, 7]) two per byte, element 2i in the low nibble.
std::vector<uint8_t> pack_int4(const std::vector<int8_t>& v);
// Inverse of pack_int4 for `count` elements (sign-extends each nibble).
std::vector<int8_t> unpack_int4(const std::vector<uint8_t>& packed, uint64_t count);

// SQNR in dB (+inf when identical) and cosine similarity of `approx` vs `ref`.
void weight_error(const float* ref, const float* approx, uint64_t n, double* sqnr_db, double* cosine);

}  // namespace quant
}  // namespace mc
