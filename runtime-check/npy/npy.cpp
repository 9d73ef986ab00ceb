// .npy reading and writing. The header is a Python dict literal; we parse exactly
// the grammar numpy emits ({'descr': STR, 'fortran_order': BOOL, 'shape': TUPLE}
// in any order, optional trailing comma, space/newline padding) with a small
// hand-written scanner, and refuse anything else. Sizes are computed in uint64
// with overflow checks before any allocation (security.md, "Size arithmetic").
#include "runtime-check/npy/npy.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define MCRT_NPY_POSIX 1
#endif

namespace mcrt {
namespace {

const NpyDtypeTraits kDtypes[] = {
    {NpyDtype::kF16, 'f', 2, "<f2", "float16"}, {NpyDtype::kF32, 'f', 4, "<f4", "float32"},
    {NpyDtype::kF64, 'f', 8, "<f8", "float64"}, {NpyDtype::kI8, 'i', 1, "|i1", "int8"},
    {NpyDtype::kI16, 'i', 2, "<i2", "int16"},   {NpyDtype::kI32, 'i', 4, "<i4", "int32"},
    {NpyDtype::kI64, 'i', 8, "<i8", "int64"},   {NpyDtype::kU8, 'u', 1, "|u1", "uint8"},
    {NpyDtype::kU16, 'u', 2, "<u2", "uint16"},  {NpyDtype::kU32, 'u', 4, "<u4", "uint32"},
    {NpyDtype::kU64, 'u', 8, "<u8", "uint64"},  {NpyDtype::kBool, 'b', 1, "|b1", "bool"},
};

const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

NpyStatus fail(NpyStatusCode code, std::string msg) { return NpyStatus(code, std::move(msg)); }

bool mul_u64(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// What the preamble and header say.
struct Header {
  NpyDtype dtype = NpyDtype::kF32;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // bytes before the data
  uint64_t data_bytes = 0;  // numel × itemsize
};

// Scanner over the header text.
class HeaderScanner {
 public:
  HeaderScanner(const char* p, size_t n) : p_(p), end_(p + n) {}
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    skip_ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return p_ < end_ && *p_ == c;
  }
  bool at_end() {
    skip_ws();
    return p_ == end_;
  }
  // A '...' or "..." literal without escapes (numpy never writes escapes here).
  bool string(std::string* out) {
    skip_ws();
    if (p_ >= end_ || (*p_ != '\'' && *p_ != '"')) return false;
    const char q = *p_++;
    const char* start = p_;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\') return false;
      ++p_;
    }
    if (p_ >= end_) return false;
    out->assign(start, p_);
    ++p_;
    return true;
  }
  bool word(const char* w) {
    skip_ws();
    const size_t n = std::strlen(w);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, w, n) != 0) return false;
    p_ += n;
    return true;
  }
  // The raw token up to the next ',' or ')' (for dims), whitespace-trimmed.
  std::string token() {
    skip_ws();
    const char* start = p_;
    while (p_ < end_ && *p_ != ',' && *p_ != ')') ++p_;
    const char* e = p_;
    while (e > start && (e[-1] == ' ' || e[-1] == '\t')) --e;
    return std::string(start, e);
  }

 private:
  const char* p_;
  const char* end_;
};

NpyStatus parse_dim(const std::string& tok, int64_t* out) {
  if (tok.empty()) return fail(NpyStatusCode::kBadHeader, "empty dimension in shape");
  if (tok[0] == '-') return fail(NpyStatusCode::kBadShape, "negative dimension " + tok + " in shape");
  uint64_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return fail(NpyStatusCode::kBadShape, "non-integer dimension '" + tok + "' in shape");
    if (!mul_u64(v, 10, &v) || v + static_cast<uint64_t>(c - '0') < v)
      return fail(NpyStatusCode::kBadShape, "dimension " + tok + " out of range");
    v += static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return fail(NpyStatusCode::kBadShape, "dimension " + tok + " out of range");
  *out = static_cast<int64_t>(v);
  return NpyStatus();
}

