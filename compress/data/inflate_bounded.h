// Bounded zlib decompression for dataset readers (IDX .gz, NPZ deflate members).
// A gzip or deflate stream can expand about 1000:1, so every caller states the most
// output it will accept; the output buffer grows only as data actually arrives,
// never to a size taken from a header (security.md, "Amplification").
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compress/data/byte_input.h"

namespace mc::data {

enum class ZFormat {
  kGzip,     // RFC 1952, concatenated members allowed
  kRawDeflate,  // RFC 1951, as stored in zip members
};

// Pull-style decompressor over compressed bytes in memory or pulled from a ByteInput (a
// file read piece by piece): compressed input is consumed only as far as the output asked
// for needs it. The buffer or the input must outlive the stream.
class InflateStream {
 public:
  // `what` names the input in error messages ("<file>: ...").
  InflateStream(const uint8_t* data, size_t size, ZFormat format, std::string what);
  InflateStream(ByteInput* input, ZFormat format, std::string what);
  ~InflateStream();
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;

  // Decompresses up to n bytes into dst; returns how many were produced (< n only at
  // the end of the stream). Throws mc::Error(Input) on corrupt data.
  size_t read(uint8_t* dst, size_t n);
  // Appends exactly n bytes to *out, growing it in bounded steps; throws
  // mc::Error(Input) "<what>: expected N bytes of <label>, got M" if the stream ends first.
  void read_exact(std::vector<uint8_t>* out, uint64_t n, const char* label);
  // True once the compressed input is fully consumed and no more output remains.
  bool at_end();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decompresses a whole raw-deflate buffer that must produce exactly `expected` bytes.
std::vector<uint8_t> inflate_exact(const uint8_t* data, size_t size, ZFormat format, uint64_t expected,
                                   const std::string& what);

}  // namespace mc::data
