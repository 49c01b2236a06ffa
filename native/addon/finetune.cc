// N-API binding of fine-tuning (core/finetune.h): options copied into a C++ struct on the main thread,
// the training runs as one Job on the pool; the trained copy comes back as a new Model handle.
#include <cmath>
#include <memory>

#include "addon/common.h"
#include "addon/model_handle.h"
#include "core/finetune.h"

namespace lmk::addon {
namespace {

Napi::Value ToJs(Napi::Env env, const at::Tensor& t) {
  if (!t.defined()) return env.Undefined();
  at::Tensor c = t.to(at::kDouble).contiguous();
  return ToFloat64Array(env, std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel()));
}

FinetuneOptions ReadFinetuneOptions(const Napi::Object& o) {
  Napi::Env env = o.Env();
  FinetuneOptions fo;
  fo.output = ReadOutput(o);
  try {
    fo.optimizer.kind = parseOptimizer(GetString(o, "optimizer", "", true));
    fo.metric = parseDevMetric(GetString(o, "metric", "accuracy"));
  } catch (const std::runtime_error& e) {
    throw Napi::TypeError::New(env, e.what());
  }
  fo.optimizer.beta1 = GetNumber(o, "beta1", 0.9);
  fo.optimizer.beta2 = GetNumber(o, "beta2", 0.999);
  fo.optimizer.eps = GetNumber(o, "eps", 1e-8);
  fo.optimizer.weightDecay = GetNumber(o, "weightDecay", 0);
  fo.lr = GetNumber(o, "lr", 0, true);
  fo.steps = GetInt(o, "steps", 0, true);
  fo.batchSize = GetInt(o, "batchSize", 0);
  fo.maxGradNorm = GetNumber(o, "maxGradNorm", 1.0);
  fo.evalEvery = GetInt(o, "evalEvery", 0);
  fo.seed = static_cast<uint64_t>(GetInt(o, "seed", 42));
  fo.evalBatchSize = GetInt(o, "evalBatchSize", 16);
  fo.kernelBatchSize = GetInt(o, "kernelBatchSize", 8);
  fo.linearize = GetBool(o, "linearize", false);
  fo.kernelDistance = GetBool(o, "kernelDistance", false);
  fo.kernelDistanceFormula = GetString(o, "kernelDistanceFormula", "sgd");
  fo.dropout = GetNumber(o, "dropout", 0);
  if (Has(o, "trainable") && o.Get("trainable").IsArray()) {
    auto arr = o.Get("trainable").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) fo.trainableNames.push_back(arr.Get(i).ToString().Utf8Value());
    if (fo.trainableNames.empty()) throw Napi::TypeError::New(env, "option 'trainable': the list of parameter names is empty");
  } else {
    fo.trainable = GetString(o, "trainable", "all");
  }
  return fo;
}

Napi::Value ResultToJs(Napi::Env env, const FinetuneResult& r) {
  auto out = Napi::Object::New(env);
  out.Set("model", WrapModel(env, r.model));
  auto names = Napi::Array::New(env);
  for (size_t i = 0; i < r.trained.size(); i++)
    if (r.trained[i]) names.Set(names.Length(), r.model->params[i].name);
  out.Set("trainedParams", names);
  out.Set("trainLoss", ToArray(env, r.trainLoss, [](double v) { return v; }));
  out.Set("gradNorm", r.gradNorm);
  out.Set("clipCoef", r.clipCoef);
  out.Set("devHistory", ToArray(env, r.devHistory, [env](const DevPoint& p) {
            auto h = Napi::Object::New(env);
            h.Set("step", static_cast<double>(p.step));
            h.Set("metric", p.metric);
            h.Set("loss", p.loss);
            return h;
          }));
  out.Set("bestStep", static_cast<double>(r.bestStep));
  out.Set("steps", static_cast<double>(r.steps));
  out.Set("aborted", r.aborted);
  if (!r.error.empty()) {
    out.Set("error", r.error);
    out.Set("errorStep", static_cast<double>(r.errorStep));
  }
  out.Set("testLogits", ToJs(env, r.testLogits));
  out.Set("linearizedTestLogits", ToJs(env, r.linearizedTestLogits));
  if (!std::isnan(r.trainTrainKernelDistance)) out.Set("trainTrainKernelDistance", r.trainTrainKernelDistance);
  if (!std::isnan(r.trainTestKernelDistance)) out.Set("trainTestKernelDistance", r.trainTestKernelDistance);
  return out;
}

// finetune(model, opts, onProgress?, cancelToken?) -> Promise<{model, testLogits?, ...}>
Napi::Value Finetune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelRef ref = UnwrapModel(info.Length() > 0 ? info[0] : env.Undefined(), "finetune(model, options)");
  Napi::Object o = ObjectArg(info, 1, "finetune(model, options)");
  const FinetuneOptions fo = ReadFinetuneOptions(o);
  auto data = std::make_shared<FinetuneData>();
  data->train = ReadExamples(o, "train", true);
  data->dev = ReadExamples(o, "dev", false);
  data->test = ReadExamples(o, "test", false);
  data->trainLabels = GetIntArray(o, "trainLabels", true);
  data->devLabels = GetIntArray(o, "devLabels");
  auto result = std::make_shared<FinetuneResult>();
  auto model = ref.model;
  return Job::Start(
      info, 2, 3, [model, data, fo, result](const Progress& p) { *result = finetune(*model, *data, fo, p); },
      [result](Napi::Env env) -> Napi::Value { return ResultToJs(env, *result); }, BusyLease(ref.busy));
}

void InitFinetune(Napi::Env env, Napi::Object exports) { exports.Set("finetune", Napi::Function::New(env, Finetune)); }

Registrar reg(&InitFinetune);

}  // namespace
}  // namespace lmk::addon
