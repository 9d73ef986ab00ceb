#include "compress/data/file_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "compress/error.h"

namespace mc::data {

namespace {
constexpr size_t kPiece = 64u << 10;
}

FileInput::FileInput(const std::string& path, uint64_t max_bytes) : path_(path) {
  // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw_input_error(path, std::string("cannot open: ") + std::strerror(errno));
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_input_error(path, std::string("cannot stat: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw_input_error(path, "not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > max_bytes)
      throw_input_error(path, "file is " + std::to_string(size_) + " bytes, over the limit of " + std::to_string(max_bytes));
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

FileInput::~FileInput() { ::close(fd_); }

void FileInput::read_fully(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, 1u << 30);
    const ssize_t r = ::read(fd_, dst + done, chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw_input_error(path_, "short read (file changed while reading?)");
    done += static_cast<size_t>(r);
  }
  pos_ += n;
}

size_t FileInput::next(const uint8_t** piece, size_t max) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>({max, kPiece, size_ - pos_}));
  if (buf_.size() < n) buf_.resize(kPiece);
  read_fully(buf_.data(), n);
  *piece = buf_.data();
  return n;
}

size_t FileInput::peek(uint8_t* dst, size_t n) {
  n = static_cast<size_t>(std::min<uint64_t>(n, size_));
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw_input_error(path_, "short read (file changed while reading?)");
    done += static_cast<size_t>(r);
  }
  return n;
}

std::vector<uint8_t> FileInput::read_rest() {
  std::vector<uint8_t> out(static_cast<size_t>(size_ - pos_));
  read_fully(out.data(), out.size());
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  return FileInput(path, max_bytes).read_rest();
}

}  // namespace mc::data
