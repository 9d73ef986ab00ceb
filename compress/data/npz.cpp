// Zip reading follows PKWARE APPNOTE 6.3: find the end-of-central-directory record
// (EOCD) in the last 64 KiB + 22 bytes, walk the central directory, and for each
// member read its local header only to learn where the data starts (sizes are taken
// from the central directory, which numpy always fills in).
#include "compress/data/npz.h"

#include <zlib.h>

#include <set>

#include "compress/data/file_bytes.h"
#include "compress/data/inflate_bounded.h"
#include "compress/error.h"
#include "compress/io/checked_math.h"

namespace mc::data {
namespace {

constexpr uint32_t kSigLocal = 0x04034b50, kSigCentral = 0x02014b50, kSigEocd = 0x06054b50;
constexpr uint32_t kSigZip64Eocd = 0x06064b50, kSigZip64Locator = 0x07064b50;

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }

// A bounds-checked view of the archive.
struct Bytes {
  const uint8_t* p;
  uint64_t n;
  const std::string& name;
  // Throws unless [off, off+len) lies inside the file.
  const uint8_t* at(uint64_t off, uint64_t len, const char* what) const {
    uint64_t end = 0;
    if (!checked_add(off, len, &end) || end > n)
      throw_input_error(name, std::string(what) + " at offset " + std::to_string(off) + " (+" + std::to_string(len) +
                                  ") lies outside the " + std::to_string(n) + "-byte file");
    return p + off;
  }
};

struct Member {
  std::string name;
  uint16_t method, flags;
  uint32_t crc;
  uint64_t csize, usize, local_offset;
};

// Replaces 0xFFFFFFFF fields with the values of the zip64 extra field (id 0x0001).
void apply_zip64(const Bytes& b, const uint8_t* extra, uint16_t extra_len, Member* m) {
  const bool need_u = m->usize == 0xFFFFFFFFu, need_c = m->csize == 0xFFFFFFFFu,
             need_o = m->local_offset == 0xFFFFFFFFu;
  uint32_t i = 0;
  while (i + 4 <= extra_len) {
    const uint16_t id = le16(extra + i), len = le16(extra + i + 2);
    if (i + 4u + len > extra_len) throw_input_error(b.name, m->name + ": extra field runs past its header");
    if (id == 0x0001) {
      uint32_t k = i + 4;
      const uint32_t end = i + 4u + len;
      auto take = [&](uint64_t* v) {
        if (k + 8 > end) throw_input_error(b.name, m->name + ": zip64 extra field too short");
        *v = le64(extra + k);
        k += 8;
      };
      if (need_u) take(&m->usize);
      if (need_c) take(&m->csize);
      if (need_o) take(&m->local_offset);
      return;
    }
    i += 4u + len;
  }
  if (need_u || need_c || need_o) throw_input_error(b.name, m->name + ": zip64 sizes without a zip64 extra field");
}

}  // namespace

