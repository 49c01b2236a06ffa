// The kernel solvers of the core against the fixtures' `solvers` entries (fixtures-a.json, roberta
// cases 0 and 1): lstsq on every method, logistic, svr, svc and asym. argv[1]: the fixtures folder.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/linalg.h"
#include "core/progress.h"
#include "core/solver_asym_lssvm.h"
#include "core/solver_kernel_logistic.h"
#include "core/solver_logistic.h"
#include "core/solver_lstsq.h"
#include "core/solver_svm.h"

using lmk::json::Value;

namespace {

int failures = 0;

const Value& at(const Value& v, const std::string& key) {
  const Value* p = v.find(key);
  if (!p) throw std::runtime_error("fixture: missing key " + key);
  return *p;
}

void flatten(const Value& v, std::vector<double>& out) {
  if (v.isArray()) {
    for (const auto& e : v.arr) flatten(e, out);
  } else {
    out.push_back(v.num);
  }
}
std::vector<double> flat(const Value& v) {
  std::vector<double> out;
  flatten(v, out);
  return out;
}

double relErr(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double d = 0, s = 0;
  for (size_t i = 0; i < got.size(); i++) {
    d = std::max(d, std::fabs(got[i] - want[i]));
    s = std::max(s, std::fabs(want[i]));
  }
  return d / (s > 0 ? s : 1);
}

void expect(const std::string& what, const std::vector<double>& got, const std::vector<double>& want, double tol) {
  double e = relErr(got, want);
  bool ok = e <= tol;
  std::printf("%s %-46s max rel err %.3e (tol %.0e)\n", ok ? "ok  " : "FAIL", what.c_str(), e, tol);
  if (!ok) failures++;
}

struct Case {
  int64_t n = 0, m = 0, C = 0;
  std::vector<double> K, Kx, y, f0, f0x, Ka, Kax, Kflip;
};

Case load(const Value& root, int index) {
  const Value& rob = at(root, "roberta");
  const Value& c = at(rob, "cases").arr.at(index);
  const Value& inputs = at(at(rob, "inputs"), "prompt");
  Case out;
  out.C = at(c, "num_logits").integer;
  std::vector<double> labels = flat(at(inputs, "train_labels"));
  const int64_t N = static_cast<int64_t>(labels.size());
  const int64_t M = static_cast<int64_t>(flat(at(inputs, "test_labels")).size());
  out.n = N * out.C;
  out.m = M * out.C;
  const Value& k = at(at(c, "kernels"), "sgd");
  out.K = flat(at(k, "train_train"));
  out.Kx = flat(at(k, "train_test"));
  const Value& ka = at(at(c, "kernels"), "asymmetric_signgd");
  out.Ka = flat(at(ka, "train_train"));
  out.Kax = flat(at(ka, "train_test"));
  out.Kflip = flat(at(ka, "train_test_flipped"));
  out.f0 = flat(at(c, "f0_train"));
  out.f0x = flat(at(c, "f0_test"));
  for (double l : labels) {
    if (out.C == 1) {
      out.y.push_back(2 * l - 1);
    } else {
      for (int64_t c2 = 0; c2 < out.C; c2++) out.y.push_back(c2 == static_cast<int64_t>(l) ? 1.0 : 0.0);
    }
  }
  return out;
}

void testLstsq(const Case& cs, const Value& entries, const std::string& name) {
  // One grid call per method covering every fixture entry.
  std::vector<double> lambdas, scales;
  for (const auto& e : entries.arr) {
    double l = at(e, "kernel_regularization").num, s = at(e, "f0_scaling").num;
    if (std::find(lambdas.begin(), lambdas.end(), l) == lambdas.end()) lambdas.push_back(l);
    if (std::find(scales.begin(), scales.end(), s) == scales.end()) scales.push_back(s);
  }
  for (auto method : {lmk::LstsqMethod::Auto, lmk::LstsqMethod::PerLambda, lmk::LstsqMethod::PerPoint}) {
    lmk::LstsqGridInput in;
    in.K = cs.K.data();
    in.Kx = cs.Kx.data();
    in.y = cs.y.data();
    in.f0 = cs.f0.data();
    in.f0x = cs.f0x.data();
    in.n = cs.n;
    in.m = cs.m;
    in.lambdas = lambdas;
    in.scales = scales;
    in.method = method;
    lmk::LstsqGridResult r = lmk::lstsqGrid(in, lmk::Progress{});
    for (const auto& e : entries.arr) {
      double l = at(e, "kernel_regularization").num, s = at(e, "f0_scaling").num;
      size_t li = std::find(lambdas.begin(), lambdas.end(), l) - lambdas.begin();
      size_t si = std::find(scales.begin(), scales.end(), s) - scales.begin();
      size_t g = li * scales.size() + si;
      std::vector<double> got(r.predictions.begin() + g * cs.m, r.predictions.begin() + (g + 1) * cs.m);
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s lstsq[%s] lambda=%g s=%g", name.c_str(), lmk::lstsqMethodName(r.method), l, s);
      expect(buf, got, flat(at(e, "predictions")), 1e-9);
      if (r.ranks[g] != cs.n) {
        std::printf("FAIL %s: rank %lld, expected %lld\n", buf, (long long)r.ranks[g], (long long)cs.n);
        failures++;
      }
    }
  }
}

// sigma_max(A) of a square row-major matrix by power iteration on A^T A (independent of LAPACK).
double PowerSigma(const std::vector<double>& a, int64_t n) {
  std::vector<double> v(n, 1.0), w(n), u(n);
  double s = 0;
  for (int it = 0; it < 2000; it++) {
    for (int64_t i = 0; i < n; i++) {
      w[i] = 0;
      for (int64_t j = 0; j < n; j++) w[i] += a[i * n + j] * v[j];
    }
    for (int64_t j = 0; j < n; j++) {
      u[j] = 0;
      for (int64_t i = 0; i < n; i++) u[j] += a[i * n + j] * w[i];
    }
    double norm = 0;
    for (double x : u) norm += x * x;
    norm = std::sqrt(norm);
    for (int64_t j = 0; j < n; j++) v[j] = u[j] / norm;
    s = std::sqrt(norm);
  }
  return s;
}

}  // namespace

