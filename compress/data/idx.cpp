#include "compress/data/idx.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "compress/data/file_bytes.h"
#include "compress/data/inflate_bounded.h"
#include "compress/error.h"
#include "compress/io/checked_math.h"

namespace mc::data {
namespace {

constexpr uint32_t kMaxDims = 8;

// Where the (decompressed) bytes come from: a plain buffer or a gzip stream.
class ByteSource {
 public:
  ByteSource(const uint8_t* data, size_t size, const std::string& name)
      : data_(data), size_(size), gzip_(size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    if (gzip_) z_ = std::make_unique<InflateStream>(data, size, ZFormat::kGzip, name);
  }
  bool gzip() const { return gzip_; }
  // Appends exactly n bytes or throws "<name>: expected n bytes of <label>, got m".
  void read_exact(std::vector<uint8_t>* out, uint64_t n, const char* label, const std::string& name) {
    if (gzip_) return z_->read_exact(out, n, label);
    if (n > size_ - pos_)
      throw_input_error(name, "expected " + std::to_string(n) + " bytes of " + label + ", got " +
                                  std::to_string(size_ - pos_));
    out->insert(out->end(), data_ + pos_, data_ + pos_ + n);
    pos_ += static_cast<size_t>(n);
  }
  uint64_t raw_bytes_left() const { return size_ - pos_; }
  bool at_end() { return gzip_ ? z_->at_end() : pos_ == size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool gzip_;
  std::unique_ptr<InflateStream> z_;
};

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

bool known_type(uint8_t t) { return t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E; }

}  // namespace

size_t idx_type_size(IdxType type) {
  switch (type) {
    case IdxType::kU8: case IdxType::kI8: return 1;
    case IdxType::kI16: return 2;
    case IdxType::kI32: case IdxType::kF32: return 4;
    case IdxType::kF64: return 8;
  }
  return 0;
}

const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::kU8: return "uint8";
    case IdxType::kI8: return "int8";
    case IdxType::kI16: return "int16";
    case IdxType::kI32: return "int32";
    case IdxType::kF32: return "float32";
    case IdxType::kF64: return "float64";
  }
  return "?";
}

IdxArray read_idx_buffer(const uint8_t* data, size_t size, const std::string& name, uint64_t max_bytes) {
  ByteSource src(data, size, name);
  std::vector<uint8_t> head;
  src.read_exact(&head, 4, "IDX magic", name);
  if (head[0] != 0 || head[1] != 0) throw_input_error(name, "not an IDX file (magic must start with two zero bytes)");
  if (!known_type(head[2]))
    throw_input_error(name, "unknown IDX data type code 0x" + std::string(1, "0123456789abcdef"[head[2] >> 4]) +
                                std::string(1, "0123456789abcdef"[head[2] & 15]));
  const uint32_t ndim = head[3];
  if (ndim < 1 || ndim > kMaxDims)
    throw_input_error(name, "expected 1 to " + std::to_string(kMaxDims) + " IDX dimensions, got " + std::to_string(ndim));
  IdxArray out;
  out.type = static_cast<IdxType>(head[2]);
  head.clear();
  src.read_exact(&head, 4ull * ndim, "IDX dimensions", name);
  uint64_t numel = 1;
  for (uint32_t i = 0; i < ndim; ++i) {
    const uint32_t d = be32(head.data() + 4 * i);
    out.dims.push_back(static_cast<int64_t>(d));
    if (!checked_mul(numel, d, &numel)) throw_input_error(name, "IDX dimensions overflow");
  }
  const size_t esize = idx_type_size(out.type);
  uint64_t nbytes = 0;
  if (!checked_mul(numel, esize, &nbytes)) throw_input_error(name, "IDX dimensions overflow");
  if (nbytes > max_bytes)
    throw_input_error(name, "IDX data of " + std::to_string(nbytes) + " bytes exceeds the limit of " +
                                std::to_string(max_bytes));
  // Raw files: dims × element size must equal the bytes left, checked before allocating.
  if (!src.gzip() && nbytes != src.raw_bytes_left())
    throw_input_error(name, "expected " + std::to_string(nbytes) + " data bytes for IDX dims, got " +
                                std::to_string(src.raw_bytes_left()));
  src.read_exact(&out.bytes, nbytes, "IDX data", name);
  if (!src.at_end()) throw_input_error(name, "expected " + std::to_string(nbytes) + " data bytes for IDX dims, got more");
  // Big-endian -> host order (little-endian on every target of this project).
  if (esize > 1) {
    uint8_t* p = out.bytes.data();
    for (uint64_t i = 0; i < numel; ++i, p += esize) std::reverse(p, p + esize);
  }
  return out;
}

IdxArray read_idx_file(const std::string& path, uint64_t max_bytes) {
  // The compressed file itself is bounded by the same budget (a 2 GiB .gz is no dataset we read).
  const std::vector<uint8_t> bytes = read_file_bytes(path, max_bytes);
  return read_idx_buffer(bytes.data(), bytes.size(), path, max_bytes);
}

}  // namespace mc::data
