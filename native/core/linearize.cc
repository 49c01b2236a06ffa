#include "core/linearize.h"

#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/entk.h"

namespace lmk {

namespace {
// One forward-AD level for the scope (torch::autograd::forward_ad, the same spelling in 1.13 and 2.x).
struct DualLevel {
  uint64_t level;
  DualLevel() : level(torch::autograd::forward_ad::enter_dual_level()) {}
  ~DualLevel() { torch::autograd::forward_ad::exit_dual_level(level); }
};
}  // namespace

LinearizedOutputs linearizedOutputs(const Model& m0, const Model& m1, const std::vector<bool>& mask, const std::vector<Example>& xs,
                                    const OutputSpec& out, int64_t batchSize, const Progress& progress) {
  if (m0.params.size() != m1.params.size() || mask.size() != m0.params.size())
    throw std::runtime_error("linearization: the two models have different parameter lists");
  if (batchSize < 1) throw std::runtime_error("linearization: batch size must be >= 1");
  const bool prompt = out.mode == OutputMode::Prompt;
  validateExamples(m0, xs, prompt, "test");
  if (prompt && out.labelWordIds.empty()) throw std::runtime_error("prompt mode needs label_word_ids (one token id per label)");
  at::Tensor labelIds = prompt ? labelIdTensor(m0, out) : at::Tensor();

  LinearizedOutputs r;
  std::vector<at::Tensor> f0s, jvps;
  {
    DualLevel dl;
    // a shallow copy of θ0 whose trained parameters are dual tensors (primal θ0, tangent θ1 − θ0)
    Model md = m0;
    auto r0 = parameterRefs(m0);
    auto r1 = parameterRefs(m1);
    auto rd = parameterRefs(md);
    for (size_t i = 0; i < mask.size(); i++) {
      if (!mask[i]) continue;
      if (!r1[i]->sizes().equals(r0[i]->sizes()))
        throw std::runtime_error("linearization: parameter '" + m0.params[i].name + "' differs in shape between the models");
      at::Tensor tangent = (r1[i]->detach().to(r0[i]->dtype()) - r0[i]->detach()).contiguous();
      *rd[i] = at::_make_dual(r0[i]->detach(), tangent, static_cast<int64_t>(dl.level));
    }
    if (md.tied) md.decoderW = md.wordEmb;
    for (size_t i = 0; i < xs.size(); i += static_cast<size_t>(batchSize)) {
      progress.check();
      size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
      Batch b = makeBatch(md, xs, i, j, md.device());
      at::Tensor logits = binaryOutput(forwardOutputs(md, b, out.mode, labelIds, nullptr).logits, out.binary);
      auto unpacked = at::_unpack_dual(logits, static_cast<int64_t>(dl.level));
      at::Tensor primal = std::get<0>(unpacked), tangent = std::get<1>(unpacked);
      f0s.push_back(primal.detach().to(at::kCPU, at::kDouble));
      jvps.push_back(tangent.defined() ? tangent.detach().to(at::kCPU, at::kDouble) : at::zeros_like(f0s.back()));
      progress("linearize", static_cast<int64_t>(j), static_cast<int64_t>(xs.size()));
    }
  }
  const int64_t Co = out.binary ? 1 : (prompt ? static_cast<int64_t>(out.labelWordIds.size()) : (m0.clsW.defined() ? m0.clsW.size(0) : 0));
  r.f0 = f0s.empty() ? at::zeros({0, Co}, at::kDouble) : at::cat(f0s, 0);
  r.jvp = jvps.empty() ? at::zeros({0, Co}, at::kDouble) : at::cat(jvps, 0);
  r.lin = r.f0 + r.jvp;
  return r;
}

KernelDistance kernelDistance(const Model& m0, const Model& m1, const std::vector<Example>& train, const std::vector<Example>& test,
                              const OutputSpec& out, int64_t batchSize, const Progress& progress, const std::string& formula) {
  if (formula != "sgd" && formula != "signgd" && formula != "asymmetric_signgd")
    throw std::runtime_error("option 'kernelDistanceFormula': '" + formula + "' is not one of sgd, signgd, asymmetric_signgd");
  KernelOptions ko;
  ko.output = out;
  ko.sgd = formula == "sgd";
  ko.signgd = formula == "signgd";
  ko.asymmetricSigngd = formula == "asymmetric_signgd";
  ko.subset = Subset::All;
  ko.batchSize = batchSize;
  Progress p0 = progress, p1 = progress;
  p0.report = [&](const std::string& phase, int64_t d, int64_t t) { progress("kernel0 " + phase, d, t); };
  p1.report = [&](const std::string& phase, int64_t d, int64_t t) { progress("kernel1 " + phase, d, t); };
  KernelResult k0 = computeKernels(m0, train, test, ko, p0);
  KernelResult k1 = computeKernels(m1, train, test, ko, p1);
  auto rel = [](const at::Tensor& a, const at::Tensor& b) {
    double den = b.norm().item<double>();
    return (a - b).norm().item<double>() / den;
  };
  KernelDistance d;
  const std::string tt = formula + "/train_train", te = formula + "/train_test";
  d.trainTrain = rel(k1.kernels.at(tt), k0.kernels.at(tt));
  d.trainTest = test.empty() ? std::numeric_limits<double>::quiet_NaN() : rel(k1.kernels.at(te), k0.kernels.at(te));
  return d;
}

}  // namespace lmk