NpyStatus parse_descr(const std::string& d, NpyDtype* out) {
  size_t i = 0;
  char order = '=';
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) order = d[i++];
  const std::string rest = d.substr(i);
  if (!rest.empty() && rest[0] == 'O')
    return fail(NpyStatusCode::kObjectDtype, "object dtype '" + d + "' (pickled Python objects) is refused");
  if (rest.size() < 2) return fail(NpyStatusCode::kUnsupportedDtype, "unsupported dtype '" + d + "'");
  const char kind = rest[0];
  size_t size = 0;
  for (size_t k = 1; k < rest.size(); ++k) {
    if (rest[k] < '0' || rest[k] > '9' || size > 1000)
      return fail(NpyStatusCode::kUnsupportedDtype, "unsupported dtype '" + d + "'");
    size = size * 10 + static_cast<size_t>(rest[k] - '0');
  }
  for (const NpyDtypeTraits& t : kDtypes) {
    if (t.kind == kind && t.itemsize == size) {
      if (order == '>' && size > 1)
        return fail(NpyStatusCode::kBigEndian, "big-endian dtype '" + d + "' is not supported");
      *out = t.dtype;
      return NpyStatus();
    }
  }
  return fail(NpyStatusCode::kUnsupportedDtype,
              "unsupported dtype '" + d + "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)");
}

NpyStatus parse_header_dict(const char* text, size_t n, Header* h) {
  HeaderScanner s(text, n);
  bool have_descr = false, have_order = false, have_shape = false;
  std::string descr;
  bool fortran = false;
  if (!s.eat('{')) return fail(NpyStatusCode::kBadHeader, "header is not a dict");
  while (!s.peek('}')) {
    std::string key;
    if (!s.string(&key) || !s.eat(':')) return fail(NpyStatusCode::kBadHeader, "malformed header dict");
    if (key == "descr") {
      if (have_descr) return fail(NpyStatusCode::kBadHeader, "duplicate key 'descr'");
      have_descr = true;
      if (s.peek('['))
        return fail(NpyStatusCode::kUnsupportedDtype, "structured dtypes are not supported");
      if (!s.string(&descr)) return fail(NpyStatusCode::kBadHeader, "'descr' is not a string");
    } else if (key == "fortran_order") {
      if (have_order) return fail(NpyStatusCode::kBadHeader, "duplicate key 'fortran_order'");
      have_order = true;
      if (s.word("True")) {
        fortran = true;
      } else if (!s.word("False")) {
        return fail(NpyStatusCode::kBadHeader, "'fortran_order' is not True or False");
      }
    } else if (key == "shape") {
      if (have_shape) return fail(NpyStatusCode::kBadHeader, "duplicate key 'shape'");
      have_shape = true;
      if (!s.eat('(')) return fail(NpyStatusCode::kBadHeader, "'shape' is not a tuple");
      while (!s.eat(')')) {
        int64_t dim = 0;
        NpyStatus st = parse_dim(s.token(), &dim);
        if (!st.ok()) return st;
        if (h->shape.size() >= 64) return fail(NpyStatusCode::kBadShape, "more than 64 dimensions");
        h->shape.push_back(dim);
        if (!s.eat(',') && !s.peek(')')) return fail(NpyStatusCode::kBadHeader, "malformed 'shape' tuple");
      }
    } else {
      return fail(NpyStatusCode::kBadHeader, "unknown header key '" + key + "'");
    }
    if (!s.eat(',')) break;
  }
  if (!s.eat('}') || !s.at_end()) return fail(NpyStatusCode::kBadHeader, "malformed header dict");
  if (!have_descr || !have_order || !have_shape)
    return fail(NpyStatusCode::kBadHeader, "header lacks 'descr', 'fortran_order' or 'shape'");
  NpyStatus st = parse_descr(descr, &h->dtype);
  if (!st.ok()) return st;
  if (fortran) return fail(NpyStatusCode::kFortranOrder, "fortran_order arrays are not supported");
  return NpyStatus();
}

