// Streaming gzip sizing: deflate in 1 MiB input chunks into a scratch buffer whose
// contents are thrown away; only the produced byte count is kept.
#include "compress/analysis/file_size.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "compress/error.h"

namespace mc {

namespace {

class GzipCounter {
 public:
  explicit GzipCounter(int level) {
    std::memset(&z_, 0, sizeof z_);
    // windowBits 15 + 16: gzip header and trailer, as `gzip -9` writes them.
    if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error(ErrorKind::Internal, "zlib: deflateInit2 failed");
  }
  ~GzipCounter() { deflateEnd(&z_); }
  GzipCounter(const GzipCounter&) = delete;
  GzipCounter& operator=(const GzipCounter&) = delete;

  void feed(const unsigned char* p, size_t n, bool last) {
    // z_.avail_in is 32-bit: feed big buffers in slices.
    do {
      const size_t take = std::min<size_t>(n, 1u << 30);
      z_.next_in = const_cast<unsigned char*>(p);
      z_.avail_in = static_cast<uInt>(take);
      p += take;
      n -= take;
      const int flush = (last && n == 0) ? Z_FINISH : Z_NO_FLUSH;
      int rc;
      do {
        z_.next_out = out_;
        z_.avail_out = sizeof out_;
        rc = deflate(&z_, flush);
        if (rc == Z_STREAM_ERROR) throw Error(ErrorKind::Internal, "zlib: deflate failed");
        produced_ += sizeof out_ - z_.avail_out;
      } while (z_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    } while (n > 0);
  }
  uint64_t produced() const { return produced_; }

 private:
  z_stream z_;
  unsigned char out_[1 << 16];
  uint64_t produced_ = 0;
};

}  // namespace

uint64_t gzip_size(const std::string& bytes, int level) {
  auto gz = std::make_unique<GzipCounter>(level);
  gz->feed(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), true);
  return gz->produced();
}

FileSizes measure_files(const std::vector<std::string>& paths) {
  FileSizes r;
  std::vector<unsigned char> buf(1 << 20);
  for (const auto& path : paths) {
    if (std::any_of(r.files.begin(), r.files.end(), [&](const FileSize& f) { return f.path == path; })) continue;
    // Opened without blocking and checked to be a regular file first: a FIFO would wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw_input_error(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw_input_error(path, "not a regular file");
    }
    std::unique_ptr<FILE, int (*)(FILE*)> f(::fdopen(fd, "rb"), &std::fclose);
    if (!f) {
      const std::string why = std::strerror(errno);  // before close() can change errno
      ::close(fd);
      throw_input_error(path, "cannot open: " + why);
    }
    auto gz = std::make_unique<GzipCounter>(9);
    FileSize fs;
    fs.path = path;
    for (;;) {
      const size_t got = std::fread(buf.data(), 1, buf.size(), f.get());
      if (got < buf.size() && std::ferror(f.get())) throw_input_error(path, "read error");
      fs.bytes += got;
      const bool last = got < buf.size();
      gz->feed(buf.data(), got, last);
      if (last) break;
    }
    fs.gzip_bytes = gz->produced();
    r.bytes += fs.bytes;
    r.gzip_bytes += fs.gzip_bytes;
    r.files.push_back(std::move(fs));
  }
  return r;
}

}  // namespace mc
