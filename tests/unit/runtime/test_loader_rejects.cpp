// Loader negative tests: each malformed model is rejected with the specific status and
// the section of docs/runtime-format.md that the failed check implements.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <fstream>
#include <iterator>

#include "format/file_header.h"
#include "runtime_test_support.h"

using namespace mcrt_test;
using mcrt::StatusCode;

namespace {

// x[2] + a[2] -> y[2]: the base model the tests break.
ModelWriter base_model(int* x_out = nullptr, int* a_out = nullptr, int* y_out = nullptr) {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2});
  const int a = w.add_weight_f32("a", {2}, {1, 2});
  const int y = w.add_tensor("y", DType::kF32, {2});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  if (x_out) *x_out = x;
  if (a_out) *a_out = a;
  if (y_out) *y_out = y;
  return w;
}

std::vector<uint8_t> bytes_of(const ModelWriter& w) {
  std::vector<uint8_t> b;
  REQUIRE(w.finish(&b).ok());
  return b;
}

void require_rejected(const mcrt::Status& s, StatusCode code, const char* section) {
  INFO(s.to_string());
  REQUIRE(s.code() == code);
  CHECK(s.message().find(section) != std::string::npos);
}

}  // namespace

TEST_CASE("the base model loads", "[unit][runtime][loader]") {
  REQUIRE(load_and_prepare(base_model()).ok());
}

TEST_CASE("truncated buffers are rejected", "[unit][runtime][loader]") {
  const std::vector<uint8_t> good = bytes_of(base_model());
  for (size_t keep : {size_t(0), size_t(10), size_t(63), size_t(64), size_t(100), good.size() / 2, good.size() - 1}) {
    INFO("kept " << keep << " of " << good.size() << " bytes");
    std::vector<uint8_t> b(good.begin(), good.begin() + (long)keep);
    mcrt::Status s = load_bytes(b);
    REQUIRE(s.code() == StatusCode::kInvalidModel);
    CHECK(s.message().find("§2") != std::string::npos);
  }
}

TEST_CASE("bad magic and unsupported major version are rejected", "[unit][runtime][loader]") {
  std::vector<uint8_t> b = bytes_of(base_model());
  b[0] = 'X';
  require_rejected(load_bytes(b), StatusCode::kInvalidModel, "magic");
  ModelWriter w = base_model();
  w.set_version(mcrt::kFormatMajor + 1, 0);
  require_rejected(load_bytes(bytes_of(w)), StatusCode::kInvalidModel, "version");
  ModelWriter newer_minor = base_model();
  newer_minor.set_version(mcrt::kFormatMajor, mcrt::kFormatMinor + 1);  // same major: readable
  CHECK(load_bytes(bytes_of(newer_minor)).ok());
}

TEST_CASE("a corrupted graph section fails verification, never crashes", "[unit][runtime][loader]") {
  const std::vector<uint8_t> good = bytes_of(base_model());
  mcrt::FileHeader h;
  REQUIRE(mcrt::decode_file_header(good.data(), &h));
  int rejected = 0;
  for (size_t i = h.graph_offset; i < h.graph_offset + h.graph_size; ++i) {
    std::vector<uint8_t> b = good;
    b[i] ^= 0xFF;
    mcrt::Status s = load_bytes(b);
    if (!s.ok()) {
      ++rejected;
      CHECK(s.code() == StatusCode::kInvalidModel);
    } else {  // a flip in padding or a value that stays valid: must still prepare safely
      std::unique_ptr<mcrt::Model> m;
      REQUIRE(mcrt::Model::load_buffer(b.data(), b.size(), &m).ok());
      std::unique_ptr<mcrt::Interpreter> it;
      (void)mcrt::Interpreter::prepare(*m, {}, &it);
    }
  }
  CHECK(rejected > 0);
}

