#include "core/finetune.h"

#include <c10/core/GradMode.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "core/linearize.h"

namespace lmk {

std::vector<bool> trainableMask(const Model& m, const std::string& subset, const std::vector<std::string>& names) {
  std::vector<bool> w(m.params.size(), false);
  if (!names.empty()) {
    for (const auto& n : names) {
      auto it = std::find_if(m.params.begin(), m.params.end(), [&](const ParamInfo& p) { return p.name == n; });
      if (it == m.params.end()) throw std::runtime_error("trainable: the model has no parameter named '" + n + "'");
      w[it - m.params.begin()] = true;
    }
    return w;
  }
  if (subset == "lora") {
    if (!m.hasLora()) throw std::runtime_error("trainable 'lora' needs LoRA matrices: apply LoRA to the model first");
    const std::string pre = std::string(m.cfg.prefix()) + ".";
    if (m.cfg.isDecoder()) {  // decoders: the LoRA matrices and the score head (the LM head is frozen)
      for (size_t i = 0; i < w.size(); i++)
        w[i] = m.params[i].name.find("lora_") != std::string::npos || static_cast<int>(i) == m.pClsW || static_cast<int>(i) == m.pClsB;
      return w;
    }
    for (size_t i = 0; i < w.size(); i++) {
      const std::string& n = m.params[i].name;
      w[i] = n.rfind(pre, 0) != 0 || n.find("lora_") != std::string::npos;
    }
    return w;
  }
  return subsetMask(m, parseSubset(subset));
}

DevMetric parseDevMetric(const std::string& s) {
  if (s == "accuracy" || s == "acc") return DevMetric::Accuracy;
  if (s == "f1") return DevMetric::F1;
  if (s == "mcc") return DevMetric::Mcc;
  if (s == "loss") return DevMetric::Loss;
  throw std::runtime_error("metric '" + s + "' is not one of accuracy, f1, mcc, loss");
}

double crossEntropy(const at::Tensor& logits, const std::vector<int64_t>& labels) {
  at::Tensor y = at::tensor(labels, at::kLong).to(logits.device());
  return -at::log_softmax(logits.to(at::kDouble), 1).gather(1, y.view({-1, 1})).mean().item<double>();
}

double devMetricValue(DevMetric metric, const at::Tensor& logits, const std::vector<int64_t>& labels) {
  if (metric == DevMetric::Loss) return crossEntropy(logits, labels);
  at::Tensor pred = logits.argmax(1).to(at::kCPU).contiguous();
  const int64_t* p = pred.data_ptr<int64_t>();
  const size_t n = labels.size();
  double tp = 0, tn = 0, fp = 0, fn = 0, correct = 0;
  for (size_t i = 0; i < n; i++) {
    correct += p[i] == labels[i];
    bool pp = p[i] == 1, yy = labels[i] == 1;
    tp += pp && yy;
    tn += !pp && !yy;
    fp += pp && !yy;
    fn += !pp && yy;
  }
  if (metric == DevMetric::Accuracy) return n ? correct / static_cast<double>(n) : 0.0;
  if (metric == DevMetric::F1) return tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);  // sklearn: 0 when undefined
  double den = std::sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  return den == 0 ? 0.0 : (tp * tn - fp * fn) / den;
}

// ------------------------------------------------------------------------------------------------
namespace {

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << v;
  return s.str();
}

int64_t NumLogits(const Model& m, const OutputSpec& out) {
  if (out.mode == OutputMode::Prompt) return static_cast<int64_t>(out.labelWordIds.size());
  return m.clsW.defined() ? m.clsW.size(0) : 0;
}

