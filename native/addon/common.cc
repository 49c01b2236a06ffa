#include "addon/common.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <cstring>
#include <exception>

namespace lmk::addon {

std::vector<InitFn>& Registry() {
  static std::vector<InitFn> fns;
  return fns;
}

static Napi::TypeError TypeErr(Napi::Env env, const std::string& msg) { return Napi::TypeError::New(env, msg); }

Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) throw TypeErr(info.Env(), std::string(what) + ": expected an object");
  return info[i].As<Napi::Object>();
}

bool Has(const Napi::Object& o, const char* key) { return o.Has(key) && !o.Get(key).IsUndefined() && !o.Get(key).IsNull(); }

static Napi::Value Required(const Napi::Object& o, const char* key) {
  if (!Has(o, key)) throw TypeErr(o.Env(), std::string("option '") + key + "' is required");
  return o.Get(key);
}

std::string GetString(const Napi::Object& o, const char* key, const std::string& def, bool required) {
  if (!Has(o, key)) {
    if (required) Required(o, key);
    return def;
  }
  auto v = o.Get(key);
  if (!v.IsString()) throw TypeErr(o.Env(), std::string("option '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double GetNumber(const Napi::Object& o, const char* key, double def, bool required) {
  if (!Has(o, key)) {
    if (required) Required(o, key);
    return def;
  }
  auto v = o.Get(key);
  if (!v.IsNumber()) throw TypeErr(o.Env(), std::string("option '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t GetInt(const Napi::Object& o, const char* key, int64_t def, bool required) {
  double d = GetNumber(o, key, static_cast<double>(def), required);
  // |d| <= 2^53: a safe integer; larger values would overflow the int64 conversion (undefined behaviour)
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
    throw TypeErr(o.Env(), std::string("option '") + key + "' must be an integer (|value| <= 2^53)");
  return static_cast<int64_t>(d);
}

bool GetBool(const Napi::Object& o, const char* key, bool def) {
  if (!Has(o, key)) return def;
  auto v = o.Get(key);
  if (!v.IsBoolean()) throw TypeErr(o.Env(), std::string("option '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

static std::vector<int64_t> IntsOf(Napi::Env env, Napi::Value v, const std::string& where) {
  std::vector<int64_t> out;
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int32_array) {
      auto a = v.As<Napi::Int32Array>();
      out.assign(a.Data(), a.Data() + a.ElementLength());
      return out;
    }
  }
  if (!v.IsArray()) throw TypeErr(env, where + " must be an array of integers");
  auto arr = v.As<Napi::Array>();
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto e = arr.Get(i);
    if (!e.IsNumber()) throw TypeErr(env, where + "[" + std::to_string(i) + "] must be an integer");
    double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
      throw TypeErr(env, where + "[" + std::to_string(i) + "] must be an integer (|value| <= 2^53)");
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

std::vector<int64_t> GetIntArray(const Napi::Object& o, const char* key, bool required) {
  if (!Has(o, key)) {
    if (required) Required(o, key);
    return {};
  }
  return IntsOf(o.Env(), o.Get(key), std::string("option '") + key + "'");
}

std::vector<std::vector<int64_t>> GetIntMatrix(const Napi::Object& o, const char* key, bool required) {
  std::vector<std::vector<int64_t>> out;
  if (!Has(o, key)) {
    if (required) Required(o, key);
    return out;
  }
  auto v = o.Get(key);
  if (!v.IsArray()) throw TypeErr(o.Env(), std::string("option '") + key + "' must be an array of arrays");
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++)
    out.push_back(IntsOf(o.Env(), arr.Get(i), std::string("option '") + key + "'[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> GetDoubleArray(const Napi::Object& o, const char* key, bool required) {
  std::vector<double> out;
  if (!Has(o, key)) {
    if (required) Required(o, key);
    return out;
  }
  auto v = o.Get(key);
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    auto a = v.As<Napi::Float64Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
    return out;
  }
  if (!v.IsArray()) throw TypeErr(o.Env(), std::string("option '") + key + "' must be an array of numbers");
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto e = arr.Get(i);
    if (!e.IsNumber()) throw TypeErr(o.Env(), std::string("option '") + key + "'[" + std::to_string(i) + "] must be a number");
    out.push_back(e.As<Napi::Number>().DoubleValue());
  }
  return out;
}

std::vector<double> GetFloat64Array(const Napi::Object& o, const char* key, bool required) { return GetDoubleArray(o, key, required); }

Napi::Float64Array ToFloat64Array(Napi::Env env, const std::vector<double>& v) {
  auto a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

// --- CancelToken ----------------------------------------------------------------------------------
void CancelToken::Init(Napi::Env env, Napi::Object exports) {
  auto cls = DefineClass(env, "CancelToken",
                         {InstanceMethod("cancel", &CancelToken::Cancel), InstanceMethod("cancelled", &CancelToken::Cancelled)});
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(cls));
  env.SetInstanceData<Napi::FunctionReference>(ctor);
  exports.Set("CancelToken", cls);
}

CancelToken::CancelToken(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  flag_->store(true);
  return info.Env().Undefined();
}
Napi::Value CancelToken::Cancelled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), flag_->load()); }

std::shared_ptr<std::atomic<bool>> CancelToken::FromValue(Napi::Value v) {
  if (v.IsUndefined() || v.IsNull()) return std::make_shared<std::atomic<bool>>(false);
  auto* ctor = v.Env().GetInstanceData<Napi::FunctionReference>();
  if (!v.IsObject() || !ctor || !v.As<Napi::Object>().InstanceOf(ctor->Value()))
    throw Napi::TypeError::New(v.Env(), "cancel token: expected a CancelToken");
  return Napi::ObjectWrap<CancelToken>::Unwrap(v.As<Napi::Object>())->flag();
}

// --- BusyLease ------------------------------------------------------------------------------------
BusyLease::BusyLease(BusyCount count) : count_(std::move(count)) {
  if (count_) count_->fetch_add(1);
}

BusyLease& BusyLease::operator=(BusyLease&& other) noexcept {
  if (this != &other) {
    release();
    count_ = std::move(other.count_);
  }
  return *this;
}

void BusyLease::release() {
  if (count_) count_->fetch_sub(1);
  count_.reset();
}

// --- Job ------------------------------------------------------------------------------------------
Job::Job(Napi::Env env, Napi::Function progressCb, std::shared_ptr<std::atomic<bool>> cancel, Work work, Finish finish, BusyLease lease)
    : Napi::AsyncProgressWorker<ProgressMsg>(env, "lmkernel"),
      deferred_(Napi::Promise::Deferred::New(env)),
      cancel_(std::move(cancel)),
      work_(std::move(work)),
      finish_(std::move(finish)),
      lease_(std::move(lease)) {
  if (!progressCb.IsEmpty()) progressCb_ = Napi::Persistent(progressCb);
}

Napi::Value Job::Start(const Napi::CallbackInfo& info, size_t progressIdx, size_t cancelIdx, Work work, Finish finish, BusyLease lease) {
  Napi::Env env = info.Env();
  Napi::Function cb;
  if (info.Length() > progressIdx && info[progressIdx].IsFunction()) cb = info[progressIdx].As<Napi::Function>();
  auto cancel = CancelToken::FromValue(info.Length() > cancelIdx ? info[cancelIdx] : env.Undefined());
  // owned here until queued: a throw from Queue deletes the job and with it the lease
  std::unique_ptr<Job> job(new Job(env, cb, cancel, std::move(work), std::move(finish), std::move(lease)));
  auto promise = job->Promise();
  job->Queue();
  job.release();  // the worker deletes itself once complete
  return promise;
}

void Job::Execute(const ExecutionProgress& progress) {
  lmk::Progress p;
  p.cancel = cancel_;
  bool wantsProgress = !progressCb_.IsEmpty();
  p.report = [&progress, wantsProgress](const std::string& phase, int64_t done, int64_t total) {
    if (!wantsProgress) return;
    ProgressMsg m{};
    std::strncpy(m.phase, phase.c_str(), sizeof(m.phase) - 1);
    m.done = done;
    m.total = total;
    progress.Send(&m, 1);
  };
  try {
    work_(p);
  } catch (const lmk::Cancelled& e) {
    aborted_ = true;
    SetError(e.what());
  } catch (const c10::Error& e) {
    SetError(e.what_without_backtrace());
  } catch (const std::exception& e) {
    SetError(e.what());
  } catch (...) {
    SetError("unknown native error");
  }
  lease_.release();  // the work no longer reads the model
}

void Job::OnProgress(const ProgressMsg* data, size_t count) {
  if (progressCb_.IsEmpty() || count == 0) return;
  Napi::Env env = Env();
  const ProgressMsg& m = data[count - 1];
  progressCb_.Call({Napi::String::New(env, m.phase), Napi::Number::New(env, static_cast<double>(m.done)),
                    Napi::Number::New(env, static_cast<double>(m.total))});
}

void Job::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(finish_(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred_.Reject(Napi::Error::New(env, e.what()).Value());
  }
}

void Job::OnError(const Napi::Error& e) {
  auto err = e.Value();
  if (aborted_) {
    err.Set("name", Napi::String::New(Env(), "AbortError"));
    err.Set("code", Napi::String::New(Env(), "ABORT_ERR"));
  }
  deferred_.Reject(err);
}

}  // namespace lmk::addon
