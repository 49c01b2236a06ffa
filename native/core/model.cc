// The model (model.h): loading from a checkpoint or a config, parameter registry and access, LoRA,
// classifier heads, devices.
#include "core/model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "core/model_build.h"
#include "core/safetensors.h"

namespace lmk {

int Model::addParam(const std::string& name, const at::Tensor& t) {
  params.push_back({name, t.numel()});
  return static_cast<int>(params.size()) - 1;
}

bool Model::hasLora() const {
  for (const auto& p : params)
    if (p.name.find(".lora_") != std::string::npos) return true;
  return false;
}

int64_t Model::totalParams() const {
  int64_t n = 0;
  for (auto& p : params) n += p.numel;
  return n;
}

namespace {
// Every parameter tensor of `m` (a Model or a const Model) by its index in Model::params.
template <typename M, typename T>
std::vector<T*> Refs(M& m) {
  std::vector<T*> r(m.params.size(), nullptr);
  auto put = [&](int idx, T& t) {
    if (idx >= 0) r.at(static_cast<size_t>(idx)) = &t;
  };
  auto lin = [&](auto& l) {
    put(l.pw, l.w);
    put(l.pb, l.b);
    put(l.pA, l.loraA);
    put(l.pB, l.loraB);
  };
  auto norm = [&](auto& n) {
    put(n.pw, n.w);
    put(n.pb, n.b);
  };
  put(m.pWord, m.wordEmb);
  put(m.pPos, m.posEmb);
  put(m.pType, m.typeEmb);
  norm(m.embLn);
  for (auto& l : m.layers) {
    for (auto* x : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate}) lin(*x);
    norm(l.ln1);
    lin(l.inter);
    lin(l.out);
    norm(l.ln2);
  }
  lin(m.headDense);
  norm(m.headLn);
  put(m.pDecoderW, m.decoderW);  // -1 when tied: the word embeddings are the one parameter
  put(m.pDecoderBias, m.decoderBias);
  put(m.pClsW, m.clsW);
  put(m.pClsB, m.clsB);
  for (size_t i = 0; i < r.size(); i++)
    if (!r[i]) throw std::logic_error("parameter '" + m.params[i].name + "' has no tensor in the model");
  return r;
}
}  // namespace

std::vector<at::Tensor*> parameterRefs(Model& m) { return Refs<Model, at::Tensor>(m); }
std::vector<const at::Tensor*> parameterRefs(const Model& m) { return Refs<const Model, const at::Tensor>(m); }

std::vector<at::Tensor> parameterTensors(const Model& m) {
  std::vector<at::Tensor> out;
  for (const at::Tensor* t : parameterRefs(m)) out.push_back(*t);
  return out;
}

std::shared_ptr<Model> cloneModel(const Model& m) {
  auto c = std::make_shared<Model>(m);
  for (at::Tensor* t : parameterRefs(*c)) *t = t->detach().clone();
  if (c->tied) c->decoderW = c->wordEmb;
  return c;
}

namespace {

std::string ShapeStr(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); i++) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct SafetensorsLoader {
  const Safetensors& st;
  at::ScalarType dtype;
  std::string prefix;  // "roberta" / "bert" / "transformer" (GPT-2) / "model"

  // Finds `name` with or without the encoder prefix.
  std::string resolve(const std::string& name, bool required) const {
    if (st.has(name)) return name;
    const std::string pre = prefix + ".";
    if (name.rfind(pre, 0) == 0 && st.has(name.substr(pre.size()))) return name.substr(pre.size());
    if (st.has(pre + name)) return pre + name;  // GPT-2: `transformer.wte.weight` for `wte.weight`
    if (required) throw std::runtime_error(st.path() + ": missing tensor '" + name + "'");
    return "";
  }
  at::Tensor get(const std::string& name, std::vector<int64_t> shape, bool required = true) const {
    std::string key = resolve(name, required);
    if (key.empty()) return at::Tensor();
    const auto& e = st.entry(key);
    if (e.shape != shape)
      throw std::runtime_error(st.path() + ": tensor '" + key + "' has shape " + ShapeStr(e.shape) + ", the config implies " +
                               ShapeStr(shape));
    at::Tensor t = st.load(key, dtype);
    if (!at::isfinite(t).all().item<bool>()) throw std::runtime_error(st.path() + ": tensor '" + key + "' contains NaN or infinite values");
    return t;
  }
};

}  // namespace

// Where the model's tensors come from: a checkpoint, or random initialisation.
using Loader = TensorSource;

Linear loadLinear(Model& m, const Loader& ld, const std::string& name, int64_t dout, int64_t din, bool bias) {
  Linear l;
  l.w = ld.get(name + ".weight", {dout, din});
  l.pw = m.addParam(name + ".weight", l.w);
  if (bias) {
    l.b = ld.get(name + ".bias", {dout});
    l.pb = m.addParam(name + ".bias", l.b);
  }
  return l;
}

