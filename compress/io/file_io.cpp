#include "compress/io/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "compress/error.h"

namespace mc {
namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::string errno_text() { return std::strerror(errno); }

// Reads exactly n bytes at offset; false on a short read.
bool pread_all(int fd, char* dst, uint64_t n, uint64_t offset) {
  while (n > 0) {
    const size_t chunk = n > (1u << 30) ? (1u << 30) : static_cast<size_t>(n);
    ssize_t r = ::pread(fd, dst, chunk, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    dst += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

std::string dirname_of(const std::string& path) {
  const auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string basename_of(const std::string& path) {
  const auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string read_file_bounded(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: a FIFO must not block the open (it is refused below); regular files ignore it.
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (f.fd < 0) throw_input_error(path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw_input_error(path, "cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw_input_error(path, "not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw_input_error(path, "file is " + std::to_string(size) + " bytes, more than the limit of " +
                                std::to_string(max_bytes));
  std::string out(size, '\0');
  if (!pread_all(f.fd, out.data(), size, 0)) throw_input_error(path, "short read");
  return out;
}

std::string read_external_data(const std::string& model_dir, const ExternalDataRef& ref, uint64_t expected_bytes,
                               const std::string& file, const std::string& tensor) {
  const std::string who = "external data of tensor '" + tensor + "'";
  auto fail = [&](const std::string& why) { throw_input_error(file, who + ": " + why); };
  const std::string& loc = ref.location;
  if (loc.empty()) fail("empty location");
  if (loc.find('\0') != std::string::npos) fail("location contains a NUL byte");
  if (loc[0] == '/' || loc[0] == '\\') fail("absolute location '" + loc + "' is not allowed");
  if (loc.find('\\') != std::string::npos) fail("backslash in location '" + loc + "'");
  if (ref.offset < 0) fail("negative offset " + std::to_string(ref.offset));
  if (ref.length < -1) fail("negative length " + std::to_string(ref.length));

  // Split into components; every one must be a plain name.
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= loc.size()) {
    size_t end = loc.find('/', start);
    if (end == std::string::npos) end = loc.size();
    std::string c = loc.substr(start, end - start);
    if (c.empty() || c == "." || c == "..") fail("location '" + loc + "' leaves or names the model folder oddly ('" + c + "')");
    parts.push_back(c);
    start = end + 1;
  }

  Fd dir(::open(model_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) fail("cannot open model folder '" + model_dir + "': " + errno_text());
  int cur = dir.fd;
  std::vector<std::unique_ptr<Fd>> held;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(cur, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) fail("location '" + loc + "': folder '" + parts[i] + "' cannot be opened without following links (" + errno_text() + ")");
    held.push_back(std::make_unique<Fd>(next));
    cur = next;
  }
  Fd f(::openat(cur, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (f.fd < 0) {
    if (errno == ELOOP) fail("location '" + loc + "' is a symbolic link");
    fail("cannot open '" + loc + "': " + errno_text());
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail("cannot stat '" + loc + "'");
  if (!S_ISREG(st.st_mode)) fail("'" + loc + "' is not a regular file");
  if (st.st_nlink != 1) fail("'" + loc + "' has " + std::to_string(st.st_nlink) + " hard links; only 1 is accepted");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t off = static_cast<uint64_t>(ref.offset);
  if (off > size) fail("offset " + std::to_string(off) + " is past the end of '" + loc + "' (" + std::to_string(size) + " bytes)");
  const uint64_t len = ref.length < 0 ? size - off : static_cast<uint64_t>(ref.length);
  if (len > size - off)
    fail("offset " + std::to_string(off) + " + length " + std::to_string(len) + " is past the end of '" + loc + "' (" +
         std::to_string(size) + " bytes)");
  if (len != expected_bytes)
    fail("length " + std::to_string(len) + " does not match the " + std::to_string(expected_bytes) +
         " bytes that the tensor's shape and type need");
  std::string out(len, '\0');
  if (!pread_all(f.fd, out.data(), len, off)) fail("short read from '" + loc + "'");
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void write_file_atomic(const std::string& path, const std::string& bytes, const std::vector<std::string>& inputs) {
  for (const auto& in : inputs)
    if (!in.empty() && (same_file(path, in) || path == in))
      throw_input_error(path, "output would overwrite the input '" + in + "'; choose another output path");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw_input_error(path, "output path is a directory");

  const std::string dir = dirname_of(path);
  std::string tmpl = dir + "/." + basename_of(path) + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) throw_input_error(path, "cannot create a temporary file in '" + dir + "': " + errno_text());
  const std::string tmp(name.data());
  auto fail = [&](const std::string& what) {
    const std::string err = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::Internal, path + ": " + what + ": " + err);
  };
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed");
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fchmod(fd, 0644) != 0) fail("chmod failed");
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) { fd = -1; ::unlink(tmp.c_str()); throw Error(ErrorKind::Internal, path + ": close failed: " + errno_text()); }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::Internal, path + ": rename failed: " + err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace mc
