#include "prune/least_squares.h"

#include <cmath>

namespace mc::prune {

bool cholesky_factor(std::vector<double>& a, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double* rj = a.data() + j * n;
    double d = rj[j];
    for (size_t k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    rj[j] = ljj;
    for (size_t i = j + 1; i < n; ++i) {
      double* ri = a.data() + i * n;
      double s = ri[j];
      for (size_t k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / ljj;
    }
  }
  return true;
}

void cholesky_solve(const std::vector<double>& l, size_t n, double* b) {
  for (size_t i = 0; i < n; ++i) {  // L y = b
    const double* ri = l.data() + i * n;
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= ri[k] * b[k];
    b[i] = s / ri[i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T x = y
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

std::vector<double> spd_inverse(const std::vector<double>& h, size_t n) {
  std::vector<double> l = h;
  if (!cholesky_factor(l, n)) return {};
  std::vector<double> inv(n * n), col(n);
  for (size_t j = 0; j < n; ++j) {
    for (size_t i = 0; i < n; ++i) col[i] = i == j ? 1.0 : 0.0;
    cholesky_solve(l, n, col.data());
    for (size_t i = 0; i < n; ++i) inv[i * n + j] = col[i];
  }
  // Symmetrise (the two triangles differ by rounding only), so the result does not
  // depend on which triangle a caller reads.
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double v = 0.5 * (inv[i * n + j] + inv[j * n + i]);
      inv[i * n + j] = inv[j * n + i] = v;
    }
  return inv;
}

std::vector<double> solve_kept(const std::vector<double>& h, const std::vector<double>* h_inv, size_t n,
                               const double* b, const std::vector<size_t>& kept) {
  std::vector<double> w(n, 0.0);
  const size_t s = kept.size();
  if (s == 0) return w;
  const size_t p = n - s;
  if (h_inv && !h_inv->empty() && p < s) {
    const std::vector<double>& hi = *h_inv;
    std::vector<double> wstar(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      double acc = 0.0;
      const double* r = hi.data() + i * n;
      for (size_t k = 0; k < n; ++k) acc += r[k] * b[k];
      wstar[i] = acc;
    }
    if (p == 0) return wstar;
    std::vector<char> is_kept(n, 0);
    for (size_t k : kept) is_kept[k] = 1;
    std::vector<size_t> removed;
    removed.reserve(p);
    for (size_t i = 0; i < n; ++i)
      if (!is_kept[i]) removed.push_back(i);
    std::vector<double> hpp(p * p), z(p);
    for (size_t a = 0; a < p; ++a) {
      for (size_t c = 0; c < p; ++c) hpp[a * p + c] = hi[removed[a] * n + removed[c]];
      z[a] = wstar[removed[a]];
    }
    if (!cholesky_factor(hpp, p)) return {};
    cholesky_solve(hpp, p, z.data());
    for (size_t i = 0; i < n; ++i) {
      if (!is_kept[i]) continue;
      double acc = 0.0;
      const double* r = hi.data() + i * n;
      for (size_t a = 0; a < p; ++a) acc += r[removed[a]] * z[a];
      w[i] = wstar[i] - acc;
    }
    return w;
  }
  std::vector<double> hs(s * s), x(s);
  for (size_t a = 0; a < s; ++a) {
    const double* r = h.data() + kept[a] * n;
    for (size_t c = 0; c < s; ++c) hs[a * s + c] = r[kept[c]];
    x[a] = b[kept[a]];
  }
  if (!cholesky_factor(hs, s)) return {};
  cholesky_solve(hs, s, x.data());
  for (size_t a = 0; a < s; ++a) w[kept[a]] = x[a];
  return w;
}

}  // namespace mc::prune