TEST_CASE("tensor index out of range", "[unit][runtime][loader]") {
  int x, a, y;
  ModelWriter w = base_model(&x, &a, &y);
  w.add_node(fb::OpType_Relu, {99}, {y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§6.2");
  ModelWriter w2 = base_model();
  w2.set_outputs({42});
  require_rejected(load_and_prepare(w2), StatusCode::kInvalidModel, "§6.5");
}

TEST_CASE("-1 index where the input is not optional (CVE-2020-15211)", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2});
  const int y = w.add_tensor("y", DType::kF32, {2});
  w.add_node(fb::OpType_Add, {x, -1}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "not optional");
  // ...while -1 for an optional input (Conv bias) is accepted.
  ModelWriter ok;
  const int cx = ok.add_tensor("x", DType::kF32, {1, 1, 2, 2});
  const int ck = ok.add_weight_f32("k", {1, 1, 1, 1}, {2});
  const int cy = ok.add_tensor("y", DType::kF32, {1, 1, 2, 2});
  ok.add_node(fb::OpType_Conv, {cx, ck, -1}, {cy});
  ok.set_inputs({cx});
  ok.set_outputs({cy});
  CHECK(load_and_prepare(ok).ok());
  // Other negative values are never accepted.
  ModelWriter neg;
  const int nx = neg.add_tensor("x", DType::kF32, {1, 1, 2, 2});
  const int nk = neg.add_weight_f32("k", {1, 1, 1, 1}, {2});
  const int ny = neg.add_tensor("y", DType::kF32, {1, 1, 2, 2});
  neg.add_node(fb::OpType_Conv, {nx, nk, -2}, {ny});
  neg.set_inputs({nx});
  neg.set_outputs({ny});
  require_rejected(load_and_prepare(neg), StatusCode::kInvalidModel, "§6.2");
}

TEST_CASE("shape versus buffer size mismatch", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {3});
  const float v[] = {1, 2};  // 8 bytes for a [3] float tensor
  const int a = w.add_weight("a", DType::kF32, {3}, v, sizeof v);
  const int y = w.add_tensor("y", DType::kF32, {3});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§4.2");
  // A shape whose byte size overflows 64 bits.
  ModelWriter o;
  const int ox = o.add_tensor("x", DType::kF32, {2});
  const int oa = o.add_weight("a", DType::kF32, {1ll << 40, 1ll << 40}, v, sizeof v);
  const int oy = o.add_tensor("y", DType::kF32, {2});
  o.add_node(fb::OpType_Add, {ox, oa}, {oy});
  o.set_inputs({ox});
  o.set_outputs({oy});
  require_rejected(load_and_prepare(o), StatusCode::kInvalidModel, "overflow");
  // A buffer index past the buffer table.
  int bx, ba, by;
  ModelWriter b = base_model(&bx, &ba, &by);
  b.set_tensor_buffer(ba, 77);
  require_rejected(load_and_prepare(b), StatusCode::kInvalidModel, "§4.2");
}

TEST_CASE("quantization parameter count versus channel count", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {3, 2});
  const int8_t q[6] = {1, 2, 3, 4, 5, 6};
  const int a = w.add_weight("a", DType::kI8, {3, 2}, q, 6);
  w.set_quantization(a, {{0.1f, 0.2f}, {}, 0});  // 2 scales, 3 channels on axis 0
  const int y = w.add_tensor("y", DType::kF32, {3, 2});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§4.3");
  ModelWriter z;
  const int zx = z.add_tensor("x", DType::kF32, {3, 2});
  const int za = z.add_weight("a", DType::kI8, {3, 2}, q, 6);
  z.set_quantization(za, {{0.1f, 0.2f, 0.3f}, {0, 0}, 0});  // zero points != scales
  const int zy = z.add_tensor("y", DType::kF32, {3, 2});
  z.add_node(fb::OpType_Add, {zx, za}, {zy});
  z.set_inputs({zx});
  z.set_outputs({zy});
  require_rejected(load_and_prepare(z), StatusCode::kInvalidModel, "§4.3");
}

TEST_CASE("sparse indices out of bounds", "[unit][runtime][loader]") {
  const float v[] = {7, 8, 9};
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2, 3});
  const int a = w.add_sparse_csr_weight("a", DType::kF32, {2, 3}, {0, 1, 3}, {1, 0, 3}, v, sizeof v);  // col 3 >= 3
  const int y = w.add_tensor("y", DType::kF32, {2, 3});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§4.4");
  // row_ptr claiming more values than stored.
  ModelWriter r;
  const int rx = r.add_tensor("x", DType::kF32, {2, 3});
  const int ra = r.add_sparse_csr_weight("a", DType::kF32, {2, 3}, {0, 1, 5}, {1, 0, 2}, v, sizeof v);
  const int ry = r.add_tensor("y", DType::kF32, {2, 3});
  r.add_node(fb::OpType_Add, {rx, ra}, {ry});
  r.set_inputs({rx});
  r.set_outputs({ry});
  require_rejected(load_and_prepare(r), StatusCode::kInvalidModel, "§4.4");
  // Bitmask with a bit past the last element.
  ModelWriter m;
  const int mx = m.add_tensor("x", DType::kF32, {5});
  const int ma = m.add_sparse_bitmask_weight("a", DType::kF32, {5}, {0x81}, v, 8);
  const int my = m.add_tensor("y", DType::kF32, {5});
  m.add_node(fb::OpType_Add, {mx, ma}, {my});
  m.set_inputs({mx});
  m.set_outputs({my});
  require_rejected(load_and_prepare(m), StatusCode::kInvalidModel, "§4.4");
}

