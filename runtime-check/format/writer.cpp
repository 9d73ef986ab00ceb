#include "format/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "format/file_header.h"
#include "runtime/coded_body.h"

namespace mcrt {

Attribute Attribute::Int(fb::AttrKey k, int64_t v) {
  Attribute a;
  a.key = k;
  a.kind = fb::AttrKind_INT;
  a.i = v;
  return a;
}
Attribute Attribute::Float(fb::AttrKey k, float v) {
  Attribute a;
  a.key = k;
  a.kind = fb::AttrKind_FLOAT;
  a.f = v;
  return a;
}
Attribute Attribute::Ints(fb::AttrKey k, std::vector<int64_t> v) {
  Attribute a;
  a.key = k;
  a.kind = fb::AttrKind_INTS;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::Floats(fb::AttrKey k, std::vector<float> v) {
  Attribute a;
  a.key = k;
  a.kind = fb::AttrKind_FLOATS;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::String(fb::AttrKey k, std::string v) {
  Attribute a;
  a.key = k;
  a.kind = fb::AttrKind_STRING;
  a.s = std::move(v);
  return a;
}

uint32_t ModelWriter::add_buffer(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  buffers_.emplace_back(p, p + bytes);
  return (uint32_t)(buffers_.size() - 1);
}

int ModelWriter::add_raw_buffer(const void* data, size_t bytes) { return (int)add_buffer(data, bytes); }

int ModelWriter::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  TensorSpec t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  tensors_.push_back(std::move(t));
  return (int)tensors_.size() - 1;
}

int ModelWriter::add_weight(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data, size_t bytes) {
  int idx = add_tensor(name, dtype, std::move(shape));
  tensors_[idx].buffer = add_buffer(data, bytes);
  return idx;
}

int ModelWriter::add_weight_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
  return add_weight(name, DType::kF32, std::move(shape), v.data(), v.size() * sizeof(float));
}

int ModelWriter::add_weight_i64(const std::string& name, std::vector<int64_t> shape,
                                const std::vector<int64_t>& v) {
  return add_weight(name, DType::kI64, std::move(shape), v.data(), v.size() * sizeof(int64_t));
}

void ModelWriter::set_quantization(int tensor, QuantParams q) {
  tensors_[tensor].has_quant = true;
  tensors_[tensor].quant = std::move(q);
}

int ModelWriter::add_sparse_bitmask_weight(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                           const std::vector<uint8_t>& mask, const void* values,
                                           size_t value_bytes) {
  int idx = add_tensor(name, dtype, std::move(shape));
  TensorSpec& t = tensors_[idx];
  t.has_sparse = true;
  t.sparse.format = fb::SparseFormat_BITMASK;
  t.sparse.mask = add_buffer(mask.data(), mask.size());
  t.sparse.values = add_buffer(values, value_bytes);
  return idx;
}

int ModelWriter::add_sparse_csr_weight(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                       const std::vector<int32_t>& row_ptr, const std::vector<int32_t>& col_idx,
                                       const void* values, size_t value_bytes) {
  int idx = add_tensor(name, dtype, std::move(shape));
  TensorSpec& t = tensors_[idx];
  t.has_sparse = true;
  t.sparse.format = fb::SparseFormat_CSR;
  t.sparse.row_ptr = add_buffer(row_ptr.data(), row_ptr.size() * 4);
  t.sparse.col_idx = add_buffer(col_idx.data(), col_idx.size() * 4);
  t.sparse.values = add_buffer(values, value_bytes);
  return idx;
}

int ModelWriter::add_palettized_weight(const std::string& name, std::vector<int64_t> shape, int bits,
                                       const std::vector<float>& codebook,
                                       const std::vector<uint8_t>& packed_indices) {
  int idx = add_tensor(name, DType::kF32, std::move(shape));
  TensorSpec& t = tensors_[idx];
  t.has_palette = true;
  t.palette.bits = bits;
  t.palette.size = (uint32_t)codebook.size();
  t.palette.codebook = add_buffer(codebook.data(), codebook.size() * 4);
  t.palette.indices = add_buffer(packed_indices.data(), packed_indices.size());
  return idx;
}

std::vector<uint8_t> ModelWriter::pack_indices(const std::vector<uint32_t>& indices, int bits) {
  std::vector<uint8_t> out((indices.size() * (size_t)bits + 7) / 8, 0);
  size_t bit = 0;
  for (uint32_t v : indices) {
    for (int b = 0; b < bits; ++b, ++bit)
      if ((v >> b) & 1u) out[bit / 8] |= (uint8_t)(1u << (bit % 8));
  }
  return out;
}

void ModelWriter::set_buffer_coding(uint32_t buffer, std::vector<uint8_t> coded, uint64_t raw_size) {
  buffers_[buffer] = std::move(coded);
  codings_.push_back({buffer, (uint8_t)fb::Codec_HUFFMAN, raw_size});
}

int ModelWriter::add_node(fb::OpType op, std::vector<int> inputs, std::vector<int> outputs,
                          std::vector<Attribute> attrs, const std::string& name) {
  nodes_.push_back(NodeSpec{op, std::move(inputs), std::move(outputs), std::move(attrs), name});
  return (int)nodes_.size() - 1;
}

// Element width of each buffer's bytes: the dtype size of the tensor part that uses it (1 when
// no tensor does).
std::vector<uint8_t> ModelWriter::buffer_widths() const {
  std::vector<uint8_t> w(buffers_.size(), 1);
  auto set = [&](uint32_t b, size_t v) {
    if (b < w.size()) w[b] = static_cast<uint8_t>(v);
  };
  for (const TensorSpec& t : tensors_) {
    const size_t esz = dtype_size(t.dtype);
    if (t.buffer) set(t.buffer, esz);
    if (t.has_sparse) {
      set(t.sparse.values, esz);
      set(t.sparse.row_ptr, 4);
      set(t.sparse.col_idx, 4);
      set(t.sparse.mask, 1);
    }
    if (t.has_palette) {
      set(t.palette.codebook, 4);
      set(t.palette.indices, 1);
    }
  }
  w[0] = 1;
  return w;
}

Status ModelWriter::finish(std::vector<uint8_t>* out) const {
  flatbuffers::FlatBufferBuilder b(1024);
  // Weights blob layout: each buffer at the next multiple of 64, in index order; with a coded
  // body, grouped by element width so that each group is one segment (§2.1).
  std::vector<uint32_t> order;
  const std::vector<uint8_t> width = coded_body_ ? buffer_widths() : std::vector<uint8_t>(buffers_.size(), 1);
  for (uint32_t i = 1; i < buffers_.size(); ++i) order.push_back(i);
  if (coded_body_)
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t c) { return width[a] < width[c]; });
  std::vector<fb::BufferRef> refs(buffers_.size(), fb::BufferRef(0, 0));
  std::vector<BodySegmentPlan> plan;  // weights part of a coded body: one entry per width group
  uint64_t blob = 0;
  for (uint32_t i : order) {
    const uint64_t start = (blob + kWeightAlign - 1) / kWeightAlign * kWeightAlign;
    if (!plan.empty()) plan.back().raw_size += start - blob;  // padding: a group ends where the next starts
    if (plan.empty() || plan.back().width != width[i]) plan.push_back({0, width[i]});
    plan.back().raw_size += buffers_[i].size();
    blob = start;
    refs[i] = fb::BufferRef(blob, buffers_[i].size());
    blob += buffers_[i].size();
  }
  std::vector<char> keep_name(tensors_.size(), !strip_names_);
  for (const std::vector<int>* io : {&inputs_, &outputs_})
    for (int i : *io)
      if (i >= 0 && (size_t)i < keep_name.size()) keep_name[i] = 1;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (size_t ti = 0; ti < tensors_.size(); ++ti) {
    const TensorSpec& t = tensors_[ti];
    flatbuffers::Offset<fb::Quantization> q = 0;
    if (t.has_quant) {
      // An all-zero zero_point is written as an empty vector (§4.3: empty = all zero): symmetric
      // per-channel weights would otherwise spend 8 bytes per channel on zeros.
      // (Only a well-formed vector, one entry per scale, so that malformed files stay writable.)
      bool all_zero = t.quant.zero_point.size() == t.quant.scale.size();
      for (int64_t z : t.quant.zero_point) all_zero = all_zero && z == 0;
      const std::vector<int64_t> none;
      q = fb::CreateQuantization(b, b.CreateVector(t.quant.scale),
                                 b.CreateVector(all_zero ? none : t.quant.zero_point), t.quant.axis,
                                 t.quant.block_size);
    }
    flatbuffers::Offset<fb::Sparsity> sp = 0;
    if (t.has_sparse)
      sp = fb::CreateSparsity(b, t.sparse.format, t.sparse.values, t.sparse.mask, t.sparse.row_ptr,
                              t.sparse.col_idx);
    flatbuffers::Offset<fb::Palette> pal = 0;
    if (t.has_palette)
      pal = fb::CreatePalette(b, (uint8_t)t.palette.bits, t.palette.size, t.palette.codebook, t.palette.indices);
    const bool named = keep_name[ti] && !t.name.empty();
    tensors.push_back(fb::CreateTensor(b, named ? b.CreateString(t.name) : 0, (fb::DType)t.dtype, b.CreateVector(t.shape),
                                       t.buffer, q, sp, pal));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const NodeSpec& n : nodes_) {
    std::vector<flatbuffers::Offset<fb::Attr>> attrs;
    for (const Attribute& a : n.attrs) {
      attrs.push_back(fb::CreateAttr(b, a.key, a.kind, a.i, a.f, a.ints.empty() ? 0 : b.CreateVector(a.ints),
                                     a.floats.empty() ? 0 : b.CreateVector(a.floats),
                                     a.s.empty() ? 0 : b.CreateString(a.s)));
    }
    nodes.push_back(fb::CreateNode(b, n.op, b.CreateVector(n.inputs), b.CreateVector(n.outputs),
                                   b.CreateVector(attrs), n.name.empty() || strip_names_ ? 0 : b.CreateString(n.name)));
  }
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::BufferCoding>>> codings = 0;
  if (!codings_.empty()) {
    std::vector<flatbuffers::Offset<fb::BufferCoding>> cs;
    for (const CodingSpec& c : codings_) cs.push_back(fb::CreateBufferCoding(b, c.buffer, (fb::Codec)c.codec, c.raw_size));
    codings = b.CreateVector(cs);
  }
  auto model = fb::CreateModel(b, b.CreateVector(tensors), b.CreateVector(nodes), b.CreateVector(inputs_),
                               b.CreateVector(outputs_), b.CreateVectorOfStructs(refs), b.CreateString(producer_),
                               codings);
  b.Finish(model, fb::ModelIdentifier());

  FileHeader h;
  if (major_ != 0 || minor_ != 0) {
    h.major = major_;
    h.minor = minor_;
  }
  h.graph_offset = kHeaderSize;
  h.graph_size = b.GetSize();
  h.weights_offset = (h.graph_offset + h.graph_size + kWeightAlign - 1) / kWeightAlign * kWeightAlign;
  h.weights_size = blob;
  out->assign(h.weights_offset + h.weights_size, 0);
  encode_file_header(h, out->data());
  std::memcpy(out->data() + h.graph_offset, b.GetBufferPointer(), b.GetSize());
  for (size_t i = 1; i < buffers_.size(); ++i)
    if (!buffers_[i].empty())
      std::memcpy(out->data() + h.weights_offset + refs[i].offset(), buffers_[i].data(), buffers_[i].size());
  if (!coded_body_) return Status::Ok();
  // §2.1: the image after the header as segments: the graph section with its padding, then
  // one per width group of the weights blob (the first group starts at offset 0 of the blob).
  std::vector<BodySegmentPlan> segs = {BodySegmentPlan{h.weights_offset - kHeaderSize, 1}};
  for (const BodySegmentPlan& p : plan)
    if (p.raw_size) segs.push_back(p);  // groups of empty buffers hold no bytes
  const std::vector<uint8_t> body = encode_coded_body(out->data() + kHeaderSize, segs);
  if (major_ == 0 && minor_ == 0) h.minor = kFormatMinorCodedBody;
  h.flags |= kFlagCodedBody;
  out->resize(kHeaderSize);
  encode_file_header(h, out->data());
  out->insert(out->end(), body.begin(), body.end());
  return Status::Ok();
}

Status ModelWriter::write_file(const std::string& path) const {
  std::vector<uint8_t> bytes;
  MCRT_RETURN_IF_ERROR(finish(&bytes));
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmpl = path + ".tmpXXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) return Status(StatusCode::kIoError, path + ": cannot create temp file: " + std::strerror(errno));
  auto fail = [&](const char* what) {
    std::string msg = path + ": " + what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(name.data());
    return Status(StatusCode::kIoError, msg);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write failed");
    }
    done += (size_t)n;
  }
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(name.data());
    return Status(StatusCode::kIoError, path + ": close failed");
  }
  if (::rename(name.data(), path.c_str()) != 0) {
    std::string msg = path + ": rename failed: " + std::strerror(errno);
    ::unlink(name.data());
    return Status(StatusCode::kIoError, msg);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace mcrt