// A solver input viewing a case's train x train and train x test kernels.
template <class In>
In Bind(const std::vector<double>& K, const std::vector<double>& Kx, int64_t n, int64_t m) {
  In in;
  in.K = K.data();
  in.Kx = Kx.data();
  in.n = n;
  in.m = m;
  return in;
}

// Hand-solved one-example cases with f0 (docs/solvers.md): the asymmetric LS-SVM with a known offset,
// and kernel logistic regression with the offset, whose optimum solves sigma(b + k a) - 1 + mu a = 0.
void TestHandCases() {
  // asym: K = 2, y = +1, f0 = 0.6, s = 2, gamma = 0.5: alpha = beta = (1 - 0.3) / (1/0.5 + 2) = 0.175;
  // Kx = 3, Kflip = -1, f0x = 0.4: lambda 1 -> 0.175 * 3 + 0.2 = 0.725; lambda 0 -> -0.175 + 0.2 = 0.025.
  const std::vector<double> K{2}, Kx{3}, Kflip{-1}, y{1}, f0{0.6}, f0x{0.4};
  auto in = Bind<lmk::AsymLsSvmInput>(K, Kx, 1, 1);
  in.Kflip = Kflip.data();
  in.y = y.data();
  in.f0 = f0.data();
  in.f0x = f0x.data();
  in.scale = 2;
  in.gamma = 0.5;
  in.lambdas = {1, 0};
  expect("hand asym with f0 (lambda 1, 0)", lmk::asymLsSvmSolve(in, lmk::Progress{}).predictions, {0.725, 0.025}, 1e-14);
  // kernel logistic: k = 2.5, label 1, b = f0/s = -1.5/0.5, mu = 0.1 * k; bisection on the optimality condition
  const double k = 2.5, b = -3, mu = 0.25;
  double lo = 0, hi = 10;
  for (int i = 0; i < 200; i++) {
    const double a = (lo + hi) / 2;
    (1 / (1 + std::exp(-(b + k * a))) - 1 + mu * a > 0 ? hi : lo) = a;
  }
  const std::vector<double> Kl{k}, Klx{-0.7}, yl{1}, f0l{-1.5}, f0lx{0.4};
  auto kl = Bind<lmk::KernelLogisticInput>(Kl, Klx, 1, 1);
  kl.y = yl.data();
  kl.f0 = f0l.data();
  kl.f0x = f0lx.data();
  kl.scale = 0.5;
  kl.regularization = 0.1;
  expect("hand kernel logistic with f0", lmk::kernelLogisticFit(kl, lmk::Progress{}).decision, {-0.7 * (lo + hi) / 2 + 0.8}, 1e-12);
}

