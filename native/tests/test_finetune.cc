// Fine-tuning, linearization and the kernel distance against fixtures-a.json (`roberta.cases[0]
// .fine_tuning`: one full-batch step of SGD, AdamW and SignGD on the prompt model, all parameters).
#include <ATen/CPUGeneratorImpl.h>

#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/finetune.h"
#include "core/linearize.h"
#include "core/model.h"
#include "core/optimizers.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

// Dropout (LM-BFF's 0.1 in training, eval mode elsewhere): the mask rate and scale, determinism, and its
// effect on fine-tuning. The fixture cases above run with the default dropout 0, as before the option.
void CheckDropout(const Model& model, const FinetuneData& data, const std::vector<int64_t>& labelIds) {
  const int64_t n = 200000;
  at::Tensor x = at::ones({n}, at::kDouble);
  LMK_CHECK(dropout(x).equal(x), "outside a DropoutScope dropout is the identity (eval mode)");
  at::Tensor y, y2;
  {
    DropoutScope s(0.1, at::make_generator<at::CPUGeneratorImpl>(7));
    y = dropout(x);
  }
  {
    DropoutScope s(0.1, at::make_generator<at::CPUGeneratorImpl>(7));
    y2 = dropout(x);
  }
  LMK_CHECK(dropout(x).equal(x), "eval mode again after the scope");
  const double dropped = (y == 0).sum().item<double>() / n;
  // Bernoulli(0.1) share of n draws: standard error √(0.1·0.9/n) ≈ 6.7e-4; accept 5 standard errors
  LMK_CHECK(std::abs(dropped - 0.1) < 5 * std::sqrt(0.09 / n), "dropped share %.5f, want 0.1", dropped);
  LMK_CHECK(((y == 0) | (y == 1.0 / 0.9)).all().item<bool>(), "kept entries are scaled by exactly 1/(1 − p)");
  LMK_CHECK(y.equal(y2), "the same seed draws the same mask");
  bool refused = false;
  try {
    DropoutScope bad(1.0, at::make_generator<at::CPUGeneratorImpl>(1));
  } catch (const std::runtime_error&) {
    refused = true;
  }
  LMK_CHECK(refused, "p = 1 is refused");

  FinetuneOptions o;
  o.output.mode = OutputMode::Prompt;
  o.output.labelWordIds = labelIds;
  o.optimizer.kind = OptimizerKind::AdamW;
  o.lr = 1e-3;
  o.steps = 3;
  o.seed = 5;
  FinetuneResult plain = finetune(model, data, o, Progress{});
  o.dropout = 0.1;
  FinetuneResult a = finetune(model, data, o, Progress{});
  FinetuneResult b = finetune(model, data, o, Progress{});
  o.seed = 6;
  FinetuneResult c = finetune(model, data, o, Progress{});
  auto pa = parameterTensors(*a.model), pb = parameterTensors(*b.model), pp = parameterTensors(*plain.model);
  bool same = true, differs = false;
  for (size_t i = 0; i < pa.size(); i++) {
    same = same && pa[i].equal(pb[i]);
    differs = differs || !pa[i].equal(pp[i]);
  }
  LMK_CHECK(same && a.trainLoss == b.trainLoss, "dropout 0.1: the same seed gives the same weights and losses");
  LMK_CHECK(differs && a.trainLoss[0] != plain.trainLoss[0], "dropout 0.1 changes the loss trajectory (%.17g vs %.17g)", a.trainLoss[0],
            plain.trainLoss[0]);
  LMK_CHECK(c.trainLoss[0] != a.trainLoss[0], "another seed draws other masks (full batch: only dropout depends on it)");
  at::Tensor evalLogits = outputs(*a.model, data.test, o.output, 16);
  LMK_CHECK(a.testLogits.equal(evalLogits), "the measurements are in eval mode (test outputs = a plain forward pass)");
  std::printf("dropout: dropped share %.5f; losses p=0 %.6f, p=0.1 %.6f\n", dropped, plain.trainLoss[0], a.trainLoss[0]);
}