TEST_CASE("palette index out of bounds", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {4});
  const int a = w.add_palettized_weight("a", {4}, 2, {1.f, 2.f, 3.f}, ModelWriter::pack_indices({0, 1, 3, 2}, 2));
  const int y = w.add_tensor("y", DType::kF32, {4});
  w.add_node(fb::OpType_Add, {x, a}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§4.5");
  ModelWriter b;
  const int bx = b.add_tensor("x", DType::kF32, {4});
  const int ba = b.add_palettized_weight("a", {4}, 3, {1.f, 2.f}, {0, 0});  // 3 bits not allowed
  const int by = b.add_tensor("y", DType::kF32, {4});
  b.add_node(fb::OpType_Add, {bx, ba}, {by});
  b.set_inputs({bx});
  b.set_outputs({by});
  require_rejected(load_and_prepare(b), StatusCode::kInvalidModel, "§4.5");
}

TEST_CASE("a cycle (or an unordered graph) is rejected", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2});
  const int t1 = w.add_tensor("t1", DType::kF32, {2});
  const int t2 = w.add_tensor("t2", DType::kF32, {2});
  w.add_node(fb::OpType_Add, {x, t2}, {t1});  // reads t2 before it exists
  w.add_node(fb::OpType_Relu, {t1}, {t2});
  w.set_inputs({x});
  w.set_outputs({t2});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§6.4");
  ModelWriter self;
  const int sx = self.add_tensor("x", DType::kF32, {2});
  const int st = self.add_tensor("t", DType::kF32, {2});
  self.add_node(fb::OpType_Add, {sx, st}, {st});  // a node reading its own output
  self.set_inputs({sx});
  self.set_outputs({st});
  require_rejected(load_and_prepare(self), StatusCode::kInvalidModel, "§6.4");
}

TEST_CASE("unknown ops, attributes of the wrong kind or op, and output misuse", "[unit][runtime][loader]") {
  int x, a, y;
  ModelWriter w = base_model(&x, &a, &y);
  ModelWriter u;
  const int ux = u.add_tensor("x", DType::kF32, {2});
  const int uy = u.add_tensor("y", DType::kF32, {2});
  u.add_node(static_cast<fb::OpType>(999), {ux}, {uy});
  u.set_inputs({ux});
  u.set_outputs({uy});
  require_rejected(load_and_prepare(u), StatusCode::kInvalidModel, "§6.1");

  ModelWriter k;
  const int kx = k.add_tensor("x", DType::kF32, {2});
  const int ky = k.add_tensor("y", DType::kF32, {2});
  k.add_node(fb::OpType_LeakyRelu, {kx}, {ky}, {Attribute::Int(fb::AttrKey_alpha, 1)});  // alpha is FLOAT
  k.set_inputs({kx});
  k.set_outputs({ky});
  require_rejected(load_and_prepare(k), StatusCode::kInvalidModel, "§5.2");

  ModelWriter n;
  const int nx = n.add_tensor("x", DType::kF32, {2});
  const int ny = n.add_tensor("y", DType::kF32, {2});
  n.add_node(fb::OpType_Relu, {nx}, {ny}, {Attribute::Int(fb::AttrKey_group, 1)});  // not a Relu attribute
  n.set_inputs({nx});
  n.set_outputs({ny});
  require_rejected(load_and_prepare(n), StatusCode::kInvalidModel, "§5.2");

  ModelWriter c;  // writing into a constant
  const int cx = c.add_tensor("x", DType::kF32, {2});
  const int ca = c.add_weight_f32("a", {2}, {1, 2});
  c.add_node(fb::OpType_Relu, {cx}, {ca});
  c.set_inputs({cx});
  c.set_outputs({ca});
  require_rejected(load_and_prepare(c), StatusCode::kInvalidModel, "§6.2");

  ModelWriter d;  // two producers of one tensor
  const int dx = d.add_tensor("x", DType::kF32, {2});
  const int dy = d.add_tensor("y", DType::kF32, {2});
  d.add_node(fb::OpType_Relu, {dx}, {dy});
  d.add_node(fb::OpType_Exp, {dx}, {dy});
  d.set_inputs({dx});
  d.set_outputs({dy});
  require_rejected(load_and_prepare(d), StatusCode::kInvalidModel, "§6.2");
}

