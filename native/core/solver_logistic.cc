#include "core/solver_logistic.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>

#include "core/linalg.h"

namespace lmk {
namespace {

// scikit-learn's log1pexp and gradient of the half binomial loss (sklearn/_loss/_loss.pyx).
double log1pexp(double x) {
  if (x <= -37) return std::exp(x);
  if (x <= -2) return std::log1p(std::exp(x));
  if (x <= 18) return std::log(1.0 + std::exp(x));
  if (x <= 33.3) return x + std::exp(-x);
  return x;
}
double gradHalfBinomial(double y, double raw) {
  if (raw > -37) {
    double e = std::exp(-raw);
    return ((1 - y) - y * e) / (1 + e);
  }
  return std::exp(raw) - y;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// MINPACK-2 dcstep (Moré & Thuente), as in scipy's L-BFGS-B.
void dcstep(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy, double& stp, double fp, double dp, bool& brackt,
            double stpmin, double stpmax) {
  const double sgnd = dp * (dx / std::fabs(dx));
  double stpf;
  if (fp > fx) {
    double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    double p = (gamma - dx) + theta, q = ((gamma - dx) + gamma) + dp, r = p / q;
    double stpc = stx + r * (stp - stx);
    double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx);
    stpf = std::fabs(stpc - stx) < std::fabs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    brackt = true;
  } else if (sgnd < 0) {
    double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dx, r = p / q;
    double stpc = stp + r * (stx - stp);
    double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = std::fabs(stpc - stp) > std::fabs(stpq - stp) ? stpc : stpq;
    brackt = true;
  } else if (std::fabs(dp) < std::fabs(dx)) {
    double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
    double gamma = s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    double p = (gamma - dp) + theta, q = (gamma + (dx - dp)) + gamma, r = p / q;
    double stpc;
    if (r < 0 && gamma != 0) stpc = stp + r * (stx - stp);
    else if (stp > stx) stpc = stpmax;
    else stpc = stpmin;
    double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (brackt) {
      stpf = std::fabs(stpc - stp) < std::fabs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? std::min(stp + 0.66 * (sty - stp), stpf) : std::max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = std::fabs(stpc - stp) > std::fabs(stpq - stp) ? stpc : stpq;
      stpf = std::max(stpmin, std::min(stpmax, stpf));
    }
  } else {
    if (brackt) {
      double theta = 3 * (fp - fy) / (sty - stp) + dy + dp;
      double s = std::max({std::fabs(theta), std::fabs(dy), std::fabs(dp)});
      double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dy, r = p / q;
      stpf = stp + r * (sty - stp);
    } else {
      stpf = stp > stx ? stpmax : stpmin;
    }
  }
  if (fp > fx) {
    sty = stp;
    fy = fp;
    dy = dp;
  } else {
    if (sgnd < 0) {
      sty = stx;
      fy = fx;
      dy = dx;
    }
    stx = stp;
    fx = fp;
    dx = dp;
  }
  stp = stpf;
}

struct Objective {
  const LogisticInput& in;
  const std::vector<double>& X;  // n x n (regularised K)
  double l2;
  int64_t evals = 0;
  std::vector<double> raw;
  // f and gradient at w (n weights + intercept).
  double operator()(const std::vector<double>& w, std::vector<double>& g) {
    const int64_t n = in.n, d = in.n;
    evals++;
    raw.assign(n, 0.0);
    for (int64_t i = 0; i < n; i++) {
      const double* row = &X[i * d];
      double z = 0;
      for (int64_t k = 0; k < d; k++) z += row[k] * w[k];
      raw[i] = z + w[d];
    }
    double loss = 0;
    g.assign(d + 1, 0.0);
    double gInt = 0;
    for (int64_t i = 0; i < n; i++) {
      const double y = in.labels[i], z = raw[i];
      loss += log1pexp(z) - y * z;
      const double gp = gradHalfBinomial(y, z) / static_cast<double>(n);
      const double* row = &X[i * d];
      for (int64_t k = 0; k < d; k++) g[k] += row[k] * gp;
      gInt += gp;
    }
    double ww = 0;
    for (int64_t k = 0; k < d; k++) {
      ww += w[k] * w[k];
      g[k] += l2 * w[k];
    }
    g[d] = gInt;
    return loss / static_cast<double>(n) + 0.5 * l2 * ww;
  }
};

// The L-BFGS search direction -H g (two-loop recursion, H0 = (s'y / y'y) I; with no pairs yet, -g).
void LbfgsDirection(const std::deque<std::vector<double>>& S, const std::deque<std::vector<double>>& Y, const std::deque<double>& SY,
                    const std::vector<double>& g, std::vector<double>& d) {
  const int64_t dim = static_cast<int64_t>(g.size());
  if (S.empty()) {
    for (int64_t k = 0; k < dim; k++) d[k] = -g[k];
    return;
  }
  std::vector<double> q = g;
  std::vector<double> al(S.size());
  for (int64_t t = static_cast<int64_t>(S.size()) - 1; t >= 0; t--) {
    al[t] = dot(S[t], q) / SY[t];
    for (int64_t k = 0; k < dim; k++) q[k] -= al[t] * Y[t][k];
  }
  const double h0 = SY.back() / dot(Y.back(), Y.back());
  for (double& e : q) e *= h0;
  for (size_t t = 0; t < S.size(); t++) {
    const double b = dot(Y[t], q) / SY[t];
    for (int64_t k = 0; k < dim; k++) q[k] += S[t][k] * (al[t] - b);
  }
  for (int64_t k = 0; k < dim; k++) d[k] = -q[k];
}

struct LineSearchResult {
  bool done = false;  // false: maxls evaluations without an acceptable step
  double stp = 0, f = 0, gd = 0;
};

// The line search along d from x (dcsrch: ftol 1e-3, gtol 0.9, xtol 0.1, stpmin 0, stpmax stpmx), from the
// step stp; xn and gn hold the last point evaluated.
LineSearchResult LineSearch(Objective& fg, const std::vector<double>& x, const std::vector<double>& d, double finit, double ginit,
                            double stp, double stpmx, std::vector<double>& xn, std::vector<double>& gn) {
  const int maxls = 50;
  const int64_t dim = static_cast<int64_t>(x.size());
  const double ftol = 1e-3, gtol = 0.9, xtol = 0.1, gtest = ftol * ginit;
  double width = stpmx, width1 = 2 * width;
  bool brackt = false;
  int stage = 1;
  double stx = 0, fx = finit, gx = ginit, sty = 0, fy = finit, gy = ginit, stmin = 0, stmax = stp + 4.0 * stp;
  double fnew = 0, gd = 0;
  for (int ls = 0; ls < maxls; ls++) {
    for (int64_t k = 0; k < dim; k++) xn[k] = stp == 1.0 ? x[k] + d[k] : stp * d[k] + x[k];
    fnew = fg(xn, gn);
    gd = dot(gn, d);
    const double ftest = finit + stp * gtest;
    if (stage == 1 && fnew <= ftest && gd >= 0) stage = 2;
    const bool warn = (brackt && (stp <= stmin || stp >= stmax)) || (brackt && stmax - stmin <= xtol * stmax) ||
                      (stp == stpmx && fnew <= ftest && gd <= gtest) || (stp == 0 && (fnew > ftest || gd >= gtest));
    if (warn || (fnew <= ftest && std::fabs(gd) <= gtol * (-ginit))) return {true, stp, fnew, gd};
    if (stage == 1 && fnew <= fx && fnew > ftest) {
      double fm = fnew - stp * gtest, fxm = fx - stx * gtest, fym = fy - sty * gtest;
      double gm = gd - gtest, gxm = gx - gtest, gym = gy - gtest;
      dcstep(stx, fxm, gxm, sty, fym, gym, stp, fm, gm, brackt, stmin, stmax);
      fx = fxm + stx * gtest;
      fy = fym + sty * gtest;
      gx = gxm + gtest;
      gy = gym + gtest;
    } else {
      dcstep(stx, fx, gx, sty, fy, gy, stp, fnew, gd, brackt, stmin, stmax);
    }
    if (brackt) {
      if (std::fabs(sty - stx) >= 0.66 * width1) stp = stx + 0.5 * (sty - stx);
      width1 = width;
      width = std::fabs(sty - stx);
      stmin = std::min(stx, sty);
      stmax = std::max(stx, sty);
    } else {
      stmin = stp + 1.1 * (stp - stx);
      stmax = stp + 4.0 * (stp - stx);
    }
    stp = std::min(std::max(stp, 0.0), stpmx);
    if ((brackt && (stp <= stmin || stp >= stmax)) || (brackt && stmax - stmin <= xtol * stmax)) stp = stx;
  }
  return {false, stp, fnew, gd};
}

void CheckLogisticInput(const LogisticInput& in) {
  if (in.n <= 0 || !in.K || !in.labels || (in.m > 0 && !in.Kx)) throw std::invalid_argument("logistic: missing kernel or labels");
  if (!(in.C > 0) || !std::isfinite(in.C)) throw std::invalid_argument("logistic: C must be finite and > 0");
  if (!(in.tol > 0)) throw std::invalid_argument("logistic: tol must be > 0");
  for (int64_t i = 0; i < in.n; i++)
    if (in.labels[i] != 0.0 && in.labels[i] != 1.0) throw std::invalid_argument("logistic: labels must be 0 or 1");
}

double MaxAbs(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s = std::max(s, std::fabs(e));
  return s;
}

}  // namespace

LogisticResult logisticFit(const LogisticInput& in, const Progress& progress) {
  CheckLogisticInput(in);
  const int64_t n = in.n, m = in.m, dim = in.n + 1;
  std::vector<double> X = linalg::regularized(in.K, n, in.regularization);
  Objective fg{in, X, 1.0 / (in.C * static_cast<double>(n))};

  const double epsmch = std::numeric_limits<double>::epsilon();
  const double factr = 64.0, stpmx = 1e10;
  const int mem = 10;
  std::vector<double> x(dim, 0.0), g, xn(dim), gn, d(dim);
  double f = fg(x, g);
  std::deque<std::vector<double>> S, Y;
  std::deque<double> SY;
  bool converged = MaxAbs(g) <= in.tol;
  int64_t iter = 0;
  while (!converged && iter < in.maxIter) {
    LbfgsDirection(S, Y, SY, g, d);
    const double finit = f, ginit = dot(g, d);
    if (ginit >= 0) break;  // not a descent direction: L-BFGS-B would restart; we stop (never seen here)
    const LineSearchResult ls =
        LineSearch(fg, x, d, finit, ginit, iter == 0 ? std::min(1.0 / std::sqrt(dot(d, d)), stpmx) : 1.0, stpmx, xn, gn);
    if (!ls.done) break;  // line search failed (maxls): keep the last accepted point
    iter++;
    const double fold = f;
    // Curvature pair.
    std::vector<double> s(dim), yv(dim);
    for (int64_t k = 0; k < dim; k++) {
      s[k] = ls.stp * d[k];
      yv[k] = gn[k] - g[k];
    }
    const double dr = (ls.gd - ginit) * ls.stp, ddum = -ginit * ls.stp;
    x.swap(xn);
    g.swap(gn);
    f = ls.f;
    if (MaxAbs(g) <= in.tol || fold - f <= factr * epsmch * std::max({std::fabs(fold), std::fabs(f), 1.0})) {
      converged = true;
      break;
    }
    if (dr > epsmch * ddum) {
      S.push_back(std::move(s));
      Y.push_back(std::move(yv));
      SY.push_back(dr);
      if (static_cast<int>(S.size()) > mem) S.pop_front(), Y.pop_front(), SY.pop_front();
    }
    if (iter % 16 == 0) {
      progress("lbfgs", iter, in.maxIter);
      progress.check();
    }
  }
  LogisticResult out;
  out.iterations = iter;
  out.evaluations = fg.evals;
  out.converged = converged;
  out.objective = f;
  out.weights.assign(x.begin(), x.begin() + n);
  out.intercept = x[n];
  out.decision.assign(m, out.intercept);
  for (int64_t i = 0; i < n; i++) {
    const double* row = &in.Kx[i * m];
    for (int64_t j = 0; j < m; j++) out.decision[j] += row[j] * x[i];
  }
  return out;
}

}  // namespace lmk
