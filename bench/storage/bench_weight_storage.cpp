// bench_weight_storage MODEL.onnx [MODE] [BITS] [EXTRA] [OUT.mcrt]
// MODE kmeans (default; EXTRA = k-means++ seed, default 0), weight-only (EXTRA = block size, 0 =
// per channel) or fp16, BITS default 4, on every Conv/Gemm/MatMul of MODEL; then the sizes of the
// runtime file without and with entropy coding (the exporter's option: a coded body of LZ77 +
// Huffman segments, docs/runtime-format.md §2.1). For
// each palette's packed indices it also prints the size of Huffman over indices (one symbol per
// index) and of zstd -19 over the packed bytes, the two alternatives the format could have
// taken. Writes the entropy-coded file to OUT when given (fp16: exported with fp16_weights).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "compress/error.h"
#include "compress/onnx/onnx_import.h"
#include "compress/passes/pass.h"
#include "export/runtime_export.h"
#include "export/weight_encoding.h"
#include "quantize/weight_storage.h"
#include "runtime/huffman.h"
#ifdef MC_HAVE_ZSTD
#include <zstd.h>
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_weight_storage MODEL.onnx [kmeans|weight-only|fp16] [BITS] [EXTRA] [OUT.mcrt]\n");
    return 2;
  }
  try {
    const std::string path = argv[1];
    mc::Model m = mc::import_onnx_file(path);
    mc::PassContext ctx;
    mc::optimize_for_runtime(m, ctx);  // BatchNorm folded first: the stored weights are final
    mc::quant::WeightStorageOptions o;
    const std::string mode = argc > 2 ? argv[2] : "kmeans";
    if (mode != "kmeans" && mode != "weight-only" && mode != "fp16")
      throw mc::Error(mc::ErrorKind::Input, "mode '" + mode + "': expected kmeans, weight-only or fp16");
    o.mode = mode == "weight-only" ? mc::quant::WeightStorageMode::WeightOnly
             : mode == "fp16"      ? mc::quant::WeightStorageMode::Fp16
                                   : mc::quant::WeightStorageMode::KMeans;
    o.bits = argc > 3 ? std::atoi(argv[3]) : 4;
    const uint64_t extra = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
    if (o.mode == mc::quant::WeightStorageMode::WeightOnly) o.block_size = static_cast<int>(extra);
    else o.seed = extra;
    // As `quantize --mode kmeans` does (6-bit codebooks for filters of < 16 weights at <= 4 bits);
    // MC_SMALL_FILTERS=same gives every layer BITS, as `--quantize-small-filters` does.
    const char* same = std::getenv("MC_SMALL_FILTERS");
    if (o.mode == mc::quant::WeightStorageMode::KMeans && !(same && std::string(same) == "same"))
      o.small_filter_bits = mc::quant::kmeans_small_filter_bits(o.bits);
    const mc::quant::WeightStorageReport rep = mc::quant::apply_weight_storage(m, o);
    std::printf("%s: %s\n", path.c_str(), rep.summary.c_str());
    for (const auto& l : rep.layers)
      std::printf("  %-28s %-8s %9llu weights  %-40s SQNR %6.2f dB  cos %.5f%s%s\n", l.name.c_str(), l.op.c_str(),
                  (unsigned long long)l.elements, l.storage.c_str(), l.sqnr_db, l.cosine, l.reason.empty() ? "" : "  ",
                  l.reason.c_str());
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    const uint64_t onnx_bytes = static_cast<uint64_t>(f.tellg());
    mc::RuntimeExportOptions plain, coded;
    plain.fp16_weights = o.mode == mc::quant::WeightStorageMode::Fp16;
    coded.fp16_weights = plain.fp16_weights;
    coded.entropy_coding = true;
    const std::vector<uint8_t> a = mc::export_runtime_bytes(m, plain);
    const std::vector<uint8_t> b = mc::export_runtime_bytes(m, coded);
    std::printf("fp32 ONNX file            %9llu bytes\n", (unsigned long long)onnx_bytes);
    std::printf("runtime file              %9zu bytes  (%.2fx smaller)\n", a.size(), (double)onnx_bytes / a.size());
    std::printf("  + --entropy-coding      %9zu bytes  (%.2fx smaller)\n", b.size(), (double)onnx_bytes / b.size());
    // Per palette: its packed indices under the three codings.
    uint64_t packed = 0, huff_bytes = 0, huff_idx = 0, zstd = 0;
    for (const auto& t : m.graph.initializers) {
      mc::PaletteEncoding p;
      if (t.dtype != mc::DType::F32 || t.numel() < 1024 || !mc::palette_encoding(t.as<float>(), t.numel(), &p)) continue;
      packed += p.packed.size();
      huff_bytes += mcrt::huffman_encode(p.packed.data(), p.packed.size()).size();
      std::vector<uint8_t> idx(t.numel());
      for (uint64_t i = 0; i < t.numel(); ++i)
        idx[i] = static_cast<uint8_t>((p.packed[i * p.bits / 8] >> (i * p.bits % 8)) & ((1u << p.bits) - 1));
      huff_idx += mcrt::huffman_encode(idx.data(), idx.size()).size();
#ifdef MC_HAVE_ZSTD
      std::vector<uint8_t> z(ZSTD_compressBound(p.packed.size()));
      zstd += ZSTD_compress(z.data(), z.size(), p.packed.data(), p.packed.size(), 19);
#endif
    }
    std::printf("palette indices: packed %llu, Huffman over bytes %llu, Huffman over indices %llu",
                (unsigned long long)packed, (unsigned long long)huff_bytes, (unsigned long long)huff_idx);
#ifdef MC_HAVE_ZSTD
    std::printf(", zstd -19 %llu", (unsigned long long)zstd);
#endif
    std::printf(" bytes\n");
    if (argc > 5) {
      mc::export_runtime_file(m, argv[5], coded, {path});
      std::printf("wrote %s\n", argv[5]);
    }
  } catch (const mc::Error& e) {
    std::fprintf(stderr, "bench_weight_storage: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
