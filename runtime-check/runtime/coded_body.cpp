// Coded body (coded_body.h): segment table, the three codecs and the byte-plane split.
#include "runtime/coded_body.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "runtime/huffman.h"
#include "runtime/lz.h"

namespace mcrt {

namespace {

void put_le(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// plane j of the result = byte j of every w-byte element of in (n % w == 0).
void split_planes(const uint8_t* in, uint64_t n, int w, uint8_t* out) {
  const uint64_t count = n / w;
  for (uint64_t e = 0; e < count; ++e)
    for (int j = 0; j < w; ++j) out[j * count + e] = in[e * w + j];
}
void join_planes(const uint8_t* in, uint64_t n, int w, uint8_t* out) {
  const uint64_t count = n / w;
  for (uint64_t e = 0; e < count; ++e)
    for (int j = 0; j < w; ++j) out[e * w + j] = in[j * count + e];
}

std::vector<uint8_t> code(BodyCodec c, const uint8_t* d, size_t n) {
  if (c == BodyCodec::kStored) return std::vector<uint8_t>(d, d + n);
  if (c == BodyCodec::kHuffman) return huffman_encode(d, n);
  const std::vector<uint8_t> lz = lz_encode(d, n);
  std::vector<uint8_t> out;
  put_le(out, lz.size(), 8);
  const std::vector<uint8_t> h = huffman_encode(lz.data(), lz.size());
  out.insert(out.end(), h.begin(), h.end());
  return out;
}

// The largest raw size `coded` bytes of codec c can hold (0: none).
uint64_t max_raw(BodyCodec c, uint64_t coded) {
  if (c == BodyCodec::kStored) return coded;
  if (c == BodyCodec::kHuffman) return huffman_max_raw_size(coded);
  if (coded < 8) return 0;
  const uint64_t lz = huffman_max_raw_size(coded - 8);
  return lz > UINT64_MAX / kLzMaxExpansion ? UINT64_MAX : lz * kLzMaxExpansion;
}

}  // namespace

std::vector<uint8_t> encode_coded_body(const uint8_t* image, const std::vector<BodySegmentPlan>& plan,
                                       std::vector<BodySegment>* chosen) {
  std::vector<uint8_t> table, data;
  put_le(table, plan.size(), 4);
  put_le(table, 0, 4);
  uint64_t pos = 0;
  for (const BodySegmentPlan& p : plan) {
    const uint8_t* raw = image + pos;
    pos += p.raw_size;
    std::vector<uint8_t> best;
    BodySegment seg;
    seg.raw_size = p.raw_size;
    bool have = false;
    std::vector<uint8_t> planes;
    for (int pass = 0; pass < 2; ++pass) {
      const int w = pass == 0 ? 1 : p.width;
      if (pass == 1 && (w <= 1 || p.raw_size % w != 0)) break;
      const uint8_t* src = raw;
      if (w > 1) {
        planes.resize(p.raw_size);
        split_planes(raw, p.raw_size, w, planes.data());
        src = planes.data();
      }
      for (BodyCodec c : {BodyCodec::kStored, BodyCodec::kHuffman, BodyCodec::kLzHuffman}) {
        if (c == BodyCodec::kStored && w > 1) continue;  // a split without coding gains nothing
        std::vector<uint8_t> coded = code(c, src, p.raw_size);
        if (!have || coded.size() < best.size()) {
          best = std::move(coded);
          seg.codec = c;
          seg.width = static_cast<uint8_t>(w);
          have = true;
        }
      }
    }
    seg.coded_size = best.size();
    table.push_back(static_cast<uint8_t>(seg.codec));
    table.push_back(seg.width);
    put_le(table, 0, 6);
    put_le(table, seg.raw_size, 8);
    put_le(table, seg.coded_size, 8);
    data.insert(data.end(), best.begin(), best.end());
    if (chosen) chosen->push_back(seg);
  }
  table.insert(table.end(), data.begin(), data.end());
  return table;
}

Status parse_coded_body(const uint8_t* body, uint64_t n, uint64_t raw_total, std::vector<BodySegment>* segments) {
  segments->clear();
  if (n < kBodyTableHead) return InvalidModel(str_format("§2.1: coded body of %llu bytes has no segment table", (unsigned long long)n));
  const uint64_t count = get_le(body, 4);
  if (count < 1 || count > kMaxBodySegments || get_le(body + 4, 4) != 0)
    return InvalidModel(str_format("§2.1: segment count %llu outside [1, %u] or reserved bytes set", (unsigned long long)count,
                            kMaxBodySegments));
  if ((n - kBodyTableHead) / kBodySegmentEntry < count)
    return InvalidModel(str_format("§2.1: the table of %llu segments runs past the end of the file (truncated?)",
                            (unsigned long long)count));
  uint64_t data_left = n - kBodyTableHead - count * kBodySegmentEntry;
  uint64_t raw_left = raw_total;
  for (uint64_t k = 0; k < count; ++k) {
    const uint8_t* e = body + kBodyTableHead + k * kBodySegmentEntry;
    BodySegment s;
    const uint8_t codec = e[0];
    s.width = e[1];
    s.raw_size = get_le(e + 8, 8);
    s.coded_size = get_le(e + 16, 8);
    if (codec > static_cast<uint8_t>(BodyCodec::kLzHuffman))
      return InvalidModel(str_format("§2.1: segment %llu: unknown codec %u", (unsigned long long)k, codec));
    s.codec = static_cast<BodyCodec>(codec);
    if (get_le(e + 2, 6) != 0) return InvalidModel(str_format("§2.1: segment %llu: reserved bytes set", (unsigned long long)k));
    if (s.width != 1 && s.width != 2 && s.width != 4 && s.width != 8)
      return InvalidModel(str_format("§2.1: segment %llu: width %u not in {1, 2, 4, 8}", (unsigned long long)k, s.width));
    if (s.raw_size == 0 || s.raw_size % s.width != 0)
      return InvalidModel(str_format("§2.1: segment %llu: raw_size %llu is 0 or not a multiple of its width %u",
                              (unsigned long long)k, (unsigned long long)s.raw_size, s.width));
    if (s.coded_size > data_left)
      return InvalidModel(str_format("§2.1: segment %llu: %llu coded bytes run past the end of the file (truncated?)",
                              (unsigned long long)k, (unsigned long long)s.coded_size));
    data_left -= s.coded_size;
    if (s.raw_size > raw_left)
      return InvalidModel(str_format("§2.1: segment %llu: raw sizes exceed the %llu bytes of the image after the header",
                              (unsigned long long)k, (unsigned long long)raw_total));
    raw_left -= s.raw_size;
    if (s.codec == BodyCodec::kStored ? s.raw_size != s.coded_size : s.raw_size > max_raw(s.codec, s.coded_size))
      return InvalidModel(str_format("§2.1: segment %llu: raw_size %llu cannot come from %llu coded bytes (at most %llu)",
                              (unsigned long long)k, (unsigned long long)s.raw_size, (unsigned long long)s.coded_size,
                              (unsigned long long)max_raw(s.codec, s.coded_size)));
    segments->push_back(s);
  }
  if (data_left != 0)
    return InvalidModel(str_format("§2.1: %llu bytes after the last segment", (unsigned long long)data_left));
  if (raw_left != 0)
    return InvalidModel(str_format("§2.1: the segments decode to %llu bytes, the header's sections need %llu",
                            (unsigned long long)(raw_total - raw_left), (unsigned long long)raw_total));
  return Status::Ok();
}

Status prove_coded_body(const uint8_t* body, const std::vector<BodySegment>& segments, CodedBodyProof* proof) {
  proof->stage.clear();
  proof->stage_size.clear();
  const uint8_t* in = body + kBodyTableHead + segments.size() * kBodySegmentEntry;
  try {  // the two vectors throw only std::bad_alloc (segments.size() <= kMaxBodySegments)
    proof->stage.resize(segments.size());
    proof->stage_size.assign(segments.size(), 0);
  } catch (const std::bad_alloc&) {
    return OutOfMemory("cannot allocate the coded body's segment list");
  }
  for (size_t k = 0; k < segments.size(); ++k) {
    const BodySegment& s = segments[k];
    if (s.codec == BodyCodec::kStored) {
      in += s.coded_size;
      continue;
    }
    const uint8_t* huff = in;
    uint64_t huff_size = s.coded_size, n = s.raw_size;
    if (s.codec == BodyCodec::kLzHuffman) {
      n = get_le(in, 8);
      if (n == 0 || n > huffman_max_raw_size(s.coded_size - 8))
        return InvalidModel(str_format("§2.1: segment %zu: lz_size %llu outside [1, 8·(coded - 136)]", k, (unsigned long long)n));
      if (s.raw_size / kLzMaxExpansion > n)
        return InvalidModel(str_format("§2.1: segment %zu: raw_size %llu exceeds 255 bytes per LZ byte", k,
                                (unsigned long long)s.raw_size));
      huff += 8;
      huff_size -= 8;
    }
    // At most 8 bytes per coded byte (bounded by parse_coded_body and above), not zero-filled:
    // pages are touched only as the Huffman decoder reaches them, and it stops at the first bad code.
    proof->stage[k].reset(new (std::nothrow) uint8_t[n]);
    if (!proof->stage[k])
      return OutOfMemory(str_format("cannot allocate %llu bytes to decode segment %zu", (unsigned long long)n, k));
    proof->stage_size[k] = n;
    const char* err = huffman_decode(huff, huff_size, proof->stage[k].get(), n);
    if (!err && s.codec == BodyCodec::kLzHuffman) err = lz_decode(proof->stage[k].get(), n, nullptr, s.raw_size);
    if (err) return InvalidModel(str_format("§2.1: segment %zu: %s", k, err));
    in += s.coded_size;
  }
  return Status::Ok();
}

Status decode_coded_body(const uint8_t* body, const std::vector<BodySegment>& segments, const CodedBodyProof& proof,
                         uint8_t* out) {
  if (proof.stage.size() != segments.size() || proof.stage_size.size() != segments.size())
    return Status(StatusCode::kInvalidArgument, "decode_coded_body: the segments were not proven (prove_coded_body)");
  uint64_t max_planes = 0;  // LZ output of split segments goes through one scratch, not zero-filled
  for (const BodySegment& s : segments)
    if (s.codec == BodyCodec::kLzHuffman && s.width > 1 && s.raw_size > max_planes) max_planes = s.raw_size;
  std::unique_ptr<uint8_t[]> planes;
  if (max_planes) {
    planes.reset(new (std::nothrow) uint8_t[max_planes]);
    if (!planes) return OutOfMemory(str_format("cannot allocate %llu bytes to join byte planes", (unsigned long long)max_planes));
  }
  const uint8_t* in = body + kBodyTableHead + segments.size() * kBodySegmentEntry;
  for (size_t k = 0; k < segments.size(); ++k) {
    const BodySegment& s = segments[k];
    const uint8_t* stage = proof.stage[k].get();
    if (s.codec != BodyCodec::kStored && !stage)
      return Status(StatusCode::kInvalidArgument, str_format("decode_coded_body: segment %zu was not proven", k));
    const uint8_t* src = in;  // the segment's raw bytes, as planes when width > 1
    if (s.codec == BodyCodec::kHuffman) {
      src = stage;  // decoded by the proof
    } else if (s.codec == BodyCodec::kLzHuffman) {
      uint8_t* dst = s.width > 1 ? planes.get() : out;
      if (const char* err = lz_decode(stage, proof.stage_size[k], dst, s.raw_size))
        return InvalidModel(str_format("§2.1: segment %zu: %s", k, err));  // proven: not reached
      src = dst;
    }
    if (s.width > 1)
      join_planes(src, s.raw_size, s.width, out);
    else if (src != out)
      std::memcpy(out, src, s.raw_size);
    in += s.coded_size;
    out += s.raw_size;
  }
  return Status::Ok();
}

}  // namespace mcrt
