// Runtime file statistics (runtime_file_stats.h).
#include "runtime-check/check/runtime_file_stats.h"

#include <memory>
#include <set>

#include "compress/error.h"
#include "format/file_header.h"
#include "runtime/dtype.h"
#include "runtime/interpreter.h"

namespace mc::check {

namespace {

// Ops whose int8 weight (input 1) stays int8 in memory (docs/quantization.md §4).
bool int8_op(mcrt::fb::OpType op) {
  return op == mcrt::fb::OpType_QLinearConv || op == mcrt::fb::OpType_QLinearMatMul ||
         op == mcrt::fb::OpType_DynamicQuantizeMatMul;
}

}  // namespace

RuntimeFileStats runtime_file_stats(const std::vector<uint8_t>& bytes, const std::string& name) {
  std::unique_ptr<mcrt::Model> model;
  mcrt::Status st = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model);
  if (!st.ok()) throw Error(ErrorKind::Input, name + ": " + st.to_string());
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = 1;
  st = mcrt::Interpreter::prepare(*model, po, &it);
  if (!st.ok()) throw Error(ErrorKind::Input, name + ": " + st.to_string());

  RuntimeFileStats s;
  const mcrt::fb::Model& g = model->graph();
  mcrt::FileHeader h;
  mcrt::decode_file_header(bytes.data(), &h);  // verified by load (sections of the decoded image)
  s.file_bytes = bytes.size();
  s.coded_body = model->coded_body();
  s.image_bytes = model->image_bytes();
  uint64_t at = mcrt::kHeaderSize;
  for (const mcrt::BodySegment& seg : model->body_segments()) {
    RuntimeSegmentStats ss;
    ss.content = at < h.weights_offset ? "graph" : "weights";
    ss.codec = seg.codec == mcrt::BodyCodec::kStored    ? "stored"
               : seg.codec == mcrt::BodyCodec::kHuffman ? "huffman"
                                                        : "lz+huffman";
    ss.width = seg.width;
    ss.raw_bytes = seg.raw_size;
    ss.coded_bytes = seg.coded_size;
    at += seg.raw_size;
    s.segments.push_back(ss);
  }
  s.graph_bytes = h.graph_size;
  s.weights_section_bytes = h.weights_size;
  s.nodes = g.nodes() ? g.nodes()->size() : 0;
  s.decoded_bytes = model->decoded_bytes();
  s.weight_memory_bytes = it->weights_bytes_in_memory();
  std::set<uint32_t> coded;
  if (g.codings())
    for (const auto* c : *g.codings()) coded.insert(c->buffer());
  s.coded_buffers = coded.size();
  std::set<int32_t> int8_weights;
  if (g.nodes())
    for (const auto* n : *g.nodes())
      if (int8_op(n->op()) && n->inputs() && n->inputs()->size() > 1) int8_weights.insert(n->inputs()->Get(1));
  auto disk = [&](uint32_t b) { return b ? g.buffers()->Get(b)->size() : 0; };
  for (uint32_t i = 0; i < g.tensors()->size(); ++i) {
    const mcrt::fb::Tensor* t = g.tensors()->Get(i);
    if (!t->buffer() && !t->sparsity() && !t->palette()) continue;
    RuntimeTensorStats ts;
    ts.name = t->name() && t->name()->size() ? t->name()->str() : "#" + std::to_string(i);  // --strip-names
    const auto dt = static_cast<mcrt::DType>(t->dtype());
    ts.dtype = mcrt::dtype_name(dt);
    ts.shape.assign(t->shape()->begin(), t->shape()->end());
    uint64_t numel = 1;
    for (int64_t d : ts.shape) numel *= static_cast<uint64_t>(d);
    std::vector<uint32_t> bufs;
    if (t->palette()) {
      ts.storage = "palette " + std::to_string(t->palette()->bits()) + "-bit (" +
                   std::to_string(t->palette()->palette_size()) + ")";
      bufs = {t->palette()->codebook_buffer(), t->palette()->indices_buffer()};
    } else if (t->sparsity()) {
      const bool bm = t->sparsity()->format() == mcrt::fb::SparseFormat_BITMASK;
      ts.storage = bm ? "bitmask" : "csr";
      bufs = {t->sparsity()->values_buffer(), t->sparsity()->mask_buffer(), t->sparsity()->row_ptr_buffer(),
              t->sparsity()->col_idx_buffer()};
    } else {
      ts.storage = "dense";
      bufs = {t->buffer()};
    }
    if (const auto* q = t->quant()) {
      if (q->block_size() > 0) ts.storage += ", blocks of " + std::to_string(q->block_size());
      else if (q->scale()->size() > 1) ts.storage += ", per-channel";
      else ts.storage += ", per-tensor";
    }
    for (uint32_t b : bufs) {
      if (!b) continue;
      ts.disk_bytes += disk(b);
      ts.raw_bytes += model->buffer_size(b);
      ts.coded = ts.coded || coded.count(b) || s.coded_body;
    }
    const bool stays = int8_weights.count(static_cast<int32_t>(i)) ||
                       (!t->palette() && !t->sparsity() && !t->quant() && dt != mcrt::DType::kF16);
    ts.memory_bytes = stays ? model->buffer_size(t->buffer()) : numel * 4;
    s.weight_disk_bytes += ts.disk_bytes;
    s.weight_raw_bytes += ts.raw_bytes;
    s.tensors.push_back(std::move(ts));
  }
  return s;
}

}  // namespace mc::check
