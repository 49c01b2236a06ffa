// Bindings of the kernel solvers (native/core/solver_*.h): flat Float64Arrays in, Float64Arrays out,
// each call one AsyncWorker job (progress callback, CancelToken). No math here.
#include <memory>
#include <string>
#include <vector>

#include "addon/common.h"
#include "core/solver_asym_lssvm.h"
#include "core/solver_kernel_logistic.h"
#include "core/solver_logistic.h"
#include "core/solver_lstsq.h"
#include "core/solver_svm.h"

namespace lmk::addon {
namespace {

// Flat kernel buffers copied out of JS, checked against the declared dims.
struct Dense {
  int64_t n = 0, m = 0;
  std::vector<double> K, Kx, Kflip, y, f0, f0x;

  // Points a solver input's views at these arrays (they outlive the job: the worker holds `Dense`).
  template <class In>
  void bind(In& in) const {
    in.K = K.data();
    in.Kx = Kx.data();
    in.y = y.data();
    in.f0 = f0.empty() ? nullptr : f0.data();
    in.f0x = f0x.empty() ? nullptr : f0x.data();
    in.n = n;
    in.m = m;
  }
};

void need(Napi::Env env, bool ok, const std::string& msg) {
  if (!ok) throw Napi::RangeError::New(env, msg);
}

Dense readDense(const Napi::Object& o, const char* targetsKey, bool flipped) {
  Napi::Env env = o.Env();
  Dense d;
  d.n = GetInt(o, "n", 0, true);
  d.m = GetInt(o, "m", 0, true);
  need(env, d.n > 0 && d.m >= 0, "option 'n' must be > 0 and 'm' >= 0");
  d.K = GetFloat64Array(o, "kernel", true);
  d.Kx = GetFloat64Array(o, "kernelTest", true);
  d.y = GetFloat64Array(o, targetsKey, true);
  const size_t n = static_cast<size_t>(d.n), m = static_cast<size_t>(d.m);
  need(env, d.K.size() == n * n,
       "option 'kernel': expected " + std::to_string(n * n) + " values (n*n), received " + std::to_string(d.K.size()));
  need(env, d.Kx.size() == n * m,
       "option 'kernelTest': expected " + std::to_string(n * m) + " values (n*m), received " + std::to_string(d.Kx.size()));
  need(env, d.y.size() == n,
       std::string("option '") + targetsKey + "': expected " + std::to_string(n) + " values, received " + std::to_string(d.y.size()));
  if (flipped) {  // optional: the asymmetric LS-SVM needs it only for lambda != 1 (the core says so)
    d.Kflip = GetFloat64Array(o, "kernelTestFlipped", false);
    need(env, d.Kflip.empty() || d.Kflip.size() == n * m,
         "option 'kernelTestFlipped': expected " + std::to_string(n * m) + " values (n*m), received " + std::to_string(d.Kflip.size()));
  }
  d.f0 = GetFloat64Array(o, "f0", false);
  d.f0x = GetFloat64Array(o, "f0Test", false);
  need(env, d.f0.empty() || d.f0.size() == n,
       "option 'f0': expected " + std::to_string(n) + " values, received " + std::to_string(d.f0.size()));
  need(env, d.f0x.empty() || d.f0x.size() == m,
       "option 'f0Test': expected " + std::to_string(m) + " values, received " + std::to_string(d.f0x.size()));
  return d;
}

Napi::Array IntArray(Napi::Env env, const std::vector<int64_t>& v) {
  return ToArray(env, v, [](int64_t x) { return static_cast<double>(x); });
}

Napi::Value LstsqGrid(const Napi::CallbackInfo& info) {
  auto o = ObjectArg(info, 0, "solveLstsqGrid");
  auto d = std::make_shared<Dense>(readDense(o, "targets", false));
  auto in = std::make_shared<LstsqGridInput>();
  in->lambdas = GetDoubleArray(o, "lambdas", true);
  in->scales = GetDoubleArray(o, "scales", true);
  in->method = parseLstsqMethod(GetString(o, "method", "auto"));
  auto res = std::make_shared<LstsqGridResult>();
  return Job::Start(
      info, 1, 2,
      [d, in, res](const Progress& p) {
        d->bind(*in);
        *res = lstsqGrid(*in, p);
      },
      [res](Napi::Env env) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("predictions", ToFloat64Array(env, res->predictions));
        out.Set("ranks", IntArray(env, res->ranks));
        out.Set("sigmaMax", Napi::Number::New(env, res->sigmaMax));
        out.Set("method", Napi::String::New(env, lstsqMethodName(res->method)));
        return out;
      });
}

Napi::Value AsymLsSvm(const Napi::CallbackInfo& info) {
  auto o = ObjectArg(info, 0, "solveAsym");
  auto d = std::make_shared<Dense>(readDense(o, "targets", true));
  auto in = std::make_shared<AsymLsSvmInput>();
  in->gamma = GetNumber(o, "gamma", 1.0);
  in->lambdas = GetDoubleArray(o, "lambdas", true);
  in->scale = GetNumber(o, "scale", 0.0);
  in->regularization = GetNumber(o, "regularization", 0.0);
  auto res = std::make_shared<AsymLsSvmResult>();
  return Job::Start(
      info, 1, 2,
      [d, in, res](const Progress& p) {
        d->bind(*in);
        in->Kflip = d->Kflip.empty() ? nullptr : d->Kflip.data();
        *res = asymLsSvmSolve(*in, p);
      },
      [res](Napi::Env env) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("predictions", ToFloat64Array(env, res->predictions));
        out.Set("alpha", ToFloat64Array(env, res->alpha));
        out.Set("beta", ToFloat64Array(env, res->beta));
        out.Set("rank", Napi::Number::New(env, static_cast<double>(res->rank)));
        return out;
      });
}

