#include "core/solver_svm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/linalg.h"

namespace lmk {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTau = 1e-12;

// libsvm's Solver (without shrinking) on l variables: min 1/2 a'Qa + p'a, y'a = 0, 0 <= a <= C, with
// Q_ij = sign_i sign_j Kf[idx_i][idx_j] where Kf is the kernel rounded to float as libsvm's cache holds it.
struct Smo {
  int64_t l;
  const std::vector<float>& Kf;  // n x n
  int64_t n;
  std::vector<int64_t> idx;
  std::vector<double> sign;  // y in libsvm's solver (+1/-1)
  std::vector<double> p;
  std::vector<double> QD;  // double diagonal (libsvm computes QD in double)
  double C;
  std::vector<double> a, G;

  double Q(int64_t i, int64_t j) const { return sign[i] * sign[j] * static_cast<double>(Kf[idx[i] * n + idx[j]]); }
  bool upper(int64_t t) const { return a[t] >= C; }
  bool lower(int64_t t) const { return a[t] <= 0; }

  bool select(int64_t& outI, int64_t& outJ, double eps) const {
    double Gmax = -kInf, Gmax2 = -kInf, objMin = kInf;
    int64_t gi = -1, gj = -1;
    for (int64_t t = 0; t < l; t++) {
      if (sign[t] == 1) {
        if (!upper(t) && -G[t] >= Gmax) {
          Gmax = -G[t];
          gi = t;
        }
      } else if (!lower(t) && G[t] >= Gmax) {
        Gmax = G[t];
        gi = t;
      }
    }
    const int64_t i = gi;
    for (int64_t j = 0; j < l; j++) {
      if (sign[j] == 1) {
        if (!lower(j)) {
          const double gd = Gmax + G[j];
          if (G[j] >= Gmax2) Gmax2 = G[j];
          if (gd > 0 && i >= 0) {
            double qc = QD[i] + QD[j] - 2.0 * sign[i] * Q(i, j);
            const double od = -(gd * gd) / (qc > 0 ? qc : kTau);
            if (od <= objMin) {
              gj = j;
              objMin = od;
            }
          }
        }
      } else if (!upper(j)) {
        const double gd = Gmax - G[j];
        if (-G[j] >= Gmax2) Gmax2 = -G[j];
        if (gd > 0 && i >= 0) {
          double qc = QD[i] + QD[j] + 2.0 * sign[i] * Q(i, j);
          const double od = -(gd * gd) / (qc > 0 ? qc : kTau);
          if (od <= objMin) {
            gj = j;
            objMin = od;
          }
        }
      }
    }
    if (Gmax + Gmax2 < eps || gj == -1) return false;
    outI = gi;
    outJ = gj;
    return true;
  }

  // Returns true when the stopping rule was met, false when maxIter ran out.
  bool solve(double eps, int64_t maxIter, int64_t& iters, const Progress& progress) {
    a.assign(l, 0.0);
    G = p;  // alpha = 0
    std::vector<double> Qi(l), Qj(l);
    iters = 0;
    while (true) {
      int64_t i, j;
      if (!select(i, j, eps)) return true;
      if (iters >= maxIter) return false;
      iters++;
      if ((iters & 0xFFF) == 0) progress.check();
      for (int64_t k = 0; k < l; k++) {
        Qi[k] = Q(i, k);
        Qj[k] = Q(j, k);
      }
      const double oi = a[i], oj = a[j], Ci = C, Cj = C;
      if (sign[i] != sign[j]) {
        double qc = QD[i] + QD[j] + 2 * Qi[j];
        if (qc <= 0) qc = kTau;
        const double delta = (-G[i] - G[j]) / qc;
        const double diff = a[i] - a[j];
        a[i] += delta;
        a[j] += delta;
        if (diff > 0) {
          if (a[j] < 0) {
            a[j] = 0;
            a[i] = diff;
          }
        } else if (a[i] < 0) {
          a[i] = 0;
          a[j] = -diff;
        }
        if (diff > Ci - Cj) {
          if (a[i] > Ci) {
            a[i] = Ci;
            a[j] = Ci - diff;
          }
        } else if (a[j] > Cj) {
          a[j] = Cj;
          a[i] = Cj + diff;
        }
      } else {
        double qc = QD[i] + QD[j] - 2 * Qi[j];
        if (qc <= 0) qc = kTau;
        const double delta = (G[i] - G[j]) / qc;
        const double sum = a[i] + a[j];
        a[i] -= delta;
        a[j] += delta;
        if (sum > Ci) {
          if (a[i] > Ci) {
            a[i] = Ci;
            a[j] = sum - Ci;
          }
        } else if (a[j] < 0) {
          a[j] = 0;
          a[i] = sum;
        }
        if (sum > Cj) {
          if (a[j] > Cj) {
            a[j] = Cj;
            a[i] = sum - Cj;
          }
        } else if (a[i] < 0) {
          a[i] = 0;
          a[j] = sum;
        }
      }
      const double dai = a[i] - oi, daj = a[j] - oj;
      for (int64_t k = 0; k < l; k++) G[k] += Qi[k] * dai + Qj[k] * daj;
    }
  }

