#include "format/file_header.h"

#include <cstring>

namespace mcrt {
namespace {
void put(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
uint64_t get(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
}  // namespace

void encode_file_header(const FileHeader& h, uint8_t out[kHeaderSize]) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kFileMagic, 4);
  put(out + 4, h.major, 2);
  put(out + 6, h.minor, 2);
  put(out + 8, h.header_size, 4);
  put(out + 12, h.flags, 4);
  put(out + 16, h.graph_offset, 8);
  put(out + 24, h.graph_size, 8);
  put(out + 32, h.weights_offset, 8);
  put(out + 40, h.weights_size, 8);
}

bool decode_file_header(const uint8_t in[kHeaderSize], FileHeader* h) {
  if (std::memcmp(in, kFileMagic, 4) != 0) return false;
  h->major = (uint16_t)get(in + 4, 2);
  h->minor = (uint16_t)get(in + 6, 2);
  h->header_size = (uint32_t)get(in + 8, 4);
  h->flags = (uint32_t)get(in + 12, 4);
  h->graph_offset = get(in + 16, 8);
  h->graph_size = get(in + 24, 8);
  h->weights_offset = get(in + 32, 8);
  h->weights_size = get(in + 40, 8);
  return true;
}

}  // namespace mcrt
