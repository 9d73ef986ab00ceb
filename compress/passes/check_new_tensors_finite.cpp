#include "compress/passes/check_new_tensors_finite.h"

#include <cmath>
#include <string>

#include "compress/error.h"

namespace mc {

void check_new_tensors_finite(const Model& m, const std::vector<PassReport>& reports) {
  for (const auto& r : reports)
    for (const auto& name : r.new_tensors) {
      const Tensor* t = m.graph.initializer(name);
      if (!t || !dtype_info(t->dtype).is_float) continue;
      const uint64_t n = t->numel();
      for (uint64_t i = 0; i < n; ++i)
        if (!std::isfinite(t->get_f64(i)))
          throw Error(ErrorKind::Gate, r.pass + " produced a non-finite value in tensor '" + name + "' (element " +
                                           std::to_string(i) + "); nothing was written");
    }
}

}  // namespace mc
