// Kernel regression (the reference's LstsqKernelSolver) over a whole grid of regularisations lambda and
// f0 scalings s: min-norm least squares on K + lambda*sigma_max(K)*I, fitted to Y - f0/s, predicting
// Kx^T alpha + f0x/s (s = 0: no f0). Kernels are flattened: K is n x n, Kx is n x m (train x test).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"

namespace lmk {

enum class LstsqMethod {
  Auto,       // Eigh when K is symmetric (to 1e-12 relative), otherwise PerLambda
  Eigh,       // one eigendecomposition of the symmetrised K, shared by every lambda and s
  PerLambda,  // one gelsy solve per lambda, with Y and f0 as two right-hand sides (covers every s)
  PerPoint,   // one gelsy solve per (lambda, s), as the reference does (the baseline)
};
LstsqMethod parseLstsqMethod(const std::string& name);
const char* lstsqMethodName(LstsqMethod m);

struct LstsqGridInput {
  const double* K = nullptr;    // n x n
  const double* Kx = nullptr;   // n x m
  const double* y = nullptr;    // n targets
  const double* f0 = nullptr;   // n, optional (needed when some s > 0)
  const double* f0x = nullptr;  // m, optional (needed when some s > 0)
  int64_t n = 0, m = 0;
  std::vector<double> lambdas{0.0};
  std::vector<double> scales{0.0};
  LstsqMethod method = LstsqMethod::Auto;
};

struct LstsqGridResult {
  // predictions[(li * scales.size() + si) * m + j]: lambda-major grid order.
  std::vector<double> predictions;
  std::vector<int64_t> ranks;              // per grid point (same order)
  double sigmaMax = 0.0;                   // sigma_max(K), 0 when no lambda needed it
  LstsqMethod method = LstsqMethod::Auto;  // the method used
};

LstsqGridResult lstsqGrid(const LstsqGridInput& in, const Progress& progress);

}  // namespace lmk
