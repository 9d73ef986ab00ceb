// Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Slice, Gather, Pad, Resize.
#include "runtime_test_support.h"

using namespace mcrt_test;
using A = Attribute;

TEST_CASE("Reshape: 0 copies a dim, -1 infers, allowzero keeps 0", "[unit][runtime][ops]") {
  const auto x = iota_f(24);
  auto r = run_ok_op(fb::OpType_Reshape, {act<float>({2, 3, 4}, x), cst<int64_t>({3}, {0, -1, 2})}, {}, DType::kF32,
                     {2, 6, 2});
  CHECK(r.as<float>() == x);
  auto z = run_ok_op(fb::OpType_Reshape, {act<float>({0, 3}, {}), cst<int64_t>({2}, {3, 0})},
                     {A::Int(fb::AttrKey_allowzero, 1)}, DType::kF32, {3, 0});
  CHECK(z.shape == std::vector<int64_t>{3, 0});
  auto bad = run_op(fb::OpType_Reshape, {act<float>({2, 3}, iota_f(6)), cst<int64_t>({1}, {5})}, {}, DType::kF32, {5});
  CHECK(bad.status.code() == mcrt::StatusCode::kInvalidModel);
}

TEST_CASE("Flatten, Squeeze, Unsqueeze", "[unit][runtime][ops]") {
  auto f = run_ok_op(fb::OpType_Flatten, {act<float>({2, 3, 4}, iota_f(24))}, {A::Int(fb::AttrKey_axis, 2)}, DType::kF32, {6, 4});
  CHECK(f.as<float>() == iota_f(24));
  auto f0 = run_ok_op(fb::OpType_Flatten, {act<float>({2, 3}, iota_f(6))}, {A::Int(fb::AttrKey_axis, 0)}, DType::kF32, {1, 6});
  CHECK(f0.shape == std::vector<int64_t>{1, 6});
  auto s = run_ok_op(fb::OpType_Squeeze, {act<float>({1, 3, 1}, iota_f(3))}, {}, DType::kF32, {3});
  CHECK(s.as<float>() == iota_f(3));
  auto s1 = run_ok_op(fb::OpType_Squeeze, {act<float>({1, 3, 1}, iota_f(3)), cst<int64_t>({1}, {-1})}, {}, DType::kF32, {1, 3});
  CHECK(s1.shape == std::vector<int64_t>{1, 3});
  auto u = run_ok_op(fb::OpType_Unsqueeze, {act<float>({3}, iota_f(3)), cst<int64_t>({2}, {0, -1})}, {}, DType::kF32, {1, 3, 1});
  CHECK(u.as<float>() == iota_f(3));
  auto ua = run_ok_op(fb::OpType_Unsqueeze, {act<float>({2, 2}, iota_f(4))}, {A::Ints(fb::AttrKey_axes, {1})}, DType::kF32, {2, 1, 2});
  CHECK(ua.shape == std::vector<int64_t>{2, 1, 2});
  auto bad = run_op(fb::OpType_Squeeze, {act<float>({2, 3}, iota_f(6)), cst<int64_t>({1}, {0})}, {}, DType::kF32, {3});
  CHECK(bad.status.code() == mcrt::StatusCode::kInvalidModel);
}

