// The fine-tuning optimizers of the paper (REFERENCE.md §7.1 item 6): SGD without momentum, AdamW and
// SignGD. They update parameter tensors in place, outside autograd. No N-API, no torch::optim.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace lmk {

enum class OptimizerKind { Sgd, AdamW, SignGd };
// "sgd", "adam" (or "adamw"), "signgd"
OptimizerKind parseOptimizer(const std::string& s);
const char* optimizerName(OptimizerKind k);

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

}  // namespace lmk