// Per-(example, logit) gradients of all parameters by plain autograd, one flattened row each [N·C, P]
// (float64), independently of the kernel engine; the key bias gets 0 (its gradient is exactly 0 in exact
// arithmetic, DESIGN.md: the engine leaves it out).
at::Tensor GradientRows(const Model& m0, const std::vector<Example>& xs, const OutputSpec& out) {
  auto m = cloneModel(m0);
  std::vector<at::Tensor> ps = parameterTensors(*m);
  for (auto& p : ps) p.requires_grad_(true);
  Batch b = makeBatch(*m, xs, 0, xs.size(), m->device());
  at::Tensor logits = forwardOutputs(*m, b, out.mode, labelIdTensor(*m, out), nullptr).logits;
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < logits.size(0); i++)
    for (int64_t c = 0; c < logits.size(1); c++) {
      auto g = torch::autograd::grad({logits[i][c]}, ps, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
      std::vector<at::Tensor> flat;
      for (size_t k = 0; k < ps.size(); k++) {
        const bool keyBias = m->params[k].name.find("attention.self.key.bias") != std::string::npos;
        flat.push_back(g[k].defined() && !keyBias ? g[k].reshape({-1}) : at::zeros({ps[k].numel()}, ps[k].options()));
      }
      rows.push_back(at::cat(flat).detach());
    }
  return at::stack(rows);
}

// The kernel distance of every formula (the optimizer's analog, paper Table 7) against the Gram matrices of
// the autograd gradient rows at θ0 and θ1: SGD G·Gᵀ, SignGD sign(G)·sign(G)ᵀ, asymmetric sign(G)·Gᵀ.
void CheckKernelDistanceFormulas(const Model& m0, const FinetuneData& data, const std::vector<int64_t>& labelIds) {
  FinetuneOptions o;
  o.output.mode = OutputMode::Prompt;
  o.output.labelWordIds = labelIds;
  o.optimizer.kind = OptimizerKind::AdamW;
  o.lr = 1e-2;
  o.steps = 2;
  FinetuneResult r = finetune(m0, data, o, Progress{});
  const at::Tensor g0 = GradientRows(m0, data.train, o.output), g1 = GradientRows(*r.model, data.train, o.output);
  auto rel = [](const at::Tensor& k1, const at::Tensor& k0) { return (k1 - k0).norm().item<double>() / k0.norm().item<double>(); };
  const double want[3] = {rel(g1.matmul(g1.t()), g0.matmul(g0.t())), rel(g1.sign().matmul(g1.sign().t()), g0.sign().matmul(g0.sign().t())),
                          rel(g1.sign().matmul(g1.t()), g0.sign().matmul(g0.t()))};
  const char* names[3] = {"sgd", "signgd", "asymmetric_signgd"};
  for (int f = 0; f < 3; f++) {
    KernelDistance d = kernelDistance(m0, *r.model, data.train, {}, o.output, 3, Progress{}, names[f]);
    const double e = std::abs(d.trainTrain - want[f]) / want[f];
    LMK_CHECK(e <= 1e-9, "kernel distance %s: %.17g, autograd reference %.17g (rel err %.3g)", names[f], d.trainTrain, want[f], e);
    std::printf("kernel distance %-18s %.6f (autograd reference: rel err %.2e)\n", names[f], d.trainTrain, e);
  }
  bool refused = false;
  try {
    kernelDistance(m0, *r.model, data.train, {}, o.output, 3, Progress{}, "lstsq");
  } catch (const std::runtime_error& e) {
    refused = std::string(e.what()).find("kernelDistanceFormula") != std::string::npos;
  }
  LMK_CHECK(refused, "an unknown kernel distance formula is refused, naming the option");
}

