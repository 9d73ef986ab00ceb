// Thin singular value decomposition by one-sided Jacobi rotations (Hestenes 1958),
// in double precision, with nothing but the C++ standard library.
//
// How it works: for A (m×n) with m >= n (a wide A is transposed first and the roles
// of U and V swapped), the columns of A are orthogonalised pairwise by plane
// rotations that are also applied to V (starting from I). Pairs are visited in the
// fixed cyclic order (0,1), (0,2), ..., (n-2,n-1), one sweep after another, until a
// whole sweep finds every pair orthogonal to |a_i·a_j| <= tol·‖a_i‖‖a_j‖ (tol = √m·ε,
// as LAPACK's dgesvj) or max_sweeps is reached. Then σ_j = ‖a_j‖, u_j = a_j/σ_j, and the triplets are
// sorted by σ descending (ties: lower column index first). No threads, no random
// numbers: the same input gives the same bits on the same build.
//
// Accuracy: one-sided Jacobi is backward stable with high relative accuracy;
// ‖A − U·diag(σ)·Vᵀ‖_F / ‖A‖_F is ~1e-15 · √n in practice (tests require 1e-10).
// Singular values far below σ_max·1e-15 are noise, as in any fp64 SVD, and the
// corresponding u_j of a zero σ_j is left as zeros (it does not affect U·Σ·Vᵀ).
//
// Where it stops working: cost is O(sweeps · n² · (m + n)) flops, single-threaded;
// random matrices (the slow case: a flat spectrum) need 11–16 sweeps, trained
// weights with decaying spectra fewer. Measured (Release, x86-64 SSE2, on a shared
// 2-core machine under load): 784×300 under 1 s, 1024×1024 about 6 s (16 sweeps).
// Time grows with n³: beyond ~2000 columns use a bidiagonalisation SVD instead.
// Memory is (m·n + n·n + n) doubles plus the copy of A. NaN/Inf input gives
// meaningless output: callers must check that A is finite (svd_jacobi throws
// mc::Error(Input) when it is not).
#pragma once
#include <cstddef>
#include <vector>

namespace mc {

struct SvdResult {
  size_t rows = 0, cols = 0, k = 0;  // A is rows×cols, k = min(rows, cols)
  std::vector<double> u;             // rows×k, row-major: u[i*k + j] = U(i, j)
  std::vector<double> s;             // k singular values, descending, all >= 0
  std::vector<double> v;             // cols×k, row-major: v[i*k + j] = V(i, j)
  int sweeps = 0;                    // sweeps done
  bool converged = false;            // false when max_sweeps was reached first
};

// A is rows×cols, row-major (a.size() == rows*cols, rows and cols >= 1).
SvdResult svd_jacobi(const std::vector<double>& a, size_t rows, size_t cols, int max_sweeps = 60);

}  // namespace mc
