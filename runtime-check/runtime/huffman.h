// Canonical Huffman coding over bytes: the HUFFMAN codec of entropy-coded weight buffers
// (docs/runtime-format.md §3.1). The writer side encodes, the loader decodes once at load.
//
// Coded layout:
//   bytes [0, 128)  code lengths of the 256 byte values, two per byte: value 2i in the low
//                   nibble, 2i+1 in the high nibble; 0 = value absent, else 1..15 bits
//   bytes [128, n)  the codes of the raw_size symbols, packed MSB first (bit 7 of a byte is
//                   the first bit); trailing padding bits of the last byte are 0
// Codes are canonical (DEFLATE's rule): shorter codes first, equal lengths by byte value.
// The lengths must form a complete prefix code (Kraft sum exactly 1), except when one value
// is present: then its length is 1 (code "0"). The coded size is exactly
// 128 + ceil(total code bits / 8). Anything else is rejected by the decoder, so a file can
// neither read past its buffer nor leave bytes unread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcrt {

constexpr size_t kHuffmanTableBytes = 128;
constexpr int kHuffmanMaxBits = 15;

// Encodes n >= 1 bytes. Deterministic (ties broken by byte value).
std::vector<uint8_t> huffman_encode(const uint8_t* data, size_t n);

// Every symbol takes at least one bit: the largest raw_size a coded buffer of `coded_size`
// bytes can hold (0 when coded_size <= the table). Bounds allocations before decoding.
inline uint64_t huffman_max_raw_size(uint64_t coded_size) {
  return coded_size <= kHuffmanTableBytes ? 0 : (coded_size - kHuffmanTableBytes) * 8;
}

// Decodes exactly raw_size bytes into out. Returns nullptr on success, or a static message
// naming the first violation of the layout above.
const char* huffman_decode(const uint8_t* coded, uint64_t coded_size, uint8_t* out, uint64_t raw_size);

}  // namespace mcrt