TEST_CASE("Transpose", "[unit][runtime][ops]") {
  auto t = run_ok_op(fb::OpType_Transpose, {act<float>({2, 3}, iota_f(6))}, {}, DType::kF32, {3, 2});
  CHECK(t.as<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  auto p = run_ok_op(fb::OpType_Transpose, {act<float>({2, 2, 3}, iota_f(12))}, {A::Ints(fb::AttrKey_perm, {1, 0, 2})},
                     DType::kF32, {2, 2, 3});
  CHECK(p.as<float>() == std::vector<float>{0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  auto i64 = run_ok_op(fb::OpType_Transpose, {act<int64_t>({2, 2}, {1, 2, 3, 4})}, {}, DType::kI64, {2, 2});
  CHECK(i64.as<int64_t>() == std::vector<int64_t>{1, 3, 2, 4});
}

TEST_CASE("Concat", "[unit][runtime][ops]") {
  auto c = run_ok_op(fb::OpType_Concat, {act<float>({2, 1}, {1, 2}), cst<float>({2, 2}, {3, 4, 5, 6})},
                     {A::Int(fb::AttrKey_axis, -1)}, DType::kF32, {2, 3});
  CHECK(c.as<float>() == std::vector<float>{1, 3, 4, 2, 5, 6});
  auto c0 = run_ok_op(fb::OpType_Concat, {act<float>({1, 2}, {1, 2}), act<float>({2, 2}, {3, 4, 5, 6})},
                      {A::Int(fb::AttrKey_axis, 0)}, DType::kF32, {3, 2});
  CHECK(c0.as<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("Slice: negative starts, clamped ends, axes, negative steps", "[unit][runtime][ops]") {
  const auto x = iota_f(20);  // [4,5]
  auto s = run_ok_op(fb::OpType_Slice,
                     {act<float>({4, 5}, x), cst<int64_t>({2}, {1, -4}), cst<int64_t>({2}, {1000, 4}),
                      cst<int64_t>({2}, {0, 1}), cst<int64_t>({2}, {2, 2})},
                     {}, DType::kF32, {2, 2});
  CHECK(s.as<float>() == std::vector<float>{6, 8, 16, 18});
  auto r = run_ok_op(fb::OpType_Slice,
                     {act<float>({4, 5}, x), cst<int64_t>({1}, {-1}), cst<int64_t>({1}, {INT64_MIN}), cst<int64_t>({1}, {1}),
                      cst<int64_t>({1}, {-2})},
                     {}, DType::kF32, {4, 3});
  CHECK(r.as<float>() == std::vector<float>{4, 2, 0, 9, 7, 5, 14, 12, 10, 19, 17, 15});
  auto e = run_ok_op(fb::OpType_Slice, {act<float>({4, 5}, x), cst<int64_t>({1}, {3}), cst<int64_t>({1}, {1})}, {},
                     DType::kF32, {0, 5});
  CHECK(e.bytes.empty());
}

TEST_CASE("Gather: axis, negative indices, int32 indices, out of range at run", "[unit][runtime][ops]") {
  const auto x = iota_f(6);  // [3,2]
  auto g0 = run_ok_op(fb::OpType_Gather, {act<float>({3, 2}, x), cst<int64_t>({2}, {2, -3})}, {}, DType::kF32, {2, 2});
  CHECK(g0.as<float>() == std::vector<float>{4, 5, 0, 1});
  auto g1 = run_ok_op(fb::OpType_Gather, {act<float>({3, 2}, x), act<int32_t>({2, 1}, {1, 0})}, {A::Int(fb::AttrKey_axis, 1)},
                      DType::kF32, {3, 2, 1});
  CHECK(g1.as<float>() == std::vector<float>{1, 0, 3, 2, 5, 4});
  auto sc = run_ok_op(fb::OpType_Gather, {act<float>({3, 2}, x), cst<int64_t>({}, {1})}, {}, DType::kF32, {2});
  CHECK(sc.as<float>() == std::vector<float>{2, 3});
  auto oob = run_op(fb::OpType_Gather, {act<float>({3, 2}, x), act<int64_t>({1}, {3})}, {}, DType::kF32, {1, 2});
  CHECK(oob.status.code() == mcrt::StatusCode::kInvalidArgument);
  CHECK(oob.as<float>() == std::vector<float>{0, 0});
}

TEST_CASE("Pad: constant, reflect, edge, negative pads, axes", "[unit][runtime][ops]") {
  const std::vector<float> x = {1, 2, 3};
  auto c = run_ok_op(fb::OpType_Pad, {act<float>({1, 3}, x), cst<int64_t>({4}, {0, 2, 0, 1}), cst<float>({}, {9})}, {},
                     DType::kF32, {1, 6});
  CHECK(c.as<float>() == std::vector<float>{9, 9, 1, 2, 3, 9});
  auto r = run_ok_op(fb::OpType_Pad, {act<float>({1, 3}, x), cst<int64_t>({4}, {0, 2, 0, 1})},
                     {A::String(fb::AttrKey_mode, "reflect")}, DType::kF32, {1, 6});
  CHECK(r.as<float>() == std::vector<float>{3, 2, 1, 2, 3, 2});
  auto e = run_ok_op(fb::OpType_Pad, {act<float>({1, 3}, x), cst<int64_t>({4}, {0, 2, 0, 1})},
                     {A::String(fb::AttrKey_mode, "edge")}, DType::kF32, {1, 6});
  CHECK(e.as<float>() == std::vector<float>{1, 1, 1, 2, 3, 3});
  auto n = run_ok_op(fb::OpType_Pad, {act<float>({2, 3}, iota_f(6)), cst<int64_t>({4}, {1, -1, 0, 0})}, {}, DType::kF32, {3, 2});
  CHECK(n.as<float>() == std::vector<float>{0, 0, 1, 2, 4, 5});
  auto ax = run_ok_op(fb::OpType_Pad, {act<float>({2, 2}, iota_f(4)), cst<int64_t>({2}, {1, 0}), none(), cst<int64_t>({1}, {-1})},
                      {}, DType::kF32, {2, 3});
  CHECK(ax.as<float>() == std::vector<float>{0, 0, 1, 0, 2, 3});
}

TEST_CASE("Resize: nearest modes and coordinate transformations, linear", "[unit][runtime][ops]") {
  const std::vector<float> x = {1, 2};
  auto run = [&](std::vector<Attribute> attrs, std::vector<float> scales, int64_t out_w) {
    return run_ok_op(fb::OpType_Resize, {act<float>({1, 1, 1, 2}, x), none(), cst<float>({4}, scales)}, std::move(attrs),
                     DType::kF32, {1, 1, 1, out_w})
        .as<float>();
  };
  using S = std::string;
  CHECK(run({A::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"),
             A::String(fb::AttrKey_nearest_mode, "floor")},
            {1, 1, 1, 2}, 4) == std::vector<float>{1, 1, 2, 2});
  CHECK(run({}, {1, 1, 1, 2}, 4) == std::vector<float>{1, 1, 2, 2});  // half_pixel + round_prefer_floor
  CHECK(run({A::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"),
             A::String(fb::AttrKey_nearest_mode, "ceil")},
            {1, 1, 1, 2}, 4) == std::vector<float>{1, 2, 2, 2});
  CHECK(run({A::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"),
             A::String(fb::AttrKey_nearest_mode, "round_prefer_ceil")},
            {1, 1, 1, 2}, 4) == std::vector<float>{1, 2, 2, 2});
  CHECK(run({A::String(fb::AttrKey_coordinate_transformation_mode, "asymmetric"),
             A::String(fb::AttrKey_nearest_mode, "round_prefer_floor")},
            {1, 1, 1, 2}, 4) == std::vector<float>{1, 1, 2, 2});
  CHECK(run({A::String(fb::AttrKey_mode, "linear")}, {1, 1, 1, 2}, 4) == std::vector<float>{1, 1.25f, 1.75f, 2});
  CHECK(run({A::String(fb::AttrKey_mode, "linear"), A::String(fb::AttrKey_coordinate_transformation_mode, "align_corners")},
            {1, 1, 1, 1.5f}, 3) == std::vector<float>{1, 1.5f, 2});
  // sizes instead of scales; bilinear over H and W.
  auto b = run_ok_op(fb::OpType_Resize,
                     {act<float>({1, 1, 2, 2}, {0, 1, 2, 3}), none(), none(), cst<int64_t>({4}, {1, 1, 3, 3})},
                     {A::String(fb::AttrKey_mode, "linear"), A::String(fb::AttrKey_coordinate_transformation_mode, "align_corners")},
                     DType::kF32, {1, 1, 3, 3});
  CHECK(b.as<float>() == std::vector<float>{0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  auto bad = run_op(fb::OpType_Resize, {act<float>({1, 1, 1, 2}, x), none(), cst<float>({4}, {1, 2, 1, 2})},
                    {A::String(fb::AttrKey_mode, "linear")}, DType::kF32, {1, 2, 1, 4});
  CHECK(bad.status.code() == mcrt::StatusCode::kUnsupported);
  (void)S();
}
