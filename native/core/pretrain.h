// Masked-LM pre-training of a RoBERTa-architecture model from scratch (RoBERTa's objective): 15% of the
// non-special tokens of each sequence are selected (at least one per batch); of those 80% become
// <mask>, 10% a uniformly random non-special token, 10% stay; the loss is the cross-entropy of the
// tied decoder's logits at the selected positions. Masks are drawn anew every time a sequence is used
// (dynamic masking) from a generator seeded by (seed, step), so a resumed run draws the same masks.
// AdamW with linear warm-up and linear decay to 0, gradient clipping to a total norm, dropout `dropout`
// (hidden and attention, RoBERTa's 0.1; masks from a generator seeded by (seed, step), so a resumed run
// draws the same ones) in the training steps, eval mode for held-out evaluation.
// Periodic checkpoints (model, AdamW moments, step, loss record) are written atomically and resume.
// Held-out MLM loss/accuracy is measured with fixed masks (the same at every evaluation).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/model.h"
#include "core/progress.h"

namespace lmk {

struct PretrainOptions {
  ModelConfig cfg;         // arch must be Roberta; vocabSize, hidden, layers, heads, intermediate, maxPositions
  int64_t maskId = -1;     // the <mask> id (required)
  int64_t numSpecial = 4;  // ids below this (and maskId) are special: never selected, never random replacements
  double maskProb = 0.15, maskReplace = 0.8, randomReplace = 0.1;
  int64_t steps = 1000;
  int64_t batchSize = 32;
  int64_t warmupSteps = 100;
  double lr = 1e-3;
  double weightDecay = 0.01;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-6;
  double maxGradNorm = 1.0;  // <= 0: no clipping
  double dropout = 0.0;      // hidden and attention dropout of the training steps, in [0, 1)
  uint64_t seed = 1;
  int64_t evalEvery = 0;  // 0: evaluate once at the end (when held-out data is given)
  int64_t evalBatchSize = 64;
  int64_t checkpointEvery = 0;  // 0: no periodic checkpoint
  std::string checkpointPath;   // a .safetensors file (written atomically); resumed from when it exists and `resume`
  bool resume = true;
  std::string device = "cpu";
};

struct PretrainEval {
  int64_t step = 0;
  double loss = 0, accuracy = 0;
  int64_t tokens = 0;  // masked tokens scored
};

struct PretrainResult {
  std::shared_ptr<Model> model;  // on the CPU
  std::vector<double> loss;      // the training loss of every step 1..steps (before that step's update)
  std::vector<double> lr;        // the learning rate of every step
  std::vector<PretrainEval> evals;
  int64_t steps = 0;        // steps taken in total (including those before a resume)
  int64_t resumedFrom = 0;  // the step a checkpoint was resumed from (0 = fresh)
  int64_t checkpoints = 0;  // checkpoints written by this call
  bool aborted = false;
  double seconds = 0;  // wall time of this call's training
};

// `train` / `heldout`: token-id sequences (each already wrapped as <s> ... </s>, at most the model's
// positions). Validates everything first; errors name the option.
PretrainResult pretrain(const PretrainOptions& opts, const std::vector<std::vector<int64_t>>& train,
                        const std::vector<std::vector<int64_t>>& heldout, const Progress& progress);

// A model's weights as an HF-named safetensors file (F32; the tied decoder is not written twice).
void saveModelSafetensors(const Model& m, const std::string& path);

// The learning rate of update `step` (0-based): linear warm-up to `lr` over `warmup` updates, then linear
// decay to 0 at `total` (transformers' get_linear_schedule_with_warmup).
double warmupLinearLr(double lr, int64_t step, int64_t warmup, int64_t total);

}  // namespace lmk
