// config.json of the decoder-only families (config.h): GPT-2 (`n_embd`, `n_layer`, ...) and Llama /
// Mistral / Qwen2 (`hidden_size`, `num_key_value_heads`, `rope_theta`, ...). What lmkernel does not
// compute exactly (another RoPE scaling, a sliding window, scaled-by-layer attention) is refused, naming
// the field.
#include <stdexcept>
#include <string>

#include "core/config.h"
#include "core/json.h"

namespace lmk {

namespace {

struct Fields {
  const json::Value& cfg;
  const std::string& where;

  const json::Value* find(const char* key) const {
    const json::Value* v = cfg.find(key);
    return v && v->kind != json::Value::Kind::Null ? v : nullptr;
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw std::runtime_error(where + ": config field '" + key + "' " + what);
  }
  int64_t integer(const char* key, int64_t def, bool required, int64_t min = 1) const {
    const json::Value* v = find(key);
    if (!v) {
      if (required) fail(key, "is missing");
      return def;
    }
    if (!v->isNumber() || !v->isInteger) fail(key, "must be an integer");
    if (v->integer < min) fail(key, "must be >= " + std::to_string(min) + ", got " + std::to_string(v->integer));
    return v->integer;
  }
  double positive(const char* key, double def) const {
    const json::Value* v = find(key);
    if (!v) return def;
    if (!v->isNumber() || !(v->num > 0)) fail(key, "must be a positive number");
    return v->num;
  }
  bool flag(const char* key, bool def) const {
    const json::Value* v = find(key);
    if (!v) return def;
    if (v->kind != json::Value::Kind::Bool) fail(key, "must be true or false");
    return v->b;
  }
  std::string string(const char* key, const std::string& def) const {
    const json::Value* v = find(key);
    if (!v) return def;
    if (!v->isString()) fail(key, "must be a string");
    return v->str;
  }
};

void Gpt2Fields(const Fields& f, ModelConfig& c) {
  c.arch = Arch::Gpt2;
  c.vocabSize = f.integer("vocab_size", 0, true);
  c.hidden = f.integer("n_embd", 0, true);
  c.layers = f.integer("n_layer", 0, true, 0);
  c.heads = f.integer("n_head", 0, true);
  c.kvHeads = c.heads;
  c.intermediate = f.integer("n_inner", 4 * c.hidden, false);
  c.maxPositions = f.integer("n_positions", 0, true);
  c.eps = f.positive("layer_norm_epsilon", 1e-5);
  c.hiddenAct = f.string("activation_function", "gelu_new");
  if (c.hiddenAct != "gelu" && c.hiddenAct != "gelu_new" && c.hiddenAct != "gelu_pytorch_tanh" && c.hiddenAct != "relu")
    f.fail("activation_function", "is '" + c.hiddenAct + "'; supported: gelu, gelu_new, gelu_pytorch_tanh, relu");
  if (!f.flag("scale_attn_weights", true)) f.fail("scale_attn_weights", "is false; only scaled attention (1/sqrt(head_dim)) is supported");
  if (f.flag("scale_attn_by_inverse_layer_idx", false)) f.fail("scale_attn_by_inverse_layer_idx", "is true; not supported");
  c.tieWordEmbeddings = f.flag("tie_word_embeddings", true);
}

void RopeScaling(const Fields& f, ModelConfig& c) {
  const json::Value* rs = f.find("rope_scaling");
  if (!rs) return;
  if (!rs->isObject()) f.fail("rope_scaling", "must be null or an object");
  const json::Value* t = rs->find("rope_type");
  if (!t) t = rs->find("type");
  const std::string type = t && t->isString() ? t->str : "";
  if (type == "default") return;
  if (type == "linear") {
    const json::Value* fac = rs->find("factor");
    if (!fac || !fac->isNumber() || !(fac->num > 0)) f.fail("rope_scaling", "of type 'linear' needs a positive 'factor'");
    c.ropeFactor = fac->num;
    return;
  }
  f.fail("rope_scaling", "has type '" + type + "'; supported: default, linear (others, e.g. dynamic, yarn, llama3, are not)");
}

void LlamaFields(const Fields& f, const std::string& type, ModelConfig& c) {
  c.arch = type == "qwen2" ? Arch::Qwen2 : Arch::Llama;
  c.vocabSize = f.integer("vocab_size", 0, true);
  c.hidden = f.integer("hidden_size", 0, true);
  c.layers = f.integer("num_hidden_layers", 0, true, 0);
  c.heads = f.integer("num_attention_heads", 0, true);
  c.kvHeads = f.integer("num_key_value_heads", c.heads, false);
  c.intermediate = f.integer("intermediate_size", 0, true);
  c.maxPositions = f.integer("max_position_embeddings", 0, true);
  c.eps = f.positive("rms_norm_eps", 1e-6);
  c.ropeTheta = f.positive("rope_theta", 10000.0);
  c.hiddenAct = f.string("hidden_act", "silu");
  if (c.hiddenAct != "silu") f.fail("hidden_act", "is '" + c.hiddenAct + "'; supported: silu");
  if (c.heads % c.kvHeads != 0)
    f.fail("num_key_value_heads",
           "(" + std::to_string(c.kvHeads) + ") does not divide 'num_attention_heads' (" + std::to_string(c.heads) + ")");
  if (c.hidden % c.heads == 0 && f.integer("head_dim", c.hidden / c.heads, false) != c.hidden / c.heads)
    f.fail("head_dim", "differs from hidden_size / num_attention_heads; not supported");
  RopeScaling(f, c);
  if (c.arch == Arch::Llama && f.flag("attention_bias", false)) f.fail("attention_bias", "is true; not supported for llama");
  if (f.flag("mlp_bias", false)) f.fail("mlp_bias", "is true; not supported");
  // Mistral's sliding window (null in the Mistral-style configs lmkernel accepts) and Qwen2's
  if (type == "mistral" && f.find("sliding_window"))
    f.fail("sliding_window", "is set; sliding-window attention is not supported (only Mistral-style models without it)");
  if (type == "qwen2" && f.flag("use_sliding_window", false))
    f.fail("use_sliding_window", "is true; sliding-window attention is not supported");
  c.tieWordEmbeddings = f.flag("tie_word_embeddings", false);
}

}  // namespace

ModelConfig decoderConfig(const json::Value& cfg, const std::string& type, const std::string& where) {
  ModelConfig c;
  Fields f{cfg, where};
  if (type == "gpt2") Gpt2Fields(f, c);
  else LlamaFields(f, type, c);
  if (c.hidden % c.heads != 0)
    throw std::runtime_error(where + ": the hidden size (" + std::to_string(c.hidden) +
                             ") is not a multiple of the number of attention heads (" + std::to_string(c.heads) + ")");
  if (c.arch != Arch::Gpt2 && (c.hidden / c.heads) % 2 != 0)
    throw std::runtime_error(where + ": the head dimension (" + std::to_string(c.hidden / c.heads) +
                             ") must be even for rotary embeddings");
  c.typeVocab = 1;
  c.padId = f.integer("pad_token_id", 0, false, 0);  // padded positions are masked: the id only has to exist
  if (c.padId >= c.vocabSize) c.padId = 0;
  return c;
}

}  // namespace lmk
