// The forward pass of the decoder-only families (GPT-2, Llama, Qwen2), one layer per function, with the
// same tape as forward.h: every linear input, every normalised norm input and the embedding sum.
// Causal attention with right padding: a query sees the real keys at or before it; positions 0..T-1.
#pragma once
#include <ATen/ATen.h>

#include "core/forward.h"
#include "core/model.h"

namespace lmk {

// RMSNorm (Llama, Qwen2): y = w · x / sqrt(mean(x²) + eps), in the model's dtype (float64 in float64 mode).
at::Tensor rmsNormForward(const Norm& n, const at::Tensor& x, double eps, Tape* tape);
// The final norm (ln_f / model.norm) of the decoder's hidden states.
at::Tensor decoderFinalNorm(const Model& m, const at::Tensor& h, Tape* tape);
// Token (+ GPT-2 position) embeddings and every layer: the hidden states [B, L, H] before the final norm.
at::Tensor decoderHidden(const Model& m, const Batch& b, Tape* tape);
// The position read by an output: mask_pos (prompt: the last token of the prompt) or the last real
// token of each sequence (standard), [B] int64.
at::Tensor decoderReadPositions(const Batch& b, OutputMode mode);
// The features z [B, H]: the final-norm state at the read position.
at::Tensor decoderOutputFeatures(const Model& m, const Batch& b, OutputMode mode, Tape* tape = nullptr);
// Features and logits [B, C]: label-word rows of the
// LM head (prompt) or the score head (standard).
ForwardOutputs decoderOutputs(const Model& m, const Batch& b, OutputMode mode, const at::Tensor& labelIds, Tape* tape);

}  // namespace lmk
