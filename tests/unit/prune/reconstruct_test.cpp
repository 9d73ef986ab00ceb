// Post-training reconstruction (prune/reconstruct.h, prune/least_squares.h): the solvers
// against hand-computed answers and against each other, the re-fit on small Gemm and
// Conv layers with calibration data fed in-process (no runtime), determinism, the
// channel-pruning output map, and the input errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "compress/error.h"
#include "prune/least_squares.h"
#include "prune/reconstruct.h"
#include "tests/unit/prune/prune_test_models.h"

using namespace mc;
using namespace mc::test;

namespace {

// A fake ActivationFn: every asked value is the graph input, served from `x`
// ([samples, sample_shape...]).
prune::ActivationFn input_only(const std::vector<float>* x, std::vector<int64_t> sample_shape, const std::string& input) {
  return [x, sample_shape, input](const Model&, const std::vector<std::string>& names) -> prune::ActivationBatchFn {
    for (const auto& n : names) REQUIRE(n == input);
    return [x, sample_shape, names](size_t start, size_t n) {
      size_t per = 1;
      for (int64_t d : sample_shape) per *= static_cast<size_t>(d);
      std::vector<prune::Activation> out;
      for (size_t i = 0; i < names.size(); ++i) {
        prune::Activation a;
        a.shape = {static_cast<int64_t>(n)};
        a.shape.insert(a.shape.end(), sample_shape.begin(), sample_shape.end());
        a.data.assign(x->begin() + static_cast<ptrdiff_t>(start * per), x->begin() + static_cast<ptrdiff_t>((start + n) * per));
        out.push_back(std::move(a));
      }
      return out;
    };
  };
}

// x[N,4] -> Gemm(W[3,4], b[3], transB) -> y
Model gemm_model(const std::vector<float>& w, const std::vector<float>& b) {
  Model m = empty_model("x", {-1, 4}, "y");
  m.graph.inputs[0].shape[0] = Dim::symbol("N");
  m.graph.initializers.push_back(Tensor::make_f32("W", {3, 4}, w));
  m.graph.initializers.push_back(Tensor::make_f32("b", {3}, b));
  m.graph.nodes.push_back(make_node("Gemm", {"x", "W", "b"}, {"y"}, "fc"));
  m.graph.nodes.back().set_attr_int("transB", 1);
  return reimport(m);
}

std::vector<float> gemm_out(const std::vector<float>& x, size_t n, const std::vector<float>& w, const std::vector<float>& b,
                            size_t rows) {
  std::vector<float> y(n * rows);
  for (size_t s = 0; s < n; ++s)
    for (size_t o = 0; o < rows; ++o) {
      double acc = b[o];
      for (size_t k = 0; k < 4; ++k) acc += static_cast<double>(x[s * 4 + k]) * w[o * 4 + k];
      y[s * rows + o] = static_cast<float>(acc);
    }
  return y;
}

}  // namespace

TEST_CASE("least squares: Cholesky solves a hand-checked system", "[prune][reconstruct]") {
  // A = [[4,2],[2,3]], b = [2,1]: x = [0.5, 0]
  std::vector<double> a = {4, 2, 2, 3};
  REQUIRE(prune::cholesky_factor(a, 2));
  double b[2] = {2, 1};
  prune::cholesky_solve(a, 2, b);
  CHECK(b[0] == Approx(0.5).margin(1e-12));
  CHECK(b[1] == Approx(0.0).margin(1e-12));
  std::vector<double> not_spd = {1, 2, 2, 1};
  CHECK_FALSE(prune::cholesky_factor(not_spd, 2));
  // H = I: the kept entries are b's, the removed ones 0.
  std::vector<double> id = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  const double bb[3] = {3, -2, 7};
  const auto w = prune::solve_kept(id, nullptr, 3, bb, {0, 2});
  CHECK(w == std::vector<double>{3, 0, 7});
}

