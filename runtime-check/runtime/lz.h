// LZ77 byte format of the LZ_HUFFMAN segments of a coded body (docs/runtime-format.md §2.1).
// The LZ stage finds repeats (names, FlatBuffers vtables, runs of equal bytes); the Huffman
// stage (huffman.h) then codes its output bytes. std-only.
//
// A stream is a sequence of "sequences", each:
//   token       1 byte: high nibble L = literal count, low nibble M = match length - 4
//   [L ext]     when L == 15: bytes b added to L while b == 255, then the last one (< 255) added
//   literals    L bytes, copied to the output
//   -- the stream may end here (then M must be 0); otherwise:
//   offset      2 bytes little-endian, 1..65535: the match starts `offset` bytes back
//   [M ext]     when M == 15: as for L
//   match       M + 4 bytes copied from `offset` back, byte by byte (may overlap its own output)
// Every input byte yields at most 255 output bytes (an extension byte adds 255), so a stream of
// n bytes decodes to at most 255·n bytes: the bound the loader checks before allocating.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcrt {

constexpr uint64_t kLzMaxExpansion = 255;

// Deterministic greedy encoder (hash chains over 4-byte prefixes, window 65535).
std::vector<uint8_t> lz_encode(const uint8_t* data, size_t n);

// Decodes `in` (n bytes) into exactly raw_size bytes at out. Returns nullptr on success, or a
// static message naming the first violation: a read past the input, a zero offset or one
// reaching before the output start, output beyond raw_size, fewer than raw_size bytes, or a
// final sequence that announces a match. out == nullptr: the same checks and verdict without
// writing anything, in time linear in n (not in raw_size): the loader proves a stream this way
// before it allocates the output.
const char* lz_decode(const uint8_t* in, uint64_t n, uint8_t* out, uint64_t raw_size);

}  // namespace mcrt
