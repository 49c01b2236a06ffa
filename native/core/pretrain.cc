#include "core/pretrain.h"

#include <c10/core/GradMode.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <sys/stat.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/forward.h"
#include "core/json.h"
#include "core/mlm.h"
#include "core/optimizers.h"
#include "core/safetensors.h"
#include "core/safetensors_write.h"

namespace lmk {

double warmupLinearLr(double lr, int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(std::max<int64_t>(1, warmup));
  return lr * std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

void saveModelSafetensors(const Model& m, const std::string& path) {
  std::vector<at::Tensor> ts = parameterTensors(m);
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < ts.size(); i++) {
    // GPT-2's Conv1D weights are kept as linear layers [out, in] and saved as Conv1D [in, out]
    const std::string& n = m.params[i].name;
    const bool conv1d =
        m.cfg.arch == Arch::Gpt2 && ts[i].dim() == 2 && (n.find(".attn.c_") != std::string::npos || n.find(".mlp.c_") != std::string::npos);
    named.emplace_back(n, conv1d ? ts[i].t().contiguous() : ts[i]);
  }
  writeSafetensors(path, named, {{"format", "pt"}});
}

namespace {

uint64_t Mix(uint64_t a, uint64_t b) {
  // splitmix64 of a combination: independent streams per (seed, step)
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string Num(double v) {
  std::ostringstream s;
  s.precision(8);
  s << v;
  return s.str();
}

// RoBERTa's initialisation: N(0, 0.02) weights, zero biases, LayerNorm (1, 0), zero padding rows; the
// decoders' the same, their norms ln_* (GPT-2), *layernorm and model.norm (Llama) at (1, 0).
void InitWeights(Model& m) {
  c10::NoGradGuard ng;
  auto refs = parameterRefs(m);
  for (size_t i = 0; i < refs.size(); i++) {
    const std::string& n = m.params[i].name;
    const bool norm = n.find("LayerNorm") != std::string::npos || n.find("layer_norm") != std::string::npos ||
                      (m.cfg.isDecoder() && (n.find("norm") != std::string::npos || n.find("ln_") != std::string::npos));
    const bool isWeight = n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0;
    if (norm) refs[i]->fill_(isWeight ? 1.0 : 0.0);
    else if (!isWeight) refs[i]->zero_();
  }
  if (m.cfg.isDecoder()) return;  // causal models never read a padding row
  m.wordEmb[m.cfg.padId].zero_();
  m.posEmb[m.cfg.padId].zero_();
}

// One batch of the objective: masked tokens (RoBERTa) or next tokens (decoders), and its logits.
MlmBatch ObjectiveBatch(const Model& m, const PretrainOptions& o, const std::vector<const std::vector<int64_t>*>& seqs, uint64_t rngSeed,
                        const at::Device& dev) {
  return m.cfg.isDecoder() ? nextTokenBatch(m, seqs, dev) : maskBatch(m, o, seqs, rngSeed, dev);
}
at::Tensor ObjectiveLogits(const Model& m, const MlmBatch& mb) { return m.cfg.isDecoder() ? nextTokenLogits(m, mb) : mlmLogits(m, mb); }

std::string Fingerprint(const PretrainOptions& o, size_t nTrain) {
  const auto& c = o.cfg;
  std::ostringstream s;
  s << "vocab=" << c.vocabSize << " hidden=" << c.hidden << " layers=" << c.layers << " heads=" << c.heads
    << " intermediate=" << c.intermediate << " positions=" << c.maxPositions << " steps=" << o.steps << " batch=" << o.batchSize
    << " warmup=" << o.warmupSteps << " lr=" << Num(o.lr) << " wd=" << Num(o.weightDecay) << " seed=" << o.seed << " mask=" << o.maskId
    << " train_sequences=" << nTrain;
  if (o.dropout > 0) s << " dropout=" << Num(o.dropout);  // absent at 0: checkpoints from before the option still match
  if (c.isDecoder()) s << " arch=" << c.archName() << " kv_heads=" << c.kvHeads << " tied=" << c.tieWordEmbeddings;
  return s.str();
}

std::string JsonArray(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + Num(v[i]);
  return s + "]";
}
std::vector<double> ParseArray(const std::string& text, const std::string& what) {
  json::Value v = json::parse(text.data(), text.size(), what);
  std::vector<double> out;
  if (!v.isArray()) throw std::runtime_error(what + ": not an array");
  for (auto& e : v.arr) out.push_back(e.num);
  return out;
}

void Validate(const PretrainOptions& o, const std::vector<std::vector<int64_t>>& train, const std::vector<std::vector<int64_t>>& heldout) {
  const auto& c = o.cfg;
  auto pos = [](int64_t v, const char* name) {
    if (v < 1) throw std::runtime_error(std::string("option '") + name + "' must be >= 1, got " + std::to_string(v));
  };
  pos(c.vocabSize, "vocabSize");
  pos(c.hidden, "hidden");
  pos(c.layers, "layers");
  pos(c.heads, "heads");
  pos(c.intermediate, "intermediate");
  pos(c.maxPositions, "maxPositions");
  pos(o.steps, "steps");
  pos(o.batchSize, "batchSize");
  pos(o.evalBatchSize, "evalBatchSize");
  if (c.arch != Arch::Roberta && c.arch != Arch::Gpt2 && c.arch != Arch::Llama)
    throw std::runtime_error("pretrain: supported architectures: roberta (masked LM), gpt2 and llama (next-token loss)");
  if (c.isDecoder() && c.heads % c.kvHeads != 0) throw std::runtime_error("option 'kvHeads' must divide 'heads'");
  if (c.hidden % c.heads != 0)
    throw std::runtime_error("option 'heads': hidden " + std::to_string(c.hidden) + " is not divisible by " + std::to_string(c.heads) +
                             " heads");
  if (!c.isDecoder() && (o.maskId < o.numSpecial || o.maskId >= c.vocabSize))
    throw std::runtime_error("option 'maskId' must be a special id in [numSpecial, vocabSize), got " + std::to_string(o.maskId));
  if (c.vocabSize - o.numSpecial < 2) throw std::runtime_error("option 'vocabSize': the vocabulary has no ordinary tokens");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw std::runtime_error("option 'lr' must be a finite number > 0, got " + Num(o.lr));
  if (o.warmupSteps < 0 || o.warmupSteps > o.steps)
    throw std::runtime_error("option 'warmupSteps' must be in [0, steps], got " + std::to_string(o.warmupSteps));
  if (!(o.dropout >= 0 && o.dropout < 1)) throw std::runtime_error("option 'dropout' must be in [0, 1), got " + Num(o.dropout));
  if (!(o.maskProb > 0 && o.maskProb < 1)) throw std::runtime_error("option 'maskProb' must be in (0, 1), got " + Num(o.maskProb));
  if (o.maskReplace < 0 || o.randomReplace < 0 || o.maskReplace + o.randomReplace > 1)
    throw std::runtime_error("options 'maskReplace' + 'randomReplace' must be probabilities summing to at most 1");
  if (o.evalEvery < 0 || o.checkpointEvery < 0) throw std::runtime_error("options 'evalEvery' and 'checkpointEvery' must be >= 0");
  if (o.checkpointEvery > 0 && o.checkpointPath.empty())
    throw std::runtime_error("option 'checkpointEvery' needs 'checkpoint' (a file path)");
  if (train.empty()) throw std::runtime_error("option 'train': no training sequences");
  const int64_t maxLen = c.isDecoder() ? c.maxPositions : c.maxPositions - c.padId - 1;
  auto check = [&](const std::vector<std::vector<int64_t>>& xs, const char* where) {
    for (size_t i = 0; i < xs.size(); i++) {
      if (xs[i].empty() || static_cast<int64_t>(xs[i].size()) > maxLen)
        throw std::runtime_error(std::string(where) + "[" + std::to_string(i) + "]: " + std::to_string(xs[i].size()) +
                                 " tokens, the positions allow 1.." + std::to_string(maxLen));
      for (auto id : xs[i])
        if (id < 0 || id >= c.vocabSize)
          throw std::runtime_error(std::string(where) + "[" + std::to_string(i) + "]: token id " + std::to_string(id) +
                                   " outside the vocabulary [0, " + std::to_string(c.vocabSize) + ")");
    }
  };
  check(train, "train");
  check(heldout, "heldout");
}

bool FileExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// One pre-training run: a fresh model, its AdamW state, resuming from and writing checkpoints.
class PretrainRun {
 public:
  PretrainRun(const PretrainOptions& o, const std::vector<std::vector<int64_t>>& train, const std::vector<std::vector<int64_t>>& heldout,
              const Progress& progress);
  PretrainResult run();

 private:
  void resume();
  void writeCheckpoint(int64_t step);
  void evaluate(int64_t step);
  std::vector<const std::vector<int64_t>*> batch(int64_t step);
  void trainStep(int64_t step);

  const PretrainOptions& o_;
  const std::vector<std::vector<int64_t>>& train_;
  const std::vector<std::vector<int64_t>>& heldout_;
  const Progress& progress_;
  const at::Device dev_;
  PretrainResult res_;
  std::unique_ptr<TrainableParams> trained_;
  std::unique_ptr<Optimizer> opt_;
  std::string fp_;
  int64_t start_ = 0;
  std::vector<size_t> perm_;
  int64_t permEpoch_ = -1;
};

PretrainRun::PretrainRun(const PretrainOptions& o, const std::vector<std::vector<int64_t>>& train,
                         const std::vector<std::vector<int64_t>>& heldout, const Progress& progress)
    : o_(o), train_(train), heldout_(heldout), progress_(progress), dev_(o.device), fp_(Fingerprint(o, train.size())) {
  LoadOptions lo;
  lo.tieWordEmbeddings = true;
  res_.model = randomModel(o.cfg, lo, o.seed, 0);
  InitWeights(*res_.model);
  moveModel(*res_.model, dev_);
  trained_.reset(new TrainableParams(*res_.model, std::vector<bool>(res_.model->params.size(), true)));
  OptimizerOptions oo;
  oo.kind = OptimizerKind::AdamW;
  oo.beta1 = o.beta1;
  oo.beta2 = o.beta2;
  oo.eps = o.eps;
  oo.weightDecay = o.weightDecay;
  opt_.reset(new Optimizer(oo, trained_->tensors(), trained_->decay()));
}

// Resumes from the checkpoint (model, AdamW moments, step and records) when it exists and was written
// for the same settings.
void PretrainRun::resume() {
  if (o_.checkpointPath.empty() || !o_.resume || !FileExists(o_.checkpointPath)) return;
  Model& m = *res_.model;
  Safetensors st(o_.checkpointPath);
  const auto& md = st.metadata();
  auto get = [&](const std::string& k) {
    auto it = md.find(k);
    if (it == md.end()) throw std::runtime_error(o_.checkpointPath + ": not an lmkernel pre-training checkpoint (no '" + k + "')");
    return it->second;
  };
  if (get("lmkernel_pretrain") != fp_)
    throw std::runtime_error(o_.checkpointPath + ": the checkpoint was written for other settings (" + get("lmkernel_pretrain") +
                             "), this run has (" + fp_ + "); remove it or pass another checkpoint path");
  c10::NoGradGuard ng;
  auto refs = parameterRefs(m);
  for (size_t i = 0; i < refs.size(); i++) refs[i]->copy_(st.load(m.params[i].name, at::kFloat));
  std::vector<at::Tensor> mm, vv;
  for (size_t i = 0; i < trained_->tensors().size(); i++) {
    mm.push_back(st.load("__adam_m." + std::to_string(i), at::kFloat).to(dev_));
    vv.push_back(st.load("__adam_v." + std::to_string(i), at::kFloat).to(dev_));
  }
  start_ = std::stoll(get("step"));
  opt_->restore(mm, vv, std::stoll(get("adam_t")));
  res_.loss = ParseArray(get("loss"), "checkpoint loss record");
  res_.lr = ParseArray(get("lr"), "checkpoint lr record");
  std::vector<double> ev = ParseArray(get("evals"), "checkpoint eval record");
  for (size_t i = 0; i + 3 < ev.size(); i += 4)
    res_.evals.push_back({static_cast<int64_t>(ev[i]), ev[i + 1], ev[i + 2], static_cast<int64_t>(ev[i + 3])});
  res_.resumedFrom = start_;
  if (start_ > o_.steps)
    throw std::runtime_error(o_.checkpointPath + ": the checkpoint is at step " + std::to_string(start_) + ", past 'steps'");
}

void PretrainRun::writeCheckpoint(int64_t step) {
  const Model& m = *res_.model;
  std::vector<std::pair<std::string, at::Tensor>> named;
  const auto refs = parameterRefs(m);
  for (size_t i = 0; i < refs.size(); i++) named.emplace_back(m.params[i].name, *refs[i]);
  for (size_t i = 0; i < trained_->tensors().size(); i++) {
    named.emplace_back("__adam_m." + std::to_string(i), opt_->firstMoments()[i]);
    named.emplace_back("__adam_v." + std::to_string(i), opt_->secondMoments()[i]);
  }
  std::vector<double> ev;
  for (auto& e : res_.evals) ev.insert(ev.end(), {static_cast<double>(e.step), e.loss, e.accuracy, static_cast<double>(e.tokens)});
  writeSafetensors(o_.checkpointPath, named,
                   {{"lmkernel_pretrain", fp_},
                    {"step", std::to_string(step)},
                    {"adam_t", std::to_string(opt_->stepCount())},
                    {"loss", JsonArray(res_.loss)},
                    {"lr", JsonArray(res_.lr)},
                    {"evals", JsonArray(ev)}});
  res_.checkpoints++;
  progress_("checkpoint", step, o_.steps);
}

void PretrainRun::evaluate(int64_t step) {
  c10::NoGradGuard ng;
  const Model& m = *res_.model;
  double lossSum = 0, correct = 0;
  int64_t count = 0;
  for (size_t i = 0; i < heldout_.size(); i += static_cast<size_t>(o_.evalBatchSize)) {
    progress_.check();
    std::vector<const std::vector<int64_t>*> seqs;
    for (size_t j = i; j < std::min(heldout_.size(), i + static_cast<size_t>(o_.evalBatchSize)); j++) seqs.push_back(&heldout_[j]);
    MlmBatch mb = ObjectiveBatch(m, o_, seqs, Mix(o_.seed ^ 0xE7A1u, i), dev_);  // fixed masks: the same at every evaluation
    if (mb.count == 0) continue;
    at::Tensor logits = ObjectiveLogits(m, mb);
    lossSum += at::cross_entropy_loss(logits, mb.targets, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(1).eq(mb.targets).sum().item<double>();
    count += mb.count;
  }
  res_.evals.push_back(PretrainEval{step, count ? lossSum / count : NAN, count ? correct / count : NAN, count});
  progress_("eval", step, o_.steps);
}

// The sequences of a step's batch: a seeded shuffle per epoch, so that any step's batch is recomputable on resume.
std::vector<const std::vector<int64_t>*> PretrainRun::batch(int64_t step) {
  const size_t N = train_.size();
  std::vector<const std::vector<int64_t>*> seqs;
  for (int64_t j = 0; j < o_.batchSize; j++) {
    const uint64_t g = static_cast<uint64_t>(step) * o_.batchSize + j;
    const int64_t epoch = static_cast<int64_t>(g / N);
    if (epoch != permEpoch_) {
      perm_.resize(N);
      for (size_t k = 0; k < N; k++) perm_[k] = k;
      std::mt19937_64 r(Mix(o_.seed, 0x5EED0000ull + epoch));
      std::shuffle(perm_.begin(), perm_.end(), r);
      permEpoch_ = epoch;
    }
    seqs.push_back(&train_[perm_[g % N]]);
  }
  return seqs;
}

void PretrainRun::trainStep(int64_t step) {
  MlmBatch mb = ObjectiveBatch(*res_.model, o_, batch(step), Mix(o_.seed, static_cast<uint64_t>(step)), dev_);
  at::Tensor loss;
  {
    // training mode: dropout masks from (seed, step), the same after a resume
    DropoutScope train(o_.dropout, at::make_generator<at::CPUGeneratorImpl>(Mix(o_.seed ^ 0xD0D0D0D0ull, static_cast<uint64_t>(step))));
    loss = at::cross_entropy_loss(ObjectiveLogits(*res_.model, mb), mb.targets);
  }
  const double lossVal = loss.item<double>();
  if (!std::isfinite(lossVal))
    throw std::runtime_error("pre-training diverged at step " + std::to_string(step + 1) + ": the loss is " + Num(lossVal) +
                             " (lower 'lr' or raise 'warmupSteps')");
  auto grads = torch::autograd::grad({loss}, trained_->tensors(), {}, false, false, /*allow_unused=*/true);
  trained_->fixGradients(grads);
  std::vector<at::Tensor> sq;
  for (const auto& g : grads) sq.push_back(g.pow(2).sum());
  const double norm = std::sqrt(at::stack(sq).sum().item<double>());
  if (!std::isfinite(norm))
    throw std::runtime_error("pre-training diverged at step " + std::to_string(step + 1) + ": the gradient norm is not finite");
  if (o_.maxGradNorm > 0) {
    const double coef = std::min(1.0, o_.maxGradNorm / (norm + 1e-6));
    if (coef < 1.0)
      for (auto& g : grads) g.mul_(coef);
  }
  const double lrStep = warmupLinearLr(o_.lr, step, o_.warmupSteps, o_.steps);
  opt_->step(grads, lrStep);
  res_.loss.push_back(lossVal);
  res_.lr.push_back(lrStep);
  res_.steps = step + 1;
  char phase[40];
  std::snprintf(phase, sizeof phase, "train loss %.4f", lossVal);
  progress_(phase, step + 1, o_.steps);
}

PretrainResult PretrainRun::run() {
  resume();
  res_.steps = start_;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (int64_t step = start_; step < o_.steps; step++) {
      progress_.check();
      trainStep(step);
      const int64_t done = step + 1;
      if (!heldout_.empty() && o_.evalEvery > 0 && done % o_.evalEvery == 0 && done != o_.steps) evaluate(done);
      if (o_.checkpointEvery > 0 && done % o_.checkpointEvery == 0 && done != o_.steps) writeCheckpoint(done);
    }
    if (!heldout_.empty() && (res_.evals.empty() || res_.evals.back().step != o_.steps)) evaluate(o_.steps);
    if (!o_.checkpointPath.empty()) writeCheckpoint(o_.steps);
  } catch (const Cancelled&) {
    res_.aborted = true;
    // keep what was done: the checkpoint resumes from the last finished step
    if (!o_.checkpointPath.empty() && res_.steps > start_) writeCheckpoint(res_.steps);
  }
  res_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  trained_->freeze();
  moveModel(*res_.model, at::Device(at::kCPU));
  return std::move(res_);
}

}  // namespace

PretrainResult pretrain(const PretrainOptions& o, const std::vector<std::vector<int64_t>>& train,
                        const std::vector<std::vector<int64_t>>& heldout, const Progress& progress) {
  Validate(o, train, heldout);
  return PretrainRun(o, train, heldout, progress).run();
}

}  // namespace lmk
