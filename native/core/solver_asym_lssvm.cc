#include "core/solver_asym_lssvm.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/linalg.h"

namespace lmk {

AsymLsSvmResult asymLsSvmSolve(const AsymLsSvmInput& in, const Progress& progress) {
  const int64_t n = in.n, m = in.m;
  if (n <= 0 || !in.K || !in.y) throw std::invalid_argument("asymmetric LS-SVM: missing kernel or targets");
  if (m > 0 && !in.Kx) throw std::invalid_argument("asymmetric LS-SVM: missing train x test kernel");
  // lambda = 1 (the paper's, A.3) predicts with <sign g(train), g(test)> alone: the flipped kernel is optional
  for (double lam : in.lambdas)
    if (m > 0 && lam != 1.0 && !in.Kflip) {
      std::ostringstream msg;
      msg << "asymmetric LS-SVM: lambda = " << lam
          << " needs the flipped kernel <g(train), sign g(test)>, which is missing (only lambda = 1 predicts without it)";
      throw std::invalid_argument(msg.str());
    }
  if (!(in.gamma > 0) || !std::isfinite(in.gamma)) throw std::invalid_argument("asymmetric LS-SVM: gamma must be finite and > 0");
  if (in.scale < 0 || (in.scale > 0 && (!in.f0 || (m > 0 && !in.f0x))))
    throw std::invalid_argument("asymmetric LS-SVM: f0 scaling > 0 needs f0 for train and test");
  const std::vector<double> y(in.y, in.y + n);
  for (int64_t i = 0; i < n; i++)
    if (y[i] != 1.0 && y[i] != -1.0) throw std::invalid_argument("asymmetric LS-SVM: targets must be +1 or -1");
  // Right-hand side 1 - y o f0/s (docs/solvers.md: the constraints y_i (w^T phi(x_i) + f0_i/s) = 1 - e_i).
  std::vector<double> rhs(2 * n, 1.0);
  if (in.scale > 0)
    for (int64_t i = 0; i < n; i++) rhs[i] = rhs[n + i] = 1.0 - y[i] * in.f0[i] / in.scale;
  std::vector<double> K = linalg::regularized(in.K, n, in.regularization);
  // System matrix, 2n x 2n.
  const int64_t N = 2 * n;
  std::vector<double> A(N * N, 0.0);
  for (int64_t i = 0; i < n; i++) {
    A[i * N + i] = 1.0 / in.gamma;
    A[(n + i) * N + (n + i)] = 1.0 / in.gamma;
    for (int64_t j = 0; j < n; j++) {
      const double h = y[i] * K[i * n + j] * y[j];
      A[i * N + (n + j)] = h;  // H
      A[(n + j) * N + i] = h;  // H^T
    }
  }
  progress("solve", 0, 1);
  linalg::LstsqResult r = linalg::lstsq(A.data(), N, N, rhs.data(), 1);
  progress.check();
  AsymLsSvmResult out;
  out.rank = r.rank;
  out.alpha.assign(r.x.begin(), r.x.begin() + n);
  out.beta.assign(r.x.begin() + n, r.x.end());
  std::vector<double> ay(n), by(n);
  for (int64_t i = 0; i < n; i++) {
    ay[i] = out.alpha[i] * y[i];
    by[i] = out.beta[i] * y[i];
  }
  std::vector<double> omega = m > 0 ? linalg::matmul(in.Kx, m, n, ay.data(), 1, true) : std::vector<double>();
  std::vector<double> nu = m > 0 && in.Kflip ? linalg::matmul(in.Kflip, m, n, by.data(), 1, true) : std::vector<double>();
  out.predictions.assign(in.lambdas.size() * m, 0.0);
  for (size_t li = 0; li < in.lambdas.size(); li++) {
    const double lam = in.lambdas[li];
    for (int64_t j = 0; j < m; j++) {
      double p = lam == 1.0 ? omega[j] : lam * omega[j] + (1.0 - lam) * nu[j];
      if (in.scale > 0) p += in.f0x[j] / in.scale;
      out.predictions[li * m + j] = p;
    }
  }
  progress("solve", 1, 1);
  return out;
}

}  // namespace lmk