// Parses preamble + header from the first `avail` bytes of a file of `total` bytes.
NpyStatus parse_header(const uint8_t* p, size_t avail, uint64_t total, Header* h) {
  if (avail < 8) {
    if (avail < 6 || std::memcmp(p, kMagic, 6) != 0) return fail(NpyStatusCode::kBadMagic, "not an .npy file (bad magic)");
    return fail(NpyStatusCode::kTruncated, "file ends inside the .npy preamble");
  }
  if (std::memcmp(p, kMagic, 6) != 0) return fail(NpyStatusCode::kBadMagic, "not an .npy file (bad magic)");
  const uint8_t major = p[6];
  size_t pre = 0;
  uint64_t hlen = 0;
  if (major == 1) {
    pre = 10;
  } else if (major == 2 || major == 3) {
    pre = 12;
  } else {
    return fail(NpyStatusCode::kUnsupportedVersion, "unsupported .npy version " + std::to_string(major));
  }
  if (avail < pre) return fail(NpyStatusCode::kTruncated, "file ends inside the .npy preamble");
  hlen = pre == 10 ? (uint64_t(p[8]) | uint64_t(p[9]) << 8)
                   : (uint64_t(p[8]) | uint64_t(p[9]) << 8 | uint64_t(p[10]) << 16 | uint64_t(p[11]) << 24);
  if (hlen > kNpyMaxHeaderBytes)
    return fail(NpyStatusCode::kHeaderTooLarge,
                "header length " + std::to_string(hlen) + " exceeds the " + std::to_string(kNpyMaxHeaderBytes) + "-byte limit");
  if (pre + hlen > total || pre + hlen > avail)
    return fail(NpyStatusCode::kTruncated, "header length " + std::to_string(hlen) + " runs past the end of the file (" +
                                               std::to_string(total) + " bytes)");
  NpyStatus st = parse_header_dict(reinterpret_cast<const char*>(p + pre), static_cast<size_t>(hlen), h);
  if (!st.ok()) return st;
  uint64_t numel = 1;
  for (int64_t d : h->shape)
    if (!mul_u64(numel, static_cast<uint64_t>(d), &numel))
      return fail(NpyStatusCode::kSizeOverflow, "shape " + shape_string(h->shape) + " overflows");
  if (!mul_u64(numel, npy_dtype_traits(h->dtype).itemsize, &h->data_bytes))
    return fail(NpyStatusCode::kSizeOverflow, "shape " + shape_string(h->shape) + " overflows");
  h->data_offset = pre + static_cast<size_t>(hlen);
  const uint64_t have = total - h->data_offset;
  if (have != h->data_bytes)
    return fail(NpyStatusCode::kSizeMismatch, "expected " + std::to_string(h->data_bytes) + " data bytes for shape " +
                                                  shape_string(h->shape) + " " + npy_dtype_traits(h->dtype).name +
                                                  ", got " + std::to_string(have));
  return NpyStatus();
}

// vector::resize without letting bad_alloc escape (the runtime may be built without exceptions).
bool resize_bytes(std::vector<uint8_t>* v, uint64_t n) {
  if (n > v->max_size()) return false;
#if defined(__cpp_exceptions)
  try {
    v->resize(static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    return false;
  }
#else
  v->resize(static_cast<size_t>(n));
#endif
  return true;
}

NpyStatus with_path(const std::string& path, NpyStatus st) {
  if (st.ok()) return st;
  return NpyStatus(st.code(), path + ": " + st.message());
}

}  // namespace

const NpyDtypeTraits& npy_dtype_traits(NpyDtype dtype) {
  for (const NpyDtypeTraits& t : kDtypes)
    if (t.dtype == dtype) return t;
  return kDtypes[1];  // unreachable for valid enum values
}

bool npy_dtype_from_descr(const std::string& descr, NpyDtype* out) { return parse_descr(descr, out).ok(); }

uint64_t NpyArray::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || !mul_u64(n, static_cast<uint64_t>(d), &n)) return 0;
  return n;
}

