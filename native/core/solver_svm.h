// C-SVC and epsilon-SVR on a precomputed kernel with libsvm's semantics (as scikit-learn's SVC / SVR
// with kernel='precomputed'): libsvm's SMO solver with its second-order working-set selection (WSS 2),
// its kernel cache in float32 (Qfloat), its stopping rule (max violation gap < tol, default 1e-3) and its
// bias rule (mean of y*grad over free SVs; midpoint of the bounds when none is free). Shrinking is not
// implemented (it changes the speed, not the selected pairs, on the problems tested).
#pragma once
#include <cstdint>
#include <vector>

#include "core/progress.h"

namespace lmk {

struct SvmInput {
  const double* K = nullptr;   // n x n
  const double* Kx = nullptr;  // n x m
  const double* y = nullptr;   // n: SVC labels (+1 / -1, or 1 / 0 with 0 the negative class); SVR targets
  int64_t n = 0, m = 0;
  double C = 1.0;
  double epsilon = 0.1;  // SVR only
  double tol = 1e-3;
  int64_t maxIter = 10000000;
  double regularization = 0.0;  // kernel regularization lambda (K + lambda*sigma*I)
  // SVR only: fit y - f0/scale and add f0x/scale to the predictions (scale 0: no f0).
  const double* f0 = nullptr;
  const double* f0x = nullptr;
  double scale = 0.0;
};

struct SvmResult {
  std::vector<double> decision;  // m: sum_i coef_i K(i, x) + intercept (SVC: > 0 for the positive class)
  std::vector<double> coef;      // n dual coefficients (SVC: alpha_i y_i; SVR: alpha_i - alpha_i*)
  double intercept = 0.0;
  int64_t iterations = 0;
  int64_t supportVectors = 0;
  int64_t freeSupportVectors = 0;
  bool converged = false;
};

SvmResult svcFit(const SvmInput& in, const Progress& progress);
SvmResult svrFit(const SvmInput& in, const Progress& progress);

}  // namespace lmk
