#include "compress/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "compress/data/file_bytes.h"
#include "compress/data/idx.h"
#include "compress/data/npz.h"
#include "compress/error.h"
#include "compress/io/checked_math.h"
#include "runtime-check/npy/npy.h"

namespace mc::data {
namespace {

using mcrt::NpyArray;
using mcrt::NpyDtype;

std::string shape_str(const std::vector<int64_t>& s, bool batch_n = false) {
  std::string r = "[";
  if (batch_n) r += "N";
  for (size_t i = batch_n ? 1 : 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += s[i] <= 0 ? "?" : std::to_string(s[i]);
  }
  return r + "]";
}

NpyDtype npy_from_idx(IdxType t) {
  switch (t) {
    case IdxType::kU8: return NpyDtype::kU8;
    case IdxType::kI8: return NpyDtype::kI8;
    case IdxType::kI16: return NpyDtype::kI16;
    case IdxType::kI32: return NpyDtype::kI32;
    case IdxType::kF32: return NpyDtype::kF32;
    case IdxType::kF64: return NpyDtype::kF64;
  }
  return NpyDtype::kU8;
}

// The arrays in a file, whatever its container (sniffed from the first bytes): one
// unnamed array for .npy and IDX, the members for .npz. An IDX file is read only as far as
// its first max_rows rows (0: all, see idx.h), and *rows_in_file is then the first dim the
// file declares; .npy and .npz are read whole (*rows_in_file = -1: their shape[0] holds).
NpzArrays load_arrays(const std::string& path, uint64_t max_bytes, uint64_t max_rows, bool* is_npz,
                      int64_t* rows_in_file) {
  FileInput file(path, max_bytes);
  uint8_t magic[6] = {};
  const size_t nmagic = file.peek(magic, sizeof magic);
  *is_npz = false;
  *rows_in_file = -1;
  NpzArrays out;
  if (nmagic >= 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0) {
    const std::vector<uint8_t> bytes = file.read_rest();
    NpyArray a;
    const mcrt::NpyStatus st = mcrt::npy_read_buffer(bytes.data(), bytes.size(), &a);
    if (!st.ok()) throw_input_error(path, st.message());
    out.emplace_back("", std::move(a));
  } else if (nmagic >= 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) {
    const std::vector<uint8_t> bytes = file.read_rest();
    NpzLimits lim;
    lim.max_file_bytes = lim.max_total_bytes = max_bytes;
    out = read_npz_buffer(bytes.data(), bytes.size(), path, lim);
    *is_npz = true;
  } else {
    IdxArray idx = read_idx(&file, path, max_bytes, max_rows);
    NpyArray a;
    a.dtype = npy_from_idx(idx.type);
    a.shape = std::move(idx.dims);
    a.bytes = std::move(idx.bytes);
    out.emplace_back("", std::move(a));
    *rows_in_file = idx.rows_in_file;
  }
  return out;
}

// The first member named one of `names`, or nullptr.
NpyArray* find_member(NpzArrays& arrays, const std::vector<const char*>& names) {
  for (const char* n : names)
    for (auto& kv : arrays)
      if (kv.first == n) return &kv.second;
  return nullptr;
}

// The data (or labels) array of a file: a single array, or the npz member with one of `names`.
NpyArray pick_array(NpzArrays& arrays, bool is_npz, const std::vector<const char*>& names, const std::string& path) {
  if (!is_npz) return std::move(arrays[0].second);
  if (NpyArray* a = find_member(arrays, names)) return std::move(*a);
  if (arrays.size() == 1) return std::move(arrays[0].second);
  std::string want, have;
  for (const char* n : names) want += (want.empty() ? "" : "/") + std::string(n);
  for (auto& kv : arrays) have += (have.empty() ? "" : ", ") + kv.first;
  throw_input_error(path, "expected a member named " + want + ", got " + (have.empty() ? "none" : have));
}

// Element i of a as double (one switch for every dtype the readers produce).
double element(const NpyArray& a, uint64_t i) {
  const uint8_t* p = a.bytes.data() + i * mcrt::npy_dtype_traits(a.dtype).itemsize;
  auto get = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return static_cast<double>(v);
  };
  switch (a.dtype) {
    case NpyDtype::kF32: return get(float{});
    case NpyDtype::kF64: return get(double{});
    case NpyDtype::kI8: return get(int8_t{});
    case NpyDtype::kI16: return get(int16_t{});
    case NpyDtype::kI32: return get(int32_t{});
    case NpyDtype::kI64: return get(int64_t{});
    case NpyDtype::kU8: return get(uint8_t{});
    case NpyDtype::kU16: return get(uint16_t{});
    case NpyDtype::kU32: return get(uint32_t{});
    case NpyDtype::kU64: return get(uint64_t{});
    case NpyDtype::kBool: return p[0] ? 1.0 : 0.0;
    case NpyDtype::kF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      const int e = (h >> 10) & 31, m = h & 1023;
      const double s = (h >> 15) ? -1.0 : 1.0;
      if (e == 0) return s * m * (1.0 / (1 << 24));
      if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : s * std::numeric_limits<double>::infinity();
      return s * (1024 + m) * std::ldexp(1.0, e - 25);
    }
  }
  return 0.0;
}