// Kernel regularization K + lambda * sigma_max(K) * I (the reference's get_regularized_kernel): by hand on
// 2 x 2 matrices, then svc, svr, logistic and asym with lambda = 0.1 against the same solver on
// K + 0.1 * sigma * I with lambda = 0 (sigma by power iteration here).
void testRegularization(const Case& bin, const std::vector<double>& labels01) {
  double sigma = -1;
  // [[2, 1], [1, 2]]: eigenvalues 3 and 1, sigma_max 3
  expect("regularized [[2,1],[1,2]] lambda 0.5", lmk::linalg::regularized(std::vector<double>{2, 1, 1, 2}.data(), 2, 0.5, &sigma),
         {3.5, 1, 1, 3.5}, 0);
  expect("regularized: sigma_max 3", {sigma}, {3}, 1e-15);
  // [[0, 2], [0, 0]]: singular values 2 and 0 (not symmetric: the largest singular value, not eigenvalue)
  expect("regularized [[0,2],[0,0]] lambda 0.25", lmk::linalg::regularized(std::vector<double>{0, 2, 0, 0}.data(), 2, 0.25),
         {0.5, 2, 0, 0.5}, 1e-15);
  expect("regularized lambda 0: a copy", lmk::linalg::regularized(std::vector<double>{4, 1, 1, 4}.data(), 2, 0.0, &sigma), {4, 1, 1, 4}, 0);
  expect("regularized lambda 0: sigma not computed", {sigma}, {0}, 0);

  const double lambda = 0.1, shift = lambda * PowerSigma(bin.K, bin.n);
  std::printf("     sigma_max of case1's sgd kernel %.6g\n", shift / lambda);
  std::vector<double> Kr = bin.K;
  for (int64_t i = 0; i < bin.n; i++) Kr[i * bin.n + i] += shift;
  auto svc = [&](const std::vector<double>& K, double reg) {
    auto in = Bind<lmk::SvmInput>(K, bin.Kx, bin.n, bin.m);
    in.y = bin.y.data();
    in.regularization = reg;
    return lmk::svcFit(in, lmk::Progress{}).decision;
  };
  expect("case1 svc, regularization 0.1", svc(bin.K, lambda), svc(Kr, 0), 1e-6);
  auto svr = [&](const std::vector<double>& K, double reg) {
    auto in = Bind<lmk::SvmInput>(K, bin.Kx, bin.n, bin.m);
    in.y = bin.y.data();
    in.epsilon = 0.05;
    in.regularization = reg;
    return lmk::svrFit(in, lmk::Progress{}).decision;
  };
  expect("case1 svr, regularization 0.1", svr(bin.K, lambda), svr(Kr, 0), 1e-6);
  auto logistic = [&](const std::vector<double>& K, double reg) {
    auto in = Bind<lmk::LogisticInput>(K, bin.Kx, bin.n, bin.m);
    in.labels = labels01.data();
    in.tol = 1e-10;
    in.regularization = reg;
    return lmk::logisticFit(in, lmk::Progress{}).decision;
  };
  // an iterative fit stopped at a tolerance: agreement to its accuracy (as the fixture checks above)
  expect("case1 logistic, regularization 0.1", logistic(bin.K, lambda), logistic(Kr, 0), 1e-4);
  const double shiftA = lambda * PowerSigma(bin.Ka, bin.n);
  std::vector<double> Kar = bin.Ka;
  for (int64_t i = 0; i < bin.n; i++) Kar[i * bin.n + i] += shiftA;
  auto asym = [&](const std::vector<double>& K, double reg) {
    auto in = Bind<lmk::AsymLsSvmInput>(K, bin.Kax, bin.n, bin.m);
    in.Kflip = bin.Kflip.data();
    in.y = bin.y.data();
    in.regularization = reg;
    return lmk::asymLsSvmSolve(in, lmk::Progress{}).predictions;
  };
  expect("case1 asym, regularization 0.1", asym(bin.Ka, lambda), asym(Kar, 0), 1e-9);
}

