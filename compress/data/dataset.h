// Datasets for evaluation, calibration and fine-tuning: load samples from IDX (raw or
// .gz), .npy or .npz, convert them to float32 and shape them to a model's input.
//
// Conversion: uint8 data is scaled to [0, 1] (÷255); other dtypes are converted to
// float unchanged. Then, if given, x = (x - mean) / std (one scalar each).
//
// Shaping, with S = the data's per-sample shape (dims after the first) and M = the
// model input's shape without its batch dim (dims <= 0 are symbolic and match anything):
//   * S == M: used as is;
//   * S and M are equal once size-1 dims are dropped ([28,28] -> [1,28,28] or [28,28,1]);
//   * M has rank 1 and the same element count (flattened: [28,28] -> [784]);
//   * S is a rank-3 sample in `layout` (the DATA's layout, default nchw) and M is the
//     same image in the other layout: the data is transposed (CHW <-> HWC).
// Anything else is an mc::Error(Input) "<file>: expected ..., got ...".
//
// Labels: from --labels (IDX or .npy, one integer per sample) or, for an .npz, from a
// member named y / labels / label / targets; converted to int64. The data array of an
// .npz is the member named x / data / images / inputs / input, or its only member.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mc::data {

enum class DataLayout { kNCHW, kNHWC };

struct DatasetOptions {
  std::string data_path;               // --data
  std::string labels_path;             // --labels (optional)
  std::optional<float> mean;           // --mean
  std::optional<float> std;            // --std (must be > 0)
  DataLayout layout = DataLayout::kNCHW;  // --layout: the layout of the data file's samples
  uint64_t max_samples = 0;            // 0 = all; otherwise the first max_samples (IDX: read no further)
  uint64_t max_bytes = 4ull << 30;     // budget for any one file (compressed and decoded)
};

// Parses "nchw" / "nhwc"; throws mc::Error(Input) otherwise.
DataLayout parse_layout(const std::string& s);

// A batch is a view into the dataset: valid while the Dataset lives.
struct Batch {
  std::vector<int64_t> shape;   // [n, M...]
  const float* data = nullptr;  // n × prod(M) floats, C order
  const int64_t* labels = nullptr;  // n labels, or nullptr when the dataset has none
  size_t size = 0;              // n
};

class Dataset {
 public:
  size_t num_samples() const { return count_; }
  const std::vector<int64_t>& sample_shape() const { return sample_shape_; }  // M with symbolic dims resolved
  bool has_labels() const { return !labels_.empty(); }
  const std::vector<float>& data() const { return data_; }
  const std::vector<int64_t>& labels() const { return labels_; }
  // Samples [start, start + n) clipped to the end; n == 0 or start >= size gives an empty batch.
  Batch batch(size_t start, size_t n) const;

 private:
  friend Dataset load_dataset(const DatasetOptions&, const std::vector<int64_t>&);
  size_t count_ = 0;
  std::vector<int64_t> sample_shape_;
  std::vector<float> data_;
  std::vector<int64_t> labels_;
};

// model_input_shape: the model input's full shape, batch dim first (e.g. {-1, 1, 28, 28}
// or {1, 1, 28, 28}: the batch dim is ignored, batches may have any size).
Dataset load_dataset(const DatasetOptions& options, const std::vector<int64_t>& model_input_shape);

}  // namespace mc::data