void CheckLabels(const std::vector<int64_t>& labels, size_t n, int64_t C, const char* option, const char* set) {
  if (labels.size() != n)
    throw std::runtime_error("option '" + std::string(option) + "': " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                             " " + set + " examples");
  for (size_t i = 0; i < labels.size(); i++)
    if (labels[i] < 0 || labels[i] >= C)
      throw std::runtime_error("option '" + std::string(option) + "'[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                               " is not a label index in [0, " + std::to_string(C) + ")");
}

void Validate(const Model& m, const FinetuneData& d, const FinetuneOptions& o) {
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw std::runtime_error("option 'lr': the learning rate must be a finite number > 0, got " + Num(o.lr));
  if (o.steps < 1) throw std::runtime_error("option 'steps' must be >= 1, got " + std::to_string(o.steps));
  if (o.batchSize < 0)
    throw std::runtime_error("option 'batchSize' must be >= 1 (or 0 for the full batch), got " + std::to_string(o.batchSize));
  if (std::isnan(o.maxGradNorm)) throw std::runtime_error("option 'maxGradNorm' must be a number (<= 0 disables clipping)");
  if (!(o.optimizer.weightDecay >= 0) || !std::isfinite(o.optimizer.weightDecay))
    throw std::runtime_error("option 'weightDecay' must be a finite number >= 0, got " + Num(o.optimizer.weightDecay));
  if (o.evalEvery < 0) throw std::runtime_error("option 'evalEvery' must be >= 0, got " + std::to_string(o.evalEvery));
  if (d.train.empty()) throw std::runtime_error("option 'train': the training set is empty");
  const bool prompt = o.output.mode == OutputMode::Prompt;
  if (prompt) {
    if (o.output.labelWordIds.empty()) throw std::runtime_error("option 'labelWordIds': prompt mode needs one label word id per label");
    for (size_t i = 0; i < o.output.labelWordIds.size(); i++)
      if (o.output.labelWordIds[i] < 0 || o.output.labelWordIds[i] >= m.cfg.vocabSize)
        throw std::runtime_error("option 'labelWordIds'[" + std::to_string(i) + "] = " + std::to_string(o.output.labelWordIds[i]) +
                                 " is outside the vocabulary [0, " + std::to_string(m.cfg.vocabSize) + ")");
  } else if (!m.clsW.defined()) {
    throw std::runtime_error("the standard setting needs a 'classifier' head: the checkpoint has no classifier.weight (supply one)");
  }
  const int64_t C = NumLogits(m, o.output);
  validateExamples(m, d.train, prompt, "train");
  validateExamples(m, d.dev, prompt, "dev");
  validateExamples(m, d.test, prompt, "test");
  CheckLabels(d.trainLabels, d.train.size(), C, "trainLabels", "training");
  if (o.evalEvery > 0 && d.dev.empty()) throw std::runtime_error("option 'dev': evalEvery is set but the dev set is empty");
  if (!d.dev.empty()) CheckLabels(d.devLabels, d.dev.size(), C, "devLabels", "dev");
  if ((o.metric == DevMetric::F1 || o.metric == DevMetric::Mcc) && C != 2)
    throw std::runtime_error("option 'metric': f1 and mcc need 2 labels, the output has " + std::to_string(C));
  if (o.linearize && d.test.empty()) throw std::runtime_error("option 'linearize' needs a test set ('test')");
  if (o.evalBatchSize < 1 || o.kernelBatchSize < 1) throw std::runtime_error("evaluation batch sizes must be >= 1");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw std::runtime_error("option 'dropout' must be in [0, 1), got " + Num(o.dropout));
  const auto& f = o.kernelDistanceFormula;
  if (f != "sgd" && f != "signgd" && f != "asymmetric_signgd")
    throw std::runtime_error("option 'kernelDistanceFormula': '" + f + "' is not one of sgd, signgd, asymmetric_signgd");
}

std::vector<at::Tensor> Snapshot(const std::vector<at::Tensor>& ps) {
  std::vector<at::Tensor> s;
  for (auto& p : ps) s.push_back(p.detach().clone());
  return s;
}
void Restore(std::vector<at::Tensor>& ps, const std::vector<at::Tensor>& s) {
  c10::NoGradGuard ng;
  for (size_t i = 0; i < ps.size(); i++) ps[i].copy_(s[i]);
}

// The batches of fine-tuning: the whole set in order every step, or a seeded shuffle per epoch (the last
// batch of an epoch may be short).
class BatchSampler {
 public:
  BatchSampler(const FinetuneData& data, int64_t batchSize, uint64_t seed)
      : data_(data),
        n_(static_cast<int64_t>(data.train.size())),
        full_(batchSize == 0 || batchSize >= n_),
        b_(full_ ? n_ : batchSize),
        gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  void next(std::vector<Example>& xs, std::vector<int64_t>& ys) {
    if (full_) {
      xs = data_.train;
      ys = data_.trainLabels;
      return;
    }
    for (int64_t k = 0; k < b_; k++) {
      if (cursor_ >= order_.size()) {
        if (k > 0) break;
        at::Tensor perm = at::randperm(n_, gen_, at::TensorOptions().dtype(at::kLong));
        order_.assign(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + n_);
        cursor_ = 0;
      }
      xs.push_back(data_.train[order_[cursor_]]);
      ys.push_back(data_.trainLabels[order_[cursor_]]);
      cursor_++;
    }
  }

 private:
  const FinetuneData& data_;
  const int64_t n_;
  const bool full_;
  const int64_t b_;
  at::Generator gen_;
  std::vector<int64_t> order_;
  size_t cursor_ = 0;
};

// One fine-tuning run on a copy of m0: the steps, dev evaluation with the best state kept, and the
// measurements of kernel behaviour afterwards.
class FinetuneRun {
 public:
  FinetuneRun(const Model& m0, const FinetuneData& data, const FinetuneOptions& opts, const Progress& progress)
      : m0_(m0),
        data_(data),
        opts_(opts),
        progress_(progress),
        sampler_(data, opts.batchSize, opts.seed),
        dropoutGen_(at::make_generator<at::CPUGeneratorImpl>(opts.seed ^ 0xD0D0D0D0ull)),
        best_(opts.metric == DevMetric::Loss ? INFINITY : -INFINITY) {
    res_.model = cloneModel(m0);
    res_.trained = trainableMask(*res_.model, opts.trainable, opts.trainableNames);
    spec_ = opts.output;
    spec_.binary = false;
    labelIds_ = spec_.mode == OutputMode::Prompt ? labelIdTensor(*res_.model, spec_) : at::Tensor();
    trained_.reset(new TrainableParams(*res_.model, res_.trained));
    if (trained_->tensors().empty()) throw std::runtime_error("option 'trainable': no parameter is selected for training");
    opt_.reset(new Optimizer(opts.optimizer, trained_->tensors(), trained_->decay()));
  }
  FinetuneResult run();

 private:
  bool step(int64_t step);
  void evaluate(int64_t step);
  void stop(int64_t step, const std::string& what, int64_t back, const std::string& note);
  void finish(int64_t stateStep);
  void measure();

  const Model& m0_;
  const FinetuneData& data_;
  const FinetuneOptions& opts_;
  const Progress& progress_;
  BatchSampler sampler_;
  at::Generator dropoutGen_;  // the dropout masks of the training steps (seeded: deterministic runs)
  FinetuneResult res_;
  OutputSpec spec_;
  at::Tensor labelIds_;
  std::unique_ptr<TrainableParams> trained_;
  std::unique_ptr<Optimizer> opt_;
  std::vector<at::Tensor> bestState_, lastGood_;
  bool haveBest_ = false;
  double best_;  // the best dev metric so far (±inf before any)
};

// The returned state: the best on dev if any evaluation gave a finite metric, else the state after `stateStep`.
void FinetuneRun::finish(int64_t stateStep) {
  if (haveBest_) Restore(trained_->tensors(), bestState_);
  else res_.bestStep = stateStep;
  trained_->freeze();
  Model& m = *res_.model;
  if (m.tied) m.decoderW = m.wordEmb;
}

// Training diverged at `step`: stops, keeping the state after step `back`.
void FinetuneRun::stop(int64_t step, const std::string& what, int64_t back, const std::string& note) {
  res_.errorStep = step;
  res_.error = "training diverged at step " + std::to_string(step) + ": " + what + "; stopped, keeping the state after step " +
               std::to_string(back) + note;
  res_.steps = step - 1;
  finish(back);
}

// One update; false when training stopped on a non-finite loss or gradient norm.
bool FinetuneRun::step(int64_t step) {
  Model& m = *res_.model;
  std::vector<Example> xs;
  std::vector<int64_t> ys;
  sampler_.next(xs, ys);
  Batch b = makeBatch(m, xs, 0, xs.size(), m.device());
  at::Tensor logits;
  {
    DropoutScope train(opts_.dropout, dropoutGen_);  // training mode for this forward pass only
    logits = forwardOutputs(m, b, spec_.mode, labelIds_, nullptr).logits;
  }
  at::Tensor y = at::tensor(ys, at::kLong).to(m.device());
  at::Tensor loss = -at::log_softmax(logits, 1).gather(1, y.view({-1, 1})).mean();
  const double lossVal = loss.item<double>();
  if (!std::isfinite(lossVal)) {
    if (step > 1) Restore(trained_->tensors(), lastGood_);  // the state before the previous update
    stop(step, "the training loss is " + Num(lossVal), step > 1 ? step - 2 : 0, " (the last with a finite loss)");
    return false;
  }
  res_.trainLoss.push_back(lossVal);
  auto grads = torch::autograd::grad({loss}, trained_->tensors(), {}, false, false, /*allow_unused=*/true);
  trained_->fixGradients(grads);
  double sq = 0;
  for (const auto& g : grads) sq += g.to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (!std::isfinite(norm)) {
    stop(step, "the gradient norm is " + Num(norm), step - 1, "");
    return false;
  }
  // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied when below 1
  double coef = 1.0;
  if (opts_.maxGradNorm > 0) coef = std::min(1.0, opts_.maxGradNorm / (norm + 1e-6));
  if (step == 1) {
    res_.gradNorm = norm;
    res_.clipCoef = coef;
  }
  if (coef < 1.0)
    for (auto& g : grads) g.mul_(coef);
  if (lastGood_.empty()) lastGood_ = Snapshot(trained_->tensors());
  else Restore(lastGood_, trained_->tensors());  // lastGood := the current state (finite loss)
  // linear decay to 0 without warm-up (get_linear_schedule_with_warmup, warmup 0): lr·(T − t)/T
  const double lrStep = opts_.lr * static_cast<double>(opts_.steps - (step - 1)) / static_cast<double>(opts_.steps);
  opt_->step(grads, lrStep);
  res_.steps = step;
  progress_("train", step, opts_.steps);
  return true;
}

void FinetuneRun::evaluate(int64_t step) {
  const bool lowerBetter = opts_.metric == DevMetric::Loss;
  at::Tensor dl = outputs(*res_.model, data_.dev, spec_, opts_.evalBatchSize);
  DevPoint p{step, devMetricValue(opts_.metric, dl, data_.devLabels), crossEntropy(dl, data_.devLabels)};
  res_.devHistory.push_back(p);
  if (lowerBetter ? p.metric < best_ : p.metric > best_) {
    best_ = p.metric;
    if (bestState_.empty()) bestState_ = Snapshot(trained_->tensors());
    else Restore(bestState_, trained_->tensors());
    haveBest_ = true;
    res_.bestStep = step;
  }
  progress_("dev", step, opts_.steps);
}

// Measurements of kernel behaviour, against the initial model m0.
void FinetuneRun::measure() {
  const Model& m = *res_.model;
  try {
    if (!data_.test.empty()) res_.testLogits = outputs(m, data_.test, spec_, opts_.evalBatchSize);
    if (opts_.linearize)
      res_.linearizedTestLogits = linearizedOutputs(m0_, m, res_.trained, data_.test, spec_, opts_.evalBatchSize, progress_).lin;
    if (opts_.kernelDistance) {
      KernelDistance d =
          kernelDistance(m0_, m, data_.train, data_.test, spec_, opts_.kernelBatchSize, progress_, opts_.kernelDistanceFormula);
      res_.trainTrainKernelDistance = d.trainTrain;
      res_.trainTestKernelDistance = d.trainTest;
    }
  } catch (const Cancelled&) {
    res_.aborted = true;
  }
}

// The reference's loop evaluated once per epoch and could take one extra step (REFERENCE.md §9.2 item 7:
// `global_step > max_steps`); here exactly `steps` updates are taken and dev is evaluated every
// `evalEvery` steps (LM-BFF's protocol) and after the last step.
FinetuneResult FinetuneRun::run() {
  const bool evaluateDev = !data_.dev.empty();
  try {
    for (int64_t s = 1; s <= opts_.steps; s++) {
      progress_.check();
      if (!step(s)) return std::move(res_);
      if (evaluateDev && ((opts_.evalEvery > 0 && s % opts_.evalEvery == 0) || s == opts_.steps)) evaluate(s);
    }
  } catch (const Cancelled&) {
    res_.aborted = true;
    finish(res_.steps);
    return std::move(res_);
  }
  finish(opts_.steps);
  measure();
  return std::move(res_);
}

}  // namespace

FinetuneResult finetune(const Model& m0, const FinetuneData& data, const FinetuneOptions& opts, const Progress& progress) {
  Validate(m0, data, opts);
  return FinetuneRun(m0, data, opts, progress).run();
}

}  // namespace lmk
