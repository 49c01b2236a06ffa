// The Hugging Face config.json fields lmkernel's models read: RoBERTa/BERT (masked LMs) and the
// decoder-only families GPT-2, Llama (Mistral without sliding window) and Qwen2 (config_decoder.cc).
// Unsupported values are errors that name the field.
#pragma once
#include <cstdint>
#include <string>

namespace lmk {

enum class Arch { Roberta, Bert, Gpt2, Llama, Qwen2 };

namespace json {
struct Value;
}

struct ModelConfig {
  Arch arch = Arch::Roberta;
  int64_t vocabSize = 0;
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t intermediate = 0;
  int64_t maxPositions = 0;
  int64_t typeVocab = 1;
  int64_t padId = 1;
  double eps = 1e-5;
  std::string hiddenAct = "gelu";
  bool tieWordEmbeddings = true;  // the HF default; the reference's model never ties (see model.h)
  // decoder-only models (GPT-2, Llama, Qwen2)
  int64_t kvHeads = 0;         // grouped-query attention: key/value heads (= heads without GQA)
  double ropeTheta = 10000.0;  // RoPE base (Llama, Qwen2)
  double ropeFactor = 1.0;     // rope_scaling {"type": "linear", "factor": f}: positions divided by f

  static ModelConfig fromFile(const std::string& path);
  static ModelConfig fromJsonText(const std::string& text, const std::string& where);
  bool isDecoder() const { return arch == Arch::Gpt2 || arch == Arch::Llama || arch == Arch::Qwen2; }
  // the encoder's (decoder's) tensor-name prefix: roberta, bert, transformer (GPT-2), model (Llama, Qwen2)
  const char* prefix() const;
  const char* archName() const;
  int64_t headDim() const { return hidden / heads; }
};

// The decoder families' fields (config_decoder.cc); `type` is the config's model_type.
ModelConfig decoderConfig(const json::Value& cfg, const std::string& type, const std::string& where);

}  // namespace lmk
