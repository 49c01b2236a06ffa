#include "core/config.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/json.h"

namespace lmk {

namespace {

int64_t IntField(const json::Value& cfg, const char* key, const std::string& where, int64_t def, bool required, int64_t min = 1) {
  const json::Value* v = cfg.find(key);
  if (!v || v->kind == json::Value::Kind::Null) {
    if (required) throw std::runtime_error(where + ": config field '" + key + "' is missing");
    return def;
  }
  if (!v->isNumber() || !v->isInteger) throw std::runtime_error(where + ": config field '" + key + "' must be an integer");
  if (v->integer < min)
    throw std::runtime_error(where + ": config field '" + key + "' must be >= " + std::to_string(min) + ", got " +
                             std::to_string(v->integer));
  return v->integer;
}

}  // namespace

ModelConfig ModelConfig::fromJsonText(const std::string& text, const std::string& where) {
  json::Value cfg = json::parse(text.data(), text.size(), where);
  if (!cfg.isObject()) throw std::runtime_error(where + ": config is not a JSON object");
  ModelConfig c;
  const json::Value* mt = cfg.find("model_type");
  std::string type = mt && mt->isString() ? mt->str : "";
  if (type == "roberta" || type == "xlm-roberta" || type == "camembert") c.arch = Arch::Roberta;
  else if (type == "bert") c.arch = Arch::Bert;
  else if (type == "gpt2" || type == "llama" || type == "mistral" || type == "qwen2") return decoderConfig(cfg, type, where);
  else
    throw std::runtime_error(where + ": config field 'model_type' is '" + type +
                             "'; supported: roberta, bert, gpt2, llama, mistral, qwen2");
  c.vocabSize = IntField(cfg, "vocab_size", where, 0, true);
  c.hidden = IntField(cfg, "hidden_size", where, 0, true);
  c.layers = IntField(cfg, "num_hidden_layers", where, 0, true, 0);
  c.heads = IntField(cfg, "num_attention_heads", where, 0, true);
  c.intermediate = IntField(cfg, "intermediate_size", where, 0, true);
  c.maxPositions = IntField(cfg, "max_position_embeddings", where, 0, true);
  c.typeVocab = IntField(cfg, "type_vocab_size", where, 1, false);
  c.padId = IntField(cfg, "pad_token_id", where, c.arch == Arch::Roberta ? 1 : 0, false, 0);
  if (c.hidden % c.heads != 0)
    throw std::runtime_error(where + ": config field 'hidden_size' (" + std::to_string(c.hidden) +
                             ") is not a multiple of 'num_attention_heads' (" + std::to_string(c.heads) + ")");
  if (const json::Value* e = cfg.find("layer_norm_eps")) {
    if (!e->isNumber() || !(e->num > 0)) throw std::runtime_error(where + ": config field 'layer_norm_eps' must be a positive number");
    c.eps = e->num;
  } else {
    c.eps = 1e-12;
  }
  if (const json::Value* a = cfg.find("hidden_act")) {
    if (!a->isString()) throw std::runtime_error(where + ": config field 'hidden_act' must be a string");
    c.hiddenAct = a->str;
  }
  if (c.hiddenAct != "gelu" && c.hiddenAct != "gelu_new" && c.hiddenAct != "gelu_pytorch_tanh" && c.hiddenAct != "relu")
    throw std::runtime_error(where + ": config field 'hidden_act' is '" + c.hiddenAct +
                             "'; supported: gelu, gelu_new, gelu_pytorch_tanh, relu");
  if (const json::Value* p = cfg.find("position_embedding_type")) {
    if (!p->isString() || p->str != "absolute")
      throw std::runtime_error(where + ": config field 'position_embedding_type' is '" + (p->isString() ? p->str : "?") +
                               "'; only 'absolute' is supported");
  }
  if (const json::Value* t = cfg.find("tie_word_embeddings")) {
    if (t->kind == json::Value::Kind::Bool) c.tieWordEmbeddings = t->b;
  }
  if (c.arch == Arch::Roberta && c.maxPositions <= c.padId + 1)
    throw std::runtime_error(where + ": config field 'max_position_embeddings' is too small for RoBERTa positions offset by pad_token_id");
  return c;
}

const char* ModelConfig::prefix() const {
  switch (arch) {
    case Arch::Roberta: return "roberta";
    case Arch::Bert: return "bert";
    case Arch::Gpt2: return "transformer";
    default: return "model";
  }
}

const char* ModelConfig::archName() const {
  switch (arch) {
    case Arch::Roberta: return "roberta";
    case Arch::Bert: return "bert";
    case Arch::Gpt2: return "gpt2";
    case Arch::Llama: return "llama";
    default: return "qwen2";
  }
}

ModelConfig ModelConfig::fromFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return fromJsonText(ss.str(), path);
}

}  // namespace lmk
