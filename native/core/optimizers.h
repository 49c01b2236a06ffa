// The fine-tuning optimizers of the paper (REFERENCE.md §7.1 item 6): SGD without momentum, AdamW and
// SignGD. They update parameter tensors in place, outside autograd. No N-API, no torch::optim. Also the
// set-up of a model's trained parameters that fine-tuning and pre-training share.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/model.h"

namespace lmk {

enum class OptimizerKind { Sgd, AdamW, SignGd };
// "sgd", "adam" (or "adamw"), "signgd"
OptimizerKind parseOptimizer(const std::string& s);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::Sgd;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weightDecay = 0;
};

class Optimizer {
 public:
  // `decay[i]`: whether params[i] takes weight decay (not biases, not LayerNorm weights).
  Optimizer(const OptimizerOptions& opts, std::vector<at::Tensor> params, std::vector<bool> decay);
  // One update with learning rate `lr` from gradients aligned with the parameters (already clipped).
  void step(const std::vector<at::Tensor>& grads, double lr);
  int64_t stepCount() const { return t_; }
  // The AdamW moments (empty for SGD/SignGD) and the step count, for checkpoints that resume.
  const std::vector<at::Tensor>& firstMoments() const { return m_; }
  const std::vector<at::Tensor>& secondMoments() const { return v_; }
  // Restores a saved state: moments shaped like the parameters (copied in place), and the step count.
  void restore(const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v, int64_t t);

 private:
  OptimizerOptions o_;
  std::vector<at::Tensor> params_;
  std::vector<bool> decay_;
  std::vector<at::Tensor> m_, v_;  // AdamW moments
  int64_t t_ = 0;
};

// The trained parameters of a model, set up for training in place (requires_grad on the model's own
// tensors, so the tied decoder, which aliases the word embeddings, trains with them):
// - weight decay for all but biases and LayerNorm weights (the reference's groups; RoBERTa's head
//   LayerNorm is spelled `lm_head.layer_norm`, which the reference decays by accident: every LayerNorm
//   weight is exempt here);
// - the attention key biases have a zero gradient: a key bias shifts all scores of a query equally, so
//   softmax ignores it and autograd returns rounding noise there, whose sign SignGD (and Adam's g/|g|)
//   would amplify. It is taken as exactly 0, as the fixtures count it.
class TrainableParams {
 public:
  // `trained[i]`: whether Model::params[i] is trained.
  TrainableParams(Model& m, const std::vector<bool>& trained);
  const std::vector<at::Tensor>& tensors() const { return params_; }
  std::vector<at::Tensor>& tensors() { return params_; }
  const std::vector<bool>& decay() const { return decay_; }
  // Gradients aligned with tensors(): undefined ones and those of the key biases become zeros.
  void fixGradients(std::vector<at::Tensor>& grads) const;
  // Ends training: requires_grad off on every parameter of the model.
  void freeze();

 private:
  std::vector<at::Tensor*> refs_;
  std::vector<at::Tensor> params_;
  std::vector<bool> decay_, zeroGrad_;
};

// Whether a parameter takes weight decay (not biases, not LayerNorm weights).
bool takesWeightDecay(const std::string& name);

}  // namespace lmk
