// Masked-LM pre-training and the safetensors writer: a written file reads back exactly (with its
// metadata, 8-byte aligned data); the warm-up/decay schedule; a tiny model's loss falls on a learnable
// corpus; a run stopped after a checkpoint and resumed reproduces the uninterrupted run; the saved model
// loads with loadModel. Needs no fixtures.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/mlm.h"
#include "core/model.h"
#include "core/pretrain.h"
#include "core/safetensors.h"
#include "core/safetensors_write.h"
#include "test_util.h"

using namespace lmk;

namespace {

// A written file reads back exactly, with its metadata, its data 8-byte aligned.
void CheckWriter(const std::string& tmp) {
  at::Tensor a = at::arange(6, at::kFloat).view({2, 3});
  at::Tensor b = at::tensor({1.5, -2.25}, at::kDouble);
  writeSafetensors(tmp + "/rt.safetensors", {{"a", a}, {"b", b}}, {{"k", "v \"quoted\"\n"}});
  Safetensors st(tmp + "/rt.safetensors");
  LMK_CHECK(st.load("a", at::kFloat).equal(a), "tensor a round trip");
  LMK_CHECK(st.load("b", at::kFloat).equal(b.to(at::kFloat)), "tensor b round trip (F32)");
  LMK_CHECK(st.entry("b").dtype == "F32", "written as F32");
  LMK_CHECK(st.metadata().at("k") == "v \"quoted\"\n", "metadata round trip");
  std::ifstream f(tmp + "/rt.safetensors", std::ios::binary);
  uint64_t hlen = 0;
  f.read(reinterpret_cast<char*>(&hlen), 8);
  LMK_CHECK((8 + hlen) % 8 == 0, "data section 8-byte aligned (header %llu)", static_cast<unsigned long long>(hlen));
}

// The schedule: warm-up 0.25, 0.5, ... then linear decay to 0.
void CheckSchedule() {
  LMK_CHECK(std::abs(warmupLinearLr(1.0, 0, 4, 10) - 0.25) < 1e-12, "warm-up step 0");
  LMK_CHECK(std::abs(warmupLinearLr(1.0, 3, 4, 10) - 1.0) < 1e-12, "warm-up end");
  LMK_CHECK(std::abs(warmupLinearLr(1.0, 7, 4, 10) - 0.5) < 1e-12, "decay midway");
  LMK_CHECK(warmupLinearLr(1.0, 10, 4, 10) == 0.0, "decay end");
}

// Stopped after step 100 (cancellation) with a checkpoint, then resumed: the same losses as the
// uninterrupted run; a checkpoint of other settings is refused.
void CheckResume(const PretrainOptions& o, const PretrainResult& full, const std::vector<std::vector<int64_t>>& train,
                 const std::vector<std::vector<int64_t>>& held, const std::string& tmp) {
  Progress none;
  PretrainOptions oc = o;
  oc.checkpointPath = tmp + "/ckpt.safetensors";
  oc.checkpointEvery = 50;
  Progress stopAt;
  stopAt.cancel = std::make_shared<std::atomic<bool>>(false);
  auto flag = stopAt.cancel;
  stopAt.report = [flag](const std::string& phase, int64_t done, int64_t) {
    if (phase.rfind("train", 0) == 0 && done == 100) flag->store(true);
  };
  PretrainResult part = pretrain(oc, train, held, stopAt);
  LMK_CHECK(part.aborted && part.steps == 100, "stopped at %lld", static_cast<long long>(part.steps));
  PretrainResult resumed = pretrain(oc, train, held, none);
  LMK_CHECK(resumed.resumedFrom == 100 && resumed.steps == 150, "resumed from %lld", static_cast<long long>(resumed.resumedFrom));
  double maxDiff = 0;
  for (size_t i = 0; i < 150 && i < resumed.loss.size(); i++) maxDiff = std::max(maxDiff, std::abs(resumed.loss[i] - full.loss[i]));
  LMK_CHECK(resumed.loss.size() == 150 && maxDiff < 1e-4, "resumed loss record matches the uninterrupted run (max diff %g)", maxDiff);
  PretrainOptions bad = oc;
  bad.lr = 5e-3;
  bool refused = false;
  try {
    pretrain(bad, train, held, none);
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("other settings") != std::string::npos;
  }
  LMK_CHECK(refused, "a checkpoint of other settings is refused");
}

// Random replacements (mask_prob 1, all of them random): uniform over the non-special ids [4, 25) without
// <mask>, whether <mask> is the last id (24) or one in the middle (10): 20 ids, each drawn about 1/20 of
// the time over 20 batches of 200 x 12 selected tokens, <mask> never.
void CheckRandomReplacements(const Model& m, const std::vector<std::vector<int64_t>>& seqs) {
  std::vector<const std::vector<int64_t>*> ptrs;
  for (const auto& s : seqs) ptrs.push_back(&s);
  for (int64_t maskId : {24, 10}) {
    PretrainOptions o;
    o.maskId = maskId;
    o.maskProb = 1.0;
    o.maskReplace = 0.0;
    o.randomReplace = 1.0;
    std::map<int64_t, int64_t> count;
    int64_t selected = 0, candidates = 0;
    for (const auto& s : seqs)
      for (int64_t id : s) candidates += id >= o.numSpecial && id != maskId;
    for (uint64_t seed = 1; seed <= 20; seed++) {
      MlmBatch mb = maskBatch(m, o, ptrs, seed, at::kCPU);
      LMK_CHECK(mb.count == candidates, "mask %lld: %lld selected of %lld candidates", (long long)maskId, (long long)mb.count,
                (long long)candidates);
      at::Tensor ids = mb.batch.ids.reshape({-1}).index_select(0, mb.index);
      for (int64_t i = 0; i < ids.numel(); i++) count[ids[i].item<int64_t>()]++;
      selected += ids.numel();
    }
    int64_t lo = selected, hi = 0;
    for (int64_t id = o.numSpecial; id < 25; id++) {
      if (id == maskId) continue;
      lo = std::min(lo, count[id]);
      hi = std::max(hi, count[id]);
    }
    int64_t outside = 0;
    for (auto [id, c] : count) outside += (id < o.numSpecial || id == maskId || id >= 25) ? c : 0;
    // 20 ids, ~2,400 draws each (sd ~48): a doubled or missing id is far outside [0.85, 1.15] of the mean
    const double mean = static_cast<double>(selected) / 20;
    LMK_CHECK(outside == 0, "mask %lld: %lld replacements outside the non-special ids or <mask>", (long long)maskId, (long long)outside);
    LMK_CHECK(lo > 0.85 * mean && hi < 1.15 * mean, "mask %lld: draws per id in [%lld, %lld], mean %.0f", (long long)maskId, (long long)lo,
              (long long)hi, mean);
  }
}

}  // namespace

