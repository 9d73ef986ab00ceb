// mcrt_npy: read and write NumPy .npy arrays (format versions 1.0, 2.0, 3.0), with
// nothing but the C++17 standard library, so that it builds for aarch64 with the
// runtime. No exceptions: every call returns an NpyStatus.
//
// What is accepted (everything else is refused with a specific code):
//   * dtypes  f2 f4 f8  i1 i2 i4 i8  u1 u2 u4 u8  b1, little-endian ('<'), or '|' / '='
//     ('=' means native, and every target of this project is little-endian).
//     Object arrays ('O', i.e. pickles), structured dtypes, strings, complex and
//     big-endian multi-byte data are refused.
//   * C order only (fortran_order: False).
//   * a header of at most kNpyMaxHeaderBytes (64 KiB); it must end inside the input.
//   * shape: a tuple of non-negative decimal integers; () is a scalar (1 element),
//     zero dims are allowed (0 elements).
//   * the data must be exactly numel × itemsize bytes (overflow-checked in uint64):
//     shorter and longer inputs are both errors.
//
// Ownership: NpyArray owns its bytes (std::vector, aligned for any scalar type).
// Writing produces format 1.0 (2.0 if the header would not fit in 65535 bytes),
// padded so that the data starts on a 64-byte boundary, as numpy does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcrt {

enum class NpyDtype : uint8_t { kF16, kF32, kF64, kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kBool };

struct NpyDtypeTraits {
  NpyDtype dtype;
  char kind;          // 'f', 'i', 'u', 'b' (numpy's kind character)
  size_t itemsize;    // bytes per element
  const char* descr;  // what we write: "<f4", "|u1", ...
  const char* name;   // "float32", "uint8", ...
};

// The one table of dtype traits.
const NpyDtypeTraits& npy_dtype_traits(NpyDtype dtype);
// Looks up "<f4", "|b1", "=i8", "f4" ... ; false if the descr is not supported.
bool npy_dtype_from_descr(const std::string& descr, NpyDtype* out);

struct NpyArray {
  NpyDtype dtype = NpyDtype::kF32;
  std::vector<int64_t> shape;  // empty = scalar
  std::vector<uint8_t> bytes;  // numel × itemsize bytes, C order, little-endian

  // Product of the dims (1 for a scalar); 0 on overflow or a negative dim.
  uint64_t numel() const;
};

enum class NpyStatusCode {
  kOk = 0,
  kIoError,           // open/read/write/rename failed
  kBadMagic,          // not "\x93NUMPY"
  kUnsupportedVersion,
  kHeaderTooLarge,    // header length > kNpyMaxHeaderBytes
  kTruncated,         // input ends inside the preamble or header
  kBadHeader,         // header is not the dict numpy writes
  kObjectDtype,       // 'O' (pickled Python objects): never loaded
  kUnsupportedDtype,  // structured, string, complex, ... dtypes
  kBigEndian,         // '>' on a multi-byte dtype
  kFortranOrder,      // fortran_order: True
  kBadShape,          // negative, non-integer or out-of-range dim
  kSizeOverflow,      // numel × itemsize does not fit in 64 bits
  kSizeMismatch,      // data bytes != numel × itemsize
  kLimitExceeded,     // data larger than the caller's byte budget
  kOutOfMemory,       // allocation failed
  kInvalidArgument,   // writing an array whose bytes do not match its shape
};

const char* npy_status_code_name(NpyStatusCode code);

class [[nodiscard]] NpyStatus {
 public:
  NpyStatus() = default;
  NpyStatus(NpyStatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == NpyStatusCode::kOk; }
  NpyStatusCode code() const { return code_; }
  // A one-line description; file functions prefix it with "<path>: ".
  const std::string& message() const { return message_; }

 private:
  NpyStatusCode code_ = NpyStatusCode::kOk;
  std::string message_;
};

constexpr size_t kNpyMaxHeaderBytes = 64 * 1024;
constexpr uint64_t kNpyNoLimit = UINT64_MAX;

// Parses a whole .npy held in memory. On error *out is left empty.
NpyStatus npy_read_buffer(const uint8_t* data, size_t size, NpyArray* out);

// Reads a .npy file. Data larger than max_data_bytes gives kLimitExceeded before
// anything that large is allocated (the allocation is also bounded by the file size).
NpyStatus npy_read_file(const std::string& path, NpyArray* out, uint64_t max_data_bytes = kNpyNoLimit);

// Serialises an array; fails with kInvalidArgument if bytes.size() != numel × itemsize.
NpyStatus npy_write_buffer(const NpyArray& array, std::vector<uint8_t>* out);

// Writes a .npy file: to "<path>.tmp-XXXX" in the same folder (created exclusively,
// never appended to), every write checked, flushed and fsync'ed, then renamed over
// path. The temp file is removed on any failure.
NpyStatus npy_write_file(const std::string& path, const NpyArray& array);

}  // namespace mcrt
