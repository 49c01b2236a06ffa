// N-API binding of masked-LM pre-training (core/pretrain.h) and of writing a model's weights as
// safetensors. Sequences cross as one flat Int32Array of ids plus an Int32Array of lengths.
#include <memory>

#include "addon/common.h"
#include "addon/model_handle.h"
#include "core/pretrain.h"

namespace lmk::addon {
namespace {

std::vector<std::vector<int64_t>> ReadSequences(const Napi::Object& o, const char* idsKey, const char* lensKey, bool required) {
  std::vector<int64_t> ids = GetIntArray(o, idsKey, required);
  std::vector<int64_t> lens = GetIntArray(o, lensKey, required);
  std::vector<std::vector<int64_t>> out;
  size_t pos = 0;
  for (size_t i = 0; i < lens.size(); i++) {
    if (lens[i] < 1 || pos + static_cast<size_t>(lens[i]) > ids.size())
      throw Napi::TypeError::New(o.Env(), std::string("option '") + lensKey + "'[" + std::to_string(i) + "] = " + std::to_string(lens[i]) +
                                              " does not fit the " + std::to_string(ids.size()) + " ids of '" + idsKey + "'");
    out.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(pos), ids.begin() + static_cast<std::ptrdiff_t>(pos + lens[i]));
    pos += static_cast<size_t>(lens[i]);
  }
  if (pos != ids.size())
    throw Napi::TypeError::New(o.Env(), std::string("option '") + lensKey + "': the lengths add up to " + std::to_string(pos) + ", '" +
                                            idsKey + "' has " + std::to_string(ids.size()) + " ids");
  return out;
}

// pretrain(opts, onProgress?, cancelToken?) -> Promise<{model, loss, lr, evals, steps, resumedFrom, ...}>
Napi::Value Pretrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ObjectArg(info, 0, "pretrain(options)");
  PretrainOptions po;
  // roberta (masked LM), gpt2 or llama (next-token loss; config_decoder.cc's defaults)
  const std::string arch = GetString(o, "arch", "roberta");
  if (arch != "roberta" && arch != "gpt2" && arch != "llama")
    throw Napi::TypeError::New(env, "option 'arch' must be one of roberta, gpt2, llama, got '" + arch + "'");
  po.cfg.arch = arch == "gpt2" ? Arch::Gpt2 : arch == "llama" ? Arch::Llama : Arch::Roberta;
  po.cfg.vocabSize = GetInt(o, "vocabSize", 0, true);
  po.cfg.hidden = GetInt(o, "hidden", 0, true);
  po.cfg.layers = GetInt(o, "layers", 0, true);
  po.cfg.heads = GetInt(o, "heads", 0, true);
  po.cfg.intermediate = GetInt(o, "intermediate", 0, true);
  po.cfg.maxPositions = GetInt(o, "maxPositions", 0, true);
  po.cfg.padId = GetInt(o, "padId", 1);
  po.cfg.typeVocab = 1;
  po.cfg.eps = GetNumber(o, "layerNormEps", arch == "llama" ? 1e-6 : 1e-5);
  po.cfg.hiddenAct = arch == "gpt2" ? "gelu_new" : arch == "llama" ? "silu" : "gelu";
  po.cfg.tieWordEmbeddings = true;
  po.cfg.kvHeads = GetInt(o, "kvHeads", po.cfg.heads);
  po.cfg.ropeTheta = GetNumber(o, "ropeTheta", 10000.0);
  po.maskId = GetInt(o, "maskId", -1, arch == "roberta");
  po.numSpecial = GetInt(o, "numSpecial", 4);
  po.maskProb = GetNumber(o, "maskProb", 0.15);
  po.maskReplace = GetNumber(o, "maskReplace", 0.8);
  po.randomReplace = GetNumber(o, "randomReplace", 0.1);
  po.steps = GetInt(o, "steps", 0, true);
  po.batchSize = GetInt(o, "batchSize", 32);
  po.warmupSteps = GetInt(o, "warmupSteps", 0);
  po.lr = GetNumber(o, "lr", 0, true);
  po.weightDecay = GetNumber(o, "weightDecay", 0.01);
  po.beta1 = GetNumber(o, "beta1", 0.9);
  po.beta2 = GetNumber(o, "beta2", 0.98);
  po.eps = GetNumber(o, "eps", 1e-6);
  po.maxGradNorm = GetNumber(o, "maxGradNorm", 1.0);
  po.dropout = GetNumber(o, "dropout", 0);
  po.seed = static_cast<uint64_t>(GetInt(o, "seed", 1));
  po.evalEvery = GetInt(o, "evalEvery", 0);
  po.evalBatchSize = GetInt(o, "evalBatchSize", 64);
  po.checkpointEvery = GetInt(o, "checkpointEvery", 0);
  po.checkpointPath = GetString(o, "checkpoint", "");
  po.resume = GetBool(o, "resume", true);
  po.device = GetString(o, "device", "cpu");
  auto train = std::make_shared<std::vector<std::vector<int64_t>>>(ReadSequences(o, "trainIds", "trainLengths", true));
  auto heldout = std::make_shared<std::vector<std::vector<int64_t>>>(ReadSequences(o, "heldoutIds", "heldoutLengths", false));
  auto result = std::make_shared<PretrainResult>();
  return Job::Start(
      info, 1, 2, [po, train, heldout, result](const Progress& p) { *result = pretrain(po, *train, *heldout, p); },
      [result](Napi::Env env) -> Napi::Value {
        const PretrainResult& r = *result;
        auto out = Napi::Object::New(env);
        out.Set("model", WrapModel(env, r.model));
        out.Set("loss", ToFloat64Array(env, r.loss));
        out.Set("lr", ToFloat64Array(env, r.lr));
        out.Set("evals", ToArray(env, r.evals, [env](const PretrainEval& ev) {
                  auto e = Napi::Object::New(env);
                  e.Set("step", static_cast<double>(ev.step));
                  e.Set("loss", ev.loss);
                  e.Set("accuracy", ev.accuracy);
                  e.Set("tokens", static_cast<double>(ev.tokens));
                  return e;
                }));
        out.Set("steps", static_cast<double>(r.steps));
        out.Set("resumedFrom", static_cast<double>(r.resumedFrom));
        out.Set("checkpoints", static_cast<double>(r.checkpoints));
        out.Set("aborted", r.aborted);
        out.Set("seconds", r.seconds);
        return out;
      });
}

// saveModel(model, path): the weights as HF-named F32 safetensors, written atomically.
Napi::Value SaveModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelRef ref = UnwrapModel(info.Length() > 0 ? info[0] : env.Undefined(), "saveModel(model, path)");
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(env, "saveModel(model, path): path must be a string");
  try {
    saveModelSafetensors(*ref.model, info[1].As<Napi::String>().Utf8Value());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return env.Undefined();
}

void InitPretrain(Napi::Env env, Napi::Object exports) {
  exports.Set("pretrain", Napi::Function::New(env, Pretrain));
  exports.Set("saveModel", Napi::Function::New(env, SaveModel));
}

Registrar reg(&InitPretrain);

}  // namespace
}  // namespace lmk::addon
