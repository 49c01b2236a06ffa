#include "core/solver_lstsq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/linalg.h"

namespace lmk {

LstsqMethod parseLstsqMethod(const std::string& name) {
  if (name == "auto") return LstsqMethod::Auto;
  if (name == "eigh") return LstsqMethod::Eigh;
  if (name == "per-lambda") return LstsqMethod::PerLambda;
  if (name == "per-point") return LstsqMethod::PerPoint;
  throw std::invalid_argument("lstsq method: expected auto, eigh, per-lambda or per-point, received '" + name + "'");
}

const char* lstsqMethodName(LstsqMethod m) {
  switch (m) {
    case LstsqMethod::Auto: return "auto";
    case LstsqMethod::Eigh: return "eigh";
    case LstsqMethod::PerLambda: return "per-lambda";
    case LstsqMethod::PerPoint: return "per-point";
  }
  return "?";
}

namespace {

constexpr double kSymmetryTol = 1e-12;

void check(const LstsqGridInput& in) {
  if (in.n <= 0 || in.m < 0) throw std::invalid_argument("lstsq: empty kernel");
  if (!in.K || !in.y || (in.m > 0 && !in.Kx)) throw std::invalid_argument("lstsq: missing kernel or targets");
  if (in.lambdas.empty() || in.scales.empty()) throw std::invalid_argument("lstsq: empty lambda or scale grid");
  for (double l : in.lambdas)
    if (!(l >= 0) || !std::isfinite(l)) throw std::invalid_argument("lstsq: kernel regularization must be finite and >= 0");
  for (double s : in.scales) {
    if (!(s >= 0) || !std::isfinite(s)) throw std::invalid_argument("lstsq: f0 scaling must be finite and >= 0");
    if (s > 0 && (!in.f0 || (in.m > 0 && !in.f0x))) throw std::invalid_argument("lstsq: f0 scaling > 0 needs f0 for train and test");
  }
}

// Adds f0x/s to a block of m predictions.
void addF0(double* pred, const double* f0x, int64_t m, double s) {
  if (s > 0)
    for (int64_t j = 0; j < m; j++) pred[j] += f0x[j] / s;
}

void gridEigh(const LstsqGridInput& in, LstsqGridResult& out, const Progress& progress) {
  const int64_t n = in.n, m = in.m;
  // Symmetrise exactly (the kernel command computes both triangles; they agree to rounding).
  std::vector<double> S(in.K, in.K + n * n);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < i; j++) S[i * n + j] = S[j * n + i] = 0.5 * (S[i * n + j] + S[j * n + i]);
  progress("eigh", 0, 1);
  linalg::SymEig eig = linalg::eighSym(S.data(), n);
  progress.check();
  const std::vector<double>& e = eig.values;
  const std::vector<double>& V = eig.vectors;  // n x n, column j = eigenvector j
  double sigma = 0;
  for (double v : e) sigma = std::max(sigma, std::fabs(v));
  out.sigmaMax = sigma;
  // Project the right-hand sides (Y and f0) on the eigenbasis: R = V^T [y f0] (n x 2).
  std::vector<double> rhs(n * 2, 0.0);
  for (int64_t i = 0; i < n; i++) {
    rhs[i * 2] = in.y[i];
    rhs[i * 2 + 1] = in.f0 ? in.f0[i] : 0.0;
  }
  std::vector<double> R = linalg::matmul(V.data(), n, n, rhs.data(), 2, /*transA=*/true);
  // P = Kx^T V (m x n): predictions are P * (d .* R).
  std::vector<double> P;
  if (m > 0) {
    std::vector<double> KxTV = linalg::matmul(in.Kx, m, n, V.data(), n, /*transA=*/true);
    P.swap(KxTV);
  }
  progress.check();
  const double eps = std::numeric_limits<double>::epsilon();
  std::vector<double> coefY(n), coefF(n);
  const size_t ns = in.scales.size();
  for (size_t li = 0; li < in.lambdas.size(); li++) {
    const double shift = in.lambdas[li] * sigma;
    double maxAbs = 0;
    for (double v : e) maxAbs = std::max(maxAbs, std::fabs(v + shift));
    // Same cut as torch/LAPACK's default rcond for lstsq: eps * max(m, n) relative to the largest.
    const double cut = eps * static_cast<double>(n) * maxAbs;
    int64_t rank = 0;
    for (int64_t k = 0; k < n; k++) {
      double ev = e[k] + shift;
      double inv = std::fabs(ev) > cut ? 1.0 / ev : 0.0;
      if (inv != 0.0) rank++;
      coefY[k] = inv * R[k * 2];
      coefF[k] = inv * R[k * 2 + 1];
    }
    // Prediction for every s: P coefY - (P coefF)/s + f0x/s.
    std::vector<double> pY(m, 0.0), pF(m, 0.0);
    for (int64_t j = 0; j < m; j++) {
      const double* row = &P[j * n];
      double a = 0, b = 0;
      for (int64_t k = 0; k < n; k++) {
        a += row[k] * coefY[k];
        b += row[k] * coefF[k];
      }
      pY[j] = a;
      pF[j] = b;
    }
    for (size_t si = 0; si < ns; si++) {
      const double s = in.scales[si];
      double* pred = &out.predictions[(li * ns + si) * m];
      for (int64_t j = 0; j < m; j++) pred[j] = s > 0 ? pY[j] - pF[j] / s : pY[j];
      addF0(pred, in.f0x, m, s);
      out.ranks[li * ns + si] = rank;
    }
    progress("grid", static_cast<int64_t>(li + 1), static_cast<int64_t>(in.lambdas.size()));
    progress.check();
  }
}

void gridSolve(const LstsqGridInput& in, LstsqGridResult& out, const Progress& progress, bool perPoint) {
  const int64_t n = in.n, m = in.m;
  bool needSigma = false;
  for (double l : in.lambdas) needSigma = needSigma || l != 0.0;
  double sigma = needSigma ? linalg::spectralNorm(in.K, n, n) : 0.0;
  out.sigmaMax = sigma;
  const size_t ns = in.scales.size();
  const int64_t total = static_cast<int64_t>(perPoint ? in.lambdas.size() * ns : in.lambdas.size());
  int64_t done = 0;
  std::vector<double> A(in.K, in.K + n * n);
  for (size_t li = 0; li < in.lambdas.size(); li++) {
    std::copy(in.K, in.K + n * n, A.begin());
    const double shift = in.lambdas[li] * sigma;
    for (int64_t i = 0; i < n; i++) A[i * n + i] += shift;
    if (perPoint) {
      for (size_t si = 0; si < ns; si++) {
        const double s = in.scales[si];
        std::vector<double> t(in.y, in.y + n);
        if (s > 0)
          for (int64_t i = 0; i < n; i++) t[i] -= in.f0[i] / s;
        linalg::LstsqResult r = linalg::lstsq(A.data(), n, n, t.data(), 1);
        double* pred = &out.predictions[(li * ns + si) * m];
        if (m > 0) {
          std::vector<double> p = linalg::matmul(in.Kx, m, n, r.x.data(), 1, /*transA=*/true);
          std::copy(p.begin(), p.end(), pred);
        }
        addF0(pred, in.f0x, m, s);
        out.ranks[li * ns + si] = r.rank;
        progress("grid", ++done, total);
        progress.check();
      }
      continue;
    }
    std::vector<double> rhs(n * 2, 0.0);
    for (int64_t i = 0; i < n; i++) {
      rhs[i * 2] = in.y[i];
      rhs[i * 2 + 1] = in.f0 ? in.f0[i] : 0.0;
    }
    linalg::LstsqResult r = linalg::lstsq(A.data(), n, n, rhs.data(), 2);
    std::vector<double> p = m > 0 ? linalg::matmul(in.Kx, m, n, r.x.data(), 2, /*transA=*/true) : std::vector<double>();
    for (size_t si = 0; si < ns; si++) {
      const double s = in.scales[si];
      double* pred = &out.predictions[(li * ns + si) * m];
      for (int64_t j = 0; j < m; j++) pred[j] = s > 0 ? p[j * 2] - p[j * 2 + 1] / s : p[j * 2];
      addF0(pred, in.f0x, m, s);
      out.ranks[li * ns + si] = r.rank;
    }
    progress("grid", ++done, total);
    progress.check();
  }
}

}  // namespace

LstsqGridResult lstsqGrid(const LstsqGridInput& in, const Progress& progress) {
  check(in);
  LstsqGridResult out;
  const size_t points = in.lambdas.size() * in.scales.size();
  out.predictions.assign(points * static_cast<size_t>(in.m), 0.0);
  out.ranks.assign(points, 0);
  LstsqMethod method = in.method;
  if (method == LstsqMethod::Auto)
    method = linalg::relativeAsymmetry(in.K, in.n) <= kSymmetryTol ? LstsqMethod::Eigh : LstsqMethod::PerLambda;
  if (method == LstsqMethod::Eigh && linalg::relativeAsymmetry(in.K, in.n) > kSymmetryTol)
    throw std::invalid_argument("lstsq: method 'eigh' needs a symmetric train x train kernel");
  out.method = method;
  if (method == LstsqMethod::Eigh) gridEigh(in, out, progress);
  else gridSolve(in, out, progress, method == LstsqMethod::PerPoint);
  return out;
}

}  // namespace lmk
