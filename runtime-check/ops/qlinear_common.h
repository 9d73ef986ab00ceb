// Shared prepare-time checks of the int8 ops (ops/qlinear_*.cpp, docs/quantization.md §2 and §4).
#pragma once
#include <cstdint>

#include "ops/ops.h"

namespace mcrt {

struct ActQuant {
  float scale = 1.f;
  int32_t zp = 0;
};

// t must be an int8 tensor with per-tensor quant (what = "input", "output", ...); kInvalidModel otherwise.
Status int8_act_quant(const NodePlan& n, const TensorPlan& t, const char* what, ActQuant* q);
// act_min / act_max attributes (default -128 / 127): both in [-128, 127], min <= max.
Status int8_act_range(const NodePlan& n, int32_t* lo, int32_t* hi);
// Same, from another node's attributes (a fused QLinearAdd's); errors name n.
Status int8_act_range(const NodePlan& n, const AttrMap& attrs, int32_t* lo, int32_t* hi);
// Constant int8 weight with per-tensor or per-channel (along `axis`) symmetric quant: scales per
// channel (`channels` of them, one repeated when per-tensor), weights in [-127, 127].
Status int8_weight_scales(const NodePlan& n, const TensorPlan& w, int axis, int64_t channels, std::vector<float>* s);
// Requantization multipliers (s_x * s_w[c]) / s_y in float32, in that order; each finite.
Status int8_multipliers(const NodePlan& n, float sx, const std::vector<float>& sw, float sy, std::vector<float>* mult);
// K * 255 * 127 < 2^31: the int32 accumulator cannot overflow (else kUnsupported).
Status int8_check_k(const NodePlan& n, int64_t K);
// Kernel name suffix for a narrowed output range ("+relu"-like clamp): "" or "+clamp[lo,hi]".
std::string int8_clamp_suffix(int32_t lo, int32_t hi);

}  // namespace mcrt
