// Shared N-API glue: option readers with precise errors, a progress/cancel-aware AsyncWorker base, and
// the registry through which each binding file adds its exports. No model logic lives here.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"

namespace lmk::addon {

// --- registry: each binding file registers an init function with a static Registrar ---------------
using InitFn = void (*)(Napi::Env, Napi::Object);
std::vector<InitFn>& Registry();
struct Registrar {
  explicit Registrar(InitFn fn) { Registry().push_back(fn); }
};

// --- option readers: the JS layer validates; these guard the boundary all the same -----------------
Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const char* what);
bool Has(const Napi::Object& o, const char* key);
std::string GetString(const Napi::Object& o, const char* key, const std::string& def = "", bool required = false);
int64_t GetInt(const Napi::Object& o, const char* key, int64_t def, bool required = false);
double GetNumber(const Napi::Object& o, const char* key, double def, bool required = false);
bool GetBool(const Napi::Object& o, const char* key, bool def);
std::vector<int64_t> GetIntArray(const Napi::Object& o, const char* key, bool required = false);
std::vector<std::vector<int64_t>> GetIntMatrix(const Napi::Object& o, const char* key, bool required = false);
std::vector<double> GetDoubleArray(const Napi::Object& o, const char* key, bool required = false);
// A Float64Array view copied out (kernels and matrices cross as flat Float64Arrays).
std::vector<double> GetFloat64Array(const Napi::Object& o, const char* key, bool required = false);
Napi::Float64Array ToFloat64Array(Napi::Env env, const std::vector<double>& v);
// A JS array of v's elements, each made a JS value by `to` (numbers and strings convert as they are).
template <class T, class F>
Napi::Array ToArray(Napi::Env env, const std::vector<T>& v, F to) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), to(v[i]));
  return a;
}

// --- cancellation tokens: JS creates one per call and cancels it from an AbortSignal -----------------
class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit CancelToken(const Napi::CallbackInfo& info);
  std::shared_ptr<std::atomic<bool>> flag() const { return flag_; }
  static std::shared_ptr<std::atomic<bool>> FromValue(Napi::Value v);

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Cancelled(const Napi::CallbackInfo& info);
  std::shared_ptr<std::atomic<bool>> flag_;
};

// A model's count of running jobs that read it (setClassifier / applyLora refuse while it is > 0).
using BusyCount = std::shared_ptr<std::atomic<int>>;

// One hold on a BusyCount: taken when made, given back once (release() or the destructor). A job that
// reads a model holds one from before Job::Start until its work has returned; made as Start's argument, it
// is given back even when Start throws, so a failed start never leaves the model "in use".
class BusyLease {
 public:
  BusyLease() = default;
  explicit BusyLease(BusyCount count);
  BusyLease(BusyLease&& other) noexcept : count_(std::move(other.count_)) {}
  BusyLease& operator=(BusyLease&& other) noexcept;
  BusyLease(const BusyLease&) = delete;
  BusyLease& operator=(const BusyLease&) = delete;
  ~BusyLease() { release(); }
  void release();

 private:
  BusyCount count_;
};

struct ProgressMsg {
  char phase[48];
  int64_t done;
  int64_t total;
};

// One AsyncWorker per long job. Execute() runs `work` on the pool thread (no N-API there); progress is
// delivered to an optional JS callback (phase, done, total); the result is built on the main thread by
// `finish`; any exception rejects the promise with the native message. A job that reads a model is given
// a BusyLease on it, held until `work` has returned (whether it succeeded, threw or was cancelled).
class Job : public Napi::AsyncProgressWorker<ProgressMsg> {
 public:
  using Work = std::function<void(const lmk::Progress&)>;
  using Finish = std::function<Napi::Value(Napi::Env)>;
  Job(Napi::Env env, Napi::Function progressCb, std::shared_ptr<std::atomic<bool>> cancel, Work work, Finish finish, BusyLease lease);
  Napi::Promise Promise() { return deferred_.Promise(); }
  // Queue a job and return its promise. `info[progressIdx]` may be undefined or a function,
  // `info[cancelIdx]` undefined or a CancelToken. `lease`: the hold on the model the job reads (none for
  // jobs that read no model); released if Start throws.
  static Napi::Value Start(const Napi::CallbackInfo& info, size_t progressIdx, size_t cancelIdx, Work work, Finish finish,
                           BusyLease lease = BusyLease());

 protected:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const ProgressMsg* data, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference progressCb_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Work work_;
  Finish finish_;
  BusyLease lease_;
  bool aborted_ = false;
};

}  // namespace lmk::addon
