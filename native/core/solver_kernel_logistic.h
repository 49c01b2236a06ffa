// Kernel logistic regression with the pre-trained output as a fixed offset of the logits (paper A.3:
// the kernel's output is added to f0, label scaling s searched on dev; docs/solvers.md):
//
//   f(x)_c = f0(x)_c / s + sum_{j,c'} a_{j,c'} K[(j,c'), (x,c)]            (s = 0: no f0)
//   minimise  J(a) = sum_i CE(softmax(f(x_i)), y_i) + (mu / 2) a^T K a,    mu = lambda * ||K||_op
//
// over the flattened (example, output) coordinates, n = N*C. With C >= 2 outputs per example the loss is
// the softmax cross-entropy over the C outputs of each example (the loss fine-tuning minimises); with
// C = 1 (binary: one output logit1 - logit0) it is the logistic loss of the 0/1 label, which is the same
// 2-class softmax. Newton's method on a: the step solves (W K + mu I) d = -(p - Y + mu a) (W the
// block-diagonal softmax Hessian; Gaussian elimination in plain loops, so that a fit is bitwise
// reproducible), with Armijo backtracking; K must be symmetric (the sgd and signgd kernels; the
// asymmetric kernel has its own solver).
#pragma once
#include <cstdint>
#include <vector>

#include "core/progress.h"

namespace lmk {

struct KernelLogisticInput {
  const double* K = nullptr;    // n x n, n = N*C (symmetric)
  const double* Kx = nullptr;   // n x m, m = M*C
  const double* y = nullptr;    // n targets: one-hot over the C outputs of each example, or the 0/1 label (C == 1)
  const double* f0 = nullptr;   // optional, n
  const double* f0x = nullptr;  // optional, m
  int64_t n = 0, m = 0, C = 1;  // coordinates (N*C, M*C) and outputs per example
  double scale = 0.0;           // s: f0/s is the offset (0: no f0)
  double regularization = 0.0;  // lambda > 0: mu = lambda * sigma_max(K)
  double tol = 1e-12;           // stop when the Newton decrement^2 / 2 <= tol * max(1, |J|)
  int64_t maxIter = 100;
};

struct KernelLogisticResult {
  std::vector<double> decision;  // m: f(x) per test coordinate (offset included)
  std::vector<double> weights;   // n: a
  double sigmaMax = 0.0;
  double objective = 0.0;
  int64_t iterations = 0;
  bool converged = false;
};

KernelLogisticResult kernelLogisticFit(const KernelLogisticInput& in, const Progress& progress);

}  // namespace lmk
