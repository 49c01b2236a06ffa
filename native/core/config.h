// The Hugging Face config.json fields lmkernel's RoBERTa/BERT model reads. Unsupported values are
// errors that name the field.
#pragma once
#include <cstdint>
#include <string>

namespace lmk {

enum class Arch { Roberta, Bert };

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

  static ModelConfig fromFile(const std::string& path);
  static ModelConfig fromJsonText(const std::string& text, const std::string& where);
  const char* prefix() const { return arch == Arch::Roberta ? "roberta" : "bert"; }
};

}  // namespace lmk