TEST_CASE("attribute sanity: pads, strides, group", "[unit][runtime][loader]") {
  auto conv = [](std::vector<Attribute> attrs, int64_t C = 2, int64_t wC = 2) {
    ModelWriter w;
    const int x = w.add_tensor("x", DType::kF32, {1, C, 4, 4});
    const int k = w.add_weight_f32("k", {2, wC, 1, 1}, std::vector<float>((size_t)(2 * wC), 1.f));
    const int y = w.add_tensor("y", DType::kF32, {});
    w.add_node(fb::OpType_Conv, {x, k}, {y}, std::move(attrs));
    w.set_inputs({x});
    w.set_outputs({y});
    return load_and_prepare(w);
  };
  require_rejected(conv({Attribute::Ints(fb::AttrKey_pads, {0, -1, 0, 0})}), StatusCode::kInvalidModel, "§5.3");
  require_rejected(conv({Attribute::Ints(fb::AttrKey_strides, {1, 0})}), StatusCode::kInvalidModel, "§5.3");
  require_rejected(conv({Attribute::Ints(fb::AttrKey_dilations, {-1, 1})}), StatusCode::kInvalidModel, "§5.3");
  require_rejected(conv({Attribute::Int(fb::AttrKey_group, 0)}), StatusCode::kInvalidModel, "§5.3");
  require_rejected(conv({Attribute::Int(fb::AttrKey_group, 2)}, 3, 1), StatusCode::kInvalidModel, "§5.3");
}

TEST_CASE("shape-carrying inputs must be constants", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2, 3});
  const int s = w.add_tensor("s", DType::kI64, {2});
  const int y = w.add_tensor("y", DType::kF32, {3, 2});
  w.add_node(fb::OpType_Reshape, {x, s}, {y});
  w.set_inputs({x, s});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "must be a constant");
}

TEST_CASE("node and tensor count limits, memory budget", "[unit][runtime][loader]") {
  std::vector<uint8_t> b = bytes_of(base_model());
  std::unique_ptr<mcrt::Model> m;
  mcrt::LoadLimits lim;
  lim.max_nodes = 0;
  require_rejected(mcrt::Model::load_buffer(b.data(), b.size(), &m, true, lim), StatusCode::kLimitExceeded, "§7");
  lim = {};
  lim.max_tensors = 2;
  require_rejected(mcrt::Model::load_buffer(b.data(), b.size(), &m, true, lim), StatusCode::kLimitExceeded, "§7");
  // A tiny file asking for a 16 GiB activation is refused before any allocation.
  ModelWriter big;
  const int x = big.add_tensor("x", DType::kF32, {65536, 65536});
  const int y = big.add_tensor("y", DType::kF32, {65536, 65536});
  big.add_node(fb::OpType_Relu, {x}, {y});
  big.set_inputs({x});
  big.set_outputs({y});
  require_rejected(load_and_prepare(big), StatusCode::kLimitExceeded, "memory limit");
  // A small file asking for a lot of compute (huge pooling window over huge pads) is refused
  // by the work budget instead of running for minutes.
  ModelWriter slow;
  const int sx = slow.add_tensor("x", DType::kF32, {1, 1, 4096, 4096});
  const int sy = slow.add_tensor("y", DType::kF32, {1, 1, 4097, 4097});
  slow.add_node(fb::OpType_MaxPool, {sx}, {sy},
                {Attribute::Ints(fb::AttrKey_kernel_shape, {4096, 4096}),
                 Attribute::Ints(fb::AttrKey_pads, {2048, 2048, 2048, 2048})});
  slow.set_inputs({sx});
  slow.set_outputs({sy});
  mcrt::PrepareOptions opt;
  opt.work_limit = 1ull << 36;
  require_rejected(load_and_prepare(slow, opt), StatusCode::kLimitExceeded, "work_limit");
}

