// N-API binding of the model and its long jobs (load, kernels, outputs). Options are read into C++
// structs on the main thread; the jobs run on the pool (addon/common.h Job) and never touch N-API.
#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "addon/common.h"
#include "addon/model_handle.h"
#include "core/entk.h"
#include "core/model.h"
#include "core/runtime.h"

namespace lmk::addon {
namespace {

class ModelHandle : public Napi::ObjectWrap<ModelHandle> {
 public:
  static Napi::FunctionReference* ctor;
  static void Init(Napi::Env env, Napi::Object exports) {
    auto cls =
        DefineClass(env, "Model",
                    {InstanceMethod("info", &ModelHandle::Info), InstanceMethod("kernels", &ModelHandle::Kernels),
                     InstanceMethod("outputs", &ModelHandle::Outputs), InstanceMethod("features", &ModelHandle::Features),
                     InstanceMethod("setClassifier", &ModelHandle::SetClassifier), InstanceMethod("applyLora", &ModelHandle::ApplyLora)});
    ctor = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("Model", cls);
  }
  explicit ModelHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelHandle>(info) {}
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Model> m) {
    Napi::Object o = ctor->New({});
    Unwrap(o)->model_ = std::move(m);
    return o;
  }
  std::shared_ptr<Model> model() const { return model_; }
  BusyCount busy() const { return busy_; }

 private:
  std::shared_ptr<Model> model_;
  // running jobs that read model_ (every one holds a BusyLease): setClassifier / applyLora refuse while > 0
  BusyCount busy_ = std::make_shared<std::atomic<int>>(0);

  void CheckIdle(Napi::Env env, const char* what) {
    if (busy_->load() > 0) throw Napi::Error::New(env, std::string(what) + ": the model is in use by a running job");
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Model& m = *model_;
    auto o = Napi::Object::New(env);
    o.Set("arch", m.cfg.archName());
    o.Set("vocabSize", static_cast<double>(m.cfg.vocabSize));
    o.Set("hidden", static_cast<double>(m.cfg.hidden));
    o.Set("layers", static_cast<double>(m.cfg.layers));
    o.Set("heads", static_cast<double>(m.cfg.heads));
    o.Set("maxPositions", static_cast<double>(m.cfg.maxPositions));
    o.Set("padId", static_cast<double>(m.cfg.padId));
    o.Set("dtype", m.dtype == at::kDouble ? "float64" : "float32");
    o.Set("device", m.device().str());
    o.Set("tied", m.tied);
    o.Set("numParams", static_cast<double>(m.totalParams()));
    o.Set("numLabels", m.clsW.defined() ? static_cast<double>(m.clsW.size(0)) : 0.0);
    o.Set("hasLora", m.hasLora());
    o.Set("params", ToArray(env, m.params, [](const ParamInfo& p) { return p.name; }));
    return o;
  }

 public:
  static std::vector<Example> ReadExamples(const Napi::Object& opts, const char* key, bool required) {
    std::vector<Example> xs;
    if (!Has(opts, key)) {
      if (required) throw Napi::TypeError::New(opts.Env(), std::string("option '") + key + "' is required");
      return xs;
    }
    auto v = opts.Get(key);
    if (!v.IsArray()) throw Napi::TypeError::New(opts.Env(), std::string("option '") + key + "' must be an array of examples");
    auto arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      auto e = arr.Get(i);
      if (!e.IsObject())
        throw Napi::TypeError::New(opts.Env(), std::string(key) + "[" + std::to_string(i) + "] must be an object with input_ids");
      auto eo = e.As<Napi::Object>();
      Example x;
      x.ids = GetIntArray(eo, "input_ids", true);
      x.maskPos = GetInt(eo, "mask_pos", -1);
      x.tokenTypes = GetIntArray(eo, "token_type_ids");
      xs.push_back(std::move(x));
    }
    return xs;
  }

