// Internal: calls a C++ callable through the C-style ParallelFor hook of kernels.h.
#pragma once

#include <type_traits>

#include "kernels.h"

namespace mcrt {

// Runs f(begin, end) over [0, n): serially when pf is null, else through the pool.
template <class F>
inline void parallel_for(const ParallelFor* pf, int64_t n, F&& f) {
  if (n <= 0) return;
  if (pf == nullptr || pf->run == nullptr || n == 1) {
    f(int64_t{0}, n);
    return;
  }
  using Fn = typename std::remove_reference<F>::type;
  pf->run(pf->pool, n, const_cast<void*>(static_cast<const void*>(&f)), [](void* ctx, int64_t b, int64_t e) {
    (*static_cast<Fn*>(ctx))(b, e);
  });
}

}  // namespace mcrt
