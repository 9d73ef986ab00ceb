// The differentiable LibTorch executor of the IR. INTERNAL to distill/: this header
// includes torch; other folders use the torch-free entry points (ir_on_libtorch.h,
// trainer.h).
//
// The IR's ONNX ops are evaluated with ATen functions, so autograd gives gradients.
// Trainable: the float initializers that are weights or biases of Conv, Gemm, MatMul
// (constant operand), the scale and bias of BatchNormalization and
// LayerNormalization, and non-scalar constant operands of Add/Mul. BatchNormalization
// runs with its running statistics (frozen, as in eval mode); Dropout is the identity.
// Masks: a weight of Conv/Gemm/MatMul that holds exact zeros (pruned, N:M) gets a
// mask; gradients are masked before and weights re-masked after every step, so the
// zero pattern - and with it N:M structure - is kept. A factorized layer is two
// layers in the IR and trains as its two factors.
// Quantization-aware training (QDQ models from `quantize --mode static`): a
// QuantizeLinear runs as fake quantization with a straight-through estimator
// (torch's fake_quantize_per_tensor_affine, calibrated scale and zero point kept) and
// yields the integer values as floats, so the DequantizeLinear after it is (q - zp) * s.
// A DequantizeLinear of an int8 weight initializer trains an fp32 shadow weight,
// fake-quantized per channel with the int8 rule of docs/quantization.md
// (scale = max|w| / 127 over the slice, recomputed every forward); an int32 bias
// behind a DequantizeLinear trains as an fp32 shadow. write_back re-quantizes both and
// writes the new weight scales and bias scales (s_x * s_w) into the DQ initializers.
#pragma once
#include <torch/torch.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "compress/ir/graph.h"

namespace mc::distill {

class IrExecutor {
 public:
  // Throws mc::Error(Input) naming `file` and the op for anything it cannot run
  // (one float input and one float output, ops listed in docs/training.md).
  IrExecutor(const Model& m, const std::string& file);

  at::Tensor forward(const at::Tensor& x) const;

  const std::vector<std::string>& trainable_names() const { return trainable_names_; }
  std::vector<at::Tensor> trainable() const;  // same order as trainable_names()
  void mask_gradients();                     // zero the gradients of pruned weights
  void apply_masks();                        // zero the pruned weights again
  uint64_t masked_weights() const;           // number of weights held at zero
  uint64_t trainable_count() const;          // number of trainable elements
  // Copies the trainable tensors into m's initializers (same names, fp32); QAT
  // shadows are re-quantized into their int8/int32 initializers and scales.
  void write_back(Model& m) const;
  bool quantized() const { return !qat_.empty(); }
  const std::vector<int64_t>& input_shape() const { return input_shape_; }

 private:
  at::Tensor forward_unchecked(const at::Tensor& x) const;
  at::Tensor run_node(const Node& n, const std::vector<at::Tensor>& in) const;
  std::vector<int64_t> ints_of(const std::string& name) const;

  std::string file_;
  std::vector<Node> nodes_;
  std::string input_, output_;
  std::vector<int64_t> input_shape_;
  int64_t opset_ = 13;
  std::unordered_map<std::string, at::Tensor> consts_;
  std::vector<std::string> trainable_names_;
  std::unordered_map<std::string, at::Tensor> masks_;
  // QAT shadows, keyed by the quantized initializer's name.
  struct QatShadow {
    bool bias = false;         // int32 bias (else int8 weight)
    int64_t axis = -1;         // quantization axis of the DQ (-1: per tensor)
    std::string scale;         // the DQ's scale initializer
    std::string weight;        // bias: the layer's weight initializer (quantized name)
    float input_scale = 0.f;   // bias: s_x of the layer's input DQ
  };
  std::unordered_map<std::string, QatShadow> qat_;
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> qrange_;  // Q output → [qmin, qmax]
  at::Tensor weight_scale(const at::Tensor& w, int64_t axis) const;
  void setup_qat(const Model& m);  // max|w| / 127, 0 → 1
};

// Single-threaded, deterministic ATen (docs/training.md: same seed, same bits).
void make_deterministic(uint64_t seed);

}  // namespace mc::distill
