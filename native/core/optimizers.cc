#include "core/optimizers.h"

#include <c10/core/GradMode.h>

#include <cmath>
#include <set>
#include <stdexcept>

namespace lmk {

OptimizerKind parseOptimizer(const std::string& s) {
  if (s == "sgd") return OptimizerKind::Sgd;
  if (s == "adam" || s == "adamw") return OptimizerKind::AdamW;
  if (s == "signgd") return OptimizerKind::SignGd;
  throw std::runtime_error("optimizer '" + s + "' is not one of sgd, adam, signgd");
}

Optimizer::Optimizer(const OptimizerOptions& opts, std::vector<at::Tensor> params, std::vector<bool> decay)
    : o_(opts), params_(std::move(params)), decay_(std::move(decay)) {
  if (decay_.size() != params_.size()) throw std::logic_error("optimizer: decay mask and parameters differ in length");
  if (o_.kind == OptimizerKind::AdamW)
    for (auto& p : params_) {
      m_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
      v_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
    }
}

void Optimizer::restore(const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v, int64_t t) {
  if (m.size() != m_.size() || v.size() != v_.size())
    throw std::runtime_error("optimizer state: " + std::to_string(m.size()) + " saved moments for " + std::to_string(m_.size()) +
                             " parameters");
  c10::NoGradGuard ng;
  for (size_t i = 0; i < m_.size(); i++) {
    if (!m[i].sizes().equals(m_[i].sizes()) || !v[i].sizes().equals(v_[i].sizes()))
      throw std::runtime_error("optimizer state: moment " + std::to_string(i) + " has the wrong shape");
    m_[i].copy_(m[i]);
    v_[i].copy_(v[i]);
  }
  t_ = t;
}

void Optimizer::step(const std::vector<at::Tensor>& grads, double lr) {
  c10::NoGradGuard ng;
  t_++;
  for (size_t i = 0; i < params_.size(); i++) {
    at::Tensor& p = params_[i];
    const at::Tensor& g = grads[i];
    const double wd = decay_[i] ? o_.weightDecay : 0.0;
    switch (o_.kind) {
      case OptimizerKind::Sgd:
      case OptimizerKind::SignGd: {
        // torch.optim.SGD (no momentum): d = g + wd·p, p -= lr·d. SignGD replaces g by sign(g) first
        // (the reference's optimizer_variant=signgd: p.grad = sign(p.grad), then the SGD step).
        at::Tensor d = o_.kind == OptimizerKind::SignGd ? at::sign(g) : g;
        if (wd != 0) d = d + p * wd;
        p.sub_(d, lr);
        break;
      }
      case OptimizerKind::AdamW: {
        // torch.optim.AdamW: decoupled decay p *= 1 − lr·wd, then
        // p -= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps). At t = 1 this is lr·g/(|g| + eps), the
        // fixtures' formula. transformers.AdamW (the reference's) adds eps before the bias correction of v,
        // i.e. lr·g/(|g| + eps/sqrt(1−β2)) at t = 1; the two differ only for gradients near eps.
        if (wd != 0) p.mul_(1.0 - lr * wd);
        m_[i].mul_(o_.beta1).add_(g, 1.0 - o_.beta1);
        v_[i].mul_(o_.beta2).addcmul_(g, g, 1.0 - o_.beta2);
        const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
        const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
        at::Tensor denom = (v_[i].sqrt() / std::sqrt(bc2)).add_(o_.eps);
        p.addcdiv_(m_[i], denom, -lr / bc1);
        break;
      }
    }
  }
}

bool takesWeightDecay(const std::string& name) {
  return name.find("bias") == std::string::npos && name.find("LayerNorm.weight") == std::string::npos &&
         name.find("layer_norm.weight") == std::string::npos;
}

TrainableParams::TrainableParams(Model& m, const std::vector<bool>& trained) : refs_(parameterRefs(m)) {
  if (trained.size() != refs_.size()) throw std::logic_error("trainable: the mask and the parameters differ in length");
  std::set<int> keyBias;
  for (const auto& l : m.layers) keyBias.insert(l.k.pb);
  for (size_t i = 0; i < refs_.size(); i++) {
    if (!trained[i]) continue;
    refs_[i]->requires_grad_(true);
    params_.push_back(*refs_[i]);
    decay_.push_back(takesWeightDecay(m.params[i].name));
    zeroGrad_.push_back(keyBias.count(static_cast<int>(i)) > 0);
  }
}

void TrainableParams::fixGradients(std::vector<at::Tensor>& grads) const {
  for (size_t i = 0; i < grads.size(); i++)
    if (!grads[i].defined() || zeroGrad_[i]) grads[i] = at::zeros_like(params_[i]);
}

void TrainableParams::freeze() {
  for (at::Tensor* t : refs_) t->requires_grad_(false);
}

}  // namespace lmk