TEST_CASE("unsupported attribute combinations are refused at prepare", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {1, 1, 2, 2});
  const int s = w.add_weight_f32("s", {4}, {1, 1, 2, 2});
  const int y = w.add_tensor("y", DType::kF32, {1, 1, 4, 4});
  w.add_node(fb::OpType_Resize, {x, -1, s}, {y}, {Attribute::String(fb::AttrKey_mode, "cubic")});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kUnsupported, "cubic");
  ModelWriter p;
  const int px = p.add_tensor("x", DType::kF32, {3});
  const int pp = p.add_weight_i64("p", {2}, {1, 1});
  const int py = p.add_tensor("y", DType::kF32, {5});
  p.add_node(fb::OpType_Pad, {px, pp}, {py}, {Attribute::String(fb::AttrKey_mode, "wrap")});
  p.set_inputs({px});
  p.set_outputs({py});
  require_rejected(load_and_prepare(p), StatusCode::kUnsupported, "wrap");
}

TEST_CASE("declared output shapes must match the inferred ones", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2, 3});
  const int y = w.add_tensor("y", DType::kF32, {3, 2});  // Relu keeps [2, 3]
  w.add_node(fb::OpType_Relu, {x}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "§4.1");
}

TEST_CASE("the malformed corpus (fuzz findings) is rejected without a crash", "[unit][runtime][loader]") {
  const std::string dir = MCRT_MALFORMED_DIR;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    WARN("no corpus at " << dir);
    return;
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".mcrt") files.push_back(name);
  }
  closedir(d);
  CHECK(!files.empty());
  for (const std::string& f : files) {
    std::ifstream in(dir + "/" + f, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<mcrt::Model> m;
    mcrt::Status s = mcrt::Model::load_buffer(bytes.data(), bytes.size(), &m);
    if (s.ok()) {
      std::unique_ptr<mcrt::Interpreter> it;
      s = mcrt::Interpreter::prepare(*m, {}, &it);
    }
    INFO(f << ": " << s.to_string());
    CHECK(!s.ok());
    CHECK((s.code() == StatusCode::kInvalidModel || s.code() == StatusCode::kLimitExceeded));
  }
}

TEST_CASE("a Reshape whose shape product overflows int64 is rejected", "[unit][runtime][loader]") {
  ModelWriter w;
  const int x = w.add_tensor("x", DType::kF32, {2});
  const int s = w.add_weight_i64("s", {3}, {0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF});
  const int y = w.add_tensor("y", DType::kF32, {});
  w.add_node(fb::OpType_Reshape, {x, s}, {y});
  w.set_inputs({x});
  w.set_outputs({y});
  require_rejected(load_and_prepare(w), StatusCode::kInvalidModel, "Reshape");
  // Huge dims hidden behind a zero dim (0 bytes, but partial products would overflow).
  ModelWriter z;
  const int zx = z.add_weight("x", DType::kF32, {0, 1ll << 34, 1ll << 34}, nullptr, 0);
  const int zi = z.add_tensor("i", DType::kI64, {1});
  const int zy = z.add_tensor("y", DType::kF32, {});
  z.add_node(fb::OpType_Gather, {zx, zi}, {zy});
  z.set_inputs({zi});
  z.set_outputs({zy});
  require_rejected(load_and_prepare(z), StatusCode::kInvalidModel, "§4.1");
}

// Model::load_file on a FIFO: refused at once as not a regular file, without waiting in open()
// for a writer (npy_read_file's case runs through `check --reference-outputs` in e2e_malformed_cli). If a call does block, the test opens the FIFO's write end to
// release it and fails, instead of hanging the suite.
TEST_CASE("a FIFO is refused without blocking: Model::load_file", "[unit][runtime][loader]") {
  char tmpl[] = "/tmp/mcrt_fifo_XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string fifo = std::string(tmpl) + "/pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto returns_promptly = [&](const std::function<void()>& call) {
    std::atomic<bool> done{false};
    std::thread t([&] {
      call();
      done = true;
    });
    for (int i = 0; i < 500 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const bool prompt = done;
    if (!prompt) {
      const int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // releases the blocked open
      if (w >= 0) ::close(w);
    }
    t.join();
    return prompt;
  };
  mcrt::Status st;
  std::unique_ptr<mcrt::Model> m;
  CHECK(returns_promptly([&] { st = mcrt::Model::load_file(fifo, &m); }));
  CHECK(st.code() == StatusCode::kIoError);
  CHECK(st.message().find("not a regular file") != std::string::npos);
  ::unlink(fifo.c_str());
  ::rmdir(tmpl);
}
