// LZ77 (lz.h). Encoder: hash chains over 4-byte prefixes (the 64 most recent candidates
// within 65535 bytes), greedy with one step of lazy matching: a match is taken unless the
// next position starts a longer one. Decoder: every length and offset is checked against
// the bytes left in the input and the output before it is used.
#include "runtime/lz.h"

#include <cstring>

namespace mcrt {

namespace {

constexpr int kMinMatch = 4;
constexpr uint64_t kWindow = 65535;
constexpr int kMaxChain = 64;
constexpr int kHashBits = 16;
constexpr size_t kRing = 65536;  // > kWindow

uint32_t hash4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return (v * 2654435761u) >> (32 - kHashBits);
}

void put_ext(std::vector<uint8_t>& out, uint64_t r) {
  while (r >= 255) {
    out.push_back(255);
    r -= 255;
  }
  out.push_back(static_cast<uint8_t>(r));
}

class Matcher {
 public:
  // prev_ is a ring over the window: the slot of position p is reused only by p + 65536, which
  // is inserted after every search that may still reach p, so memory stays 64K entries.
  Matcher(const uint8_t* d, size_t n) : d_(d), n_(n), head_(size_t(1) << kHashBits, -1), prev_(kRing, -1) {}
  // Registers position i (needs 4 bytes from i).
  void insert(size_t i) {
    if (i + kMinMatch > n_) return;
    const uint32_t h = hash4(d_ + i);
    prev_[i & (kRing - 1)] = head_[h];
    head_[h] = static_cast<int64_t>(i);
  }
  // Longest match for position i among earlier positions (ties: the nearest).
  size_t best(size_t i, size_t* off) const {
    if (i + kMinMatch > n_) return 0;
    size_t best_len = 0;
    int chain = 0;
    for (int64_t p = head_[hash4(d_ + i)]; p >= 0 && chain < kMaxChain; p = prev_[p & (kRing - 1)], ++chain) {
      const size_t c = static_cast<size_t>(p);
      if (i - c > kWindow) break;
      size_t l = 0;
      while (i + l < n_ && d_[c + l] == d_[i + l]) ++l;
      if (l > best_len) {
        best_len = l;
        *off = i - c;
      }
    }
    return best_len >= static_cast<size_t>(kMinMatch) ? best_len : 0;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  std::vector<int64_t> head_, prev_;
};

}  // namespace

std::vector<uint8_t> lz_encode(const uint8_t* data, size_t n) {
  std::vector<uint8_t> out;
  out.reserve(n / 2 + 16);
  Matcher m(data, n);
  size_t lit_start = 0, i = 0;
  auto emit = [&](size_t lit_end, size_t off, size_t mlen) {
    const uint64_t lit = lit_end - lit_start;
    const uint64_t mcode = mlen ? mlen - kMinMatch : 0;
    out.push_back(static_cast<uint8_t>((lit < 15 ? lit : 15) << 4 | (mcode < 15 ? mcode : 15)));
    if (lit >= 15) put_ext(out, lit - 15);
    out.insert(out.end(), data + lit_start, data + lit_end);
    if (!mlen) return;
    out.push_back(static_cast<uint8_t>(off & 0xFF));
    out.push_back(static_cast<uint8_t>(off >> 8));
    if (mcode >= 15) put_ext(out, mcode - 15);
  };
  size_t inserted = 0;  // positions < inserted are in the hash chains
  auto insert_upto = [&](size_t e) {
    while (inserted < e) m.insert(inserted++);
  };
  while (i < n) {
    insert_upto(i);
    size_t off = 0;
    size_t len = m.best(i, &off);
    if (!len) {
      ++i;
      continue;
    }
    insert_upto(i + 1);
    size_t off2 = 0;
    const size_t len2 = m.best(i + 1, &off2);
    if (len2 > len) {  // lazy: the next position starts a longer match
      ++i;
      len = len2;
      off = off2;
    }
    emit(i, off, len);
    i += len;
    lit_start = i;
  }
  emit(n, 0, 0);
  return out;
}

namespace {

// kStore false: the same walk and verdict without writing (lz_decode with out == nullptr); it
// skips over literals and matches in O(1) each.
template <bool kStore>
const char* lz_walk(const uint8_t* in, uint64_t n, uint8_t* out, uint64_t raw_size) {
  uint64_t ip = 0, op = 0;
  auto ext = [&](uint64_t* v) -> bool {  // false: input ended inside an extension
    for (;;) {
      if (ip >= n) return false;
      const uint8_t b = in[ip++];
      *v += b;
      if (b != 255) return true;
    }
  };
  while (ip < n) {
    const uint8_t token = in[ip++];
    uint64_t lit = token >> 4, mlen = token & 15;
    if (lit == 15 && !ext(&lit)) return "input ends inside a literal length";
    if (lit > n - ip) return "literals run past the end of the input";
    if (lit > raw_size - op) return "literals run past raw_size";
    if (kStore && lit) std::memcpy(out + op, in + ip, lit);  // (out may be null when raw_size is 0)
    ip += lit;
    op += lit;
    if (ip == n) {
      if (mlen != 0) return "the last sequence announces a match";
      break;
    }
    if (n - ip < 2) return "input ends inside a match offset";
    const uint64_t off = static_cast<uint64_t>(in[ip]) | static_cast<uint64_t>(in[ip + 1]) << 8;
    ip += 2;
    if (off == 0 || off > op) return "match offset is 0 or reaches before the start of the output";
    if (mlen == 15 && !ext(&mlen)) return "input ends inside a match length";
    mlen += kMinMatch;
    if (mlen > raw_size - op) return "match runs past raw_size";
    if (kStore)
      for (uint64_t k = 0; k < mlen; ++k, ++op) out[op] = out[op - off];
    else
      op += mlen;
  }
  if (op != raw_size) return "stream ends before raw_size bytes";
  return nullptr;
}

}  // namespace

const char* lz_decode(const uint8_t* in, uint64_t n, uint8_t* out, uint64_t raw_size) {
  return out ? lz_walk<true>(in, n, out, raw_size) : lz_walk<false>(in, n, nullptr, raw_size);
}

}  // namespace mcrt
