// Building a Model from named tensors (model.cc for RoBERTa/BERT, decoder_model.cc for the decoders):
// where the tensors come from (a checkpoint or random initialisation) and the registry of parameters.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "core/kernel_options.h"
#include "core/model.h"

namespace lmk {

// get(name, shape, required): the tensor in the model's dtype, checked against `shape` (undefined when
// absent and not required); has(name): whether the source holds it.
struct TensorSource {
  std::function<at::Tensor(const std::string&, std::vector<int64_t>, bool)> get_;
  std::function<bool(const std::string&)> has;
  at::Tensor get(const std::string& name, std::vector<int64_t> shape, bool required = true) const { return get_(name, shape, required); }
};

// A linear layer `name.weight` [dout, din] (+ `name.bias` [dout]) registered as parameters.
Linear loadLinear(Model& m, const TensorSource& ld, const std::string& name, int64_t dout, int64_t din, bool bias = true);
// A norm `name.weight` [d] (+ `name.bias`).
Norm loadNorm(Model& m, const TensorSource& ld, const std::string& name, int64_t d, bool bias = true);

// The decoder families (decoder_model.cc): GPT-2, Llama, Qwen2 from their Hugging Face tensor names.
void buildDecoder(Model& m, const TensorSource& ld);
// LoRA on a decoder's layers (decoder_model.cc): Llama/Qwen2 q_proj, k_proj, v_proj, o_proj, gate_proj,
// up_proj, down_proj (query, key, value name q/k/v_proj); GPT-2 query, key, value (adapters on the q, k, v
// slices of c_attn), c_attn, c_proj, c_fc, mlp.c_proj.
void applyDecoderLora(Model& m, const LoraSpec& spec, uint64_t seed);
// Parameter subsets of a decoder by role (decoder_model.cc; README "Decoder models").
std::vector<bool> decoderSubsetMask(const Model& m, Subset s);

}  // namespace lmk
