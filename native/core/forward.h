// The forward pass, one layer per function. With a Tape, every parameter block's "site" is recorded:
// the layer input `a` (or the normalised input of a LayerNorm) and the output node whose gradient the
// per-example gradient of that block needs (DESIGN.md, per-block streaming, steps 1-3).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "core/model.h"

namespace lmk {

// A padded batch. Padding never changes results: padded keys are masked out exactly.
struct Batch {
  at::Tensor ids;        // [B, L] int64
  at::Tensor attention;  // [B, L] bool (true = real token)
  at::Tensor positions;  // [B, L] int64
  at::Tensor types;      // [B, L] int64
  at::Tensor maskPos;    // [B] int64 (prompt mode)
  int64_t size() const { return ids.size(0); }
};

struct Example {
  std::vector<int64_t> ids;
  int64_t maskPos = -1;
  std::vector<int64_t> tokenTypes;  // optional (BERT)
};

// Validates ids against the vocabulary, lengths against the positions, the mask position against the
// sequence; `where` names the set ("train", "test") in errors.
void validateExamples(const Model& m, const std::vector<Example>& xs, bool needMask, const char* where);
Batch makeBatch(const Model& m, const std::vector<Example>& xs, size_t begin, size_t end, const at::Device& device);

struct Site {
  enum class Kind { Linear, Norm, Embedding } kind;
  int pw = -1, pb = -1;  // parameter indices (-1 = none)
  at::Tensor input;      // Linear: a [B, L, din]; Norm: normalised input [B, L, d]
  at::Tensor output;     // the graph node y [B, L, dout] whose gradient δ forms the block
};

struct Tape {
  std::vector<Site> sites;
  // which parameters need their blocks; sites whose parameters are all excluded are not recorded
  const std::vector<bool>* wanted = nullptr;
  bool wants(int p) const { return p >= 0 && (!wanted || (*wanted)[p]); }
};

enum class OutputMode { Prompt, Standard };

// What a model's output is: the label-word logits at the mask (prompt) or the classifier logits on the
// first position (standard), optionally reduced to one output logit1 − logit0 (binary).
struct OutputSpec {
  OutputMode mode = OutputMode::Prompt;
  bool binary = false;                // one output: logit1 − logit0
  std::vector<int64_t> labelWordIds;  // prompt mode: the label words in label order
};

// Training-mode dropout (RoBERTa's hidden and attention dropout, as LM-BFF fine-tunes): active only while
// a DropoutScope lives on this thread; every other forward pass (kernels, f0, linearization, evaluation)
// is in eval mode. Masks are Bernoulli(1 − p) draws from the scope's seeded CPU generator, scaled by
// 1/(1 − p), so a run is deterministic given its seed.
class DropoutScope {
 public:
  DropoutScope(double p, at::Generator gen);
  ~DropoutScope();
  DropoutScope(const DropoutScope&) = delete;
  DropoutScope& operator=(const DropoutScope&) = delete;

 private:
  double p_;
  at::Generator gen_;
  DropoutScope* prev_;
  friend at::Tensor dropout(const at::Tensor& x);
};
// x itself in eval mode; x · mask / (1 − p) inside a DropoutScope.
at::Tensor dropout(const at::Tensor& x);

at::Tensor activation(const at::Tensor& x, const std::string& act);
at::Tensor linearForward(const Linear& l, const at::Tensor& x, Tape* tape);
// recordBias = false: the bias gets no site (a key bias, whose gradient is exactly zero)
at::Tensor linearForward(const Linear& l, const at::Tensor& x, Tape* tape, bool recordBias);
// LoRA's term scale · B (A x) alone (its A and B sites recorded)
at::Tensor loraForward(const Linear& l, const at::Tensor& x, Tape* tape);
at::Tensor normForward(const Norm& n, const at::Tensor& x, double eps, Tape* tape);
at::Tensor embeddingsForward(const Model& m, const Batch& b, Tape* tape);
at::Tensor attentionForward(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& keyMask, Tape* tape);
at::Tensor layerForward(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& keyMask, Tape* tape);
at::Tensor encoderForward(const Model& m, const Batch& b, Tape* tape);
// Prompt: MLM-head transform at the mask position; standard: hidden state at position 0.
at::Tensor featuresForward(const Model& m, const at::Tensor& hidden, const Batch& b, OutputMode mode, Tape* tape);
// Label-word logits [B, C] (prompt) or classifier logits [B, C] (standard) from the features.
at::Tensor logitsFromFeatures(const Model& m, const at::Tensor& z, OutputMode mode, const at::Tensor& labelIds);

// The whole forward pass of a batch: encoder, features z [B, H] and logits [B, C].
struct ForwardOutputs {
  at::Tensor features, logits;
};
ForwardOutputs forwardOutputs(const Model& m, const Batch& b, OutputMode mode, const at::Tensor& labelIds, Tape* tape);
// The label word ids as an int64 tensor on the model's device (undefined when there are none).
at::Tensor labelIdTensor(const Model& m, const OutputSpec& out);
// logit1 − logit0 as one output [B, 1] when `binary`, else the logits [B, C] unchanged.
at::Tensor binaryOutput(const at::Tensor& logits, bool binary);

// The model outputs f [N, C] (float64) for a set of examples, in batches, without gradients.
at::Tensor outputs(const Model& m, const std::vector<Example>& xs, const OutputSpec& out, int64_t batchSize);

// The features that enter the output layer, [N, hidden] float64: the MLM-head features at the mask
// (prompt) or the final <s> state (standard). Linear probing fits the classifier on these.
at::Tensor features(const Model& m, const std::vector<Example>& xs, OutputMode mode, int64_t batchSize);

}  // namespace lmk
