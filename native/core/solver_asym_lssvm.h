// The asymmetric-kernel LS-SVM (He et al. 2022; the reference's AsymmetricLstsqKernelSolver), over n
// coordinates with +-1 targets (binary examples, or the flattened (example, class) problem): with
// H = y K y (elementwise), solve [[I/gamma, H], [H^T, I/gamma]] [alpha; beta] = 1 - y o f0/s by least
// squares and predict lambda * Ka^T (alpha o y) + (1 - lambda) * Kflip^T (beta o y) + f0x/s. The f0 term
// is the LS-SVM with a known per-example offset (docs/solvers.md); without f0 the right-hand side is 1.
// lambda = 1 (only the predictor with the sign on the training side) is the paper's choice (A.3).
#pragma once
#include <cstdint>
#include <vector>

#include "core/progress.h"

namespace lmk {

struct AsymLsSvmInput {
  const double* K = nullptr;      // n x n: <sign g(train), g(train)> (part [0] of the train stack)
  const double* Kx = nullptr;     // n x m: <sign g(train), g(test)>
  const double* Kflip = nullptr;  // n x m: <g(train), sign g(test)>; needed only when some lambda != 1
  const double* y = nullptr;      // n targets (+-1)
  const double* f0 = nullptr;     // optional, n
  const double* f0x = nullptr;    // optional, m
  int64_t n = 0, m = 0;
  double gamma = 1.0;
  std::vector<double> lambdas{1.0};  // several lambdas share one solve
  double scale = 0.0;                // f0 scaling (0: no f0)
  double regularization = 0.0;       // kernel regularization lambda_reg (K + lambda_reg*sigma*I)
};

struct AsymLsSvmResult {
  std::vector<double> predictions;  // [lambdas.size()][m]
  std::vector<double> alpha, beta;  // n each
  int64_t rank = 0;
};

AsymLsSvmResult asymLsSvmSolve(const AsymLsSvmInput& in, const Progress& progress);

}  // namespace lmk
