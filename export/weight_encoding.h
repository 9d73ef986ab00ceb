// How the runtime exporter encodes weight bytes (docs/runtime-format.md §4.3, §4.4, §4.5):
// the sizes on disk of the dense and sparse forms, the palette form of a weight with few
// distinct values, and weight-only quantized constants (entropy coding is the writer's coded
// body, §2.1). export/runtime_export.cpp picks the form; this file holds the encodings and
// their size rules, once.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "format/writer.h"

namespace mc {

// A buffer of b bytes occupies r64(b) bytes of the 64-byte aligned weights blob.
inline uint64_t r64(uint64_t b) { return (b + 63) / 64 * 64; }

// Bytes on disk of the three §4.4 forms of `count` elements of `esz` bytes, rows = dims[0]
// (0 = no CSR). An element is stored when any of its bytes is non-zero.
struct PlainSizes {
  uint64_t nnz = 0;
  uint64_t dense = 0;
  uint64_t bitmask = 0;
  uint64_t csr = UINT64_MAX;  // UINT64_MAX when CSR cannot hold it
};
PlainSizes plain_sizes(const uint8_t* data, size_t esz, uint64_t count, uint64_t rows);

// §4.5 palette of an fp32 weight: the distinct bit patterns (at most 256) sorted ascending
// by bit pattern as codebook, indices packed with the smallest of 1, 2, 4, 8 bits that fits.
// Lossless (bit patterns, so -0.0 and NaN are kept). False when > 256 distinct values.
struct PaletteEncoding {
  int bits = 0;
  std::vector<float> codebook;
  std::vector<uint8_t> packed;
  uint64_t disk_bytes = 0;  // r64(codebook) + r64(packed)
};
bool palette_encoding(const float* w, uint64_t count, PaletteEncoding* out);

// §4.3 weight-only storage: a constant int8/uint8 initializer behind DequantizeLinear, written
// as one quantized constant (dequantized to fp32 by the runtime at prepare) in place of the
// nodes that compute it. Two forms are recognised (quantize/weight_storage writes both):
//  * per tensor / per axis: DequantizeLinear(x const, scale const[, zero_point const]);
//  * blocks (ONNX <= 17 has no block_size): DequantizeLinear(xb const int8, 1.0) with xb =
//    x padded to a multiple of B along `axis` and split there into [nb, B]; Mul(·, S const)
//    with S of xb's shape but 1 at the B dim; Reshape back (const shape); Slice(0, dim) along
//    `axis` when padded. The scales are S (times the DQ scale), one per block.
// A chain is taken only when its output is not a graph output, each intermediate has one
// reader, and no reader of the output also reads a DequantizeLinear of a computed value (that
// is static QDQ, left to the int8 lowering).
struct QuantizedWeight {
  std::string output;          // the value the chain produces
  std::vector<size_t> nodes;   // indices into Graph::nodes of the chain (not exported)
  std::vector<int64_t> dims;   // shape of `output`
  bool is_signed = true;       // int8 (else uint8)
  std::vector<uint8_t> values; // numel element bytes, row-major
  std::vector<float> scale;
  std::vector<int64_t> zero_point;  // empty = all 0
  int axis = 0;
  int block_size = 0;
};
std::vector<QuantizedWeight> find_quantized_weights(const Graph& g);

// Writes `q` as a constant: INT4 when it is signed, every value and zero point is in [-8, 7]
// (lossless), else INT8/UINT8; with its Quantization. Returns the tensor index; adds the bytes
// written to *bytes.
int add_quantized_weight(mcrt::ModelWriter& w, const std::string& name, const QuantizedWeight& q, uint64_t* bytes);

}  // namespace mc