const char* npy_status_code_name(NpyStatusCode code) {
  switch (code) {
    case NpyStatusCode::kOk: return "ok";
    case NpyStatusCode::kIoError: return "io_error";
    case NpyStatusCode::kBadMagic: return "bad_magic";
    case NpyStatusCode::kUnsupportedVersion: return "unsupported_version";
    case NpyStatusCode::kHeaderTooLarge: return "header_too_large";
    case NpyStatusCode::kTruncated: return "truncated";
    case NpyStatusCode::kBadHeader: return "bad_header";
    case NpyStatusCode::kObjectDtype: return "object_dtype";
    case NpyStatusCode::kUnsupportedDtype: return "unsupported_dtype";
    case NpyStatusCode::kBigEndian: return "big_endian";
    case NpyStatusCode::kFortranOrder: return "fortran_order";
    case NpyStatusCode::kBadShape: return "bad_shape";
    case NpyStatusCode::kSizeOverflow: return "size_overflow";
    case NpyStatusCode::kSizeMismatch: return "size_mismatch";
    case NpyStatusCode::kLimitExceeded: return "limit_exceeded";
    case NpyStatusCode::kOutOfMemory: return "out_of_memory";
    case NpyStatusCode::kInvalidArgument: return "invalid_argument";
  }
  return "unknown";
}

NpyStatus npy_read_buffer(const uint8_t* data, size_t size, NpyArray* out) {
  *out = NpyArray();
  if (data == nullptr && size != 0) return fail(NpyStatusCode::kInvalidArgument, "null buffer");
  Header h;
  NpyStatus st = parse_header(data, size, size, &h);
  if (!st.ok()) return st;
  NpyArray a;
  a.dtype = h.dtype;
  a.shape = h.shape;
  if (!resize_bytes(&a.bytes, h.data_bytes))
    return fail(NpyStatusCode::kOutOfMemory, "cannot allocate " + std::to_string(h.data_bytes) + " bytes");
  if (h.data_bytes) std::memcpy(a.bytes.data(), data + h.data_offset, static_cast<size_t>(h.data_bytes));
  *out = std::move(a);
  return NpyStatus();
}

NpyStatus npy_read_file(const std::string& path, NpyArray* out, uint64_t max_data_bytes) {
  *out = NpyArray();
  // Opened without blocking and checked to be a regular file first: a FIFO would wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(NpyStatusCode::kIoError, path + ": cannot open for reading");
  struct stat fst {};
  if (::fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
    ::close(fd);
    return fail(NpyStatusCode::kIoError, path + ": not a regular file");
  }
  std::FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    return fail(NpyStatusCode::kIoError, path + ": cannot open for reading");
  }
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  if (std::fseek(f, 0, SEEK_END) != 0) return fail(NpyStatusCode::kIoError, path + ": cannot seek");
  const long end = std::ftell(f);
  if (end < 0 || std::fseek(f, 0, SEEK_SET) != 0) return fail(NpyStatusCode::kIoError, path + ": cannot tell size");
  const uint64_t total = static_cast<uint64_t>(end);
  // Preamble + the largest header we accept; the data is read separately, straight into the array.
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(total, 12 + kNpyMaxHeaderBytes)));
  if (!head.empty() && std::fread(head.data(), 1, head.size(), f) != head.size())
    return fail(NpyStatusCode::kIoError, path + ": read failed");
  Header h;
  NpyStatus st = parse_header(head.data(), head.size(), total, &h);
  if (!st.ok()) return with_path(path, st);
  if (h.data_bytes > max_data_bytes)
    return fail(NpyStatusCode::kLimitExceeded, path + ": " + std::to_string(h.data_bytes) +
                                                   " data bytes exceed the limit of " + std::to_string(max_data_bytes));
  NpyArray a;
  a.dtype = h.dtype;
  a.shape = h.shape;
  if (!resize_bytes(&a.bytes, h.data_bytes))
    return fail(NpyStatusCode::kOutOfMemory, path + ": cannot allocate " + std::to_string(h.data_bytes) + " bytes");
  if (std::fseek(f, static_cast<long>(h.data_offset), SEEK_SET) != 0)
    return fail(NpyStatusCode::kIoError, path + ": cannot seek");
  if (h.data_bytes && std::fread(a.bytes.data(), 1, a.bytes.size(), f) != a.bytes.size())
    return fail(NpyStatusCode::kIoError, path + ": read failed (file changed while reading?)");
  *out = std::move(a);
  return NpyStatus();
}