Norm loadNorm(Model& m, const Loader& ld, const std::string& name, int64_t d, bool bias) {
  Norm n;
  n.w = ld.get(name + ".weight", {d});
  n.pw = m.addParam(name + ".weight", n.w);
  if (bias) {
    n.b = ld.get(name + ".bias", {d});
    n.pb = m.addParam(name + ".bias", n.b);
  }
  return n;
}

static std::shared_ptr<Model> BuildModel(const ModelConfig& cfg, const LoadOptions& opts, const Loader& ld, const std::string& source) {
  auto m = std::make_shared<Model>();
  m->cfg = cfg;
  m->dtype = opts.dtype;
  m->tied = opts.tieWordEmbeddings;
  m->source = source;
  const ModelConfig& c = m->cfg;
  if (c.isDecoder()) {
    buildDecoder(*m, ld);
    return m;
  }
  const std::string P = c.prefix();
  const int64_t H = c.hidden, I = c.intermediate;

  // embeddings
  m->wordEmb = ld.get(P + ".embeddings.word_embeddings.weight", {c.vocabSize, H});
  m->pWord = m->addParam(P + ".embeddings.word_embeddings.weight", m->wordEmb);
  m->posEmb = ld.get(P + ".embeddings.position_embeddings.weight", {c.maxPositions, H});
  m->pPos = m->addParam(P + ".embeddings.position_embeddings.weight", m->posEmb);
  m->typeEmb = ld.get(P + ".embeddings.token_type_embeddings.weight", {c.typeVocab, H});
  m->pType = m->addParam(P + ".embeddings.token_type_embeddings.weight", m->typeEmb);
  m->embLn = loadNorm(*m, ld, P + ".embeddings.LayerNorm", H);

  for (int64_t i = 0; i < c.layers; i++) {
    const std::string L = P + ".encoder.layer." + std::to_string(i);
    EncoderLayer layer;
    layer.q = loadLinear(*m, ld, L + ".attention.self.query", H, H);
    layer.k = loadLinear(*m, ld, L + ".attention.self.key", H, H);
    layer.v = loadLinear(*m, ld, L + ".attention.self.value", H, H);
    layer.o = loadLinear(*m, ld, L + ".attention.output.dense", H, H);
    layer.ln1 = loadNorm(*m, ld, L + ".attention.output.LayerNorm", H);
    layer.inter = loadLinear(*m, ld, L + ".intermediate.dense", I, H);
    layer.out = loadLinear(*m, ld, L + ".output.dense", H, I);
    layer.ln2 = loadNorm(*m, ld, L + ".output.LayerNorm", H);
    m->layers.push_back(std::move(layer));
  }

  // MLM head: RoBERTa `lm_head.*`, BERT `cls.predictions.*`
  const bool rob = c.arch == Arch::Roberta;
  const std::string head = rob ? "lm_head" : "cls.predictions";
  m->headDense = loadLinear(*m, ld, rob ? head + ".dense" : head + ".transform.dense", H, H);
  m->headLn = loadNorm(*m, ld, rob ? head + ".layer_norm" : head + ".transform.LayerNorm", H);
  // one output bias: `<head>.bias` and `<head>.decoder.bias` are the same parameter
  std::string biasKey = ld.has(head + ".bias") ? head + ".bias" : head + ".decoder.bias";
  m->decoderBias = ld.get(biasKey, {c.vocabSize});
  m->pDecoderBias = m->addParam(head + ".bias", m->decoderBias);
  if (m->tied) {
    m->decoderW = m->wordEmb;
  } else {
    m->decoderW = ld.get(head + ".decoder.weight", {c.vocabSize, H}, false);
    if (!m->decoderW.defined()) m->decoderW = m->wordEmb.clone();  // checkpoint saved tied: start equal, stay separate
    m->pDecoderW = m->addParam(head + ".decoder.weight", m->decoderW);
  }

  // classifier (standard setting); optional: the standard setting checks for it
  if (ld.has("classifier.weight")) {
    m->clsW = ld.get("classifier.weight", {-1, H});
    m->clsB = ld.get("classifier.bias", {m->clsW.size(0)});
    m->pClsW = m->addParam("classifier.weight", m->clsW);
    m->pClsB = m->addParam("classifier.bias", m->clsB);
  }
  return m;
}

std::shared_ptr<Model> loadModel(const std::string& configPath, const std::string& weightsPath, const LoadOptions& opts) {
  ModelConfig cfg = ModelConfig::fromFile(configPath);
  Safetensors st(weightsPath);
  SafetensorsLoader sl{st, opts.dtype, cfg.prefix()};
  Loader ld{[&](const std::string& n, std::vector<int64_t> shape, bool req) {
              // a -1 leading dimension (the classifier's number of labels) takes the file's value
              if (!shape.empty() && shape[0] < 0) {
                std::string key = sl.resolve(n, req);
                const auto& e = st.entry(key);
                if (e.shape.size() != shape.size() || !std::equal(shape.begin() + 1, shape.end(), e.shape.begin() + 1))
                  throw std::runtime_error(weightsPath + ": tensor '" + key + "' has shape " + ShapeStr(e.shape) +
                                           ", expected [num_labels, " + std::to_string(shape.back()) + "]");
                shape[0] = e.shape[0];
              }
              return sl.get(n, shape, req);
            },
            [&](const std::string& n) { return st.has(n); }};
  return BuildModel(cfg, opts, ld, weightsPath);
}

