#include "compress/data/file_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "compress/error.h"

namespace mc::data {

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_input_error(path, std::string("cannot open: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_input_error(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw_input_error(path, "not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw_input_error(path, "file is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::vector<uint8_t> out(static_cast<size_t>(size));
  uint64_t done = 0;
  while (done < size) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size - done, 1u << 30));
    const ssize_t r = ::read(fd, out.data() + done, chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw_input_error(path, "short read (file changed while reading?)");
    done += static_cast<uint64_t>(r);
  }
  return out;
}

}  // namespace mc::data
