// export/weight_encoding: the palette form and its bit widths, and the runtime export of
// kmeans weights as palettes with Huffman-coded buffers: the file loads, the runtime's
// output equals a reference computed from the IR weights, and the coded file is smaller.
#include <catch2/catch.hpp>
#include <cstring>

#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "export/weight_encoding.h"
#include "quantize/weight_storage.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "storage_test_models.h"

using namespace mc;

namespace {

struct Ran {
  std::vector<float> y;
  uint64_t palettes = 0, codings = 0;
  uint64_t decoded = 0;
};

// Loads the runtime file, counts palettized tensors and codings, runs x through it.
Ran run_runtime(const std::vector<uint8_t>& bytes, const std::vector<float>& x) {
  Ran r;
  std::unique_ptr<mcrt::Model> model;
  mcrt::Status st = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &model);
  INFO(st.to_string());
  REQUIRE(st.ok());
  for (const auto* t : *model->graph().tensors()) r.palettes += t->palette() ? 1 : 0;
  r.codings = model->graph().codings() ? model->graph().codings()->size() : 0;
  r.decoded = model->decoded_bytes();
  std::unique_ptr<mcrt::Interpreter> it;
  mcrt::PrepareOptions po;
  po.batch = 1;
  REQUIRE(mcrt::Interpreter::prepare(*model, po, &it).ok());
  mcrt::TensorInfo in = it->input(0);
  REQUIRE(in.bytes == x.size() * 4);
  std::memcpy(in.data, x.data(), in.bytes);
  REQUIRE(it->run().ok());
  mcrt::TensorInfo out = it->output(0);
  r.y.resize(out.bytes / 4);
  std::memcpy(r.y.data(), out.data, out.bytes);
  return r;
}

// y[m] = sum_k x[k] * W[m, k] + b[m], in double, from the IR's weights.
std::vector<float> reference(const Model& md, const std::vector<float>& x) {
  const Tensor* w = md.graph.initializer("fc.w");
  const Tensor* b = md.graph.initializer("fc.b");
  const int64_t m = w->dims[0], k = w->dims[1];
  std::vector<float> y(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    double acc = b->as<float>()[i];
    for (int64_t j = 0; j < k; ++j) acc += (double)x[(size_t)j] * w->as<float>()[i * k + j];
    y[(size_t)i] = static_cast<float>(acc);
  }
  return y;
}

}  // namespace

TEST_CASE("palette_encoding: smallest bit width that fits, lossless bit patterns", "[unit][storage]") {
  struct Case {
    size_t distinct;
    int bits;
  };
  for (const Case& c : {Case{1, 1}, Case{2, 1}, Case{3, 2}, Case{4, 2}, Case{5, 4}, Case{16, 4}, Case{17, 8},
                        Case{256, 8}}) {
    std::vector<float> w(1000);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % c.distinct) - 3.5f;
    PaletteEncoding p;
    REQUIRE(palette_encoding(w.data(), w.size(), &p));
    CHECK(p.bits == c.bits);
    CHECK(p.codebook.size() == c.distinct);
    CHECK(p.packed.size() == (w.size() * (size_t)c.bits + 7) / 8);
    CHECK(p.disk_bytes == r64(c.distinct * 4) + r64(p.packed.size()));
  }
  std::vector<float> many(300);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<float>(i);
  PaletteEncoding p;
  CHECK(!palette_encoding(many.data(), many.size(), &p));
  // -0.0 and +0.0 are different entries (bit patterns).
  const float z[2] = {0.0f, -0.0f};
  REQUIRE(palette_encoding(z, 2, &p));
  CHECK(p.codebook.size() == 2);
}

TEST_CASE("kmeans weights export as palettes, entropy-coded when smaller, and compute the same", "[unit][storage]") {
  Model md = test::gemm_model(512, 64, test::bell_values(512 * 64, 11), test::test_values(64, 12));
  quant::WeightStorageOptions o;
  o.mode = quant::WeightStorageMode::KMeans;
  o.bits = 4;
  REQUIRE(quant::apply_weight_storage(md, o).layers_applied == 1);
  const std::vector<float> x = test::test_values(512, 13);
  const std::vector<float> want = reference(md, x);

  RuntimeExportOptions plain;
  const std::vector<uint8_t> a = export_runtime_bytes(md, plain);
  const Ran ra = run_runtime(a, x);
  CHECK(ra.palettes == 1);
  CHECK(ra.codings == 0);
  CHECK(ra.decoded == 0);
  RuntimeExportOptions coded;
  coded.entropy_coding = true;
  RuntimeExportReport rep;
  const std::vector<uint8_t> b = export_runtime_bytes(md, coded, &rep);
  const Ran rb = run_runtime(b, x);
  CHECK(rb.palettes == 1);
  CHECK(rb.codings >= 1);
  CHECK(rb.decoded >= 512 * 64 / 2);  // the 4-bit indices, decoded at load
  CHECK(b.size() < a.size());
  REQUIRE(ra.y.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(ra.y[i] == Approx(want[i]).margin(1e-4));
    CHECK(rb.y[i] == ra.y[i]);  // decoding is lossless: same weights, same kernel, same bits
  }
  // Same model, same options: same bytes.
  CHECK(export_runtime_bytes(md, coded) == b);
}

TEST_CASE("weight-only int8 model exports and runs on the runtime", "[unit][storage]") {
  Model md = test::gemm_model(64, 8, test::test_values(64 * 8, 21), test::test_values(8, 22));
  const std::vector<float> x = test::test_values(64, 23);
  const std::vector<float> fp32 = reference(md, x);
  quant::WeightStorageOptions o;
  o.mode = quant::WeightStorageMode::WeightOnly;
  o.bits = 8;
  REQUIRE(quant::apply_weight_storage(md, o).layers_applied == 1);
  const Ran r = run_runtime(export_runtime_bytes(md), x);
  REQUIRE(r.y.size() == fp32.size());
  for (size_t i = 0; i < fp32.size(); ++i) CHECK(r.y[i] == Approx(fp32[i]).margin(0.05));
}
