// Dense float64 linear algebra for the kernel solvers: thin wrappers over ATen/LAPACK on row-major
// buffers, so that the solver files need no torch headers. Matrices are row-major, `rows x cols`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lmk::linalg {

// Eigen-decomposition of a symmetric matrix (LAPACK syevd through at::linalg_eigh; reads the lower
// triangle). values ascending; vectors row-major n x n with eigenvector j in column j.
struct SymEig {
  std::vector<double> values;
  std::vector<double> vectors;
};
SymEig eighSym(const double* a, int64_t n);

// Largest singular value (the operator 2-norm), through at::linalg_svdvals.
double spectralNorm(const double* a, int64_t rows, int64_t cols);

// max |a_ij - a_ji| / max |a_ij| (0 for a zero matrix).
double relativeAsymmetry(const double* a, int64_t n);

// Minimum-norm least squares min ||A X - B|| through at::linalg_lstsq (driver gelsy: rank-revealing QR,
// as torch's CPU default; gelsd for the SVD variant). B is m x nrhs row-major; X is n x nrhs.
struct LstsqResult {
  std::vector<double> x;
  int64_t rank = 0;
};
LstsqResult lstsq(const double* a, int64_t m, int64_t n, const double* b, int64_t nrhs, const std::string& driver = "gelsy");

// C = op(A) * B with op(A) = A (m x k) or, when transA, A^T for A stored k x m. B is k x n. GEMM (BLAS).
std::vector<double> matmul(const double* a, int64_t m, int64_t k, const double* b, int64_t n, bool transA = false);

// A + lambda * sigma_max(A) * I (the reference's get_regularized_kernel); a copy of A when lambda == 0.
// `sigmaOut` receives sigma_max when it was computed (0 otherwise).
std::vector<double> regularized(const double* a, int64_t n, double lambda, double* sigmaOut = nullptr);

}  // namespace lmk::linalg