std::shared_ptr<Model> randomModel(const ModelConfig& cfg, const LoadOptions& opts, uint64_t seed, int64_t numLabels) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Loader ld{[&](const std::string& n, std::vector<int64_t> shape, bool) {
              if (!shape.empty() && shape[0] < 0) shape[0] = numLabels;
              auto t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
              // norm weights: LayerNorm / layer_norm (RoBERTa, BERT), ln_* (GPT-2), *layernorm / norm (Llama)
              const bool norm =
                  n.find("LayerNorm") != std::string::npos || n.find("norm") != std::string::npos || n.find("ln_") != std::string::npos;
              if (norm && n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0) t.normal_(1.0, 0.02, gen);
              else t.normal_(0.0, 0.02, gen);  // BERT-style init; biases small but non-zero
              return t.to(opts.dtype);
            },
            [&](const std::string& n) {
              if (n == "classifier.weight" || n == "score.weight") return numLabels > 0;
              return n.find(".decoder.bias") == std::string::npos;
            }};
  return BuildModel(cfg, opts, ld, "random(seed=" + std::to_string(seed) + ")");
}

void setClassifier(Model& m, const at::Tensor& w, const at::Tensor& b) {
  if (w.dim() != 2 || w.size(1) != m.cfg.hidden || b.dim() != 1 || b.size(0) != w.size(0))
    throw std::runtime_error("classifier: expected weight [C, " + std::to_string(m.cfg.hidden) + "] and bias [C], got weight " +
                             ShapeStr(w.sizes()) + " and bias " + ShapeStr(b.sizes()));
  m.clsW = w.to(m.device(), m.dtype).contiguous();
  m.clsB = b.to(m.device(), m.dtype).contiguous();
  // decoders: the `score` head of *ForSequenceClassification, given a bias when one is set here
  const std::string head = m.cfg.isDecoder() ? "score" : "classifier";
  if (m.pClsW < 0) m.pClsW = m.addParam(head + ".weight", m.clsW);
  if (m.pClsB < 0) m.pClsB = m.addParam(head + ".bias", m.clsB);
  m.params[m.pClsW].numel = m.clsW.numel();
  m.params[m.pClsB].numel = m.clsB.numel();
}

void applyLora(Model& m, const LoraSpec& spec, uint64_t seed) {
  if (spec.r <= 0) throw std::runtime_error("lora: r must be a positive integer, got " + std::to_string(spec.r));
  if (m.hasLora()) throw std::runtime_error("lora: the model already has LoRA matrices");
  if (m.cfg.isDecoder()) return applyDecoderLora(m, spec, seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t H = m.cfg.hidden;
  for (size_t i = 0; i < m.layers.size(); i++) {
    for (const auto& target : spec.targets) {
      Linear* lin = target == "query" ? &m.layers[i].q : target == "value" ? &m.layers[i].v : nullptr;
      if (!lin) throw std::runtime_error("lora: unsupported target '" + target + "' (supported: query, value)");
      const std::string base = std::string(m.cfg.prefix()) + ".encoder.layer." + std::to_string(i) + ".attention.self." + target;
      auto it = spec.matrices.find(base + ".lora_A");
      if (it != spec.matrices.end()) {
        if (it->second.dim() != 2 || it->second.size(0) != spec.r || it->second.size(1) != H)
          throw std::runtime_error("lora: '" + base + ".lora_A' has shape " + ShapeStr(it->second.sizes()) + ", expected [" +
                                   std::to_string(spec.r) + ", " + std::to_string(H) + "]");
        lin->loraA = it->second.to(m.device(), m.dtype).contiguous();
      } else {
        // loralib: kaiming_uniform_(a = sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        double bound = 1.0 / std::sqrt(static_cast<double>(H));
        lin->loraA = at::empty({spec.r, H}, at::TensorOptions().dtype(at::kDouble)).uniform_(-bound, bound, gen).to(m.device(), m.dtype);
      }
      auto itB = spec.matrices.find(base + ".lora_B");
      lin->loraB = itB != spec.matrices.end() ? itB->second.to(m.device(), m.dtype).contiguous()
                                              : at::zeros({H, spec.r}, at::TensorOptions().dtype(m.dtype).device(m.device()));
      if (lin->loraB.dim() != 2 || lin->loraB.size(0) != H || lin->loraB.size(1) != spec.r)
        throw std::runtime_error("lora: '" + base + ".lora_B' has shape " + ShapeStr(lin->loraB.sizes()));
      lin->loraScale = spec.alpha / static_cast<double>(spec.r);
      lin->pA = m.addParam(base + ".lora_A", lin->loraA);
      lin->pB = m.addParam(base + ".lora_B", lin->loraB);
    }
  }
}

void moveModel(Model& m, const at::Device& d) {
  for (at::Tensor* t : parameterRefs(m)) *t = t->to(d);
  if (m.tied) m.decoderW = m.wordEmb;  // the tied decoder is the word-embedding tensor, moved once
}

}  // namespace lmk
