// Fine-tuning (REFERENCE.md §7): cross-entropy on the C label-word logits (prompt) or classifier logits
// (standard), mean over the batch; gradient clipping to a total norm; SGD, AdamW or SignGD; linear LR
// decay to 0 without warm-up; seeded random batches; dev evaluation every `evalEvery` steps with the best
// state kept in memory. Works on a deep copy of the model (kernel jobs read the original concurrently),
// returns the trained copy. After training it can take the paper's kernel-behaviour measurements
// (linearize.h): the linearized model's test outputs and the relative kernel distance.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/forward.h"
#include "core/kernel_options.h"
#include "core/model.h"
#include "core/optimizers.h"
#include "core/progress.h"

namespace lmk {

// Which parameters are trained: "all"; "lora" = the LoRA matrices plus the heads (every parameter whose
// name does not start with the encoder prefix, as the reference's run.py freezes `roberta.*` without
// "lora"); "exclude_embeddings", "exclude_head", "only_biases" (the kernel subsets' predicates); or an
// explicit list of parameter names.
std::vector<bool> trainableMask(const Model& m, const std::string& subset, const std::vector<std::string>& names = {});

enum class DevMetric { Accuracy, F1, Mcc, Loss };
DevMetric parseDevMetric(const std::string& s);

struct FinetuneOptions {
  OutputSpec output;  // mode + label words; `binary` is not used (the loss needs the C logits)
  OptimizerOptions optimizer;
  double lr = 1e-5;
  int64_t steps = 1;
  int64_t batchSize = 0;     // 0 or >= N: the full training set every step, in order
  double maxGradNorm = 1.0;  // <= 0: no clipping
  int64_t evalEvery = 0;     // 0: evaluate on dev (when given) once, after the last step
  DevMetric metric = DevMetric::Accuracy;
  uint64_t seed = 42;
  std::string trainable = "all";
  std::vector<std::string> trainableNames;
  int64_t evalBatchSize = 16;
  // Dropout probability of the training steps (hidden and attention, RoBERTa's places; LM-BFF trains with
  // 0.1). Its masks come from a generator seeded by `seed`; evaluation and the measurements are eval mode.
  double dropout = 0.0;
  // measurements after training
  bool linearize = false;
  bool kernelDistance = false;
  // The eNTK formula of the kernel distance (the optimizer's kernel analog, the paper's Table 7): "sgd",
  // "signgd" or "asymmetric_signgd" (its train × train and train × test kernels).
  std::string kernelDistanceFormula = "sgd";
  int64_t kernelBatchSize = 8;
};

struct DevPoint {
  int64_t step;
  double metric;
  double loss;
};

struct FinetuneResult {
  std::shared_ptr<Model> model;  // the returned state (best on dev when evaluated, else the last good one)
  std::vector<bool> trained;
  std::vector<double> trainLoss;      // the batch loss of every step taken (before its update)
  double gradNorm = 0, clipCoef = 1;  // of the first step (pre-clip total norm and the clip coefficient)
  std::vector<DevPoint> devHistory;
  int64_t bestStep = -1;  // the step whose state was returned (0 = the initial model)
  int64_t steps = 0;      // updates taken
  bool aborted = false;   // cancelled between steps: the partial state is returned
  std::string error;      // non-empty when training stopped on a non-finite loss or gradient
  int64_t errorStep = -1;
  // measurements (undefined / NaN when not requested or no test set)
  at::Tensor testLogits, linearizedTestLogits;  // float64 [N_test, C]
  double trainTrainKernelDistance = std::numeric_limits<double>::quiet_NaN();
  double trainTestKernelDistance = std::numeric_limits<double>::quiet_NaN();
};

struct FinetuneData {
  std::vector<Example> train, dev, test;
  std::vector<int64_t> trainLabels, devLabels;
};

// Validates everything first (errors name the option), then trains. Cancellation between steps
// returns the partial result marked `aborted`; a non-finite loss stops with `error` set and the last
// state whose loss was finite restored.
FinetuneResult finetune(const Model& m0, const FinetuneData& data, const FinetuneOptions& opts, const Progress& progress);

// Cross-entropy (mean) of logits [N, C] against labels; accuracy / F1 / MCC (binary, positive = 1).
double crossEntropy(const at::Tensor& logits, const std::vector<int64_t>& labels);
double devMetricValue(DevMetric metric, const at::Tensor& logits, const std::vector<int64_t>& labels);

}  // namespace lmk
