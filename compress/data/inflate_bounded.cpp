// zlib inflate with output pulled in caller-sized pieces. Concatenated gzip members
// are decoded one after another (inflateReset at each member's end), as gzip(1) does.
#include "compress/data/inflate_bounded.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "compress/error.h"

namespace mc::data {

struct InflateStream::Impl {
  z_stream zs{};
  ZFormat format;
  std::string what;
  bool finished = false;  // the last member ended and no input is left
  std::unique_ptr<MemoryInput> own;  // the input, when given as a buffer
  ByteInput* input = nullptr;

  void init(ZFormat f, std::string w) {
    format = f;
    what = std::move(w);
    // 15 + 16: gzip wrapper only; -15: raw deflate.
    if (inflateInit2(&zs, format == ZFormat::kGzip ? 15 + 16 : -15) != Z_OK)
      throw Error(ErrorKind::Internal, what + ": zlib inflateInit2 failed");
  }
  // Hands zlib the next piece of input once it has used up the last one.
  void refill() {
    if (zs.avail_in != 0) return;
    const uint8_t* piece = nullptr;
    const size_t n = input->next(&piece, 1u << 30);  // avail_in is 32-bit
    zs.next_in = const_cast<Bytef*>(piece);
    zs.avail_in = static_cast<uInt>(n);
  }
  bool input_done() const { return zs.avail_in == 0 && input->remaining() == 0; }
};

InflateStream::InflateStream(const uint8_t* data, size_t size, ZFormat format, std::string what)
    : impl_(std::make_unique<Impl>()) {
  impl_->own = std::make_unique<MemoryInput>(data, size);
  impl_->input = impl_->own.get();
  impl_->init(format, std::move(what));
}

InflateStream::InflateStream(ByteInput* input, ZFormat format, std::string what) : impl_(std::make_unique<Impl>()) {
  impl_->input = input;
  impl_->init(format, std::move(what));
}

InflateStream::~InflateStream() { inflateEnd(&impl_->zs); }

size_t InflateStream::read(uint8_t* dst, size_t n) {
  Impl& s = *impl_;
  size_t produced = 0;
  while (produced < n && !s.finished) {
    s.refill();
    const size_t want = std::min<size_t>(n - produced, 1u << 30);
    s.zs.next_out = dst + produced;
    s.zs.avail_out = static_cast<uInt>(want);
    const int rc = inflate(&s.zs, Z_NO_FLUSH);
    produced += want - s.zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (s.input_done()) {
        s.finished = true;
      } else if (s.format == ZFormat::kGzip) {
        if (inflateReset(&s.zs) != Z_OK) throw Error(ErrorKind::Internal, s.what + ": zlib inflateReset failed");
      } else {
        throw_input_error(s.what, "trailing bytes after the deflate stream");
      }
    } else if (rc == Z_BUF_ERROR) {
      if (s.input_done())
        throw_input_error(s.what, s.format == ZFormat::kGzip ? "truncated gzip stream" : "truncated deflate stream");
      // otherwise: no progress possible only because avail_out was 0; loop ends
    } else if (rc != Z_OK) {
      throw_input_error(s.what, std::string("corrupt compressed data (") + (s.zs.msg ? s.zs.msg : "zlib error") + ")");
    }
  }
  return produced;
}

void InflateStream::read_exact(std::vector<uint8_t>* out, uint64_t n, const char* label) {
  // Grow in steps of at most 16 MiB, so memory follows the data actually decoded.
  constexpr uint64_t kStep = 16u << 20;
  const size_t base = out->size();
  uint64_t got = 0;
  while (got < n) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(n - got, kStep));
    out->resize(base + got + step);
    const size_t r = read(out->data() + base + got, step);
    got += r;
    if (r < step) {
      out->resize(base + got);
      throw_input_error(impl_->what, "expected " + std::to_string(n) + " bytes of " + label + ", got " +
                                         std::to_string(got) + " (stream ended)");
    }
  }
}

bool InflateStream::at_end() {
  uint8_t probe;
  return read(&probe, 1) == 0;
}

std::vector<uint8_t> inflate_exact(const uint8_t* data, size_t size, ZFormat format, uint64_t expected,
                                   const std::string& what) {
  InflateStream s(data, size, format, what);
  std::vector<uint8_t> out;
  s.read_exact(&out, expected, "decompressed data");
  if (!s.at_end()) throw_input_error(what, "decompresses to more than the declared " + std::to_string(expected) + " bytes");
  return out;
}

}  // namespace mc::data