Napi::Value Logistic(const Napi::CallbackInfo& info) {
  auto o = ObjectArg(info, 0, "solveLogistic");
  auto d = std::make_shared<Dense>(readDense(o, "labels", false));
  auto in = std::make_shared<LogisticInput>();
  in->C = GetNumber(o, "C", 1.0);
  in->tol = GetNumber(o, "tol", 1e-4);
  in->maxIter = GetInt(o, "maxIter", 10000);
  in->regularization = GetNumber(o, "regularization", 0.0);
  auto res = std::make_shared<LogisticResult>();
  return Job::Start(
      info, 1, 2,
      [d, in, res](const Progress& p) {
        in->K = d->K.data();
        in->Kx = d->Kx.data();
        in->labels = d->y.data();
        in->n = d->n;
        in->m = d->m;
        *res = logisticFit(*in, p);
      },
      [res](Napi::Env env) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("decision", ToFloat64Array(env, res->decision));
        out.Set("weights", ToFloat64Array(env, res->weights));
        out.Set("intercept", Napi::Number::New(env, res->intercept));
        out.Set("iterations", Napi::Number::New(env, static_cast<double>(res->iterations)));
        out.Set("converged", Napi::Boolean::New(env, res->converged));
        out.Set("objective", Napi::Number::New(env, res->objective));
        return out;
      });
}

Napi::Value KernelLogistic(const Napi::CallbackInfo& info) {
  auto o = ObjectArg(info, 0, "solveKernelLogistic");
  auto d = std::make_shared<Dense>(readDense(o, "targets", false));
  auto in = std::make_shared<KernelLogisticInput>();
  in->C = GetInt(o, "numOutputs", 1, true);
  in->scale = GetNumber(o, "scale", 0.0);
  in->regularization = GetNumber(o, "regularization", 0.0);
  in->tol = GetNumber(o, "tol", 1e-12);
  in->maxIter = GetInt(o, "maxIter", 100);
  auto res = std::make_shared<KernelLogisticResult>();
  return Job::Start(
      info, 1, 2,
      [d, in, res](const Progress& p) {
        d->bind(*in);
        *res = kernelLogisticFit(*in, p);
      },
      [res](Napi::Env env) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("decision", ToFloat64Array(env, res->decision));
        out.Set("weights", ToFloat64Array(env, res->weights));
        out.Set("sigmaMax", Napi::Number::New(env, res->sigmaMax));
        out.Set("iterations", Napi::Number::New(env, static_cast<double>(res->iterations)));
        out.Set("converged", Napi::Boolean::New(env, res->converged));
        out.Set("objective", Napi::Number::New(env, res->objective));
        return out;
      });
}

Napi::Value Svm(const Napi::CallbackInfo& info, bool regression) {
  auto o = ObjectArg(info, 0, regression ? "solveSvr" : "solveSvc");
  auto d = std::make_shared<Dense>(readDense(o, "targets", false));
  auto in = std::make_shared<SvmInput>();
  in->C = GetNumber(o, "C", 1.0);
  in->epsilon = GetNumber(o, "epsilon", 0.1);
  in->tol = GetNumber(o, "tol", 1e-3);
  in->maxIter = GetInt(o, "maxIter", 10000000);
  in->regularization = GetNumber(o, "regularization", 0.0);
  in->scale = GetNumber(o, "scale", 0.0);
  auto res = std::make_shared<SvmResult>();
  return Job::Start(
      info, 1, 2,
      [d, in, res, regression](const Progress& p) {
        d->bind(*in);
        *res = regression ? svrFit(*in, p) : svcFit(*in, p);
      },
      [res](Napi::Env env) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("decision", ToFloat64Array(env, res->decision));
        out.Set("coef", ToFloat64Array(env, res->coef));
        out.Set("intercept", Napi::Number::New(env, res->intercept));
        out.Set("iterations", Napi::Number::New(env, static_cast<double>(res->iterations)));
        out.Set("supportVectors", Napi::Number::New(env, static_cast<double>(res->supportVectors)));
        out.Set("converged", Napi::Boolean::New(env, res->converged));
        return out;
      });
}

void InitSolvers(Napi::Env env, Napi::Object exports) {
  exports.Set("solveLstsqGrid", Napi::Function::New(env, LstsqGrid, "solveLstsqGrid"));
  exports.Set("solveAsym", Napi::Function::New(env, AsymLsSvm, "solveAsym"));
  exports.Set("solveLogistic", Napi::Function::New(env, Logistic, "solveLogistic"));
  exports.Set("solveKernelLogistic", Napi::Function::New(env, KernelLogistic, "solveKernelLogistic"));
  exports.Set("solveSvc", Napi::Function::New(
                              env, [](const Napi::CallbackInfo& i) { return Svm(i, false); }, "solveSvc"));
  exports.Set("solveSvr", Napi::Function::New(
                              env, [](const Napi::CallbackInfo& i) { return Svm(i, true); }, "solveSvr"));
}

Registrar reg(&InitSolvers);

}  // namespace
}  // namespace lmk::addon
