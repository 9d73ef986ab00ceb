// Where a dataset reader's bytes come from: a buffer already in memory or a file read
// piece by piece (FileInput, compress/data/file_bytes.h). Readers pull pieces with next();
// nothing is read ahead of what they ask for, so a reader that stops early (the first N
// samples of a dataset) reads no more of the file than that.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mc::data {

class ByteInput {
 public:
  virtual ~ByteInput() = default;
  // The next piece of the input, 1 to max bytes (max >= 1), valid until the next call;
  // 0 once the input is exhausted. Throws mc::Error(Input) when the input cannot be read.
  virtual size_t next(const uint8_t** piece, size_t max) = 0;
  // Bytes not yet handed out by next().
  virtual uint64_t remaining() const = 0;
  // Copies the first min(n, size) bytes of the input into dst without consuming any;
  // returns how many. Only before the first next().
  virtual size_t peek(uint8_t* dst, size_t n) = 0;
};

// A buffer that must outlive the MemoryInput.
class MemoryInput final : public ByteInput {
 public:
  MemoryInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t next(const uint8_t** piece, size_t max) override {
    const size_t n = std::min(max, size_ - pos_);
    *piece = data_ + pos_;
    pos_ += n;
    return n;
  }
  uint64_t remaining() const override { return size_ - pos_; }
  size_t peek(uint8_t* dst, size_t n) override {
    n = std::min(n, size_);
    if (n) std::memcpy(dst, data_, n);
    return n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace mc::data
