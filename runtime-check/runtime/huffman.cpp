// Canonical Huffman coding over bytes (huffman.h). The encoder builds code lengths with the
// classic two-queue merge, limits them to 15 bits by halving the counts (keeping every
// present symbol at >= 1) until they fit, and emits canonical codes. The decoder validates
// the lengths (range, Kraft sum), builds a 2^15-entry lookup table and reads 15-bit windows.
#include "runtime/huffman.h"

#include <algorithm>
#include <cstring>

namespace mcrt {

namespace {

// Huffman code lengths for 256 counts; present symbols only. Deterministic.
void build_lengths(const uint64_t count[256], uint8_t len[256]) {
  std::memset(len, 0, 256);
  std::vector<int> present;
  for (int s = 0; s < 256; ++s)
    if (count[s]) present.push_back(s);
  if (present.size() == 1) {
    len[present[0]] = 1;
    return;
  }
  std::vector<uint64_t> c(count, count + 256);
  for (;;) {
    // Nodes: leaves 0..255, internal 256.. ; parent links to compute depths.
    struct N {
      uint64_t w;
      int id;
    };
    std::vector<N> leaves;
    for (int s : present) leaves.push_back({c[s], s});
    std::sort(leaves.begin(), leaves.end(), [](const N& a, const N& b) { return a.w != b.w ? a.w < b.w : a.id < b.id; });
    std::vector<int> parent(256 + present.size(), -1);
    std::vector<N> internal;
    size_t li = 0, ii = 0;
    auto take = [&]() {
      if (li < leaves.size() && (ii >= internal.size() || leaves[li].w <= internal[ii].w)) return leaves[li++];
      return internal[ii++];
    };
    int next = 256;
    while ((leaves.size() - li) + (internal.size() - ii) > 1) {
      const N a = take(), b = take();
      parent[a.id] = next;
      parent[b.id] = next;
      internal.push_back({a.w + b.w, next});
      ++next;
    }
    int maxlen = 0;
    for (int s : present) {
      int d = 0;
      for (int p = s; parent[p] >= 0; p = parent[p]) ++d;
      len[s] = static_cast<uint8_t>(std::min(d, 255));
      maxlen = std::max(maxlen, d);
    }
    if (maxlen <= kHuffmanMaxBits) return;
    for (int s : present) c[s] = (c[s] + 1) / 2;  // flatten the distribution and retry
  }
}

// Canonical codes from lengths (DEFLATE's rule); the lengths are valid (checked by the caller).
void canonical_codes(const uint8_t len[256], uint16_t code[256]) {
  int bl_count[kHuffmanMaxBits + 1] = {0};
  for (int s = 0; s < 256; ++s)
    if (len[s]) ++bl_count[len[s]];
  int next_code[kHuffmanMaxBits + 2] = {0};
  int c = 0;
  for (int b = 1; b <= kHuffmanMaxBits; ++b) {
    c = (c + bl_count[b - 1]) << 1;
    next_code[b] = c;
  }
  for (int s = 0; s < 256; ++s)
    if (len[s]) code[s] = static_cast<uint16_t>(next_code[len[s]]++);
}

}  // namespace

std::vector<uint8_t> huffman_encode(const uint8_t* data, size_t n) {
  uint64_t count[256] = {0};
  for (size_t i = 0; i < n; ++i) ++count[data[i]];
  uint8_t len[256];
  build_lengths(count, len);
  uint16_t code[256] = {0};
  canonical_codes(len, code);
  std::vector<uint8_t> out(kHuffmanTableBytes, 0);
  for (int s = 0; s < 256; ++s) out[s / 2] = static_cast<uint8_t>(out[s / 2] | (s % 2 ? len[s] << 4 : len[s]));
  uint64_t bits = 0;
  for (int s = 0; s < 256; ++s) bits += count[s] * len[s];
  out.resize(kHuffmanTableBytes + (bits + 7) / 8, 0);
  uint8_t* p = out.data() + kHuffmanTableBytes;
  uint64_t acc = 0;  // pending bits, right-aligned
  int nacc = 0;
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t s = data[i];
    acc = (acc << len[s]) | code[s];
    nacc += len[s];
    while (nacc >= 8) {
      p[pos++] = static_cast<uint8_t>(acc >> (nacc - 8));
      nacc -= 8;
    }
  }
  if (nacc > 0) p[pos++] = static_cast<uint8_t>(acc << (8 - nacc));
  return out;
}

const char* huffman_decode(const uint8_t* coded, uint64_t coded_size, uint8_t* out, uint64_t raw_size) {
  if (coded_size < kHuffmanTableBytes) return "coded buffer is shorter than its 128-byte code-length table";
  if (raw_size == 0) return "raw_size is 0";
  if (raw_size > huffman_max_raw_size(coded_size)) return "raw_size exceeds 8 symbols per coded byte";
  uint8_t len[256];
  int present = 0;
  uint32_t kraft = 0;  // in units of 2^-15
  for (int s = 0; s < 256; ++s) {
    len[s] = static_cast<uint8_t>((coded[s / 2] >> (s % 2 ? 4 : 0)) & 0x0F);
    if (len[s]) {
      ++present;
      kraft += 1u << (kHuffmanMaxBits - len[s]);
    }
  }
  if (present == 0) return "no symbol has a code length";
  if (present == 1) {
    for (int s = 0; s < 256; ++s)
      if (len[s] && len[s] != 1) return "a single symbol must have code length 1";
  } else if (kraft != (1u << kHuffmanMaxBits)) {
    return kraft > (1u << kHuffmanMaxBits) ? "code lengths are oversubscribed (Kraft sum > 1)"
                                          : "code lengths are incomplete (Kraft sum < 1)";
  }
  uint16_t code[256] = {0};
  canonical_codes(len, code);
  // table[window of 15 bits] = symbol | length << 8; length 0 = no code starts with these bits.
  std::vector<uint16_t> table(1u << kHuffmanMaxBits, 0);
  for (int s = 0; s < 256; ++s) {
    if (!len[s]) continue;
    const uint32_t lo = static_cast<uint32_t>(code[s]) << (kHuffmanMaxBits - len[s]);
    const uint32_t hi = lo + (1u << (kHuffmanMaxBits - len[s]));
    for (uint32_t k = lo; k < hi; ++k) table[k] = static_cast<uint16_t>(s | len[s] << 8);
  }
  const uint8_t* p = coded + kHuffmanTableBytes;
  const uint64_t n = coded_size - kHuffmanTableBytes;
  uint64_t pos = 0;      // next byte to load
  uint64_t buf = 0;      // bits MSB-aligned
  int nbuf = 0;
  for (uint64_t i = 0; i < raw_size; ++i) {
    while (nbuf <= 56 && pos < n) {
      buf |= static_cast<uint64_t>(p[pos++]) << (56 - nbuf);
      nbuf += 8;
    }
    const uint16_t e = table[buf >> (64 - kHuffmanMaxBits)];
    const int l = e >> 8;
    if (l == 0) return "bit pattern matches no code";
    if (l > nbuf) return "coded data ends before raw_size symbols (over-run)";
    out[i] = static_cast<uint8_t>(e & 0xFF);
    buf <<= l;
    nbuf -= l;
  }
  if (pos != n || nbuf >= 8) return "coded data has bytes left after raw_size symbols (under-run)";
  if (buf != 0) return "padding bits of the last byte are not zero";
  return nullptr;
}

}  // namespace mcrt
