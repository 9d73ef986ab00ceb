// Fixed 64-byte header at the start of every .mcrt file (docs/runtime-format.md §2).
// All integers little-endian. The runtime reads and writes it field by field, so the
// layout does not depend on the compiler's struct packing.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcrt {

constexpr char kFileMagic[4] = {'M', 'C', 'R', 'T'};
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 0;        // written when the body is not coded
constexpr uint16_t kFormatMinorCodedBody = 1;  // written with kFlagCodedBody (§2.1, §10)
constexpr uint32_t kFlagCodedBody = 1;         // header flag bit 0: the body is coded (§2.1)
constexpr uint32_t kHeaderSize = 64;
constexpr uint64_t kWeightAlign = 64;  // every weight buffer and the weights blob (§3)

struct FileHeader {
  uint16_t major = kFormatMajor;
  uint16_t minor = kFormatMinor;
  uint32_t header_size = kHeaderSize;
  uint32_t flags = 0;            // 0, or kFlagCodedBody; other bits are reserved
  uint64_t graph_offset = kHeaderSize;
  uint64_t graph_size = 0;
  uint64_t weights_offset = 0;   // multiple of 64
  uint64_t weights_size = 0;
};

// Serialises to exactly kHeaderSize bytes (reserved bytes zero).
void encode_file_header(const FileHeader& h, uint8_t out[kHeaderSize]);
// Decodes without validating; returns false when the magic does not match.
bool decode_file_header(const uint8_t in[kHeaderSize], FileHeader* h);

}  // namespace mcrt
