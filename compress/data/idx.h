// IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/):
// magic 0x00 0x00 <type> <ndim>, ndim big-endian uint32 dims, then big-endian data.
// Read raw or gzip-compressed (detected by the 1f 8b magic, not by the file name).
//
// Checks (security.md, "IDX"): the magic's two zero bytes, a known type code,
// 1 <= ndim <= 8, dims × element size computed overflow-checked and compared with the
// bytes actually present (exactly: shorter and longer files are both errors). For
// gzip the decompressed size is unknown up front, so decoding stops at
// header + dims × element size + 1 bytes and never goes past `max_bytes` of output;
// memory grows only with data actually decoded, so a gzip bomb cannot exhaust it.
//
// The first rows only (max_rows > 0: the first max_rows entries of the first dimension,
// e.g. the first 1,000 images): the header is checked as above and the file is read, and
// for gzip decoded, only as far as those rows; a whole read of the same file gives the
// same first rows. A raw file's size is still checked against its dims (it costs no
// reading). A gzip file cannot be checked past the rows read without decoding it, so
// truncation, corruption or extra data after them is not seen: it is an error only when
// it lies inside the rows read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/data/byte_input.h"

namespace mc::data {

enum class IdxType : uint8_t { kU8 = 0x08, kI8 = 0x09, kI16 = 0x0B, kI32 = 0x0C, kF32 = 0x0D, kF64 = 0x0E };

struct IdxArray {
  IdxType type = IdxType::kU8;
  std::vector<int64_t> dims;    // of the rows read: dims[0] is at most max_rows
  std::vector<uint8_t> bytes;  // converted to host (little-endian) order, C order
  int64_t rows_in_file = 0;    // dims[0] as the file declares it
};

size_t idx_type_size(IdxType type);
const char* idx_type_name(IdxType type);

constexpr uint64_t kIdxDefaultMaxBytes = 2ull << 30;  // decompressed data budget: 2 GiB

// Throws mc::Error(Input) "<path>: ..." on any malformed or over-budget file.
// max_rows == 0 reads every row.
IdxArray read_idx_file(const std::string& path, uint64_t max_bytes = kIdxDefaultMaxBytes, uint64_t max_rows = 0);
// Same for bytes already in memory; `name` is used in messages.
IdxArray read_idx_buffer(const uint8_t* data, size_t size, const std::string& name,
                         uint64_t max_bytes = kIdxDefaultMaxBytes, uint64_t max_rows = 0);
// Same for an input already opened (dataset.cpp sniffs the file's format first).
IdxArray read_idx(ByteInput* input, const std::string& name, uint64_t max_bytes, uint64_t max_rows);

}  // namespace mc::data
