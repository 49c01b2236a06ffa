#include "core/mlm.h"

#include <algorithm>
#include <random>

namespace lmk {

MlmBatch maskBatch(const Model& m, const PretrainOptions& o, const std::vector<const std::vector<int64_t>*>& seqs, uint64_t rngSeed,
                   const at::Device& dev) {
  std::mt19937_64 rng(rngSeed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // random replacements: uniform over the non-special ids [numSpecial, vocab) without <mask>
  const int64_t lo = o.numSpecial, hi = m.cfg.vocabSize;
  std::uniform_int_distribution<int64_t> rid(lo, hi - 2);
  std::vector<Example> xs(seqs.size());
  std::vector<int64_t> index, targets;
  int64_t L = 0;
  for (auto* s : seqs) L = std::max<int64_t>(L, static_cast<int64_t>(s->size()));
  std::vector<std::pair<size_t, size_t>> candidates;
  for (size_t b = 0; b < seqs.size(); b++) {
    xs[b].ids = *seqs[b];
    for (size_t t = 0; t < xs[b].ids.size(); t++) {
      int64_t id = xs[b].ids[t];
      if (id < o.numSpecial || id == o.maskId) continue;
      candidates.emplace_back(b, t);
      if (u(rng) >= o.maskProb) continue;
      index.push_back(static_cast<int64_t>(b) * L + static_cast<int64_t>(t));
      targets.push_back(id);
      double r = u(rng);
      if (r < o.maskReplace) {
        xs[b].ids[t] = o.maskId;
      } else if (r < o.maskReplace + o.randomReplace) {
        int64_t x = rid(rng);
        if (x >= o.maskId) x++;  // skip <mask> (the last id in lmkernel's vocabularies, but not assumed)
        xs[b].ids[t] = std::min<int64_t>(x, hi - 1);
      }
    }
  }
  if (index.empty() && !candidates.empty()) {  // at least one prediction per batch
    auto [b, t] = candidates[rng() % candidates.size()];
    index.push_back(static_cast<int64_t>(b) * L + static_cast<int64_t>(t));
    targets.push_back(xs[b].ids[t]);
    xs[b].ids[t] = o.maskId;
  }
  return objectiveBatch(m, xs, index, targets, dev);
}

MlmBatch objectiveBatch(const Model& m, const std::vector<Example>& xs, const std::vector<int64_t>& index,
                        const std::vector<int64_t>& targets, const at::Device& dev) {
  MlmBatch mb;
  mb.batch = makeBatch(m, xs, 0, xs.size(), dev);
  mb.index = at::tensor(index, at::kLong).to(dev);
  mb.targets = at::tensor(targets, at::kLong).to(dev);
  mb.count = static_cast<int64_t>(index.size());
  return mb;
}

at::Tensor mlmLogits(const Model& m, const MlmBatch& mb) {
  at::Tensor hidden = encoderForward(m, mb.batch, nullptr);
  at::Tensor h = hidden.reshape({-1, m.cfg.hidden}).index_select(0, mb.index);
  at::Tensor d = at::gelu(linearForward(m.headDense, h, nullptr));
  at::Tensor z = normForward(m.headLn, d, m.cfg.eps, nullptr);
  return at::linear(z, m.decoderW, m.decoderBias);
}

}  // namespace lmk
