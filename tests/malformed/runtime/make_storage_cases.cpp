// Generates the malformed runtime files of the weight storage checks (docs/runtime-format.md
// §2.1 coded body, §3.1 entropy-coded buffers, §4.1 INT4, §4.3 block-wise scales), one file per check, written
// with the runtime's own ModelWriter. Each must be rejected by load or prepare with
// kInvalidModel (tests/unit/runtime: "the malformed corpus ..."; ASan/UBSan loader run) and
// they seed fuzz_runtime_loader (scripts/fuzz.sh).
//   make_storage_cases OUT_DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "format/file_header.h"
#include "format/writer.h"
#include "runtime/huffman.h"
#include "runtime/lz.h"

using mcrt::DType;
using mcrt::ModelWriter;
namespace fb = mcrt::fb;

namespace {

// x[n] + w[n] -> y[n]; w is dense float32 unless the case changes it. Returns w's tensor.
int base(ModelWriter& w, int64_t n, DType wt = DType::kF32, const std::vector<uint8_t>& wb = {}) {
  const int x = w.add_tensor("x", DType::kF32, {n});
  std::vector<uint8_t> bytes = wb;
  if (bytes.empty()) {
    bytes.resize(static_cast<size_t>(n) * 4);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 7) % 13);  // ~3.7 bits each
  }
  const int c = w.add_weight("w", wt, {n}, bytes.data(), bytes.size());
  const int y = w.add_tensor("y", DType::kF32, {n});
  w.add_node(fb::OpType_Add, {x, c}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  return c;
}

// Codes buffer 1 (w's data) with Huffman and returns its coded bytes.
std::vector<uint8_t> code_w(ModelWriter& w) {
  const std::vector<uint8_t> raw = w.buffer_bytes(1);
  return mcrt::huffman_encode(raw.data(), raw.size());
}

mcrt::QuantParams q(std::vector<float> s, std::vector<int64_t> zp, int axis, int block) {
  mcrt::QuantParams p;
  p.scale = std::move(s);
  p.zero_point = std::move(zp);
  p.axis = axis;
  p.block_size = block;
  return p;
}

