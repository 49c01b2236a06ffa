#include "core/solver_kernel_logistic.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/linalg.h"

namespace lmk {
namespace {

void CheckInput(const KernelLogisticInput& in) {
  if (in.n <= 0 || in.C <= 0 || in.n % in.C != 0 || in.m % in.C != 0 || !in.K || !in.y || (in.m > 0 && !in.Kx))
    throw std::invalid_argument("kernel logistic: missing kernel or targets, or sizes not a multiple of the outputs per example");
  if (!(in.regularization > 0) || !std::isfinite(in.regularization))
    throw std::invalid_argument("kernel logistic: regularization lambda must be finite and > 0 (mu = lambda * ||K||_op)");
  if (!(in.scale >= 0) || !std::isfinite(in.scale)) throw std::invalid_argument("kernel logistic: f0 scaling must be >= 0");
  if (in.scale > 0 && (!in.f0 || (in.m > 0 && !in.f0x)))
    throw std::invalid_argument("kernel logistic: f0 scaling > 0 needs f0 for train and test");
  if (!(in.tol > 0) || in.maxIter <= 0) throw std::invalid_argument("kernel logistic: tol must be > 0 and maxIter > 0");
  for (int64_t i = 0; i < in.n / in.C; i++) {
    double sum = 0;
    bool binary = true;
    for (int64_t c = 0; c < in.C; c++) {
      const double t = in.y[i * in.C + c];
      binary = binary && (t == 0.0 || t == 1.0);
      sum += t;
    }
    if (!binary || (in.C > 1 && sum != 1.0))
      throw std::invalid_argument("kernel logistic: the targets of example " + std::to_string(i) +
                                  (in.C > 1 ? " are not one-hot" : " are not 0 or 1"));
  }
}

// Probabilities p (n) and the summed cross-entropy at logits z: softmax over the C outputs of an example,
// or the sigmoid of the single output when C == 1.
double CrossEntropy(const KernelLogisticInput& in, const std::vector<double>& z, std::vector<double>& p) {
  const int64_t C = in.C;
  double loss = 0;
  p.assign(z.size(), 0.0);
  for (int64_t i = 0; i < in.n / C; i++) {
    if (C == 1) {
      const double t = z[i];
      loss += std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))) - in.y[i] * t;
      p[i] = t >= 0 ? 1.0 / (1.0 + std::exp(-t)) : std::exp(t) / (1.0 + std::exp(t));
      continue;
    }
    const double* zi = &z[i * C];
    const double mx = *std::max_element(zi, zi + C);
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += std::exp(zi[c] - mx);
    const double lse = mx + std::log(s);
    for (int64_t c = 0; c < C; c++) p[i * C + c] = std::exp(zi[c] - lse);
    for (int64_t c = 0; c < C; c++) loss -= in.y[i * C + c] * (zi[c] - lse);
  }
  return loss;
}

// W K + mu I, W the block-diagonal Hessian of the cross-entropy in the logits (diag(p) - p p^T per example).
std::vector<double> NewtonMatrix(const KernelLogisticInput& in, const std::vector<double>& K, const std::vector<double>& p, double mu) {
  const int64_t C = in.C, n = in.n;
  std::vector<double> A(n * n, 0.0);
  for (int64_t i = 0; i < n / C; i++) {
    for (int64_t c = 0; c < C; c++) {
      const int64_t row = i * C + c;
      double* a = &A[row * n];
      if (C == 1) {
        const double w = p[i] * (1 - p[i]);
        for (int64_t k = 0; k < n; k++) a[k] = w * K[row * n + k];
      } else {
        for (int64_t c2 = 0; c2 < C; c2++) {
          const double w = (c == c2 ? p[row] : 0.0) - p[row] * p[i * C + c2];
          const double* kr = &K[(i * C + c2) * n];
          for (int64_t k = 0; k < n; k++) a[k] += w * kr[k];
        }
      }
      a[row] += mu;
    }
  }
  return A;
}

