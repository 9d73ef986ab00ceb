// Calibration activations from the bundled runtime, for prune/reconstruct.h: the values a
// re-fit needs (layer inputs) are made graph outputs of a copy of the model, which is
// optimized for the runtime, exported in memory and run on the calibration samples.
#pragma once
#include <memory>

#include "compress/data/dataset.h"
#include "compress/ir/graph.h"
#include "prune/reconstruct.h"

namespace mc::cli {

class RuntimeActivations {
 public:
  // Loads the calibration set for `m`'s input (Error(Input) naming the file when its
  // samples do not fit the model, or there are none).
  RuntimeActivations(const data::DatasetOptions& d, const Model& m);
  size_t samples() const { return ds_->num_samples(); }
  const data::Dataset& dataset() const { return *ds_; }
  // The callback; it reads the data set held here, so this object must outlive it.
  prune::ActivationFn fn() const;

 private:
  std::unique_ptr<data::Dataset> ds_;
};

}  // namespace mc::cli