void put_le(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The file of base(w, 64) with a coded body (§2.1), as the writer lays it out.
std::vector<uint8_t> coded_body_file() {
  ModelWriter w;
  base(w, 64);
  w.set_coded_body(true);
  std::vector<uint8_t> f;
  if (!w.finish(&f).ok()) f.clear();
  return f;
}

// Offset of segment entry k in a coded file.
size_t entry(size_t k) { return mcrt::kHeaderSize + 8 + 24 * k; }

void append_le(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// The image of base(w, 64) followed, inside its weights section, by `zeros` zero bytes (a
// multiple of 8), as two segments: the uncoded body STORED (padded to a multiple of 8), then
// an LZ_HUFFMAN segment holding the zeros as one literal and one match at offset 1 (~1 bit per
// 255 zeros). short_by > 0: the match is that much shorter, so the LZ stream is well formed
// but ends before raw_size. (tests/unit/runtime/test_coded_body.cpp builds the same layout.)
std::vector<uint8_t> zero_tail_file(uint64_t zeros, uint64_t short_by) {
  ModelWriter w;
  base(w, 64);
  std::vector<uint8_t> plain;
  if (!w.finish(&plain).ok()) return {};
  std::vector<uint8_t> body(plain.begin() + mcrt::kHeaderSize, plain.end());
  while (body.size() % 8) body.push_back(0);
  mcrt::FileHeader h;
  mcrt::decode_file_header(plain.data(), &h);
  h.weights_size += (body.size() + mcrt::kHeaderSize - plain.size()) + zeros;
  h.flags = mcrt::kFlagCodedBody;
  h.minor = mcrt::kFormatMinorCodedBody;
  std::vector<uint8_t> lz = {0x1F, 0x00, 0x01, 0x00};  // 1 literal (0), a match at offset 1, length ext:
  for (uint64_t r = zeros - 1 - short_by - 4 - 15;; r -= 255) {
    lz.push_back(static_cast<uint8_t>(r >= 255 ? 255 : r));
    if (r < 255) break;
  }
  const std::vector<uint8_t> huff = mcrt::huffman_encode(lz.data(), lz.size());
  std::vector<uint8_t> f(mcrt::kHeaderSize);
  mcrt::encode_file_header(h, f.data());
  append_le(f, 2, 4);
  append_le(f, 0, 4);
  const uint64_t segs[2][3] = {{0, body.size(), body.size()}, {2, zeros, 8 + huff.size()}};  // codec, raw, coded
  for (const auto& seg : segs) {
    f.push_back(static_cast<uint8_t>(seg[0]));
    f.push_back(1);  // width
    append_le(f, 0, 6);
    append_le(f, seg[1], 8);
    append_le(f, seg[2], 8);
  }
  f.insert(f.end(), body.begin(), body.end());
  append_le(f, lz.size(), 8);
  f.insert(f.end(), huff.begin(), huff.end());
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_storage_cases OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  int failed = 0;
  auto emit = [&](const char* name, const ModelWriter& w) {
    std::vector<uint8_t> bytes;
    if (!w.finish(&bytes).ok()) {
      ++failed;
      return;
    }
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) ++failed;
  };
  auto emit_bytes = [&](const char* name, const std::vector<uint8_t>& bytes) {
    if (bytes.size() <= entry(1)) {
      ++failed;
      return;
    }
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) ++failed;
  };
  {  // §2: header flag bit 1 is not defined
    std::vector<uint8_t> f = coded_body_file();
    if (!f.empty()) f[12] |= 2;
    emit_bytes("coded_body_unknown_flag.mcrt", f);
  }
  {  // §2.1: codec 7 in the segment table
    std::vector<uint8_t> f = coded_body_file();
    if (!f.empty()) f[entry(0)] = 7;
    emit_bytes("coded_body_unknown_codec.mcrt", f);
  }
  {  // §2.1: 16 bytes after the last segment
    std::vector<uint8_t> f = coded_body_file();
    f.resize(f.size() + 16, 0);
    emit_bytes("coded_body_trailing_bytes.mcrt", f);
  }
  {  // §2.1: the header claims a 1 GiB image; segment 0 claims it from a few hundred coded bytes
    std::vector<uint8_t> f = coded_body_file();
    if (!f.empty()) {
      mcrt::FileHeader h;
      mcrt::decode_file_header(f.data(), &h);
      h.weights_size = (1ull << 30) - h.weights_offset;
      mcrt::encode_file_header(h, f.data());
      put_le(f.data() + entry(0) + 8, (1ull << 30) - mcrt::kHeaderSize, 8);
    }
    emit_bytes("coded_body_raw_size_amplified.mcrt", f);
  }
  {  // §2.1: one LZ_HUFFMAN segment whose LZ stream copies from before the start of the output
    std::vector<uint8_t> plain;
    ModelWriter w;
    base(w, 64);
    if (!w.finish(&plain).ok()) plain.clear();
    const uint64_t raw = plain.size() - mcrt::kHeaderSize;
    std::vector<uint8_t> lz = {0x10, 'M', 0x05, 0x00};  // 1 literal, then a match at offset 5 > 1
    lz.resize(raw, 0);                                  // never reached
    const std::vector<uint8_t> h = mcrt::huffman_encode(lz.data(), lz.size());
    std::vector<uint8_t> f(plain.begin(), plain.begin() + mcrt::kHeaderSize);
    f[12] = 1;
    f.resize(entry(1), 0);
    put_le(f.data() + mcrt::kHeaderSize, 1, 4);
    f[entry(0)] = 2;
    f[entry(0) + 1] = 1;
    put_le(f.data() + entry(0) + 8, raw, 8);
    put_le(f.data() + entry(0) + 16, 8 + h.size(), 8);
    f.resize(f.size() + 8, 0);
    put_le(f.data() + entry(1), lz.size(), 8);
    f.insert(f.end(), h.begin(), h.end());
    emit_bytes("coded_body_lz_offset_before_start.mcrt", f);
  }
  {  // §7: a well-formed coded body decoding to ~700 times the file (1 MiB of zeros in the weights
     // section): above LoadLimits::max_decode_ratio, refused before anything is decoded
    emit_bytes("coded_body_decode_ratio.mcrt", zero_tail_file(1u << 20, 0));
  }
  {  // §2.1: an LZ stream well formed up to its end, 1 byte short of raw_size (32 KiB of zeros:
     // within the decode ratio), refused by the proof before the image is allocated
    emit_bytes("coded_body_lz_ends_short.mcrt", zero_tail_file(32u << 10, 1));
  }
  {  // §3.1: a coding names buffer 7 of 2
    ModelWriter w;
    base(w, 64);
    w.add_raw_coding(7, fb::Codec_HUFFMAN, 256);
    emit("coding_buffer_out_of_range.mcrt", w);
  }
  {  // §3.1: the same buffer coded twice
    ModelWriter w;
    base(w, 64);
    w.set_buffer_coding(1, code_w(w), 256);
    w.add_raw_coding(1, fb::Codec_HUFFMAN, 256);
    emit("coding_buffer_twice.mcrt", w);
  }
  {  // §3.1: codec 9 does not exist
    ModelWriter w;
    base(w, 64);
    w.add_raw_coding(1, 9, 256);
    emit("coding_unknown_codec.mcrt", w);
  }
  {  // §3.1: 2^40 bytes claimed from 130 coded bytes (amplification)
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> c(130, 0);
    c[0] = 0x01;
    w.set_buffer_coding(1, c, 1ull << 40);
    emit("coding_raw_size_amplified.mcrt", w);
  }
  {  // §3.1: three symbols of length 1 (Kraft sum 3/2)
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> c(128 + 32, 0);
    c[0] = 0x11;
    c[1] = 0x01;
    w.set_buffer_coding(1, c, 256);
    emit("coding_lengths_oversubscribed.mcrt", w);
  }
  {  // §3.1: lengths 1 and 2 only (Kraft sum 3/4)
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> c(128 + 64, 0);
    c[0] = 0x21;
    w.set_buffer_coding(1, c, 256);
    emit("coding_lengths_incomplete.mcrt", w);
  }
  {  // §3.1: raw_size needs more bits than the buffer holds (within the 8-per-byte bound)
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> c = code_w(w);
    c.resize(c.size() - 16);
    w.set_buffer_coding(1, c, 256);
    emit("coding_overrun.mcrt", w);
  }
  {  // §3.1: whole bytes left after raw_size symbols
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> c = code_w(w);
    c.resize(c.size() + 16, 0);
    w.set_buffer_coding(1, c, 256);
    emit("coding_trailing_bytes.mcrt", w);
  }
  {  // §4.2 after decoding: the decoded buffer holds 252 bytes, the tensor needs 256
    ModelWriter w;
    base(w, 64);
    std::vector<uint8_t> raw = w.buffer_bytes(1);
    raw.resize(252);
    w.set_buffer_coding(1, mcrt::huffman_encode(raw.data(), raw.size()), raw.size());
    emit("coding_decoded_size_mismatch.mcrt", w);
  }
  {  // §4.3: INT4 constant without quantization
    ModelWriter w;
    base(w, 4, DType::kI4, {0x21, 0x43});
    emit("int4_without_quant.mcrt", w);
  }
  {  // §4.2: INT4 buffer sized as int8 (4 bytes for 4 elements; needs 2)
    ModelWriter w;
    const int c = base(w, 4, DType::kI4, {1, 2, 3, 4});
    w.set_quantization(c, q({1.f}, {}, 0, 0));
    emit("int4_buffer_int8_size.mcrt", w);
  }
  {  // §4.1: INT4 activation
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kI4, {4});
    const int y = w.add_tensor("y", DType::kI4, {4});
    w.add_node(fb::OpType_Relu, {x}, {y});
    w.set_inputs({x});
    w.set_outputs({y});
    emit("int4_activation.mcrt", w);
  }
  {  // §4.3: INT4 zero point 8
    ModelWriter w;
    const int c = base(w, 4, DType::kI4, {0x21, 0x43});
    w.set_quantization(c, q({1.f}, {8}, 0, 0));
    emit("int4_zero_point_range.mcrt", w);
  }
  {  // §4.3: 2 block scales for 64 elements in blocks of 16 (needs 4)
    ModelWriter w;
    const int c = base(w, 64, DType::kI8, std::vector<uint8_t>(64, 1));
    w.set_quantization(c, q({1.f, 1.f}, {}, 0, 16));
    emit("block_scale_count.mcrt", w);
  }
  {  // §4.3: negative block size
    ModelWriter w;
    const int c = base(w, 64, DType::kI8, std::vector<uint8_t>(64, 1));
    w.set_quantization(c, q({1.f}, {}, 0, -16));
    emit("block_size_negative.mcrt", w);
  }
  {  // §4.3: block-wise scales on a float tensor
    ModelWriter w;
    const int c = base(w, 64);
    w.set_quantization(c, q({1.f, 1.f, 1.f, 1.f}, {}, 0, 16));
    emit("block_on_float.mcrt", w);
  }
  if (failed) {
    std::fprintf(stderr, "make_storage_cases: %d files failed\n", failed);
    return 3;
  }
  std::printf("make_storage_cases: 21 files written to %s\n", dir.c_str());
  return 0;
}