TEST_CASE("least squares: the kept-block solve and the OBS update give the same answer", "[prune][reconstruct]") {
  const size_t n = 20;
  const auto r = random_floats(n * n, 7);
  std::vector<double> h(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)  // H = R R^T + I
    for (size_t j = 0; j < n; ++j) {
      double s = i == j ? 1.0 : 0.0;
      for (size_t k = 0; k < n; ++k) s += static_cast<double>(r[i * n + k]) * r[j * n + k];
      h[i * n + j] = s;
    }
  const auto bf = random_floats(n, 8);
  std::vector<double> b(bf.begin(), bf.end());
  const auto h_inv = prune::spd_inverse(h, n);
  REQUIRE(h_inv.size() == n * n);
  for (size_t removed : {size_t{0}, size_t{1}, size_t{3}, size_t{9}}) {
    std::vector<size_t> kept;
    for (size_t i = 0; i < n; ++i)
      if (i % 7 >= (removed ? 1u : 0u) || i / 7 >= removed) kept.push_back(i);
    const auto a = prune::solve_kept(h, nullptr, n, b.data(), kept);
    const auto c = prune::solve_kept(h, &h_inv, n, b.data(), kept);
    REQUIRE(a.size() == n);
    REQUIRE(c.size() == n);
    for (size_t i = 0; i < n; ++i) CHECK(a[i] == Approx(c[i]).margin(1e-9));
    // The gradient vanishes on the kept entries: (H w - b)_S = 0.
    for (size_t k : kept) {
      double g = -b[k];
      for (size_t j = 0; j < n; ++j) g += h[k * n + j] * a[j];
      CHECK(std::fabs(g) < 1e-9);
    }
  }
}

TEST_CASE("reconstruct: a pruned input that the kept inputs span is compensated exactly", "[prune][reconstruct]") {
  // Calibration rows where x3 = x0 + x1: pruning W[:,3] is undone by
  // W'[:,0] = W[:,0] + W[:,3], W'[:,1] = W[:,1] + W[:,3], W'[:,2] = W[:,2].
  const size_t n = 64;
  auto x = random_floats(n * 4, 11);
  for (size_t s = 0; s < n; ++s) x[s * 4 + 3] = x[s * 4 + 0] + x[s * 4 + 1];
  const std::vector<float> w = {0.5f, -1.f, 2.f, 0.25f, 1.5f, 0.75f, -0.5f, -1.f, -2.f, 1.f, 0.1f, 0.5f};
  const std::vector<float> b = {0.1f, -0.2f, 0.3f};
  const Model dense = gemm_model(w, b);
  Model pruned = dense;
  float* pw = pruned.graph.initializer("W")->as_mut<float>();
  for (int o = 0; o < 3; ++o) pw[o * 4 + 3] = 0.f;
  prune::ReconstructOptions ro;
  ro.samples = n;
  ro.batch = 10;  // several batches, the last one short
  ro.ridge = 1e-9;
  const auto res = prune::reconstruct_pruned_layers(pruned, dense, {}, input_only(&x, {4}, "x"), ro);
  REQUIRE(res.layers.size() == 1);
  CHECK(res.layers[0].rows == 3);
  CHECK(res.layers[0].error_before > 1e-3);
  CHECK(res.layers[0].error_after < 1e-9);
  const float* rw = pruned.graph.initializer("W")->as<float>();
  const float* rb = pruned.graph.initializer("b")->as<float>();
  for (int o = 0; o < 3; ++o) {
    CHECK(rw[o * 4 + 0] == Approx(w[o * 4 + 0] + w[o * 4 + 3]).margin(1e-4));
    CHECK(rw[o * 4 + 1] == Approx(w[o * 4 + 1] + w[o * 4 + 3]).margin(1e-4));
    CHECK(rw[o * 4 + 2] == Approx(w[o * 4 + 2]).margin(1e-4));
    CHECK(rw[o * 4 + 3] == 0.f);  // the pruned weight stays pruned
    CHECK(rb[o] == Approx(b[o]).margin(1e-4));
  }
  const auto yd = gemm_out(x, n, w, b, 3);
  const auto yp = gemm_out(x, n, std::vector<float>(rw, rw + 12), std::vector<float>(rb, rb + 3), 3);
  for (size_t i = 0; i < yd.size(); ++i) CHECK(yp[i] == Approx(yd[i]).margin(1e-4));
}