// Solves A x = b in place (A n x n row-major, overwritten) by Gaussian elimination with partial pivoting.
// Plain loops rather than LAPACK: the same inputs give the same bits on every run (threaded gelsy does not).
std::vector<double> SolveDense(std::vector<double>& A, std::vector<double> b) {
  const int64_t n = static_cast<int64_t>(b.size());
  for (int64_t k = 0; k < n; k++) {
    int64_t piv = k;
    for (int64_t i = k + 1; i < n; i++)
      if (std::fabs(A[i * n + k]) > std::fabs(A[piv * n + k])) piv = i;
    if (A[piv * n + k] == 0.0) throw std::runtime_error("kernel logistic: singular Newton system");
    if (piv != k) {
      std::swap_ranges(A.begin() + k * n, A.begin() + (k + 1) * n, A.begin() + piv * n);
      std::swap(b[k], b[piv]);
    }
    const double* rk = &A[k * n];
    for (int64_t i = k + 1; i < n; i++) {
      double* ri = &A[i * n];
      const double f = ri[k] / rk[k];
      if (f == 0.0) continue;
      for (int64_t j = k; j < n; j++) ri[j] -= f * rk[j];
      b[i] -= f * b[k];
    }
  }
  for (int64_t i = n - 1; i >= 0; i--) {
    double v = b[i];
    for (int64_t j = i + 1; j < n; j++) v -= A[i * n + j] * b[j];
    b[i] = v / A[i * n + i];
  }
  return b;
}

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

}  // namespace

KernelLogisticResult kernelLogisticFit(const KernelLogisticInput& in, const Progress& progress) {
  CheckInput(in);
  const int64_t n = in.n, m = in.m;
  const double asym = linalg::relativeAsymmetry(in.K, n);
  if (asym > 1e-6)
    throw std::invalid_argument("kernel logistic: the train x train kernel is not symmetric (relative asymmetry " + std::to_string(asym) +
                                "); the asymmetric SignGD kernel takes solver 'asym'");
  std::vector<double> K(n * n);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) K[i * n + j] = 0.5 * (in.K[i * n + j] + in.K[j * n + i]);
  KernelLogisticResult out;
  out.sigmaMax = linalg::spectralNorm(K.data(), n, n);
  const double mu = in.regularization * out.sigmaMax;
  const std::vector<double> Y(in.y, in.y + n);
  std::vector<double> offset(n, 0.0), a(n, 0.0), Ka(n, 0.0), z(n), p;
  if (in.scale > 0)
    for (int64_t k = 0; k < n; k++) offset[k] = in.f0[k] / in.scale;
  // J at a with K a = Ka (p is left at that point).
  auto objective = [&](const std::vector<double>& av, const std::vector<double>& kav) {
    for (int64_t k = 0; k < n; k++) z[k] = offset[k] + kav[k];
    return CrossEntropy(in, z, p) + 0.5 * mu * Dot(av, kav);
  };
  double J = objective(a, Ka);
  out.converged = out.sigmaMax == 0;  // a zero kernel: f = f0/s, nothing to fit
  while (!out.converged && out.iterations < in.maxIter) {
    std::vector<double> r(n);
    for (int64_t k = 0; k < n; k++) r[k] = -(p[k] - Y[k] + mu * a[k]);
    std::vector<double> A = NewtonMatrix(in, K, p, mu);
    const std::vector<double> d = SolveDense(A, r);  // W K + mu I is non-singular for mu > 0
    std::vector<double> Kd(n, 0.0);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) Kd[i] += K[i * n + j] * d[j];
    const double slope = -Dot(r, Kd);  // gradient K (p - Y + mu a) along d
    if (!(slope < 0) || -slope / 2 <= in.tol * std::max(1.0, std::fabs(J))) {
      // Converged: the last (full) Newton step squares the remaining error (quadratic convergence).
      if (slope < 0)
        for (int64_t k = 0; k < n; k++) {
          a[k] += d[k];
          Ka[k] += Kd[k];
        }
      out.converged = true;
      break;
    }
    double t = 1.0, Jt = J;
    std::vector<double> at(n), Kat(n);
    for (int ls = 0; ls < 60; ls++, t *= 0.5) {
      for (int64_t k = 0; k < n; k++) {
        at[k] = a[k] + t * d[k];
        Kat[k] = Ka[k] + t * Kd[k];
      }
      Jt = objective(at, Kat);
      if (Jt <= J + 1e-4 * t * slope) break;
    }
    if (!(Jt <= J + 1e-4 * t * slope)) break;  // no decrease found: keep a (not converged)
    a.swap(at);
    Ka.swap(Kat);
    J = Jt;
    out.iterations++;
    progress("newton", out.iterations, in.maxIter);
    progress.check();
  }
  out.objective = objective(a, Ka);
  out.weights = a;
  out.decision.assign(m, 0.0);
  if (m > 0) out.decision = linalg::matmul(in.Kx, m, n, a.data(), 1, true);
  if (in.scale > 0)
    for (int64_t j = 0; j < m; j++) out.decision[j] += in.f0x[j] / in.scale;
  return out;
}

}  // namespace lmk
