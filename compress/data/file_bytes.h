// File reads for the dataset readers, bounded by a byte budget: a whole file at once, or
// piece by piece through FileInput. (A twin of mc::read_file_bounded in compress/io, kept
// here so that mc_data does not depend on mc_compress, which will depend on mc_data.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/data/byte_input.h"

namespace mc::data {

// A regular file of at most max_bytes, opened for reading. The constructor throws
// mc::Error(Input) "<path>: ..." when it is missing, not a regular file or larger than
// max_bytes; next() throws "<path>: short read ..." when the file ends before the size it
// had when opened (it changed while being read).
class FileInput final : public ByteInput {
 public:
  FileInput(const std::string& path, uint64_t max_bytes);
  ~FileInput() override;
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;

  size_t next(const uint8_t** piece, size_t max) override;  // pieces of at most 64 KiB
  uint64_t remaining() const override { return size_ - pos_; }
  size_t peek(uint8_t* dst, size_t n) override;
  uint64_t size() const { return size_; }
  // Everything not yet read, in one buffer.
  std::vector<uint8_t> read_rest();

 private:
  void read_fully(uint8_t* dst, size_t n);  // exactly n bytes at the current position

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  std::vector<uint8_t> buf_;
};

// The whole of a regular file of at most max_bytes (errors as FileInput's).
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes);

}  // namespace mc::data
