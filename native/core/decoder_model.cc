// The decoder-only families as a Model (model_build.h): GPT-2 and Llama/Qwen2 from their Hugging Face
// tensor names, and their parameter roles for the kernel subsets.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/model_build.h"

namespace lmk {

namespace {

// GPT-2's Conv1D: `name.weight` is [din, dout] (y = x W + b); kept as a linear layer [dout, din].
Linear LoadConv1D(Model& m, const TensorSource& ld, const std::string& name, int64_t din, int64_t dout) {
  Linear l;
  l.w = ld.get(name + ".weight", {din, dout}).t().contiguous();
  l.pw = m.addParam(name + ".weight", l.w);
  l.b = ld.get(name + ".bias", {dout});
  l.pb = m.addParam(name + ".bias", l.b);
  return l;
}

// GPT-2 (`wte`, `wpe`, `h.N.*`, `ln_f`; with or without the `transformer.` prefix, which the checkpoint
// loader adds when missing). The per-layer causal-mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`)
// are buffers, never read.
void BuildGpt2(Model& m, const TensorSource& ld) {
  const ModelConfig& c = m.cfg;
  const int64_t H = c.hidden, I = c.intermediate;
  m.wordEmb = ld.get("wte.weight", {c.vocabSize, H});
  m.pWord = m.addParam("wte.weight", m.wordEmb);
  m.posEmb = ld.get("wpe.weight", {c.maxPositions, H});
  m.pPos = m.addParam("wpe.weight", m.posEmb);
  for (int64_t i = 0; i < c.layers; i++) {
    const std::string L = "h." + std::to_string(i);
    EncoderLayer layer;
    layer.ln1 = loadNorm(m, ld, L + ".ln_1", H);
    layer.qkv = LoadConv1D(m, ld, L + ".attn.c_attn", H, 3 * H);
    layer.o = LoadConv1D(m, ld, L + ".attn.c_proj", H, H);
    layer.ln2 = loadNorm(m, ld, L + ".ln_2", H);
    layer.inter = LoadConv1D(m, ld, L + ".mlp.c_fc", H, I);
    layer.out = LoadConv1D(m, ld, L + ".mlp.c_proj", I, H);
    m.layers.push_back(std::move(layer));
  }
  m.headLn = loadNorm(m, ld, "ln_f", H);
}

// Llama / Mistral / Qwen2 (`model.embed_tokens`, `model.layers.N.*`, `model.norm`); Qwen2 has biases on
// q, k and v.
void BuildLlama(Model& m, const TensorSource& ld) {
  const ModelConfig& c = m.cfg;
  const int64_t H = c.hidden, I = c.intermediate, KV = c.kvHeads * c.headDim();
  const bool qkvBias = c.arch == Arch::Qwen2;
  m.wordEmb = ld.get("model.embed_tokens.weight", {c.vocabSize, H});
  m.pWord = m.addParam("model.embed_tokens.weight", m.wordEmb);
  for (int64_t i = 0; i < c.layers; i++) {
    const std::string L = "model.layers." + std::to_string(i);
    EncoderLayer layer;
    layer.ln1 = loadNorm(m, ld, L + ".input_layernorm", H, false);
    layer.q = loadLinear(m, ld, L + ".self_attn.q_proj", H, H, qkvBias);
    layer.k = loadLinear(m, ld, L + ".self_attn.k_proj", KV, H, qkvBias);
    layer.v = loadLinear(m, ld, L + ".self_attn.v_proj", KV, H, qkvBias);
    layer.o = loadLinear(m, ld, L + ".self_attn.o_proj", H, H, false);
    layer.ln2 = loadNorm(m, ld, L + ".post_attention_layernorm", H, false);
    layer.gate = loadLinear(m, ld, L + ".mlp.gate_proj", I, H, false);
    layer.inter = loadLinear(m, ld, L + ".mlp.up_proj", I, H, false);
    layer.out = loadLinear(m, ld, L + ".mlp.down_proj", H, I, false);
    m.layers.push_back(std::move(layer));
  }
  m.headLn = loadNorm(m, ld, "model.norm", H, false);
}

}  // namespace

void buildDecoder(Model& m, const TensorSource& ld) {
  const ModelConfig& c = m.cfg;
  if (c.arch == Arch::Gpt2) BuildGpt2(m, ld);
  else BuildLlama(m, ld);
  // the LM head: tied to the word embeddings as config.json's tie_word_embeddings says (GPT-2's default:
  // tied; Llama's and Qwen2's: untied, `lm_head.weight`)
  m.tied = c.tieWordEmbeddings;
  if (m.tied) {
    m.decoderW = m.wordEmb;
  } else {
    m.decoderW = ld.get("lm_head.weight", {c.vocabSize, c.hidden});
    m.pDecoderW = m.addParam("lm_head.weight", m.decoderW);
  }
  // the sequence-classification head (standard setting), no bias; optional
  if (ld.has("score.weight")) {
    m.clsW = ld.get("score.weight", {-1, c.hidden});
    m.pClsW = m.addParam("score.weight", m.clsW);
  }
}

namespace {

// The layer a LoRA target names, with the base of its parameter names; nullptr when unknown.
Linear* LoraTarget(Model& m, EncoderLayer& l, int64_t i, const std::string& t, std::string& base, int64_t& din, int64_t& dout) {
  const int64_t H = m.cfg.hidden;
  if (m.cfg.arch == Arch::Gpt2) {
    const std::string L = "h." + std::to_string(i);
    // query / key / value: adapters on the slices of the fused c_attn (q, k, v hold no weight of their own)
    if (t == "query" || t == "key" || t == "value") {
      base = L + ".attn." + t, din = H, dout = H;
      return t == "query" ? &l.q : t == "key" ? &l.k : &l.v;
    }
    Linear* x = t == "c_attn" ? &l.qkv : t == "c_proj" ? &l.o : t == "c_fc" ? &l.inter : t == "mlp.c_proj" ? &l.out : nullptr;
    if (!x) return nullptr;
    base = L + (t == "c_fc" || t == "mlp.c_proj" ? ".mlp.c_" + std::string(t == "c_fc" ? "fc" : "proj") : ".attn." + t);
    din = x->w.size(1), dout = x->w.size(0);
    return x;
  }
  const std::string name = t == "query" ? "q_proj" : t == "key" ? "k_proj" : t == "value" ? "v_proj" : t;
  Linear* x = name == "q_proj"      ? &l.q
              : name == "k_proj"    ? &l.k
              : name == "v_proj"    ? &l.v
              : name == "o_proj"    ? &l.o
              : name == "gate_proj" ? &l.gate
              : name == "up_proj"   ? &l.inter
              : name == "down_proj" ? &l.out
                                    : nullptr;
  if (!x) return nullptr;
  base = "model.layers." + std::to_string(i) + (x == &l.gate || x == &l.inter || x == &l.out ? ".mlp." : ".self_attn.") + name;
  din = x->w.size(1), dout = x->w.size(0);
  return x;
}

at::Tensor LoraMatrix(const Model& m, const LoraSpec& spec, const std::string& key, int64_t rows, int64_t cols) {
  auto it = spec.matrices.find(key);
  if (it == spec.matrices.end()) return at::Tensor();
  if (it->second.dim() != 2 || it->second.size(0) != rows || it->second.size(1) != cols)
    throw std::runtime_error("lora: '" + key + "' must have shape [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  return it->second.to(m.device(), m.dtype).contiguous();
}

}  // namespace

void applyDecoderLora(Model& m, const LoraSpec& spec, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const char* known = m.cfg.arch == Arch::Gpt2 ? "query, key, value, c_attn, c_proj, c_fc, mlp.c_proj"
                                               : "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (query, key, value)";
  for (size_t i = 0; i < m.layers.size(); i++)
    for (const auto& target : spec.targets) {
      std::string base;
      int64_t din = 0, dout = 0;
      Linear* lin = LoraTarget(m, m.layers[i], static_cast<int64_t>(i), target, base, din, dout);
      if (!lin)
        throw std::runtime_error("lora: unsupported target '" + target + "' for " + m.cfg.archName() + " (supported: " + known + ")");
      if (lin->loraA.defined()) throw std::runtime_error("lora: target '" + target + "' given twice");
      lin->loraA = LoraMatrix(m, spec, base + ".lora_A", spec.r, din);
      if (!lin->loraA.defined()) {
        // loralib: kaiming_uniform_(a = sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        const double bound = 1.0 / std::sqrt(static_cast<double>(din));
        lin->loraA = at::empty({spec.r, din}, at::kDouble).uniform_(-bound, bound, gen).to(m.device(), m.dtype);
      }
      lin->loraB = LoraMatrix(m, spec, base + ".lora_B", dout, spec.r);
      if (!lin->loraB.defined()) lin->loraB = at::zeros({dout, spec.r}, at::TensorOptions().dtype(m.dtype).device(m.device()));
      lin->loraScale = spec.alpha / static_cast<double>(spec.r);
      lin->pA = m.addParam(base + ".lora_A", lin->loraA);
      lin->pB = m.addParam(base + ".lora_B", lin->loraB);
    }
}

// Roles: embeddings = the token (and GPT-2's position) embeddings, whether or not the LM head is tied to
// them; head = a separate LM head (`lm_head.weight`) and the score head; biases = every bias of a linear
// layer, a LayerNorm or the score head.
std::vector<bool> decoderSubsetMask(const Model& m, Subset s) {
  std::vector<bool> w(m.params.size(), s == Subset::All);
  auto set = [&](int p, bool v) {
    if (p >= 0) w[static_cast<size_t>(p)] = v;
  };
  switch (s) {
    case Subset::All: break;
    case Subset::ExcludeEmbeddings:
      w.assign(w.size(), true);
      set(m.pWord, false);
      set(m.pPos, false);
      break;
    case Subset::ExcludeHead:
      w.assign(w.size(), true);
      set(m.pDecoderW, false);
      set(m.pClsW, false);
      set(m.pClsB, false);
      break;
    case Subset::OnlyBiases:
      for (const auto& l : m.layers) {
        for (const Linear* x : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate, &l.inter, &l.out}) set(x->pb, true);
        for (const Norm* n : {&l.ln1, &l.ln2}) set(n->pb, true);
      }
      set(m.headLn.pb, true);
      set(m.pClsB, true);
      break;
    case Subset::Lora:
      for (size_t i = 0; i < w.size(); i++) w[i] = m.params[i].name.find("lora_") != std::string::npos;
      break;
  }
  return w;
}

}  // namespace lmk