TEST_CASE("reconstruct: same inputs give the same bytes; a pruned input nobody spans lowers the error", "[prune][reconstruct]") {
  const size_t n = 50;
  const auto x = random_floats(n * 4, 12);
  const std::vector<float> w = random_floats(12, 13), b = random_floats(3, 14);
  const Model dense = gemm_model(w, b);
  auto run = [&]() {
    Model p = dense;
    float* pw = p.graph.initializer("W")->as_mut<float>();
    pw[1] = pw[6] = pw[11] = 0.f;
    prune::ReconstructOptions ro;
    ro.samples = n;
    const auto res = prune::reconstruct_pruned_layers(p, dense, {}, input_only(&x, {4}, "x"), ro);
    REQUIRE(res.layers.size() == 1);
    CHECK(res.layers[0].error_after < res.layers[0].error_before);
    return std::make_pair(floats_of(*p.graph.initializer("W")), floats_of(*p.graph.initializer("b")));
  };
  const auto a = run(), c = run();
  CHECK(std::memcmp(a.first.data(), c.first.data(), a.first.size() * 4) == 0);
  CHECK(std::memcmp(a.second.data(), c.second.data(), a.second.size() * 4) == 0);
  CHECK(a.first[1] == 0.f);
  CHECK(a.first[6] == 0.f);
  CHECK(a.first[11] == 0.f);
}

TEST_CASE("reconstruct: a channel-pruned Gemm is fitted to the dense outputs it kept", "[prune][reconstruct]") {
  const size_t n = 40;
  const auto x = random_floats(n * 4, 15);
  const std::vector<float> w = random_floats(12, 16), b = random_floats(3, 17);
  const Model dense = gemm_model(w, b);
  // Rows 0 and 2 kept, perturbed: with no pruned inputs and a full-rank X the re-fit
  // must land back on the dense rows.
  Model p = empty_model("x", {-1, 4}, "y");
  p.graph.inputs[0].shape[0] = Dim::symbol("N");
  std::vector<float> wk = {w[0] + 0.3f, w[1], w[2] - 0.2f, w[3], w[8], w[9] + 0.5f, w[10], w[11]};
  p.graph.initializers.push_back(Tensor::make_f32("W", {2, 4}, wk));
  p.graph.initializers.push_back(Tensor::make_f32("b", {2}, {b[0] + 1.f, b[2]}));
  p.graph.nodes.push_back(make_node("Gemm", {"x", "W", "b"}, {"y"}, "fc"));
  p.graph.nodes.back().set_attr_int("transB", 1);
  p = reimport(p);
  prune::ReconstructOptions ro;
  ro.samples = n;
  ro.ridge = 1e-9;
  const auto res = prune::reconstruct_pruned_layers(p, dense, {{"y", {0, 2}}}, input_only(&x, {4}, "x"), ro);
  REQUIRE(res.layers.size() == 1);
  const float* rw = p.graph.initializer("W")->as<float>();
  const float* rb = p.graph.initializer("b")->as<float>();
  for (int k = 0; k < 4; ++k) {
    CHECK(rw[k] == Approx(w[static_cast<size_t>(k)]).margin(1e-4));
    CHECK(rw[4 + k] == Approx(w[static_cast<size_t>(8 + k)]).margin(1e-4));
  }
  CHECK(rb[0] == Approx(b[0]).margin(1e-4));
  CHECK(rb[1] == Approx(b[2]).margin(1e-4));
  // Without the map the output counts differ: skipped and named.
  Model q = p;
  const auto res2 = prune::reconstruct_pruned_layers(q, dense, {}, input_only(&x, {4}, "x"), ro);
  CHECK(res2.layers.empty());
  REQUIRE(res2.skipped.size() == 1);
  CHECK(res2.skipped[0].find("fc (Gemm)") != std::string::npos);
}

