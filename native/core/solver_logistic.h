// Solver `logistic-rows` (the reference's; `logistic` is kernel logistic regression with f0,
// solver_kernel_logistic.h): logistic regression on kernel rows as features, as the reference's
// LogisticKernelSolver does with scikit-learn: X_train = K (n x n, row i = features of train coordinate i),
// X_test = Kx^T (m x n), labels 0/1, L2 on the weights, unpenalised intercept. The optimiser replicates
// scikit-learn's `LogisticRegression(solver='lbfgs')`: objective mean(log-loss) + ||w||^2 / (2 C n),
// scipy's L-BFGS-B (m = 10, Moré-Thuente line search dcsrch, maxls 50) from w = 0, stopping when the
// projected-gradient inf-norm <= tol or the relative decrease <= 64 eps. scikit-learn's default tol = 1e-4
// stops well before the optimum on ill-conditioned kernels; replicating its iterations is what reproduces
// its decision function (tol can be lowered for the true optimum).
#pragma once
#include <cstdint>
#include <vector>

#include "core/progress.h"

namespace lmk {

struct LogisticInput {
  const double* K = nullptr;       // n x n
  const double* Kx = nullptr;      // n x m
  const double* labels = nullptr;  // n, in {0, 1}
  int64_t n = 0, m = 0;
  double C = 1.0;
  double tol = 1e-4;
  int64_t maxIter = 10000;
  double regularization = 0.0;  // kernel regularization lambda (K + lambda*sigma*I)
};

struct LogisticResult {
  std::vector<double> decision;  // m: X_test w + b (log p1 - log p0)
  std::vector<double> weights;   // n, then the intercept is `intercept`
  double intercept = 0.0;
  int64_t iterations = 0;
  int64_t evaluations = 0;
  bool converged = false;
  double objective = 0.0;
};

LogisticResult logisticFit(const LogisticInput& in, const Progress& progress);

}  // namespace lmk
