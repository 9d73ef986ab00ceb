// Weight encodings of the runtime exporter (weight_encoding.h).
#include "export/weight_encoding.h"

#include <algorithm>
#include <cstring>

#include "runtime/huffman.h"

namespace mc {

PlainSizes plain_sizes(const uint8_t* data, size_t esz, uint64_t count, uint64_t rows) {
  PlainSizes s;
  for (uint64_t i = 0; i < count; ++i) {
    bool stored = false;
    for (size_t b = 0; b < esz && !stored; ++b) stored = data[i * esz + b] != 0;
    s.nnz += stored ? 1 : 0;
  }
  const uint64_t cols = rows ? count / rows : 0;
  s.dense = r64(count * esz);
  s.bitmask = r64((count + 7) / 8) + r64(s.nnz * esz);
  if (rows > 0 && s.nnz <= 0x7fffffffu && cols <= 0x7fffffffu)
    s.csr = r64((rows + 1) * 4) + r64(s.nnz * 4) + r64(s.nnz * esz);
  return s;
}

bool palette_encoding(const float* w, uint64_t count, PaletteEncoding* out) {
  if (count == 0) return false;
  std::vector<uint32_t> pat(count);
  std::memcpy(pat.data(), w, count * 4);
  std::vector<uint32_t> distinct;
  {
    std::vector<uint32_t> sorted(pat);
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t v : sorted) {
      if (!distinct.empty() && distinct.back() == v) continue;
      distinct.push_back(v);
      if (distinct.size() > 256) return false;
    }
  }
  int bits = 1;
  while ((1u << bits) < distinct.size()) bits *= 2;  // 1, 2, 4, 8
  std::vector<uint32_t> idx(count);
  for (uint64_t i = 0; i < count; ++i)
    idx[i] = (uint32_t)(std::lower_bound(distinct.begin(), distinct.end(), pat[i]) - distinct.begin());
  out->bits = bits;
  out->codebook.resize(distinct.size());
  std::memcpy(out->codebook.data(), distinct.data(), distinct.size() * 4);
  out->packed = mcrt::ModelWriter::pack_indices(idx, bits);
  out->disk_bytes = r64(out->codebook.size() * 4) + r64(out->packed.size());
  return true;
}

uint64_t entropy_code_buffers(mcrt::ModelWriter& w, uint64_t* coded) {
  uint64_t saved = 0, n = 0;
  for (uint32_t k = 1; k < w.num_buffers(); ++k) {
    const std::vector<uint8_t>& raw = w.buffer_bytes(k);
    if (raw.size() <= mcrt::kHuffmanTableBytes) continue;  // the code table alone is as large
    std::vector<uint8_t> c = mcrt::huffman_encode(raw.data(), raw.size());
    if (r64(c.size()) >= r64(raw.size())) continue;
    saved += raw.size() - c.size();
    ++n;
    const uint64_t raw_size = raw.size();
    w.set_buffer_coding(k, std::move(c), raw_size);
  }
  if (coded) *coded = n;
  return saved;
}

}  // namespace mc