  // devices: ["cpu", "cuda:1", ...] (absent: the model's device), each checked as the device option is
  static std::vector<at::Device> ReadDevices(const Napi::Object& o) {
    std::vector<at::Device> out;
    if (!Has(o, "devices")) return out;
    auto v = o.Get("devices");
    if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), "option 'devices' must be an array of device names");
    auto arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      const std::string at = "devices[" + std::to_string(i) + "]";
      if (!arr.Get(i).IsString()) throw Napi::TypeError::New(o.Env(), at + " must be a device name ('cpu', 'cuda', 'cuda:N')");
      try {
        out.push_back(parseDevice(arr.Get(i).As<Napi::String>().Utf8Value()));
      } catch (const std::exception& e) {
        throw Napi::Error::New(o.Env(), at + ": " + e.what());
      }
    }
    return out;
  }

  static OutputSpec ReadOutput(const Napi::Object& o) {
    OutputSpec s;
    std::string mode = GetString(o, "output", "prompt");
    if (mode == "prompt") s.mode = OutputMode::Prompt;
    else if (mode == "standard") s.mode = OutputMode::Standard;
    else throw Napi::TypeError::New(o.Env(), "option 'output' must be 'prompt' or 'standard', got '" + mode + "'");
    s.binary = GetBool(o, "binary", false);
    s.labelWordIds = GetIntArray(o, "labelWordIds");
    return s;
  }

 private:
  // kernels(opts, onProgress?, cancelToken?) -> Promise<{...}>
  Napi::Value Kernels(const Napi::CallbackInfo& info) {
    Napi::Object o = ObjectArg(info, 0, "kernels(options)");
    KernelOptions ko;
    ko.output = ReadOutput(o);
    ko.subset = parseSubset(GetString(o, "subset", "all"));
    ko.batchSize = GetInt(o, "batchSize", 8);
    ko.trainTile = GetInt(o, "trainTile", 0);
    ko.shardIndex = GetInt(o, "shardIndex", 0);
    ko.shardCount = GetInt(o, "shardCount", 1);
    ko.precision = parsePrecision(GetString(o, "precision", "exact"));
    ko.plan = parsePlan(GetString(o, "plan", "auto"));
    ko.devices = ReadDevices(o);
    auto formulas = Has(o, "formulas") ? o.Get("formulas").As<Napi::Array>() : Napi::Array::New(info.Env());
    ko.sgd = ko.signgd = ko.asymmetricSigngd = false;
    for (uint32_t i = 0; i < formulas.Length(); i++) {
      std::string f = formulas.Get(i).ToString().Utf8Value();
      if (f == "sgd") ko.sgd = true;
      else if (f == "signgd") ko.signgd = true;
      else if (f == "asymmetric_signgd") ko.asymmetricSigngd = true;
      else throw Napi::TypeError::New(info.Env(), "unknown formula '" + f + "' (sgd, signgd, asymmetric_signgd)");
    }
    if (formulas.Length() == 0) ko.sgd = true;
    ko.asymmetricFlipped = GetBool(o, "asymmetricFlipped", false);
    if (ko.asymmetricFlipped && !ko.asymmetricSigngd)
      throw Napi::TypeError::New(info.Env(), "option 'asymmetricFlipped': the flipped kernel needs the formula 'asymmetric_signgd'");
    auto train = std::make_shared<std::vector<Example>>(ReadExamples(o, "train", true));
    auto test = std::make_shared<std::vector<Example>>(ReadExamples(o, "test", false));
    auto model = model_;
    auto result = std::make_shared<KernelResult>();
    return Job::Start(
        info, 1, 2, [model, train, test, ko, result](const Progress& p) { *result = computeKernels(*model, *train, *test, ko, p); },
        [result](Napi::Env env) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("gradDim", static_cast<double>(result->gradDim));
          out.Set("numOutputs", static_cast<double>(result->numOutputs));
          out.Set("nTrain", static_cast<double>(result->nTrain));
          out.Set("nTest", static_cast<double>(result->nTest));
          out.Set("tileSize", static_cast<double>(result->tileSize));
          out.Set("numTiles", static_cast<double>(result->numTiles));
          out.Set("tiles", ToArray(env, result->tiles, [](int64_t t) { return static_cast<double>(t); }));
          out.Set("paramNames", ToArray(env, result->paramNames, [](const std::string& n) { return n; }));
          auto toArr = [&](const at::Tensor& t) {
            at::Tensor c = t.contiguous();
            std::vector<double> v(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
            return ToFloat64Array(env, v);
          };
          out.Set("f0Train", toArr(result->f0Train));
          out.Set("f0Test", toArr(result->f0Test));
          auto ks = Napi::Object::New(env);
          for (auto& kv : result->kernels) ks.Set(kv.first, toArr(kv.second));
          out.Set("kernels", ks);
          return out;
        },
        BusyLease(busy_));
  }

  // A matrix-valued job over encoded inputs: outputs() and features() differ only in the core call.
  using MatrixFn = std::function<at::Tensor(const Model&, const std::vector<Example>&, const OutputSpec&, int64_t)>;
  Napi::Value MatrixJob(const Napi::CallbackInfo& info, const char* what, MatrixFn fn) {
    Napi::Object o = ObjectArg(info, 0, what);
    OutputSpec spec = ReadOutput(o);
    int64_t bs = GetInt(o, "batchSize", 16);
    auto xs = std::make_shared<std::vector<Example>>(ReadExamples(o, "inputs", true));
    auto model = model_;
    auto res = std::make_shared<at::Tensor>();
    return Job::Start(
        info, 1, 2, [model, xs, spec, bs, res, fn](const Progress&) { *res = fn(*model, *xs, spec, bs); },
        [res](Napi::Env env) -> Napi::Value {
          at::Tensor c = res->contiguous();
          return ToFloat64Array(env, std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel()));
        },
        BusyLease(busy_));
  }

  // outputs(opts) -> Promise<Float64Array [N, C]>
  Napi::Value Outputs(const Napi::CallbackInfo& info) {
    return MatrixJob(info, "outputs(options)",
                     [](const Model& m, const std::vector<Example>& xs, const OutputSpec& s, int64_t bs) { return outputs(m, xs, s, bs); });
  }

  // features(opts) -> Promise<Float64Array [N, hidden]>
  Napi::Value Features(const Napi::CallbackInfo& info) {
    return MatrixJob(info, "features(options)", [](const Model& m, const std::vector<Example>& xs, const OutputSpec& s, int64_t bs) {
      return features(m, xs, s.mode, bs);
    });
  }

  Napi::Value SetClassifier(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "setClassifier");
    Napi::Object o = ObjectArg(info, 0, "setClassifier(options)");
    int64_t C = GetInt(o, "numLabels", 0, true);
    auto w = GetDoubleArray(o, "weight", true), b = GetDoubleArray(o, "bias", true);
    const int64_t H = model_->cfg.hidden;
    if (static_cast<int64_t>(w.size()) != C * H || static_cast<int64_t>(b.size()) != C)
      throw Napi::TypeError::New(info.Env(), "setClassifier: weight must hold numLabels x hidden = " + std::to_string(C * H) +
                                                 " values and bias numLabels = " + std::to_string(C) + "; got " + std::to_string(w.size()) +
                                                 " and " + std::to_string(b.size()));
    setClassifier(*model_, at::tensor(w, at::kDouble).view({C, H}), at::tensor(b, at::kDouble));
    return info.Env().Undefined();
  }

  Napi::Value ApplyLora(const Napi::CallbackInfo& info) {
    CheckIdle(info.Env(), "applyLora");
    Napi::Object o = ObjectArg(info, 0, "applyLora(options)");
    LoraSpec spec;
    spec.r = GetInt(o, "r", 0, true);
    spec.alpha = GetNumber(o, "alpha", 0, true);
    auto targets = Has(o, "targets") ? o.Get("targets").As<Napi::Array>() : Napi::Array::New(info.Env());
    for (uint32_t i = 0; i < targets.Length(); i++) spec.targets.push_back(targets.Get(i).ToString().Utf8Value());
    if (spec.targets.empty()) spec.targets = {"query", "value"};
    if (Has(o, "matrices")) {
      auto mats = o.Get("matrices").As<Napi::Object>();
      auto keys = mats.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        std::string k = keys.Get(i).ToString().Utf8Value();
        auto mo = mats.Get(k).As<Napi::Object>();
        auto rows = GetInt(mo, "rows", 0, true), cols = GetInt(mo, "cols", 0, true);
        auto data = GetDoubleArray(mo, "data", true);
        if (static_cast<int64_t>(data.size()) != rows * cols)
          throw Napi::TypeError::New(info.Env(), "applyLora: matrix '" + k + "' has " + std::to_string(data.size()) + " values for " +
                                                     std::to_string(rows) + "x" + std::to_string(cols));
        spec.matrices[k] = at::tensor(data, at::kDouble).view({rows, cols});
      }
    }
    applyLora(*model_, spec, static_cast<uint64_t>(GetInt(o, "seed", 0)));
    return info.Env().Undefined();
  }
};

