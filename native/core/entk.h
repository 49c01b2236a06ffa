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
#include "core/kernel_options.h"
#include "core/model.h"
#include "core/progress.h"

namespace lmk {

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

KernelResult computeKernels(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts,
                            const Progress& progress);

// Per-example gradient blocks of one batch, handed one at a time to consumers: the small blocks formed
// (block k is [B·C, P_k] in the model's dtype, rows = example·C + output), linear weight blocks as (a, δ).
struct BlockContext;  // the row spaces shared by both sides (word-embedding union, label rows)
using BlockConsumer = std::function<void(size_t k, const at::Tensor& block)>;
// A linear weight block k: its per-example gradient is Σ_t δ_t a_tᵀ, given as the layer input a [B, L, din]
// and δ [B, L, C, dout] without forming it (the ghost contraction and the joint pass take it from there).
// With token matches (setTokenMatches) the word embeddings come this way too, as the union row of each
// position, an int64 a [B, L'] (−1: padding or a token outside the union), and δ [B, L', C, H].
using GhostConsumer = std::function<void(size_t k, const at::Tensor& a, const at::Tensor& delta)>;
class GradientBlocks {
 public:
  GradientBlocks(const Model& m, const OutputSpec& out, Subset subset, const std::vector<Example>& train);
  ~GradientBlocks();
  // Returns the outputs f [B, C] of the batch; small blocks go to `consume`, linear weight blocks to `linear`.
  at::Tensor compute(const Batch& b, const Progress& progress, const BlockConsumer& consume, const GhostConsumer& linear) const;
  int64_t numOutputs() const;
  const std::vector<bool>& wanted() const;
  // Word embeddings as token matches for the ghost contraction (Σ over positions with equal token ids:
  // an example touches at most L of the union's rows) instead of a dense [B·C, U·H] block. SGD kernel only.
  void setTokenMatches(bool on);

 private:
  std::unique_ptr<BlockContext> ctx_;
};

}  // namespace lmk