bool is_integer(NpyDtype t) {
  return t != NpyDtype::kF16 && t != NpyDtype::kF32 && t != NpyDtype::kF64 && t != NpyDtype::kBool;
}

std::vector<int64_t> drop_ones(const std::vector<int64_t>& s) {
  std::vector<int64_t> r;
  for (int64_t d : s)
    if (d != 1) r.push_back(d);
  return r;
}

// Fills symbolic dims of m from s when they line up; false if they do not match.
bool match(const std::vector<int64_t>& s, const std::vector<int64_t>& m, std::vector<int64_t>* resolved) {
  if (s.size() != m.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (m[i] > 0 && m[i] != s[i]) return false;
  *resolved = s;
  return true;
}

enum class Transpose { kNone, kChwToHwc, kHwcToChw };

}  // namespace

DataLayout parse_layout(const std::string& s) {
  if (s == "nchw" || s == "NCHW") return DataLayout::kNCHW;
  if (s == "nhwc" || s == "NHWC") return DataLayout::kNHWC;
  throw Error(ErrorKind::Input, "--layout: expected nchw or nhwc, got '" + s + "'");
}

Batch Dataset::batch(size_t start, size_t n) const {
  Batch b;
  b.size = start >= count_ ? 0 : std::min(n, count_ - start);
  b.shape.push_back(static_cast<int64_t>(b.size));
  b.shape.insert(b.shape.end(), sample_shape_.begin(), sample_shape_.end());
  const size_t per = count_ ? data_.size() / count_ : 0;
  if (b.size) {
    b.data = data_.data() + start * per;
    if (!labels_.empty()) b.labels = labels_.data() + start;
  }
  return b;
}