Napi::FunctionReference* ModelHandle::ctor = nullptr;

// loadModel({config, weights, dtype, tieWordEmbeddings, device}) -> Promise<Model>
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Object o = ObjectArg(info, 0, "loadModel(options)");
  std::string config = GetString(o, "config", "", true), weights = GetString(o, "weights", "", true);
  LoadOptions lo;
  std::string dtype = GetString(o, "dtype", "float32");
  if (dtype == "float32") lo.dtype = at::kFloat;
  else if (dtype == "float64") lo.dtype = at::kDouble;
  else throw Napi::TypeError::New(info.Env(), "option 'dtype' must be 'float32' or 'float64', got '" + dtype + "'");
  lo.tieWordEmbeddings = GetBool(o, "tieWordEmbeddings", false);
  at::Device device = parseDevice(GetString(o, "device", "cpu"));
  auto res = std::make_shared<std::shared_ptr<Model>>();
  return Job::Start(
      info, 1, 2,
      [config, weights, lo, device, res](const Progress&) {
        *res = loadModel(config, weights, lo);
        if (!device.is_cpu()) moveModel(**res, device);
      },
      [res](Napi::Env env) -> Napi::Value { return ModelHandle::Wrap(env, *res); });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  return Napi::Number::New(info.Env(), configureThreads(n));
}

