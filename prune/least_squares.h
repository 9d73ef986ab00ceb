// Small dense symmetric solvers for the post-training weight re-fit (reconstruct.h).
//
// All matrices are row-major doubles. `cholesky_factor` overwrites the lower triangle of
// an n x n symmetric positive definite matrix with L (A = L L^T) and returns false when a
// pivot is not positive (A not SPD, or singular to working precision); the upper
// triangle is left alone. The solves read only L's lower triangle.
#pragma once
#include <cstddef>
#include <vector>

namespace mc::prune {

bool cholesky_factor(std::vector<double>& a, size_t n);
// Solves L L^T x = b in place (b holds x on return).
void cholesky_solve(const std::vector<double>& l, size_t n, double* b);

// The constrained quadratic re-fit of one output row:
//   minimise  w^T H w - 2 b^T w   subject to  w_j = 0 for j not in `kept`,
// where H (n x n, SPD) and b (n) are given. Returns the full-length w (zeros outside
// `kept`), or an empty vector when the kept block of H is not positive definite.
// Two exact ways, chosen by cost (both are tested against each other):
//  - few kept entries: Cholesky of H[kept, kept], solve for w[kept];
//  - few removed entries P: with H^-1 (pass `h_inv`, computed once per layer),
//    w* = H^-1 b, then w = w* - H^-1[:, P] (H^-1[P, P])^-1 w*[P]  (the OBS update).
// `h_inv` may be null; the kept-block route is then always used.
std::vector<double> solve_kept(const std::vector<double>& h, const std::vector<double>* h_inv, size_t n,
                               const double* b, const std::vector<size_t>& kept);

// H^-1 of an SPD matrix (empty when it is not SPD).
std::vector<double> spd_inverse(const std::vector<double>& h, size_t n);

}  // namespace mc::prune