Dataset load_dataset(const DatasetOptions& o, const std::vector<int64_t>& model_input_shape) {
  if (model_input_shape.empty()) throw Error(ErrorKind::Input, "model input has no batch dimension (rank 0)");
  if (o.std && !(*o.std > 0.0f)) throw Error(ErrorKind::Input, "--std must be > 0");
  const std::string& path = o.data_path;
  const std::vector<const char*> data_names = {"x", "data", "images", "inputs", "input"};
  const std::vector<const char*> label_names = {"y", "labels", "label", "targets"};
  bool data_is_npz = false;
  int64_t x_rows = -1;
  NpzArrays data_arrays = load_arrays(path, o.max_bytes, o.max_samples, &data_is_npz, &x_rows);
  // An .npz may carry its labels; take them before the data member is moved out.
  NpyArray y;
  int64_t y_rows = -1;  // the labels' first dim as their file declares it; -1: y.shape[0]
  std::string ypath = o.labels_path;
  if (ypath.empty() && data_is_npz) {
    if (NpyArray* l = find_member(data_arrays, label_names)) {
      y = std::move(*l);
      ypath = path;
    }
  }
  NpyArray x = pick_array(data_arrays, data_is_npz, data_names, path);
  if (x.shape.empty()) throw_input_error(path, "expected an array with a sample dimension first, got a scalar");
  if (x_rows < 0) x_rows = x.shape[0];  // all rows were read

  const std::vector<int64_t> s(x.shape.begin() + 1, x.shape.end());
  const std::vector<int64_t> m(model_input_shape.begin() + 1, model_input_shape.end());
  uint64_t per = 0;
  if (!checked_numel(s, &per)) throw_input_error(path, "sample shape overflows");

  // Decide how samples map onto the model input (see dataset.h).
  std::vector<int64_t> resolved;
  Transpose tr = Transpose::kNone;
  uint64_t m_numel_known = 1;
  bool m_symbolic = false;
  for (int64_t d : m) {
    if (d <= 0) m_symbolic = true;
    else if (!checked_mul(m_numel_known, static_cast<uint64_t>(d), &m_numel_known)) m_numel_known = 0;
  }
  if (match(s, m, &resolved)) {
  } else if (!m_symbolic && m_numel_known == per && drop_ones(s) == drop_ones(m)) {
    resolved = m;
  } else if (m.size() == 1 && (m[0] <= 0 || static_cast<uint64_t>(m[0]) == per)) {
    resolved = {static_cast<int64_t>(per)};
  } else if (s.size() == 3 && m.size() == 3) {
    std::vector<int64_t> r;
    if (o.layout == DataLayout::kNCHW && match({s[1], s[2], s[0]}, m, &r)) {
      resolved = r;
      tr = Transpose::kChwToHwc;
    } else if (o.layout == DataLayout::kNHWC && match({s[2], s[0], s[1]}, m, &r)) {
      resolved = r;
      tr = Transpose::kHwcToChw;
    }
  }
  if (resolved.empty() && !(s.empty() && m.empty()))
    throw_input_error(path, "expected samples of shape " + shape_str(m) + " (model input " +
                                shape_str(model_input_shape, true) + ", data layout " +
                                (o.layout == DataLayout::kNCHW ? "nchw" : "nhwc") + "), got " + shape_str(s) + " " +
                                mcrt::npy_dtype_traits(x.dtype).name);

  uint64_t n = static_cast<uint64_t>(x.shape[0]);
  if (o.max_samples && o.max_samples < n) n = o.max_samples;

  Dataset ds;
  ds.count_ = static_cast<size_t>(n);
  ds.sample_shape_ = resolved;
  uint64_t total = 0;
  if (!checked_mul(n, per, &total)) throw_input_error(path, "data size overflows");
  ds.data_.resize(static_cast<size_t>(total));
  const double scale = x.dtype == NpyDtype::kU8 ? 1.0 / 255.0 : 1.0;
  const double mean = o.mean.value_or(0.0f), inv_std = 1.0 / o.std.value_or(1.0f);
  // For a transpose, sample layout is (a, b, c) = s; output index follows the target order.
  const uint64_t a = s.size() == 3 ? s[0] : 0, bdim = s.size() == 3 ? s[1] : 0, c = s.size() == 3 ? s[2] : 0;
  for (uint64_t i = 0; i < n; ++i) {
    float* dst = ds.data_.data() + i * per;
    for (uint64_t j = 0; j < per; ++j) {
      uint64_t out = j;
      if (tr != Transpose::kNone) {
        const uint64_t ia = j / (bdim * c), ib = (j / c) % bdim, ic = j % c;
        out = tr == Transpose::kChwToHwc ? (ib * c + ic) * a + ia   // CHW (a=C,b=H,c=W) -> HWC
                                         : (ic * a + ia) * bdim + ib;  // HWC (a=H,b=W,c=C) -> CHW
      }
      dst[out] = static_cast<float>((element(x, i * per + j) * scale - mean) * inv_std);
    }
  }

  // Labels: --labels, or a label member of the same .npz (taken above).
  if (!o.labels_path.empty()) {
    bool labels_npz = false;
    NpzArrays arrays = load_arrays(o.labels_path, o.max_bytes, o.max_samples, &labels_npz, &y_rows);
    y = pick_array(arrays, labels_npz, label_names, o.labels_path);
  }
  if (!ypath.empty()) {
    if (!is_integer(y.dtype))
      throw_input_error(ypath, std::string("expected integer labels, got ") + mcrt::npy_dtype_traits(y.dtype).name);
    if (!(y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1))) {
      std::vector<int64_t> declared = y.shape;  // as the file has it, not the rows read
      if (y_rows >= 0) declared[0] = y_rows;
      throw_input_error(ypath, "expected labels of shape [N] or [N,1], got " + shape_str(declared));
    }
    if (y_rows < 0) y_rows = y.shape[0];
    if (y_rows != x_rows)
      throw_input_error(ypath, "expected " + std::to_string(x_rows) + " labels (one per sample of " + path +
                                   "), got " + std::to_string(y_rows));
    ds.labels_.resize(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
      const double v = element(y, i);
      if (y.dtype == NpyDtype::kU64 && v > 9.2e18) throw_input_error(ypath, "label out of int64 range");
      int64_t iv = 0;
      if (y.dtype == NpyDtype::kI64) std::memcpy(&iv, y.bytes.data() + i * 8, 8);  // exact beyond 2^53
      else iv = static_cast<int64_t>(v);
      ds.labels_[i] = iv;
    }
  }
  return ds;
}

}  // namespace mc::data