// The asymmetric LS-SVM at lambda = 1 (the paper's, A.3) reads no flipped kernel: without one it gives the
// fixture's predictions, and the same predictions as with the fixture's Kflip or any other; lambda = 0.5
// without Kflip is refused, naming the missing kernel.
void TestAsymWithoutFlip(const Case& bin, const Value& entries) {
  int checked = 0;
  for (const auto& e : entries.arr) {
    if (at(e, "lambda").num != 1.0) continue;
    auto in = Bind<lmk::AsymLsSvmInput>(bin.Ka, bin.Kax, bin.n, bin.m);
    in.y = bin.y.data();
    in.gamma = at(e, "gamma").num;
    in.lambdas = {1.0};
    const std::vector<double> none = lmk::asymLsSvmSolve(in, lmk::Progress{}).predictions;
    expect("case1 asym lambda=1 without Kflip", none, flat(at(e, "predictions")), 1e-9);
    in.Kflip = bin.Kflip.data();
    const std::vector<double> with = lmk::asymLsSvmSolve(in, lmk::Progress{}).predictions;
    std::vector<double> other(bin.Kflip.size());
    for (size_t i = 0; i < other.size(); i++) other[i] = 1e3 * static_cast<double>(i % 7) - bin.Kflip[i];
    in.Kflip = other.data();
    const std::vector<double> changed = lmk::asymLsSvmSolve(in, lmk::Progress{}).predictions;
    // each call solves the system again (a multi-threaded BLAS may differ in the last bits between calls)
    expect("case1 asym lambda=1, the fixture's Kflip", with, none, 1e-12);
    expect("case1 asym lambda=1, another Kflip", changed, none, 1e-12);
    checked++;
  }
  if (checked == 0) {
    std::printf("FAIL: no asym fixture entry with lambda = 1\n");
    failures++;
  }
  auto in = Bind<lmk::AsymLsSvmInput>(bin.Ka, bin.Kax, bin.n, bin.m);
  in.y = bin.y.data();
  in.lambdas = {1.0, 0.5};
  std::string msg;
  try {
    lmk::asymLsSvmSolve(in, lmk::Progress{});
  } catch (const std::invalid_argument& ex) {
    msg = ex.what();
  }
  if (msg.find("lambda = 0.5") == std::string::npos || msg.find("flipped kernel") == std::string::npos) {
    std::printf("FAIL asym lambda=0.5 without Kflip: '%s'\n", msg.c_str());
    failures++;
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: test_solvers FIXTURES_DIR\n");
    return 2;
  }
  try {
    Value root = lmk::json::parseFile(std::string(argv[1]) + "/fixtures-a.json", "fixtures");
    TestHandCases();
    Case multi = load(root, 0), bin = load(root, 1);
    const Value& cases = at(at(root, "roberta"), "cases");
    testLstsq(multi, at(at(cases.arr.at(0), "solvers"), "lstsq"), "case0");
    testLstsq(bin, at(at(cases.arr.at(1), "solvers"), "lstsq"), "case1");
    const Value& sv = at(cases.arr.at(1), "solvers");

    std::vector<double> labels01(bin.y.size());
    for (size_t i = 0; i < bin.y.size(); i++) labels01[i] = (bin.y[i] + 1) / 2;
    for (const auto& e : at(sv, "logistic").arr) {
      auto in = Bind<lmk::LogisticInput>(bin.K, bin.Kx, bin.n, bin.m);
      in.labels = labels01.data();
      in.C = at(e, "C").num;
      auto r = lmk::logisticFit(in, lmk::Progress{});
      expect("case1 logistic C=" + std::to_string(in.C) + " it=" + std::to_string(r.iterations), r.decision,
             flat(at(e, "decision_function")), 1e-4);
    }
    {
      const Value& e = at(sv, "svr");
      auto in = Bind<lmk::SvmInput>(bin.K, bin.Kx, bin.n, bin.m);
      in.y = bin.y.data();
      in.C = at(e, "C").num;
      in.epsilon = at(e, "epsilon").num;
      auto r = lmk::svrFit(in, lmk::Progress{});
      expect("case1 svr", r.decision, flat(at(e, "predictions")), 1e-4);
    }
    {
      const Value& e = at(sv, "svc");
      auto in = Bind<lmk::SvmInput>(bin.K, bin.Kx, bin.n, bin.m);
      in.y = bin.y.data();
      in.C = at(e, "C").num;
      auto r = lmk::svcFit(in, lmk::Progress{});
      expect("case1 svc", r.decision, flat(at(e, "decision_function")), 1e-4);
    }
    for (const auto& e : at(sv, "asym").arr) {
      auto in = Bind<lmk::AsymLsSvmInput>(bin.Ka, bin.Kax, bin.n, bin.m);
      in.Kflip = bin.Kflip.data();
      in.y = bin.y.data();
      in.gamma = at(e, "gamma").num;
      in.lambdas = {at(e, "lambda").num};
      auto r = lmk::asymLsSvmSolve(in, lmk::Progress{});
      expect("case1 asym lambda=" + std::to_string(in.lambdas[0]), r.predictions, flat(at(e, "predictions")), 1e-9);
    }
    TestAsymWithoutFlip(bin, at(sv, "asym"));
    testRegularization(bin, labels01);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  }
  if (failures) std::printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