TEST_CASE("reconstruct: a Conv with pads, strides and dilations recovers its dense filters", "[prune][reconstruct]") {
  // If im2col placed any tap wrongly, the least-squares answer would not be the dense filter.
  const size_t n = 6;
  const auto x = random_floats(n * 2 * 7 * 6, 18);
  const auto w = random_floats(3 * 2 * 3 * 2, 19);
  const auto b = random_floats(3, 20);
  auto conv_model = [&](const std::vector<float>& wv, const std::vector<float>& bv) {
    Model m = empty_model("x", {-1, 2, 7, 6}, "y");
    m.graph.inputs[0].shape[0] = Dim::symbol("N");
    m.graph.initializers.push_back(Tensor::make_f32("w", {3, 2, 3, 2}, wv));
    m.graph.initializers.push_back(Tensor::make_f32("b", {3}, bv));
    m.graph.nodes.push_back(make_node("Conv", {"x", "w", "b"}, {"y"}, "conv"));
    m.graph.nodes.back().set_attr_ints("pads", {1, 0, 2, 1});
    m.graph.nodes.back().set_attr_ints("strides", {2, 1});
    m.graph.nodes.back().set_attr_ints("dilations", {1, 2});
    return reimport(m);
  };
  const Model dense = conv_model(w, b);
  auto wp = w;
  for (size_t i = 0; i < wp.size(); i += 5) wp[i] += 0.25f;
  Model p = conv_model(wp, b);
  prune::ReconstructOptions ro;
  ro.samples = n;
  ro.batch = 4;
  ro.ridge = 1e-10;
  const auto res = prune::reconstruct_pruned_layers(p, dense, {}, input_only(&x, {2, 7, 6}, "x"), ro);
  REQUIRE(res.layers.size() == 1);
  CHECK(res.layers[0].rows == 3);
  const auto got = floats_of(*p.graph.initializer("w"));
  for (size_t i = 0; i < w.size(); ++i) CHECK(got[i] == Approx(w[i]).margin(1e-3));
}

TEST_CASE("reconstruct: no samples or a bad ridge is an input error; unsupported layers are named", "[prune][reconstruct]") {
  const std::vector<float> x(8, 1.f);
  const Model dense = gemm_model(random_floats(12, 21), random_floats(3, 22));
  Model p = dense;
  prune::ReconstructOptions ro;
  ro.samples = 0;
  CHECK_THROWS_MATCHES(prune::reconstruct_pruned_layers(p, dense, {}, input_only(&x, {4}, "x"), ro), Error,
                       Catch::Predicate<Error>([](const Error& e) { return e.kind() == ErrorKind::Input; }));
  ro.samples = 2;
  ro.ridge = 0;
  CHECK_THROWS_AS(prune::reconstruct_pruned_layers(p, dense, {}, input_only(&x, {4}, "x"), ro), Error);
  ro.ridge = 1e-2;
  // A layer identical to the dense one, with the dense inputs: nothing to do, nothing run.
  const prune::ActivationFn never = [](const Model&, const std::vector<std::string>&) -> prune::ActivationBatchFn {
    FAIL("no activation should be asked for");
    return {};
  };
  const auto same = prune::reconstruct_pruned_layers(p, dense, {}, never, ro);
  CHECK(same.layers.empty());
  REQUIRE(same.skipped.size() == 1);
  CHECK(same.skipped[0] == "fc (Gemm): unchanged, and so are its inputs");
  // alpha != 1: skipped, named, weights untouched.
  p.graph.initializer("W")->as_mut<float>()[0] = 0.f;
  p.graph.nodes[0].set_attr_float("alpha", 2.f);
  const auto before = floats_of(*p.graph.initializer("W"));
  const auto res = prune::reconstruct_pruned_layers(p, dense, {}, input_only(&x, {4}, "x"), ro);
  CHECK(res.layers.empty());
  REQUIRE(res.skipped.size() == 1);
  CHECK(res.skipped[0].find("alpha") != std::string::npos);
  CHECK(floats_of(*p.graph.initializer("W")) == before);
}

