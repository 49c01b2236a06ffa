#include <c10/core/GradMode.h>
#include "core/finetune.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/linearize.h"

namespace lmk {

// ------------------------------------------------------------------------------------------------
namespace {
template <typename M, typename T>
std::vector<T*> Refs(M& m) {
  std::vector<T*> r(m.params.size(), nullptr);
  auto put = [&](int idx, T& t) {
    if (idx >= 0) r.at(static_cast<size_t>(idx)) = &t;
  };
  auto lin = [&](auto& l) {
    put(l.pw, l.w);
    put(l.pb, l.b);
    put(l.pA, l.loraA);
    put(l.pB, l.loraB);
  };
  auto norm = [&](auto& n) {
    put(n.pw, n.w);
    put(n.pb, n.b);
  };
  put(m.pWord, m.wordEmb);
  put(m.pPos, m.posEmb);
  put(m.pType, m.typeEmb);
  norm(m.embLn);
  for (auto& l : m.layers) {
    lin(l.q);
    lin(l.k);
    lin(l.v);
    lin(l.o);
    norm(l.ln1);
    lin(l.inter);
    lin(l.out);
    norm(l.ln2);
  }
  lin(m.headDense);
  norm(m.headLn);
  put(m.pDecoderW, m.decoderW);  // -1 when tied: the word embeddings are the one parameter
  put(m.pDecoderBias, m.decoderBias);
  put(m.pClsW, m.clsW);
  put(m.pClsB, m.clsB);
  for (size_t i = 0; i < r.size(); i++)
    if (!r[i]) throw std::logic_error("parameter '" + m.params[i].name + "' has no tensor in the model");
  return r;
}
}  // namespace

std::vector<at::Tensor*> parameterRefs(Model& m) { return Refs<Model, at::Tensor>(m); }
std::vector<const at::Tensor*> parameterRefs(const Model& m) { return Refs<const Model, const at::Tensor>(m); }

std::shared_ptr<Model> cloneModel(const Model& m) {
  auto c = std::make_shared<Model>(m);
  for (at::Tensor* t : parameterRefs(*c)) *t = t->detach().clone();
  if (c->tied) c->decoderW = c->wordEmb;
  return c;
}

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
    throw std::runtime_error("option '" + std::string(option) + "': " + std::to_string(labels.size()) + " labels for " +
                             std::to_string(n) + " " + set + " examples");
  for (size_t i = 0; i < labels.size(); i++)
    if (labels[i] < 0 || labels[i] >= C)
      throw std::runtime_error("option '" + std::string(option) + "'[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                               " is not a label index in [0, " + std::to_string(C) + ")");
}

void Validate(const Model& m, const FinetuneData& d, const FinetuneOptions& o) {
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw std::runtime_error("option 'lr': the learning rate must be a finite number > 0, got " + Num(o.lr));
  if (o.steps < 1) throw std::runtime_error("option 'steps' must be >= 1, got " + std::to_string(o.steps));
  if (o.batchSize < 0) throw std::runtime_error("option 'batchSize' must be >= 1 (or 0 for the full batch), got " + std::to_string(o.batchSize));
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
}

bool NoDecay(const std::string& name) {
  // the reference's groups: "bias" and "LayerNorm.weight"; RoBERTa's head LayerNorm is spelled
  // `lm_head.layer_norm`, which the reference decays by accident: every LayerNorm weight is exempt here
  return name.find("bias") != std::string::npos || name.find("LayerNorm.weight") != std::string::npos ||
         name.find("layer_norm.weight") != std::string::npos;
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

}  // namespace

FinetuneResult finetune(const Model& m0, const FinetuneData& data, const FinetuneOptions& opts, const Progress& progress) {
  Validate(m0, data, opts);
  FinetuneResult res;
  res.model = cloneModel(m0);
  Model& m = *res.model;
  res.trained = trainableMask(m, opts.trainable, opts.trainableNames);

  const bool prompt = opts.output.mode == OutputMode::Prompt;
  OutputSpec spec = opts.output;
  spec.binary = false;
  at::Tensor labelIds = prompt ? at::tensor(spec.labelWordIds, at::kLong).to(m.device()) : at::Tensor();

  // the trained tensors: requires_grad in place (the tied decoder aliases the word embeddings' tensor)
  auto refs = parameterRefs(m);
  std::vector<at::Tensor> params;
  std::vector<bool> decay, zeroGrad;
  std::set<int> keyBias;
  for (auto& l : m.layers) keyBias.insert(l.k.pb);
  for (size_t i = 0; i < refs.size(); i++) {
    if (!res.trained[i]) continue;
    refs[i]->requires_grad_(true);
    params.push_back(*refs[i]);
    decay.push_back(!NoDecay(m.params[i].name));
    // the attention key bias shifts all scores of a query equally: its gradient is exactly 0 and autograd
    // returns rounding noise there, whose sign SignGD (and Adam's g/|g|) would amplify. It is taken as 0,
    // as the fixtures count it.
    zeroGrad.push_back(keyBias.count(static_cast<int>(i)) > 0);
  }
  if (params.empty()) throw std::runtime_error("option 'trainable': no parameter is selected for training");
  Optimizer opt(opts.optimizer, params, decay);

  const int64_t N = static_cast<int64_t>(data.train.size());
  const bool fullBatch = opts.batchSize == 0 || opts.batchSize >= N;
  const int64_t B = fullBatch ? N : opts.batchSize;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opts.seed);
  std::vector<int64_t> order;
  size_t cursor = 0;

  const bool evaluate = !data.dev.empty();
  const bool lowerBetter = opts.metric == DevMetric::Loss;
  double best = lowerBetter ? INFINITY : -INFINITY;
  std::vector<at::Tensor> bestState, lastGood;
  bool haveBest = false;
  int64_t lastGoodStep = 0;

