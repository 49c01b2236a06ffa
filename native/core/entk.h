// Empirical NTK kernels by per-block streaming (DESIGN.md): one forward and one backward to the
// activations per output, per-example gradient blocks formed from (a, δ), accumulated block by block
// into float64 kernels. For linear weights (almost all parameters) the train side keeps (a, δ) only;
// their per-example gradients are formed, for the training tile and a group of streamed examples
// together, in cache-sized chunks that are signed and multiplied at once (the "joint" pass), or not
// formed at all for the SGD kernel alone (the ghost contraction). The small blocks (embedding rows,
// LayerNorms, biases, label rows) are stored for the train side and streamed for the other. No full
// per-example gradient of any row is ever materialised.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/forward.h"
#include "core/model.h"
#include "core/progress.h"

namespace lmk {

enum class Subset { All, ExcludeEmbeddings, ExcludeHead, OnlyBiases, Lora };
Subset parseSubset(const std::string& s);

struct OutputSpec {
  OutputMode mode = OutputMode::Prompt;
  bool binary = false;                // one output: logit1 − logit0
  std::vector<int64_t> labelWordIds;  // prompt mode: the label words in label order
};

struct KernelOptions {
  OutputSpec output;
  bool sgd = true, signgd = false, asym = false;
  Subset subset = Subset::All;
  int64_t batchSize = 8;
  // Training examples whose (a, δ) and small gradient blocks are stored at once (0 = all, or as many as
  // fit in memory). With several tiles each tile is stored in turn and the training and test sets are streamed against it: exact, no approximation.
  int64_t trainTile = 0;
  // SGD kernel of linear layers by the "ghost" contraction Σ_{t,t'} (δ_t·δ'_t')(a_t·a'_t'), which never
  // forms per-example weight gradients (cheaper when sequences are short relative to the width). -1 auto:
  // used when only the SGD kernel is asked for and it is the cheaper (sgdByGhost); 0 off: the joint pass
  // for the SGD kernel too; 1 on (an error with sign kernels).
  int ghost = -1;
  // Streamed examples whose (a, δ) are gathered for one joint pass over the linear layers (0 = automatic:
  // up to 128, as memory allows). Each pass re-forms the tile's gradients once.
  int64_t groupSize = 0;
  // Compute only tiles t with t % shardCount == shardIndex (rows of those tiles; other rows stay 0);
  // `lmkernel merge` assembles the shards.
  int64_t shardIndex = 0, shardCount = 1;
};

struct KernelResult {
  int64_t gradDim = 0;
  int64_t numOutputs = 0;
  int64_t nTrain = 0, nTest = 0;
  std::vector<std::string> paramNames;
  int64_t tileSize = 0, numTiles = 1;
  std::vector<int64_t> tiles;  // the tiles computed (all unless sharded)
  at::Tensor f0Train, f0Test;  // float64 [N, C] (f0Train: rows of the computed tiles)
  // "sgd/train_train", "sgd/train_test", "signgd/...", "asymmetric_signgd/train_test_flipped": float64 [Na, C, Nb, C]
  std::map<std::string, at::Tensor> kernels;
};

// Which parameters a subset differentiates (the reference's name predicates, REFERENCE.md §5.2).
std::vector<bool> subsetMask(const Model& m, Subset s);

// The model outputs f [N, C] (float64) for a set of examples, in batches, without gradients.
at::Tensor outputs(const Model& m, const std::vector<Example>& xs, const OutputSpec& out, int64_t batchSize);

// The features that enter the output layer, [N, hidden] float64: the MLM-head features at the mask
// (prompt) or the final <s> state (standard). Linear probing fits the classifier on these.
at::Tensor features(const Model& m, const std::vector<Example>& xs, OutputMode mode, int64_t batchSize);

// Whether computeKernels takes the ghost contraction for the linear layers: opts.ghost = 1, or automatic
// (-1) when only the SGD kernel is asked for and the ghost contraction costs fewer multiply-adds than the
// joint pass: ghost ≈ Σ_sites (din + C²·dout) · T_train · (T_train + T_test) with T the real tokens, joint ≈
// Σ_sites din·dout · (C·(T_train + T_test) + C²·N_train·(N_train + N_test)). Short sequences, few outputs
// and wide layers favour the ghost; long sequences and many labels (SST-5 on a small model) the joint pass.
bool sgdByGhost(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, const std::vector<Example>& test,
                const KernelOptions& opts, int64_t numOutputs);

// The tiles a shard computes (round-robin over tiles).
std::vector<int64_t> shardTiles(int64_t numTiles, int64_t shardIndex, int64_t shardCount);

KernelResult computeKernels(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test,
                            const KernelOptions& opts, const Progress& progress);

// Per-example gradient blocks of one batch, handed one at a time to consumers: the small blocks formed
// (block k is [B·C, P_k] in the model's dtype, rows = example·C + output), linear weight blocks as (a, δ).
struct BlockContext;  // the row spaces shared by both sides (word-embedding union, label rows)
using BlockConsumer = std::function<void(size_t k, const at::Tensor& block)>;
// A linear weight block k: its per-example gradient is Σ_t δ_t a_tᵀ, given as the layer input a [B, L, din]
// and δ [B, L, C, dout] without forming it (the ghost contraction and the joint pass take it from there).
using GhostConsumer = std::function<void(size_t k, const at::Tensor& a, const at::Tensor& delta)>;
class GradientBlocks {
 public:
  GradientBlocks(const Model& m, const OutputSpec& out, Subset subset, const std::vector<Example>& train);
  ~GradientBlocks();
  // Returns the outputs f [B, C] of the batch; small blocks go to `consume`, linear weight blocks to `linear`.
  at::Tensor compute(const Batch& b, const Progress& progress, const BlockConsumer& consume, const GhostConsumer& linear) const;
  int64_t numOutputs() const;
  const std::vector<bool>& wanted() const;

 private:
  std::unique_ptr<BlockContext> ctx_;
};

}  // namespace lmk
