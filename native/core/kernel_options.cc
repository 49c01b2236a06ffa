#include "core/kernel_options.h"

#include <stdexcept>

#include "core/model_build.h"

namespace lmk {

Subset parseSubset(const std::string& s) {
  if (s == "all") return Subset::All;
  if (s == "exclude_embeddings") return Subset::ExcludeEmbeddings;
  if (s == "exclude_head") return Subset::ExcludeHead;
  if (s == "only_biases") return Subset::OnlyBiases;
  if (s == "lora") return Subset::Lora;
  throw std::runtime_error("subset '" + s + "' is not one of all, exclude_embeddings, exclude_head, only_biases, lora");
}

Precision parsePrecision(const std::string& s) {
  if (s == "exact") return Precision::Exact;
  if (s == "fast") return Precision::Fast;
  throw std::runtime_error("precision '" + s + "' is not one of exact, fast");
}

PlanKind parsePlan(const std::string& s) {
  if (s == "auto" || s.empty()) return PlanKind::Auto;
  if (s == "cpu") return PlanKind::Cpu;
  if (s == "gpu") return PlanKind::Gpu;
  throw std::runtime_error("plan '" + s + "' is not one of auto, cpu, gpu");
}

std::vector<bool> subsetMask(const Model& m, Subset s) {
  if (m.cfg.isDecoder()) {
    if (s == Subset::Lora && !m.hasLora()) throw std::runtime_error("subset 'lora' needs LoRA matrices: apply LoRA to the model first");
    return decoderSubsetMask(m, s);  // by parameter role (decoder_model.cc)
  }
  std::vector<bool> w(m.params.size(), false);
  const bool bert = m.cfg.arch == Arch::Bert;
  for (size_t i = 0; i < m.params.size(); i++) {
    const std::string& n = m.params[i].name;
    auto has = [&](const char* x) { return n.find(x) != std::string::npos; };
    switch (s) {
      case Subset::All: w[i] = true; break;
      case Subset::ExcludeEmbeddings: w[i] = !has("embed"); break;
      // "head" as the reference's predicate (lm_head.*); BERT's MLM head is cls.predictions.*
      case Subset::ExcludeHead: w[i] = !(has("head") || (bert && has("cls.predictions"))); break;
      case Subset::OnlyBiases: w[i] = has("bias"); break;
      case Subset::Lora: w[i] = has("lora_"); break;
    }
  }
  if (s == Subset::Lora && !m.hasLora()) throw std::runtime_error("subset 'lora' needs LoRA matrices: apply LoRA to the model first");
  return w;
}

std::vector<int64_t> shardTiles(int64_t numTiles, int64_t shardIndex, int64_t shardCount) {
  if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount)
    throw std::runtime_error("shard " + std::to_string(shardIndex) + "/" + std::to_string(shardCount) +
                             " is not of the form i/n with 0 <= i < n");
  std::vector<int64_t> out;
  for (int64_t t = shardIndex; t < numTiles; t += shardCount) out.push_back(t);  // round-robin: balanced, deterministic
  return out;
}

}  // namespace lmk