NpyStatus npy_write_buffer(const NpyArray& array, std::vector<uint8_t>* out) {
  out->clear();
  uint64_t numel = 1;
  for (int64_t d : array.shape)
    if (d < 0 || !mul_u64(numel, static_cast<uint64_t>(d), &numel))
      return fail(NpyStatusCode::kInvalidArgument, "shape " + shape_string(array.shape) + " is negative or overflows");
  const NpyDtypeTraits& t = npy_dtype_traits(array.dtype);
  uint64_t want = 0;
  if (!mul_u64(numel, t.itemsize, &want) || want != array.bytes.size())
    return fail(NpyStatusCode::kInvalidArgument, "array holds " + std::to_string(array.bytes.size()) +
                                                     " bytes, shape " + shape_string(array.shape) + " " + t.name +
                                                     " needs " + std::to_string(want));
  std::string hdr = std::string("{'descr': '") + t.descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i) hdr += (i ? ", " : "") + std::to_string(array.shape[i]);
  if (array.shape.size() == 1) hdr += ",";
  hdr += "), }";
  // Byte-for-byte what numpy 1.24 writes: room for the first dim to grow to 21 digits,
  // then spaces and a final '\n' so that the data starts on a 64-byte boundary.
  if (!array.shape.empty()) {
    const size_t digits = std::to_string(array.shape[0]).size();
    if (digits < 21) hdr.append(21 - digits, ' ');
  }
  size_t pre = 10;
  const auto pad = [&](size_t preamble) { return (64 - (preamble + hdr.size() + 1) % 64) % 64; };
  if (hdr.size() + 1 + pad(10) > 65535) pre = 12;  // format 2.0: 4-byte header length
  hdr.append(pad(pre), ' ');
  hdr += '\n';
  if (pre == 12 && hdr.size() > UINT32_MAX) return fail(NpyStatusCode::kInvalidArgument, "header too long");
  if (!resize_bytes(out, pre + hdr.size() + array.bytes.size()))
    return fail(NpyStatusCode::kOutOfMemory, "cannot allocate the output buffer");
  uint8_t* p = out->data();
  std::memcpy(p, kMagic, 6);
  p[6] = pre == 10 ? 1 : 2;
  p[7] = 0;
  const uint64_t hl = hdr.size();
  p[8] = uint8_t(hl);
  p[9] = uint8_t(hl >> 8);
  if (pre == 12) {
    p[10] = uint8_t(hl >> 16);
    p[11] = uint8_t(hl >> 24);
  }
  std::memcpy(p + pre, hdr.data(), hdr.size());
  if (!array.bytes.empty()) std::memcpy(p + pre + hdr.size(), array.bytes.data(), array.bytes.size());
  return NpyStatus();
}

NpyStatus npy_write_file(const std::string& path, const NpyArray& array) {
  std::vector<uint8_t> bytes;
  NpyStatus st = npy_write_buffer(array, &bytes);
  if (!st.ok()) return with_path(path, st);
  // Exclusive create ("x"): never write into or append to an existing file.
  std::string tmp;
  std::FILE* f = nullptr;
  for (int attempt = 0; attempt < 100 && !f; ++attempt) {
#ifdef MCRT_NPY_POSIX
    tmp = path + ".tmp-" + std::to_string(static_cast<long>(getpid())) + "-" + std::to_string(attempt);
#else
    tmp = path + ".tmp-" + std::to_string(attempt);
#endif
    f = std::fopen(tmp.c_str(), "wbx");
  }
  if (!f) return fail(NpyStatusCode::kIoError, path + ": cannot create a temporary file next to it");
  bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = ok && std::fflush(f) == 0;
#ifdef MCRT_NPY_POSIX
  ok = ok && fsync(fileno(f)) == 0;
#endif
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(NpyStatusCode::kIoError, path + ": write failed (disk full?)");
  }
#ifdef MCRT_NPY_POSIX
  // Make the rename durable: fsync the folder.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
#endif
  return NpyStatus();
}

}  // namespace mcrt
