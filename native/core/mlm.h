// RoBERTa's masked-LM objective (and the decoders' next-token objective) for pre-training (pretrain.h): the masking of a batch of sequences
// and the decoder logits at the masked positions.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "core/forward.h"
#include "core/model.h"
#include "core/pretrain.h"

namespace lmk {

// One masked batch: inputs (corrupted), the flat indices b*L + t of the selected positions and their targets.
struct MlmBatch {
  Batch batch;
  at::Tensor index, targets;
  int64_t count = 0;
};

// The batch of `xs` on `dev` with the flat indices b*L + t of the predicted positions and their targets.
MlmBatch objectiveBatch(const Model& m, const std::vector<Example>& xs, const std::vector<int64_t>& index,
                        const std::vector<int64_t>& targets, const at::Device& dev);

// Masks the sequences of one batch with a generator seeded by `rngSeed`: of their non-special tokens,
// o.maskProb are selected (at least one per batch); of those o.maskReplace become <mask>, o.randomReplace a
// uniformly random non-special token, the rest stay.
MlmBatch maskBatch(const Model& m, const PretrainOptions& o, const std::vector<const std::vector<int64_t>*>& seqs, uint64_t rngSeed,
                   const at::Device& dev);

// Decoder logits [M, vocab] at the selected positions.
at::Tensor mlmLogits(const Model& m, const MlmBatch& mb);

// Decoder-only LMs (causal_lm.cc): every position but the last of each sequence, its target the next token;
// and the LM head's logits [M, vocab] there.
MlmBatch nextTokenBatch(const Model& m, const std::vector<const std::vector<int64_t>*>& seqs, const at::Device& dev);
at::Tensor nextTokenLogits(const Model& m, const MlmBatch& mb);

}  // namespace lmk
