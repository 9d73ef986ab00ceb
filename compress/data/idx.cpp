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

// The IDX bytes (decompressed when the input is gzip, detected by its 1f 8b magic).
class ByteSource {
 public:
  ByteSource(ByteInput* in, const std::string& name) : in_(in), name_(name) {
    uint8_t magic[2];
    gzip_ = in->peek(magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) z_ = std::make_unique<InflateStream>(in, ZFormat::kGzip, name);
  }
  bool gzip() const { return gzip_; }
  // Appends exactly n bytes or throws "<name>: expected n bytes of <label>, got m".
  void read_exact(std::vector<uint8_t>* out, uint64_t n, const char* label) {
    if (gzip_) return z_->read_exact(out, n, label);
    if (n > in_->remaining())
      throw_input_error(name_, "expected " + std::to_string(n) + " bytes of " + label + ", got " +
                                   std::to_string(in_->remaining()));
    const size_t base = out->size();
    out->resize(base + static_cast<size_t>(n));
    for (uint64_t got = 0; got < n;) {
      const uint8_t* piece = nullptr;
      const size_t r = in_->next(&piece, static_cast<size_t>(std::min<uint64_t>(n - got, 1u << 30)));
      std::memcpy(out->data() + base + got, piece, r);
      got += r;
    }
  }
  uint64_t raw_bytes_left() const { return in_->remaining(); }
  bool at_end() { return gzip_ ? z_->at_end() : in_->remaining() == 0; }

 private:
  ByteInput* in_;
  const std::string& name_;
  bool gzip_ = false;
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

IdxArray read_idx(ByteInput* in, const std::string& name, uint64_t max_bytes, uint64_t max_rows) {
  ByteSource src(in, name);
  std::vector<uint8_t> head;
  src.read_exact(&head, 4, "IDX magic");
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
  src.read_exact(&head, 4ull * ndim, "IDX dimensions");
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
  // Raw files: dims × element size must equal the bytes left, checked before allocating
  // (and before reading: a raw file is checked whole even when only its first rows are read).
  if (!src.gzip() && nbytes != src.raw_bytes_left())
    throw_input_error(name, "expected " + std::to_string(nbytes) + " data bytes for IDX dims, got " +
                                std::to_string(src.raw_bytes_left()));
  out.rows_in_file = out.dims[0];
  const uint64_t rows = static_cast<uint64_t>(out.dims[0]);
  const bool partial = max_rows != 0 && max_rows < rows;
  if (partial) {
    // rows > 0 here, so the row size divides nbytes exactly; numel shrinks with it.
    nbytes = nbytes / rows * max_rows;
    numel = numel / rows * max_rows;
    out.dims[0] = static_cast<int64_t>(max_rows);
  }
  src.read_exact(&out.bytes, nbytes, "IDX data");
  // Only a whole read looks past the data: a partial one stops at its last row.
  if (!partial && !src.at_end())
    throw_input_error(name, "expected " + std::to_string(nbytes) + " data bytes for IDX dims, got more");
  // Big-endian -> host order (little-endian on every target of this project).
  if (esize > 1) {
    uint8_t* p = out.bytes.data();
    for (uint64_t i = 0; i < numel; ++i, p += esize) std::reverse(p, p + esize);
  }
  return out;
}

IdxArray read_idx_buffer(const uint8_t* data, size_t size, const std::string& name, uint64_t max_bytes,
                         uint64_t max_rows) {
  MemoryInput in(data, size);
  return read_idx(&in, name, max_bytes, max_rows);
}

IdxArray read_idx_file(const std::string& path, uint64_t max_bytes, uint64_t max_rows) {
  // The compressed file itself is bounded by the same budget (a 2 GiB .gz is no dataset we read).
  FileInput in(path, max_bytes);
  return read_idx(&in, path, max_bytes, max_rows);
}

}  // namespace mc::data
