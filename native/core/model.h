// RoBERTa / BERT masked LM with the reference's heads (REFERENCE.md §3.4): encoder, MLM head
// (dense, GELU, LayerNorm, decoder + bias) read at the mask position, and a linear `classifier` on the
// first position's final hidden state. Eval mode (no dropout). One layer per function (forward.h).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace lmk {

// Every parameter of the model in the reference's naming, with its size; blocks of the eNTK and the
// subsets (exclude_embeddings, exclude_head, only_biases, lora) are defined over this list.
struct ParamInfo {
  std::string name;
  int64_t numel = 0;
};

struct Linear {
  at::Tensor w, b;       // b may be undefined
  int pw = -1, pb = -1;  // indices into Model::params
  // LoRA (query/value): out = W x + b + scale · B (A x); A [r, din], B [dout, r]
  at::Tensor loraA, loraB;
  int pA = -1, pB = -1;
  double loraScale = 0;
};

struct Norm {
  at::Tensor w, b;
  int pw = -1, pb = -1;
};

// One transformer layer. RoBERTa/BERT (post-LN): ln1 after attention, ln2 after the MLP inter -> out.
// Decoders (pre-LN, decoder_model.cc): ln1 before attention, ln2 before the MLP; GPT-2 keeps its fused
// c_attn in `qkv` (q, k, v undefined) and its MLP in inter (c_fc) -> out (c_proj); Llama/Qwen2 have
// q, k, v, o and the SwiGLU MLP out(silu(gate x) * inter x) (gate_proj, up_proj, down_proj).
struct EncoderLayer {
  Linear q, k, v, o;
  Norm ln1;
  Linear inter, out;
  Norm ln2;
  Linear qkv, gate;  // decoders only (see above)
};

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;
  // Tie the MLM decoder to the word embeddings. Off by default: the reference's model keeps the
  // checkpoint's own `lm_head.decoder.weight` as a separate parameter (the fixtures encode this).
  bool tieWordEmbeddings = false;
};

struct LoraSpec {
  int64_t r = 0;
  double alpha = 0;
  std::vector<std::string> targets;            // "query", "value"
  std::map<std::string, at::Tensor> matrices;  // "<prefix>.encoder.layer.N.attention.self.query.lora_A" -> tensor
};

struct Model {
  ModelConfig cfg;
  at::ScalarType dtype = at::kFloat;
  bool tied = false;
  std::vector<ParamInfo> params;

  at::Tensor wordEmb, posEmb, typeEmb;
  int pWord = -1, pPos = -1, pType = -1;
  Norm embLn;
  std::vector<EncoderLayer> layers;
  Linear headDense;
  Norm headLn;
  // decoders: wordEmb and posEmb (GPT-2's wte, wpe; Llama's embed_tokens), headLn the final norm
  // (ln_f, model.norm), decoderW the LM head (no bias), clsW the `score` head (no bias)
  at::Tensor decoderW;  // [vocab, hidden]; the word embeddings when tied
  at::Tensor decoderBias;
  int pDecoderW = -1, pDecoderBias = -1;
  at::Tensor clsW, clsB;  // classifier [C, hidden]; undefined when the checkpoint has none
  int pClsW = -1, pClsB = -1;
  std::string source;  // where it was loaded from

  int addParam(const std::string& name, const at::Tensor& t);
  int64_t totalParams() const;
  bool hasLora() const;
  at::Device device() const { return wordEmb.device(); }
};

// Loads `dir/config.json` + `dir/model.safetensors` (or explicit paths).
std::shared_ptr<Model> loadModel(const std::string& configPath, const std::string& weightsPath, const LoadOptions& opts);
// Replaces/sets the classifier head (standard setting), e.g. from linear probing. W [C, hidden], b [C].
void setClassifier(Model& m, const at::Tensor& w, const at::Tensor& b);
// Adds LoRA matrices to query/value (A given or Kaiming-uniform with `seed`; B given or zero).
void applyLora(Model& m, const LoraSpec& spec, uint64_t seed);
// Moves every tensor to `device` (cpu / cuda).
void moveModel(Model& m, const at::Device& device);
// Builds a model with random weights from a config alone (benchmarks, tests without checkpoints).
std::shared_ptr<Model> randomModel(const ModelConfig& cfg, const LoadOptions& opts, uint64_t seed, int64_t numLabels);

// Pointers to every parameter tensor of a model, indexed like Model::params. The tied decoder is not a
// separate parameter (it aliases the word embeddings); the output bias is one parameter.
std::vector<at::Tensor*> parameterRefs(Model& m);
std::vector<const at::Tensor*> parameterRefs(const Model& m);
// The model's parameter tensors in registry order (index i <-> Model::params[i]), sharing storage.
std::vector<at::Tensor> parameterTensors(const Model& m);
// A deep copy: every tensor cloned (detached), the tied decoder aliasing the copy's word embeddings.
std::shared_ptr<Model> cloneModel(const Model& m);

}  // namespace lmk
