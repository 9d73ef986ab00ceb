// One-sided Jacobi SVD; the method and its limits are described in svd_jacobi.h.
#include "compress/lowrank/svd_jacobi.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "compress/error.h"

namespace mc {
namespace {

// A pair counts as orthogonal when |a_i·a_j| <= tol·‖a_i‖‖a_j‖ with tol = √m·ε (as
// LAPACK's dgesvj): below that the dot product itself is rounding noise, and
// rotating on noise only adds sweeps.
double pair_tolerance(size_t m) { return std::sqrt(static_cast<double>(m)) * 2.220446049250313e-16; }

// x·y with eight partial sums in a fixed order: deterministic, and free of the
// single dependency chain that keeps a strict-order loop from using the FPU fully.
double dot(const double* x, const double* y, size_t m) {
  double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t t = 0;
  for (; t + 8 <= m; t += 8)
    for (size_t l = 0; l < 8; ++l) p[l] += x[t + l] * y[t + l];
  for (size_t l = 0; t < m; ++t, ++l) p[l] += x[t] * y[t];
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

void rotate(double* x, double* y, size_t m, double c, double s) {
  for (size_t q = 0; q < m; ++q) {
    const double a = x[q], b = y[q];
    x[q] = c * a - s * b;
    y[q] = s * a + c * b;
  }
}

// Orthogonalises the n columns (stored as contiguous rows of length m in `cols`),
// accumulating the rotations into vt (n rows of length n, starts as I). Squared
// column norms are recomputed at the start of every sweep and updated exactly
// within it (a' = a - t·g, b' = b + t·g for the rotation below), so each pair
// costs one dot product instead of three.
void jacobi_sweeps(std::vector<double>& cols, size_t n, size_t m, std::vector<double>& vt, int max_sweeps,
                   SvdResult* r) {
  std::vector<double> norm2(n);
  const double tol = pair_tolerance(m);
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    for (size_t c = 0; c < n; ++c) norm2[c] = dot(&cols[c * m], &cols[c * m], m);
    bool rotated = false;
    for (size_t i = 0; i + 1 < n; ++i) {
      double* ai = &cols[i * m];
      for (size_t j = i + 1; j < n; ++j) {
        const double alpha = norm2[i], beta = norm2[j];
        if (alpha <= 0.0 || beta <= 0.0) continue;
        double* aj = &cols[j * m];
        const double gamma = dot(ai, aj, m);
        if (std::fabs(gamma) <= tol * std::sqrt(alpha) * std::sqrt(beta)) continue;
        rotated = true;
        // Rotation that zeroes the off-diagonal of the 2×2 Gram matrix [[alpha, gamma], [gamma, beta]].
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = std::copysign(1.0, zeta) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t);
        const double s = c * t;
        rotate(ai, aj, m, c, s);
        rotate(&vt[i * n], &vt[j * n], n, c, s);
        norm2[i] = alpha - t * gamma;
        norm2[j] = beta + t * gamma;
      }
    }
    r->sweeps = sweep + 1;
    if (!rotated) {
      r->converged = true;
      return;
    }
  }
}

}  // namespace

SvdResult svd_jacobi(const std::vector<double>& a, size_t rows, size_t cols, int max_sweeps) {
  if (rows == 0 || cols == 0 || a.size() / rows != cols || a.size() % rows != 0)
    throw Error(ErrorKind::Internal, "svd_jacobi: matrix size does not match " + std::to_string(rows) + "x" +
                                         std::to_string(cols));
  for (double x : a)
    if (!std::isfinite(x)) throw Error(ErrorKind::Input, "svd_jacobi: the matrix holds NaN or Inf");

  // Work on B = A (tall) or B = Aᵀ (wide), so that B has m >= n. The n columns of
  // B are kept as contiguous rows of `work` (i.e. work = Bᵀ, row-major).
  const bool wide = cols > rows;
  const size_t m = wide ? cols : rows;
  const size_t n = wide ? rows : cols;
  std::vector<double> work(m * n);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      // Column c of B, element e: B(e, c).
      const size_t c = wide ? i : j, e = wide ? j : i;
      work[c * m + e] = a[i * cols + j];
    }
  std::vector<double> vt(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) vt[i * n + i] = 1.0;

  SvdResult r;
  r.rows = rows;
  r.cols = cols;
  r.k = n;
  jacobi_sweeps(work, n, m, vt, max_sweeps, &r);

  std::vector<double> norms(n);
  for (size_t c = 0; c < n; ++c) {
    norms[c] = std::sqrt(dot(&work[c * m], &work[c * m], m));
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return norms[x] > norms[y]; });

  // B = Ub·Σ·Vbᵀ with Ub columns = normalised work rows (length m), Vb columns = vt rows (length n).
  // A = B (tall): U = Ub, V = Vb.  A = Bᵀ (wide): U = Vb, V = Ub.
  std::vector<double> ub(m * n, 0.0), vb(n * n);
  r.s.resize(n);
  for (size_t j = 0; j < n; ++j) {
    const size_t c = order[j];
    r.s[j] = norms[c];
    if (norms[c] > 0.0)
      for (size_t e = 0; e < m; ++e) ub[e * n + j] = work[c * m + e] / norms[c];
    for (size_t e = 0; e < n; ++e) vb[e * n + j] = vt[c * n + e];
  }
  if (wide) {
    r.u = std::move(vb);
    r.v = std::move(ub);
  } else {
    r.u = std::move(ub);
    r.v = std::move(vb);
  }
  return r;
}

}  // namespace mc