int main() {
  const std::string tmp = test::TempDir();
  CheckWriter(tmp);
  CheckSchedule();
  // a learnable corpus: each sequence repeats one token (ids 4..20; a masked token is any other one),
  // <s>=0 </s>=2, <mask>=24; held-out sequences repeat tokens the training sequences use
  std::vector<std::vector<int64_t>> train, held;
  for (int s = 0; s < 200; s++) {
    std::vector<int64_t> x{0};
    for (int t = 0; t < 12; t++) x.push_back(4 + s % 17);
    x.push_back(2);
    (s % 10 == 9 ? held : train).push_back(x);
  }
  PretrainOptions o;
  o.cfg.vocabSize = 25;
  o.cfg.hidden = 32;
  o.cfg.layers = 2;
  o.cfg.heads = 2;
  o.cfg.intermediate = 64;
  o.cfg.maxPositions = 20;
  o.maskId = 24;
  o.steps = 150;
  o.batchSize = 16;
  o.warmupSteps = 5;
  o.lr = 3e-3;
  o.evalEvery = 50;
  Progress none;
  PretrainResult full = pretrain(o, train, held, none);
  LMK_CHECK(full.steps == 150 && full.loss.size() == 150, "steps taken %lld", static_cast<long long>(full.steps));
  double first = (full.loss[0] + full.loss[1] + full.loss[2]) / 3, last = (full.loss[147] + full.loss[148] + full.loss[149]) / 3;
  LMK_CHECK(last < first - 0.5, "loss falls: %.3f -> %.3f", first, last);
  LMK_CHECK(full.evals.size() == 3 && full.evals.back().accuracy > 0.5, "held-out accuracy %.3f",
            full.evals.empty() ? -1 : full.evals.back().accuracy);

  CheckResume(o, full, train, held, tmp);
  CheckRandomReplacements(*full.model, train);

  // dropout 0.1 (RoBERTa's): another loss trajectory than without, the same one again for the same seed,
  // and a resumed run draws the same masks (seeded by (seed, step))
  PretrainOptions od = o;
  od.dropout = 0.1;
  PretrainResult withDropout = pretrain(od, train, held, none);
  PretrainResult again = pretrain(od, train, held, none);
  LMK_CHECK(withDropout.loss[0] != full.loss[0], "dropout 0.1 changes the first loss (%.17g)", full.loss[0]);
  LMK_CHECK(withDropout.loss == again.loss, "dropout: the same seed gives the same loss record");
  LMK_CHECK(withDropout.evals.back().loss == again.evals.back().loss, "held-out evaluation is deterministic (eval mode)");
  CheckResume(od, withDropout, train, held, test::TempDir());

  // the saved model loads (HF names, tied decoder absent: the loader clones the embeddings)
  saveModelSafetensors(*full.model, tmp + "/model.safetensors");
  test::WriteFile(
      tmp + "/config.json",
      "{\"model_type\":\"roberta\",\"vocab_size\":25,\"hidden_size\":32,\"num_hidden_layers\":2,\"num_attention_heads\":2,"
      "\"intermediate_size\":64,\"max_position_embeddings\":20,\"type_vocab_size\":1,\"pad_token_id\":1,\"layer_norm_eps\":1e-5,"
      "\"hidden_act\":\"gelu\"}");
  auto m = loadModel(tmp + "/config.json", tmp + "/model.safetensors", LoadOptions{});
  LMK_CHECK(m->decoderW.equal(full.model->wordEmb), "decoder = word embeddings");
  LMK_CHECK(m->layers[1].out.w.equal(full.model->layers[1].out.w), "weights round trip");
  return test::Finish("test_pretrain");
}
