// The next-token objective of decoder-only LMs for pre-training (mlm.h's batch type): every position t
// < len - 1 of a sequence predicts token t + 1 from the LM head on the final-norm state.
#include "core/decoder.h"
#include "core/mlm.h"

namespace lmk {

MlmBatch nextTokenBatch(const Model& m, const std::vector<const std::vector<int64_t>*>& seqs, const at::Device& dev) {
  std::vector<Example> xs(seqs.size());
  std::vector<int64_t> index, targets;
  int64_t L = 0;
  for (auto* s : seqs) L = std::max<int64_t>(L, static_cast<int64_t>(s->size()));
  for (size_t b = 0; b < seqs.size(); b++) {
    xs[b].ids = *seqs[b];
    for (size_t t = 0; t + 1 < xs[b].ids.size(); t++) {
      index.push_back(static_cast<int64_t>(b) * L + static_cast<int64_t>(t));
      targets.push_back(xs[b].ids[t + 1]);
    }
  }
  return objectiveBatch(m, xs, index, targets, dev);
}

at::Tensor nextTokenLogits(const Model& m, const MlmBatch& mb) {
  at::Tensor h = decoderHidden(m, mb.batch, nullptr).reshape({-1, m.cfg.hidden}).index_select(0, mb.index);
  return at::linear(decoderFinalNorm(m, h, nullptr), m.decoderW);
}

}  // namespace lmk
