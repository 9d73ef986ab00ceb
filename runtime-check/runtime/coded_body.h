// Coded body of an .mcrt file (docs/runtime-format.md §2.1): everything after the 64-byte
// header -- the graph section and the weights blob, padding included -- stored as a few
// entropy-coded segments. The loader decodes them once into one 64-byte aligned image that is
// byte for byte the uncoded file, and verifies that image exactly as an uncoded file.
//
// Layout at file offset 64 (little-endian):
//   u32 segment count (1..kMaxBodySegments), u32 reserved (0)
//   per segment, 24 bytes: u8 codec, u8 width, 6 bytes reserved (0), u64 raw_size, u64 coded_size
//   the coded bytes of segment 0, 1, ... back to back, ending exactly at the end of the file
// Segment k decodes to the next raw_size bytes of the image after the header; the raw sizes sum
// to the image size minus 64. codec: 0 STORED (the bytes as they are), 1 HUFFMAN (huffman.h),
// 2 LZ_HUFFMAN (u64 lz_size, then the HUFFMAN coding of the lz_size bytes of an LZ stream,
// lz.h). width w in {1, 2, 4, 8}: w > 1 means the raw bytes were split into w byte planes
// before coding (plane j = byte j of every w-byte element; raw_size % w == 0), which the
// decoder undoes.
// Every size is bounded before anything is allocated: STORED raw == coded; HUFFMAN
// raw <= 8·(coded - 128); LZ_HUFFMAN lz_size <= 8·(coded - 136) and raw <= 255·lz_size. The
// image itself is allocated only once the coded data has proven it (prove_coded_body), and
// the loader bounds it by LoadLimits::max_decode_ratio times the file size first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/status.h"

namespace mcrt {

enum class BodyCodec : uint8_t { kStored = 0, kHuffman = 1, kLzHuffman = 2 };

constexpr uint32_t kMaxBodySegments = 4096;
constexpr uint64_t kBodyTableHead = 8;
constexpr uint64_t kBodySegmentEntry = 24;

struct BodySegment {
  BodyCodec codec = BodyCodec::kStored;
  uint8_t width = 1;
  uint64_t raw_size = 0;
  uint64_t coded_size = 0;
};

// What the writer asks for: consecutive ranges of the image after the header, each with the
// element width of its bytes (1 = no byte-plane split is tried).
struct BodySegmentPlan {
  uint64_t raw_size = 0;
  uint8_t width = 1;
};

// Codes image[0, Σ plan.raw_size) (the bytes after the header). Each segment gets the smallest
// of STORED, HUFFMAN and LZ_HUFFMAN, each without and (width > 1) with the byte-plane split;
// ties keep the earlier candidate in that order. Deterministic.
std::vector<uint8_t> encode_coded_body(const uint8_t* image, const std::vector<BodySegmentPlan>& plan,
                                       std::vector<BodySegment>* chosen = nullptr);

// Reads and checks the segment table of a coded body of n bytes whose segments must decode to
// exactly raw_total bytes (§2.1): counts, codecs, widths, reserved bytes, the coded sizes
// tiling the body, and every raw size within its codec's bound. kInvalidModel otherwise.
Status parse_coded_body(const uint8_t* body, uint64_t n, uint64_t raw_total, std::vector<BodySegment>* segments);

// Memory follows proof: the loader allocates the image only after prove_coded_body has shown
// that every segment decodes to exactly its raw_size, so a truncated or lying stream fails
// before anything of the image's size exists.
struct CodedBodyProof {
  // Per segment, the output of its Huffman stage: the raw bytes (or planes) of a HUFFMAN segment,
  // the LZ stream of an LZ_HUFFMAN one; empty for STORED.
  std::vector<std::unique_ptr<uint8_t[]>> stage;
  std::vector<uint64_t> stage_size;
};

// Checks the coded data of the segments (as returned by parse_coded_body) without the image:
// the Huffman stage of each HUFFMAN and LZ_HUFFMAN segment is decoded into proof->stage (at most
// 8 bytes per coded byte, not zero-filled: only what the decoder reaches is touched), after the
// lz_size bounds of LZ_HUFFMAN; each LZ stream is then walked without output (lz_decode with no
// output buffer). Reports every error decoding can meet (kInvalidModel, naming the segment).
Status prove_coded_body(const uint8_t* body, const std::vector<BodySegment>& segments, CodedBodyProof* proof);

// Decodes the proven segments into out[0, raw_total), every byte of which is written (out need
// not be initialized): STORED and HUFFMAN bytes are copied (or their planes joined), LZ streams
// decoded. The LZ output of split segments goes through one scratch of the largest such size.
Status decode_coded_body(const uint8_t* body, const std::vector<BodySegment>& segments, const CodedBodyProof& proof,
                         uint8_t* out);

}  // namespace mcrt