// One step of each optimizer on hand-computed values: torch.optim.SGD without momentum, d = g + wd·p,
// p -= lr·d; SignGD the same with sign(g) (sign(0) = 0); no decay where the mask says so.
void CheckOptimizerSteps() {
  auto f64 = at::TensorOptions().dtype(at::kDouble);
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::SignGd}) {
    const bool sign = kind == OptimizerKind::SignGd;
    at::Tensor p = at::tensor({1.0, -2.0, 3.0}, f64), q = p.clone();
    at::Tensor g = at::tensor({0.5, -3.0, 0.0}, f64);
    OptimizerOptions oo;
    oo.kind = kind;
    oo.weightDecay = 0.1;
    Optimizer opt(oo, {p, q}, {true, false});
    opt.step({g, g}, 0.1);
    // sgd: d = (0.5 + 0.1, -3 - 0.2, 0 + 0.3) = (0.6, -3.2, 0.3); signgd: (1.1, -1.2, 0.3); no decay: g or sign(g)
    at::Tensor wantP = sign ? at::tensor({1 - 0.11, -2 + 0.12, 3 - 0.03}, f64) : at::tensor({1 - 0.06, -2 + 0.32, 3 - 0.03}, f64);
    at::Tensor wantQ = sign ? at::tensor({1 - 0.1, -2 + 0.1, 3.0}, f64) : at::tensor({1 - 0.05, -2 + 0.3, 3.0}, f64);
    LMK_CHECK(MaxRelErr(p, wantP) <= 1e-15 && MaxRelErr(q, wantQ) <= 1e-15, "%s step with weight decay 0.1: p rel err %.3g, q %.3g",
              sign ? "signgd" : "sgd", MaxRelErr(p, wantP), MaxRelErr(q, wantQ));
  }
}

// The key biases (softmax ignores a shift of the scores: their gradient is 0, autograd returns rounding
// noise) get exactly zero gradients; decay for all but biases and LayerNorm weights (the head's included).
void CheckTrainableParams(const test::FixtureFiles& files) {
  auto m = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
  std::vector<bool> isKeyBias(m->params.size(), false);
  for (const auto& l : m->layers) isKeyBias.at(static_cast<size_t>(l.k.pb)) = true;
  TrainableParams tp(*m, std::vector<bool>(m->params.size(), true));
  std::vector<at::Tensor> grads;
  for (const auto& t : tp.tensors()) grads.push_back(at::ones_like(t));
  grads.back() = at::Tensor();  // an undefined gradient (a parameter autograd did not reach) becomes zeros
  tp.fixGradients(grads);
  int keyBiases = 0;
  for (size_t i = 0; i < grads.size(); i++) {
    const std::string& name = m->params[i].name;
    const bool zero = isKeyBias[i] || i + 1 == grads.size();
    keyBiases += isKeyBias[i];
    LMK_CHECK(grads[i].defined() && grads[i].sizes().equals(tp.tensors()[i].sizes()), "%s: gradient shape", name.c_str());
    LMK_CHECK(grads[i].abs().sum().item<double>() == (zero ? 0.0 : static_cast<double>(grads[i].numel())), "%s: gradient %s expected",
              name.c_str(), zero ? "zero" : "kept");
    // every LayerNorm weight is exempt, RoBERTa's head `lm_head.layer_norm` too (optimizers.h)
    const bool decay = name.find("bias") == std::string::npos && name.find("LayerNorm.weight") == std::string::npos &&
                       name.find("layer_norm.weight") == std::string::npos;
    LMK_CHECK(tp.decay()[i] == decay, "%s: weight decay %d expected", name.c_str(), decay);
  }
  LMK_CHECK(keyBiases == static_cast<int>(m->layers.size()) && keyBiases == 2, "%d key biases for %zu layers", keyBiases, m->layers.size());
  tp.freeze();
}

}  // namespace