TEST_CASE("reconstruct: a depthwise Conv is re-fitted channel by channel, following the kept-channel map", "[prune][reconstruct]") {
  // Dense: 3 channels; pruned: channels {0, 2} kept, filters perturbed. Each channel reads only
  // its own input channel, so the re-fit must land on the dense filters of channels 0 and 2.
  const size_t n = 5;
  const auto xd = random_floats(n * 3 * 6 * 6, 23);
  std::vector<float> xp(n * 2 * 36);
  for (size_t s = 0; s < n; ++s)
    for (size_t i = 0; i < 36; ++i) {
      xp[(s * 2 + 0) * 36 + i] = xd[(s * 3 + 0) * 36 + i];
      xp[(s * 2 + 1) * 36 + i] = xd[(s * 3 + 2) * 36 + i];
    }
  const auto w = random_floats(3 * 9, 24);
  const auto b = random_floats(3, 25);
  auto dw_model = [](int64_t c, const std::vector<float>& wv, const std::vector<float>& bv) {
    Model m = empty_model("x", {-1, c, 6, 6}, "y");
    m.graph.inputs[0].shape[0] = Dim::symbol("N");
    m.graph.initializers.push_back(Tensor::make_f32("w", {c, 1, 3, 3}, wv));
    m.graph.initializers.push_back(Tensor::make_f32("b", {c}, bv));
    m.graph.nodes.push_back(make_node("Conv", {"x", "w", "b"}, {"y"}, "dw"));
    m.graph.nodes.back().set_attr_int("group", c);
    m.graph.nodes.back().set_attr_ints("pads", {1, 1, 1, 1});
    return reimport(m);
  };
  const Model dense = dw_model(3, w, b);
  std::vector<float> wp(w.begin(), w.begin() + 9);
  wp.insert(wp.end(), w.begin() + 18, w.end());
  for (float& v : wp) v *= 1.3f;
  Model p = dw_model(2, wp, {b[0] - 0.5f, b[2]});
  // Dense and pruned models read different data: serve each its own input.
  const prune::ActivationFn acts = [&](const Model& m, const std::vector<std::string>&) -> prune::ActivationBatchFn {
    const bool is_dense = m.graph.initializer("w")->dims[0] == 3;
    const std::vector<float>* x = is_dense ? &xd : &xp;
    const int64_t c = is_dense ? 3 : 2;
    return [x, c](size_t start, size_t cnt) {
      const size_t per = static_cast<size_t>(c) * 36;
      prune::Activation a;
      a.shape = {static_cast<int64_t>(cnt), c, 6, 6};
      a.data.assign(x->begin() + static_cast<ptrdiff_t>(start * per), x->begin() + static_cast<ptrdiff_t>((start + cnt) * per));
      return std::vector<prune::Activation>{a};
    };
  };
  prune::ReconstructOptions ro;
  ro.samples = n;
  ro.ridge = 1e-10;
  const auto res = prune::reconstruct_pruned_layers(p, dense, {{"y", {0, 2}}}, acts, ro);
  REQUIRE(res.layers.size() == 1);
  CHECK(res.layers[0].rows == 2);
  const auto got = floats_of(*p.graph.initializer("w"));
  for (size_t k = 0; k < 9; ++k) {
    CHECK(got[k] == Approx(w[k]).margin(1e-3));
    CHECK(got[9 + k] == Approx(w[18 + k]).margin(1e-3));
  }
  const auto gb = floats_of(*p.graph.initializer("b"));
  CHECK(gb[0] == Approx(b[0]).margin(1e-3));
  CHECK(gb[1] == Approx(b[2]).margin(1e-3));
}

TEST_CASE("reconstruct: a layer with more than 2048 inputs is skipped and named, nothing run", "[prune][reconstruct]") {
  Model m = empty_model("x", {-1, 2049}, "y");
  m.graph.inputs[0].shape[0] = Dim::symbol("N");
  m.graph.initializers.push_back(Tensor::make_f32("W", {2, 2049}, random_floats(2 * 2049, 26)));
  m.graph.nodes.push_back(make_node("Gemm", {"x", "W"}, {"y"}, "wide"));
  m.graph.nodes.back().set_attr_int("transB", 1);
  const Model dense = reimport(m);
  Model p = dense;
  p.graph.initializer("W")->as_mut<float>()[0] = 0.f;
  const prune::ActivationFn never = [](const Model&, const std::vector<std::string>&) -> prune::ActivationBatchFn {
    FAIL("no activation should be asked for");
    return {};
  };
  prune::ReconstructOptions ro;
  ro.samples = 4;
  const auto res = prune::reconstruct_pruned_layers(p, dense, {}, never, ro);
  CHECK(res.layers.empty());
  REQUIRE(res.skipped.size() == 1);
  CHECK(res.skipped[0].find("wide (Gemm): input size 2049 > 2048") == 0);
}