  double rho(int64_t& nFree) const {
    double ub = kInf, lb = -kInf, sumFree = 0;
    nFree = 0;
    for (int64_t t = 0; t < l; t++) {
      const double yG = sign[t] * G[t];
      if (upper(t)) {
        if (sign[t] == -1) ub = std::min(ub, yG);
        else lb = std::max(lb, yG);
      } else if (lower(t)) {
        if (sign[t] == 1) ub = std::min(ub, yG);
        else lb = std::max(lb, yG);
      } else {
        nFree++;
        sumFree += yG;
      }
    }
    return nFree > 0 ? sumFree / static_cast<double>(nFree) : (ub + lb) / 2;
  }
};

void checkInput(const SvmInput& in, const char* what) {
  if (in.n <= 0 || !in.K || !in.y || (in.m > 0 && !in.Kx)) throw std::invalid_argument(std::string(what) + ": missing kernel or targets");
  if (!(in.C > 0) || !std::isfinite(in.C)) throw std::invalid_argument(std::string(what) + ": C must be finite and > 0");
  if (!(in.tol > 0)) throw std::invalid_argument(std::string(what) + ": tol must be > 0");
}

std::vector<float> toFloat(const std::vector<double>& K) {
  std::vector<float> out(K.size());
  for (size_t i = 0; i < K.size(); i++) out[i] = static_cast<float>(K[i]);
  return out;
}

void predict(const SvmInput& in, SvmResult& out) {
  out.decision.assign(in.m, out.intercept);
  for (int64_t i = 0; i < in.n; i++) {
    const double c = out.coef[i];
    if (c == 0.0) continue;
    const double* row = &in.Kx[i * in.m];
    for (int64_t j = 0; j < in.m; j++) out.decision[j] += c * row[j];
  }
}

}  // namespace

SvmResult svcFit(const SvmInput& in, const Progress& progress) {
  checkInput(in, "svc");
  const int64_t n = in.n;
  // libsvm (scikit-learn's fork) orders the classes ascending and gives the first (the negative class)
  // internal label +1; scikit-learn then negates the binary decision function. Replicate both.
  std::vector<double> yl(n);
  bool pos = false, neg = false;
  for (int64_t i = 0; i < n; i++) {
    const double v = in.y[i];
    if (v == 1.0) {
      yl[i] = -1.0;
      pos = true;
    } else if (v == -1.0 || v == 0.0) {
      yl[i] = 1.0;
      neg = true;
    } else {
      throw std::invalid_argument("svc: labels must be +1 / -1 (or 1 / 0)");
    }
  }
  if (!pos || !neg) throw std::invalid_argument("svc: the training labels hold a single class");
  std::vector<double> K = linalg::regularized(in.K, n, in.regularization);
  std::vector<float> Kf = toFloat(K);
  Smo smo{n, Kf, n, {}, yl, std::vector<double>(n, -1.0), {}, in.C, {}, {}};
  smo.idx.resize(n);
  smo.QD.resize(n);
  for (int64_t i = 0; i < n; i++) {
    smo.idx[i] = i;
    smo.QD[i] = K[i * n + i];
  }
  SvmResult out;
  out.converged = smo.solve(in.tol, in.maxIter, out.iterations, progress);
  const double rho = smo.rho(out.freeSupportVectors);
  out.coef.resize(n);
  for (int64_t i = 0; i < n; i++) {
    out.coef[i] = -smo.a[i] * yl[i];  // negated: positive decision for the positive class
    if (smo.a[i] > 0) out.supportVectors++;
  }
  out.intercept = rho;  // -( -rho )
  predict(in, out);
  return out;
}

SvmResult svrFit(const SvmInput& in, const Progress& progress) {
  checkInput(in, "svr");
  if (!(in.epsilon >= 0) || !std::isfinite(in.epsilon)) throw std::invalid_argument("svr: epsilon must be finite and >= 0");
  const int64_t n = in.n, l = 2 * n;
  if (in.scale < 0 || (in.scale > 0 && (!in.f0 || (in.m > 0 && !in.f0x))))
    throw std::invalid_argument("svr: f0 scaling > 0 needs f0 for train and test");
  std::vector<double> y(in.y, in.y + n);
  if (in.scale > 0)
    for (int64_t i = 0; i < n; i++) y[i] -= in.f0[i] / in.scale;
  std::vector<double> K = linalg::regularized(in.K, n, in.regularization);
  std::vector<float> Kf = toFloat(K);
  Smo smo{l, Kf, n, {}, std::vector<double>(l), std::vector<double>(l), {}, in.C, {}, {}};
  smo.idx.resize(l);
  smo.QD.resize(l);
  for (int64_t i = 0; i < n; i++) {
    smo.idx[i] = smo.idx[i + n] = i;
    smo.sign[i] = 1;
    smo.sign[i + n] = -1;
    smo.p[i] = in.epsilon - y[i];
    smo.p[i + n] = in.epsilon + y[i];
    smo.QD[i] = smo.QD[i + n] = K[i * n + i];
  }
  SvmResult out;
  out.converged = smo.solve(in.tol, in.maxIter, out.iterations, progress);
  const double rho = smo.rho(out.freeSupportVectors);
  out.coef.resize(n);
  for (int64_t i = 0; i < n; i++) {
    out.coef[i] = smo.a[i] - smo.a[i + n];
    if (out.coef[i] != 0.0) out.supportVectors++;
  }
  out.intercept = -rho;
  predict(in, out);
  if (in.scale > 0)
    for (int64_t j = 0; j < in.m; j++) out.decision[j] += in.f0x[j] / in.scale;
  return out;
}

}  // namespace lmk