  auto finish = [&](int64_t stateStep) {
    // the returned state: the best on dev if any evaluation gave a finite metric, else `stateStep`
    if (haveBest) {
      Restore(params, bestState);
    } else {
      res.bestStep = stateStep;
    }
    for (at::Tensor* t : refs) t->requires_grad_(false);
    if (m.tied) m.decoderW = m.wordEmb;
  };

  // The reference's loop evaluated once per epoch and could take one extra step (REFERENCE.md §9.2 item
  // 7: `global_step > max_steps`); here exactly `steps` updates are taken and dev is evaluated every
  // `evalEvery` steps (LM-BFF's protocol) and after the last step.
  int64_t step = 0;
  try {
    for (step = 1; step <= opts.steps; step++) {
      progress.check();
      // the batch: the whole set in order, or a seeded shuffle per epoch (the last batch may be short)
      std::vector<Example> xs;
      std::vector<int64_t> ys;
      if (fullBatch) {
        xs = data.train;
        ys = data.trainLabels;
      } else {
        for (int64_t k = 0; k < B; k++) {
          if (cursor >= order.size()) {
            if (k > 0) break;
            at::Tensor perm = at::randperm(N, gen, at::TensorOptions().dtype(at::kLong));
            order.assign(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + N);
            cursor = 0;
          }
          xs.push_back(data.train[order[cursor]]);
          ys.push_back(data.trainLabels[order[cursor]]);
          cursor++;
        }
      }
      Batch b = makeBatch(m, xs, 0, xs.size(), m.device());
      at::Tensor logits = logitsFromFeatures(m, featuresForward(m, encoderForward(m, b, nullptr), b, spec.mode, nullptr), spec.mode, labelIds);
      at::Tensor y = at::tensor(ys, at::kLong).to(m.device());
      at::Tensor loss = -at::log_softmax(logits, 1).gather(1, y.view({-1, 1})).mean();
      const double lossVal = loss.item<double>();
      if (!std::isfinite(lossVal)) {
        res.errorStep = step;
        if (step > 1) Restore(params, lastGood);  // the state before the previous update
        int64_t back = step > 1 ? step - 2 : 0;
        res.error = "training diverged at step " + std::to_string(step) + ": the training loss is " + Num(lossVal) +
                    "; stopped, keeping the state after step " + std::to_string(back) + " (the last with a finite loss)";
        res.steps = step - 1;
        finish(back);
        return res;
      }
      res.trainLoss.push_back(lossVal);
      auto grads = torch::autograd::grad({loss}, params, {}, false, false, /*allow_unused=*/true);
      double sq = 0;
      for (size_t i = 0; i < grads.size(); i++) {
        if (!grads[i].defined() || zeroGrad[i]) grads[i] = at::zeros_like(params[i]);
        sq += grads[i].to(at::kDouble).pow(2).sum().item<double>();
      }
      const double norm = std::sqrt(sq);
      if (!std::isfinite(norm)) {
        res.errorStep = step;
        res.error = "training diverged at step " + std::to_string(step) + ": the gradient norm is " + Num(norm) +
                    "; stopped, keeping the state after step " + std::to_string(step - 1);
        res.steps = step - 1;
        finish(step - 1);
        return res;
      }
      // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied when below 1
      double coef = 1.0;
      if (opts.maxGradNorm > 0) coef = std::min(1.0, opts.maxGradNorm / (norm + 1e-6));
      if (step == 1) {
        res.gradNorm = norm;
        res.clipCoef = coef;
      }
      if (coef < 1.0)
        for (auto& g : grads) g.mul_(coef);
      if (lastGood.empty()) lastGood = Snapshot(params);
      else Restore(lastGood, params);  // lastGood := the current state (finite loss)
      lastGoodStep = step - 1;
      // linear decay to 0 without warm-up (get_linear_schedule_with_warmup, warmup 0): lr·(T − t)/T
      const double lrStep = opts.lr * static_cast<double>(opts.steps - (step - 1)) / static_cast<double>(opts.steps);
      opt.step(grads, lrStep);
      res.steps = step;
      progress("train", step, opts.steps);

      if (evaluate && ((opts.evalEvery > 0 && step % opts.evalEvery == 0) || step == opts.steps)) {
        at::Tensor dl = outputs(m, data.dev, spec, opts.evalBatchSize);
        DevPoint p{step, devMetricValue(opts.metric, dl, data.devLabels), crossEntropy(dl, data.devLabels)};
        res.devHistory.push_back(p);
        if (lowerBetter ? p.metric < best : p.metric > best) {
          best = p.metric;
          if (bestState.empty()) bestState = Snapshot(params);
          else Restore(bestState, params);
          haveBest = true;
          res.bestStep = step;
        }
        progress("dev", step, opts.steps);
      }
    }
  } catch (const Cancelled&) {
    res.aborted = true;
    finish(res.steps);
    return res;
  }
  (void)lastGoodStep;
  finish(opts.steps);

  // measurements of kernel behaviour, against the initial model m0
  try {
    if (!data.test.empty()) res.testLogits = outputs(m, data.test, spec, opts.evalBatchSize);
    if (opts.linearize)
      res.linearizedTestLogits = linearizedOutputs(m0, m, res.trained, data.test, spec, opts.evalBatchSize, progress).lin;
    if (opts.kernelDistance) {
      KernelDistance d = kernelDistance(m0, m, data.train, data.test, spec, opts.kernelBatchSize, progress);
      res.trainTrainKernelDistance = d.trainTrain;
      res.trainTestKernelDistance = d.trainTest;
    }
  } catch (const Cancelled&) {
    res.aborted = true;
  }
  return res;
}

}  // namespace lmk