NpzArrays read_npz_buffer(const uint8_t* data, size_t size, const std::string& name, const NpzLimits& limits) {
  const Bytes b{data, size, name};
  if (size < 22) throw_input_error(name, "not a zip/.npz file (too short)");
  // 1. EOCD: scan backwards over at most 22 + 65535 (the comment) bytes.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (uint64_t off = size - 22 + 1; off-- > lowest;) {
    if (le32(data + off) == kSigEocd && off + 22 + le16(data + off + 20) == size) {
      eocd = off;
      break;
    }
  }
  if (eocd == UINT64_MAX) throw_input_error(name, "not a zip/.npz file (no end-of-central-directory record)");
  const uint8_t* e = data + eocd;
  if (le16(e + 4) != 0 || le16(e + 6) != 0) throw_input_error(name, "multi-disk zip archives are not supported");
  uint64_t count = le16(e + 10), cd_size = le32(e + 12), cd_off = le32(e + 16);
  uint64_t cd_limit = eocd;
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
    // zip64: locator right before the EOCD points to the zip64 EOCD record.
    if (eocd < 20) throw_input_error(name, "zip64 locator missing");
    const uint8_t* loc = b.at(eocd - 20, 20, "zip64 locator");
    if (le32(loc) != kSigZip64Locator) throw_input_error(name, "zip64 locator missing");
    const uint64_t z = le64(loc + 8);
    if (z > eocd - 20) throw_input_error(name, "zip64 end record offset out of range");
    const uint8_t* ze = b.at(z, 56, "zip64 end record");
    if (le32(ze) != kSigZip64Eocd) throw_input_error(name, "bad zip64 end record signature");
    count = le64(ze + 32);
    cd_size = le64(ze + 40);
    cd_off = le64(ze + 48);
    cd_limit = z;
  }
  if (count > limits.max_entries)
    throw_input_error(name, std::to_string(count) + " entries exceed the limit of " + std::to_string(limits.max_entries));
  uint64_t cd_end = 0;
  if (!checked_add(cd_off, cd_size, &cd_end) || cd_end > cd_limit)
    throw_input_error(name, "central directory (offset " + std::to_string(cd_off) + ", size " + std::to_string(cd_size) +
                                ") overlaps the end record or the end of the file");

  // 2. Central directory entries.
  std::vector<Member> members;
  std::set<std::string> seen;
  uint64_t pos = cd_off, total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (pos + 46 > cd_end) throw_input_error(name, "central directory entry " + std::to_string(i) + " is truncated");
    const uint8_t* c = data + pos;
    if (le32(c) != kSigCentral) throw_input_error(name, "bad central directory signature at entry " + std::to_string(i));
    Member m;
    m.flags = le16(c + 8);
    m.method = le16(c + 10);
    m.crc = le32(c + 16);
    m.csize = le32(c + 20);
    m.usize = le32(c + 24);
    const uint16_t nlen = le16(c + 28), xlen = le16(c + 30), clen = le16(c + 32);
    m.local_offset = le32(c + 42);
    const uint64_t entry_len = 46ull + nlen + xlen + clen;
    if (pos + entry_len > cd_end) throw_input_error(name, "central directory entry " + std::to_string(i) + " is truncated");
    m.name.assign(reinterpret_cast<const char*>(c + 46), nlen);
    apply_zip64(b, c + 46 + nlen, xlen, &m);
    pos += entry_len;

    if (m.flags & 0x1) throw_input_error(name, m.name + ": encrypted zip members are not supported");
    if (m.method != 0 && m.method != 8)
      throw_input_error(name, m.name + ": compression method " + std::to_string(m.method) + " (only stored and deflate)");
    if (m.name.size() < 5 || m.name.compare(m.name.size() - 4, 4, ".npy") != 0)
      throw_input_error(name, m.name + ": member is not a .npy file");
    if (!seen.insert(m.name).second) throw_input_error(name, m.name + ": duplicate member");
    if (m.method == 0 && m.csize != m.usize)
      throw_input_error(name, m.name + ": stored member with compressed size " + std::to_string(m.csize) +
                                  " != uncompressed size " + std::to_string(m.usize));
    if (!checked_add(total, m.usize, &total) || total > limits.max_total_bytes)
      throw_input_error(name, "uncompressed members exceed the limit of " + std::to_string(limits.max_total_bytes) + " bytes");
    members.push_back(std::move(m));
  }

  // 3. Each member's data.
  NpzArrays out;
  for (const Member& m : members) {
    if (m.local_offset >= cd_off) throw_input_error(name, m.name + ": local header offset inside the central directory");
    const uint8_t* l = b.at(m.local_offset, 30, "local header");
    if (le32(l) != kSigLocal) throw_input_error(name, m.name + ": bad local header signature");
    const uint64_t data_off = m.local_offset + 30ull + le16(l + 26) + le16(l + 28);
    uint64_t data_end = 0;
    if (!checked_add(data_off, m.csize, &data_end) || data_end > cd_off)
      throw_input_error(name, m.name + ": data (offset " + std::to_string(data_off) + ", " + std::to_string(m.csize) +
                                  " bytes) runs past the member area");
    const uint8_t* src = data + data_off;
    std::vector<uint8_t> inflated;
    const uint8_t* npy = src;
    if (m.method == 8) {
      inflated = inflate_exact(src, static_cast<size_t>(m.csize), ZFormat::kRawDeflate, m.usize, name + ": " + m.name);
      npy = inflated.data();
    }
    const uLong crc = crc32_z(crc32(0L, Z_NULL, 0), npy, static_cast<z_size_t>(m.usize));
    if (crc != m.crc) throw_input_error(name, m.name + ": CRC-32 mismatch");
    mcrt::NpyArray a;
    const mcrt::NpyStatus st = mcrt::npy_read_buffer(npy, static_cast<size_t>(m.usize), &a);
    if (!st.ok()) throw_input_error(name, m.name + ": " + st.message());
    out.emplace_back(m.name.substr(0, m.name.size() - 4), std::move(a));
  }
  return out;
}

NpzArrays read_npz_file(const std::string& path, const NpzLimits& limits) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, limits.max_file_bytes);
  return read_npz_buffer(bytes.data(), bytes.size(), path, limits);
}

}  // namespace mc::data