int main(int argc, char** argv) {
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  const json::Value& A = fx.arch("roberta");
  const test::FixtureFiles files = fx.files("roberta");
  auto model = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
  const json::Value& P = *A.find("inputs")->find("prompt");
  FinetuneData data;
  data.train = Examples(*P.find("train"));
  data.test = Examples(*P.find("test"));
  for (auto& v : P.find("train_labels")->arr) data.trainLabels.push_back(v.integer);
  const std::vector<int64_t>& labelIds = files.labelIds;
  CheckOptimizerSteps();
  CheckTrainableParams(files);
  const json::Value& ft = *A.find("cases")->arr[0].find("fine_tuning");
  at::Tensor before = model->layers[0].q.w.clone();

  struct Case {
    const char* key;
    OptimizerKind kind;
    double lr;
  };
  for (const Case& c : {Case{"sgd_lr1e-2", OptimizerKind::Sgd, 1e-2}, Case{"adam_lr1e-3", OptimizerKind::AdamW, 1e-3},
                        Case{"signgd_lr1e-3", OptimizerKind::SignGd, 1e-3}}) {
    const json::Value& want = *ft.find(c.key);
    FinetuneOptions o;
    o.output.mode = OutputMode::Prompt;
    o.output.labelWordIds = labelIds;
    o.optimizer.kind = c.kind;
    o.lr = c.lr;
    o.steps = 1;
    o.maxGradNorm = ft.find("max_grad_norm")->num;
    o.linearize = true;
    o.kernelDistance = want.find("train_sgd_kernel_relative_distance") != nullptr;
    FinetuneResult r = finetune(*model, data, o, Progress{});
    LMK_CHECK(r.error.empty() && !r.aborted && r.steps == 1, "%s: training did not complete: %s", c.key, r.error.c_str());
    double eLoss = std::abs(r.trainLoss.at(0) - ft.find("loss")->num) / ft.find("loss")->num;
    double eNorm = std::abs(r.gradNorm - ft.find("grad_norm")->num) / ft.find("grad_norm")->num;
    double eCoef = std::abs(r.clipCoef - ft.find("clip_coef")->num) / ft.find("clip_coef")->num;
    LMK_CHECK(eLoss <= 1e-12 && eNorm <= 1e-10 && eCoef <= 1e-10, "%s loss/grad_norm/clip_coef rel err %.3g %.3g %.3g", c.key, eLoss, eNorm,
              eCoef);
    double e1 = MaxRelErr(r.testLogits, ToTensor(*want.find("test_logits")));
    double e2 = MaxRelErr(r.linearizedTestLogits, ToTensor(*want.find("linearized_test_logits")));
    LMK_CHECK(e1 <= 1e-9, "%s test_logits rel err %.3g", c.key, e1);
    LMK_CHECK(e2 <= 1e-9, "%s linearized_test_logits rel err %.3g", c.key, e2);
    std::printf("%-14s loss %.2e grad_norm %.2e clip %.2e test_logits %.2e linearized %.2e", c.key, eLoss, eNorm, eCoef, e1, e2);
    if (o.kernelDistance) {
      double w = want.find("train_sgd_kernel_relative_distance")->num;
      double e3 = std::abs(r.trainTrainKernelDistance - w) / w;
      LMK_CHECK(e3 <= 1e-9, "%s kernel distance %.17g want %.17g (rel err %.3g)", c.key, r.trainTrainKernelDistance, w, e3);
      std::printf(" kernel_distance %.2e", e3);
    }
    std::printf("\n");
  }
  LMK_CHECK(at::equal(before, model->layers[0].q.w), "fine-tuning changed the original model");
  LMK_CHECK(!model->layers[0].q.w.requires_grad(), "the original model's tensors must not require grad");

  // several steps of Adam reduce the training loss; a zero tangent linearizes to f(θ0)
  {
    FinetuneOptions o;
    o.output.mode = OutputMode::Prompt;
    o.output.labelWordIds = labelIds;
    o.optimizer.kind = OptimizerKind::AdamW;
    o.lr = 1e-3;
    o.steps = 5;
    FinetuneResult r = finetune(*model, data, o, Progress{});
    LMK_CHECK(r.trainLoss.size() == 5 && r.trainLoss.back() < r.trainLoss.front(), "5 Adam steps did not reduce the loss (%g -> %g)",
              r.trainLoss.front(), r.trainLoss.back());
    LinearizedOutputs lin =
        linearizedOutputs(*model, *model, std::vector<bool>(model->params.size(), true), data.test, o.output, 3, Progress{});
    LMK_CHECK(lin.jvp.abs().max().item<double>() == 0, "zero tangent gives a non-zero JVP");
  }
  CheckDropout(*model, data, labelIds);
  CheckKernelDistanceFormulas(*model, data, labelIds);
  return test::Finish("test_finetune");
}