Napi::Value Runtime(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), describeRuntime()); }

Napi::Value ParseDeviceFn(const Napi::CallbackInfo& info) {
  std::string s = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  return Napi::String::New(info.Env(), parseDevice(s).str());
}

void InitModel(Napi::Env env, Napi::Object exports) {
  ModelHandle::Init(env, exports);
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("runtime", Napi::Function::New(env, Runtime));
  exports.Set("checkDevice", Napi::Function::New(env, ParseDeviceFn));
}

Registrar reg(&InitModel);

}  // namespace

// --- model_handle.h: access for the other binding files -------------------------------------------
ModelRef UnwrapModel(Napi::Value v, const char* what) {
  if (!ModelHandle::ctor || !v.IsObject() || !v.As<Napi::Object>().InstanceOf(ModelHandle::ctor->Value()))
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a Model handle (from loadModel)");
  ModelHandle* h = Napi::ObjectWrap<ModelHandle>::Unwrap(v.As<Napi::Object>());
  if (!h->model()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": the Model handle holds no model");
  return ModelRef{h->model(), h->busy()};
}

Napi::Object WrapModel(Napi::Env env, std::shared_ptr<Model> m) { return ModelHandle::Wrap(env, std::move(m)); }

std::vector<Example> ReadExamples(const Napi::Object& opts, const char* key, bool required) {
  return ModelHandle::ReadExamples(opts, key, required);
}

OutputSpec ReadOutput(const Napi::Object& opts) { return ModelHandle::ReadOutput(opts); }

}  // namespace lmk::addon
