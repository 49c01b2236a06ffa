#include <c10/core/GradMode.h>
#include "core/entk.h"
#include "core/entk_products.h"
#include "core/memory.h"
#include "core/profile.h"
#include "core/skinny_gemm.h"
#include "core/workers.h"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

namespace lmk {


Subset parseSubset(const std::string& s) {
  if (s == "all") return Subset::All;
  if (s == "exclude_embeddings") return Subset::ExcludeEmbeddings;
  if (s == "exclude_head") return Subset::ExcludeHead;
  if (s == "only_biases") return Subset::OnlyBiases;
  if (s == "lora") return Subset::Lora;
  throw std::runtime_error("subset '" + s + "' is not one of all, exclude_embeddings, exclude_head, only_biases, lora");
}

std::vector<bool> subsetMask(const Model& m, Subset s) {
  std::vector<bool> w(m.params.size(), false);
  const bool bert = m.cfg.arch == Arch::Bert;
  for (size_t i = 0; i < m.params.size(); i++) {
    const std::string& n = m.params[i].name;
    auto has = [&](const char* x) { return n.find(x) != std::string::npos; };
    const bool lora = has("lora_");
    switch (s) {
      case Subset::All: w[i] = true; break;
      case Subset::ExcludeEmbeddings: w[i] = !has("embed"); break;
      // "head" as the reference's predicate (lm_head.*); BERT's MLM head is cls.predictions.*
      case Subset::ExcludeHead: w[i] = !(has("head") || (bert && has("cls.predictions"))); break;
      case Subset::OnlyBiases: w[i] = has("bias"); break;
      case Subset::Lora: w[i] = lora; break;
    }
  }
  if (s == Subset::Lora && !m.hasLora()) throw std::runtime_error("subset 'lora' needs LoRA matrices: apply LoRA to the model first");
  return w;
}

// ------------------------------------------------------------------------------------------------
struct BlockContext {
  const Model& m;
  OutputSpec out;
  std::vector<bool> wanted;
  int64_t C = 0;      // logits read from the model (label words or classifier rows)
  int64_t Cout = 0;   // outputs differentiated (C, or 1 when binary)
  at::Tensor g;       // [Cout, C] output coefficients: f = logits · gᵀ
  at::Tensor labelIds;
  // word-embedding rows kept: tokens of the training set (plus label words when the decoder is tied)
  at::Tensor unionMap;  // [vocab] int64, -1 where dropped
  int64_t U = 0;
  // unique label rows of the untied decoder (two labels may share a word)
  at::Tensor labelRow;  // [C] -> row in 0..Cu-1
  int64_t Cu = 0;
  std::vector<int> unionLabelRows;  // tied: union row of each label
};

GradientBlocks::GradientBlocks(const Model& m, const OutputSpec& out, Subset subset, const std::vector<Example>& train)
    : ctx_(new BlockContext{m, out, subsetMask(m, subset)}) {
  auto& c = *ctx_;
  const auto dev = m.device();
  if (out.mode == OutputMode::Prompt) {
    if (out.labelWordIds.empty()) throw std::runtime_error("prompt mode needs label_word_ids (one token id per label)");
    for (size_t i = 0; i < out.labelWordIds.size(); i++)
      if (out.labelWordIds[i] < 0 || out.labelWordIds[i] >= m.cfg.vocabSize)
        throw std::runtime_error("label_word_ids[" + std::to_string(i) + "] = " + std::to_string(out.labelWordIds[i]) +
                                 " is outside the vocabulary [0, " + std::to_string(m.cfg.vocabSize) + ")");
    c.C = static_cast<int64_t>(out.labelWordIds.size());
    c.labelIds = at::tensor(out.labelWordIds, at::kLong).to(dev);
  } else {
    if (!m.clsW.defined())
      throw std::runtime_error("the standard setting needs a 'classifier' head: the checkpoint has no classifier.weight (supply one)");
    c.C = m.clsW.size(0);
  }
  if (out.binary && c.C != 2) throw std::runtime_error("binary output needs exactly 2 logits, the model has " + std::to_string(c.C));
  c.Cout = out.binary ? 1 : c.C;
  c.g = out.binary ? at::tensor({-1.0, 1.0}, at::kDouble).view({1, 2}) : at::eye(c.C, at::kDouble);
  c.g = c.g.to(dev, m.dtype);

  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  if (m.tied && out.mode == OutputMode::Prompt) uni.insert(out.labelWordIds.begin(), out.labelWordIds.end());
  auto map = at::full({m.cfg.vocabSize}, -1, at::kLong);
  auto pm = map.accessor<int64_t, 1>();
  int64_t k = 0;
  for (auto id : uni) pm[id] = k++;
  c.U = k;
  if (m.tied && out.mode == OutputMode::Prompt)
    for (auto id : out.labelWordIds) c.unionLabelRows.push_back(static_cast<int>(pm[id]));
  c.unionMap = map.to(dev);

  std::vector<int64_t> rows;
  std::vector<int64_t> seen;
  for (auto id : out.labelWordIds) {
    auto it = std::find(seen.begin(), seen.end(), id);
    if (it == seen.end()) {
      rows.push_back(static_cast<int64_t>(seen.size()));
      seen.push_back(id);
    } else {
      rows.push_back(it - seen.begin());
    }
  }
  c.Cu = static_cast<int64_t>(seen.size());
  c.labelRow = at::tensor(rows.empty() ? std::vector<int64_t>{0} : rows, at::kLong).to(dev);
}

GradientBlocks::~GradientBlocks() = default;
int64_t GradientBlocks::numOutputs() const { return ctx_->Cout; }
const std::vector<bool>& GradientBlocks::wanted() const { return ctx_->wanted; }

namespace {


// Scatter rows of δ [B, L, K] by index [B, L] (−1 = dropped) into [B, R, K].
at::Tensor ScatterRows(const at::Tensor& delta, const at::Tensor& index, const at::Tensor& valid, int64_t R) {
  const int64_t B = delta.size(0), L = delta.size(1), K = delta.size(2);
  auto base = at::arange(B, index.options()).view({B, 1}) * R;
  auto flat = (base + index.clamp_min(0)).view({B * L});
  auto keep = (valid & index.ge(0)).view({B * L});
  auto out = at::zeros({B * R, K}, delta.options());
  out.index_add_(0, flat.masked_select(keep), delta.reshape({B * L, K}).index({keep}));
  return out.view({B, R, K});
}

// [B, R, Cout, d] -> [B·Cout, R·d]
at::Tensor RowsToBlock(const at::Tensor& g) {
  const int64_t B = g.size(0), R = g.size(1), Co = g.size(2), d = g.size(3);
  return g.permute({0, 2, 1, 3}).reshape({B * Co, R * d});
}

}  // namespace

at::Tensor GradientBlocks::compute(const Batch& b, const Progress& progress, const BlockConsumer& consume, const GhostConsumer& linear) const {
  const auto& c = *ctx_;
  const Model& m = c.m;
  const int64_t B = b.size(), Co = c.Cout, H = m.cfg.hidden;
  Tape tape;
  tape.wanted = &c.wanted;
  std::unique_ptr<PhaseTimer> pt(new PhaseTimer(0));
  at::Tensor hidden = encoderForward(m, b, &tape);
  at::Tensor z = featuresForward(m, hidden, b, c.out.mode, &tape);
  at::Tensor logits = logitsFromFeatures(m, z, c.out.mode, c.labelIds);
  at::Tensor f = at::matmul(logits, c.g.t());  // [B, Cout]
  pt.reset(new PhaseTimer(1));

  // one backward pass per output, to the recorded activations only (no weight gradients)
  std::vector<at::Tensor> outs;
  for (auto& s : tape.sites) outs.push_back(s.output);
  std::vector<std::vector<at::Tensor>> deltas(tape.sites.size());
  if (!outs.empty()) {
    for (int64_t o = 0; o < Co; o++) {
      progress.check();
      auto gr = torch::autograd::grad({f.select(1, o).sum()}, outs, {}, /*retain_graph=*/o + 1 < Co, false, /*allow_unused=*/true);
      for (size_t i = 0; i < gr.size(); i++) deltas[i].push_back(gr[i].defined() ? gr[i] : at::zeros_like(outs[i]));
    }
  }
  outs.clear();
  pt.reset(new PhaseTimer(2));
  at::Tensor zd = z.detach();
  size_t k = 0;
  auto emitWhole = [&](const at::Tensor& blk) {  // block k, whole
    pt.reset(new PhaseTimer(5));
    consume(k++, blk);
    pt.reset(new PhaseTimer(2));
  };

  for (size_t i = 0; i < tape.sites.size(); i++) {
    Site& s = tape.sites[i];
    at::Tensor d = deltas[i].size() == 1 ? deltas[i][0].unsqueeze(2) : at::stack(deltas[i], 2);  // [B, L, Cout, dout]
    deltas[i].clear();
    s.output = at::Tensor();
    const int64_t L = d.size(1), dout = d.size(3);
    if (s.kind == Site::Kind::Linear) {
      if (s.pw >= 0) {
        pt.reset(new PhaseTimer(5));
        linear(k++, s.input, d);
        pt.reset(new PhaseTimer(2));
      }
      if (s.pb >= 0) emitWhole(d.sum(1).reshape({B * Co, dout}));
    } else if (s.kind == Site::Kind::Norm) {
      if (s.pw >= 0) emitWhole((d * s.input.unsqueeze(2)).sum(1).reshape({B * Co, dout}));
      if (s.pb >= 0) emitWhole(d.sum(1).reshape({B * Co, dout}));
    } else {  // embeddings: scatter δ of the embedding sum into table rows
      at::Tensor dd = d.reshape({B, L, Co * H});
      if (c.wanted[m.pWord]) {
        at::Tensor idx = c.unionMap.index_select(0, b.ids.reshape({-1})).view(b.ids.sizes());
        at::Tensor rows = ScatterRows(dd, idx, b.attention, c.U).view({B, c.U, Co, H});
        // tied decoder: its label-row gradient g[o, c] · z joins the embedding rows before any sign
        for (int64_t l = 0; l < static_cast<int64_t>(c.unionLabelRows.size()); l++) {
          at::Tensor add = c.g.select(1, l).view({1, Co, 1}) * zd.view({B, 1, H});  // [B, Co, H]
          rows.select(1, c.unionLabelRows[l]).add_(add);
        }
        emitWhole(RowsToBlock(rows));
      }
      if (c.wanted[m.pPos]) emitWhole(RowsToBlock(ScatterRows(dd, b.positions, b.attention, m.cfg.maxPositions).view({B, m.cfg.maxPositions, Co, H})));
      if (c.wanted[m.pType]) emitWhole(RowsToBlock(ScatterRows(dd, b.types, b.attention, m.cfg.typeVocab).view({B, m.cfg.typeVocab, Co, H})));
    }
    s.input = at::Tensor();
  }

  // explicit output rows: untied decoder + output bias (prompt) or classifier (standard)
  auto coeffRows = [&](int64_t R, const at::Tensor& rowOf) {  // [Co, R]: Σ_c g[o, c] into row rowOf[c]
    at::Tensor gr = at::zeros({Co, R}, c.g.options());
    gr.index_add_(1, rowOf, c.g);
    return gr;
  };
  if (c.out.mode == OutputMode::Prompt) {
    at::Tensor gr = coeffRows(c.Cu, c.labelRow);  // [Co, Cu]
    if (m.pDecoderW >= 0 && c.wanted[m.pDecoderW]) emitWhole((gr.view({1, Co, c.Cu, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.Cu * H}));
    if (c.wanted[m.pDecoderBias]) emitWhole(gr.unsqueeze(0).expand({B, Co, c.Cu}).reshape({B * Co, c.Cu}).contiguous());
  } else {
    if (c.wanted[m.pClsW]) emitWhole((c.g.view({1, Co, c.C, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.C * H}));
    if (c.wanted[m.pClsB]) emitWhole(c.g.unsqueeze(0).expand({B, Co, c.C}).reshape({B * Co, c.C}).contiguous());
  }
  return f.detach();
}

// ------------------------------------------------------------------------------------------------
at::Tensor outputs(const Model& m, const std::vector<Example>& xs, const OutputSpec& out, int64_t batchSize) {
  c10::NoGradGuard ng;
  validateExamples(m, xs, out.mode == OutputMode::Prompt, "inputs");
  at::Tensor labelIds = out.labelWordIds.empty() ? at::Tensor() : at::tensor(out.labelWordIds, at::kLong).to(m.device());
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); i += batchSize) {
    size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    Batch b = makeBatch(m, xs, i, j, m.device());
    at::Tensor logits = logitsFromFeatures(m, featuresForward(m, encoderForward(m, b, nullptr), b, out.mode, nullptr), out.mode, labelIds);
    if (out.binary) logits = (logits.select(1, 1) - logits.select(1, 0)).unsqueeze(1);
    parts.push_back(logits.to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0, 0}, at::kDouble) : at::cat(parts, 0);
}

at::Tensor features(const Model& m, const std::vector<Example>& xs, OutputMode mode, int64_t batchSize) {
  c10::NoGradGuard ng;
  validateExamples(m, xs, mode == OutputMode::Prompt, "inputs");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); i += batchSize) {
    size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    Batch b = makeBatch(m, xs, i, j, m.device());
    parts.push_back(featuresForward(m, encoderForward(m, b, nullptr), b, mode, nullptr).to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0, m.cfg.hidden}, at::kDouble) : at::cat(parts, 0);
}


bool sgdByGhost(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, const std::vector<Example>& test,
                const KernelOptions& opts, int64_t numOutputs) {
  if (opts.ghost >= 0) return opts.ghost == 1;
  if (!opts.sgd || opts.signgd || opts.asym) return false;
  auto want = [&](int p) { return p >= 0 && static_cast<size_t>(p) < wanted.size() && wanted[p]; };
  double ghostPerToken = 0, jointPerRow = 0;  // Σ_sites (din + C²·dout) and Σ_sites din·dout
  const double C = static_cast<double>(numOutputs);
  auto site = [&](double din, double dout) {
    ghostPerToken += din + C * C * dout;
    jointPerRow += din * dout;
  };
  auto linear = [&](const Linear& l) {
    const double din = static_cast<double>(l.w.size(1)), dout = static_cast<double>(l.w.size(0));
    const double r = l.loraA.defined() ? static_cast<double>(l.loraA.size(0)) : 0;
    if (want(l.pw)) site(din, dout);
    if (want(l.pA)) site(din, r);
    if (want(l.pB)) site(r, dout);
  };
  for (const auto& L : m.layers)
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.inter, &L.out}) linear(*l);
  auto tokens = [](const std::vector<Example>& xs) {
    double t = 0;
    for (const auto& x : xs) t += static_cast<double>(x.ids.size());
    return t;
  };
  const double ttr = tokens(train), tte = tokens(test), ntr = static_cast<double>(train.size()), nte = static_cast<double>(test.size());
  const double ghost = ghostPerToken * ttr * (ttr + tte);
  const double joint = jointPerRow * (C * (ttr + tte) + C * C * ntr * (ntr + nte));
  return ghost <= joint;
}

std::vector<int64_t> shardTiles(int64_t numTiles, int64_t shardIndex, int64_t shardCount) {
  if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount)
    throw std::runtime_error("shard " + std::to_string(shardIndex) + "/" + std::to_string(shardCount) + " is not of the form i/n with 0 <= i < n");
  std::vector<int64_t> out;
  for (int64_t t = shardIndex; t < numTiles; t += shardCount) out.push_back(t);  // round-robin: balanced, deterministic
  return out;
}

KernelResult computeKernels(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test,
                            const KernelOptions& opts, const Progress& progress) {
  if (train.empty()) throw std::runtime_error("the training set is empty: kernels need at least one training example");
  if (opts.batchSize < 1) throw std::runtime_error("batch size must be >= 1, got " + std::to_string(opts.batchSize));
  if (opts.groupSize < 0) throw std::runtime_error("group size must be >= 0 (0 = automatic), got " + std::to_string(opts.groupSize));
  if (!opts.sgd && !opts.signgd && !opts.asym) throw std::runtime_error("no kernel formula requested");
  const bool prompt = opts.output.mode == OutputMode::Prompt;
  validateExamples(m, train, prompt, "train");
  validateExamples(m, test, prompt, "test");
  // the row spaces (word-embedding union, label rows) come from the whole training set, whatever the tile
  GradientBlocks gb(m, opts.output, opts.subset, train);
  const auto dev = m.device();
  KernelResult r;
  r.numOutputs = gb.numOutputs();
  r.nTrain = static_cast<int64_t>(train.size());
  r.nTest = static_cast<int64_t>(test.size());
  for (size_t i = 0; i < m.params.size(); i++)
    if (gb.wanted()[i]) {
      r.gradDim += m.params[i].numel;
      r.paramNames.push_back(m.params[i].name);
    }
  const int64_t Co = r.numOutputs, Rtr = r.nTrain * Co, Rte = r.nTest * Co;
  const bool signs = opts.signgd || opts.asym;
  if (opts.ghost == 1 && signs) throw std::runtime_error("the ghost contraction gives the SGD kernel only; sign kernels need explicit blocks");
  const bool useGhost = sgdByGhost(m, gb.wanted(), train, test, opts, r.numOutputs);
  // fail before allocating, or tile the training set automatically when its stores do not fit
  const int64_t chosen = chooseTrainTile(m, gb.wanted(), train, test, opts, Co);
  const int64_t tileSize = chosen > 0 ? std::min<int64_t>(chosen, r.nTrain) : r.nTrain;
  r.numTiles = (r.nTrain + tileSize - 1) / tileSize;
  r.tileSize = tileSize;
  r.tiles = shardTiles(r.numTiles, opts.shardIndex, opts.shardCount);
  const bool single = r.numTiles == 1;
  auto nb = [&](int64_t n) { return (n + opts.batchSize - 1) / opts.batchSize; };
  int64_t tileBatches = 0;
  for (int64_t t : r.tiles) tileBatches += nb(std::min(r.nTrain, (t + 1) * tileSize) - t * tileSize);
  const int64_t batches = tileBatches + static_cast<int64_t>(r.tiles.size()) * (nb(r.nTest) + (single ? 0 : nb(r.nTrain)));
  int64_t done = 0;

  auto f64 = at::TensorOptions().dtype(at::kDouble).device(dev);
  at::Tensor Ksgd, Ksign, Kasym, Tsgd, Tsign, Tasym, Tflip;
  if (opts.sgd) Ksgd = at::zeros({Rtr, Rtr}, f64), Tsgd = at::zeros({Rtr, Rte}, f64);
  if (opts.signgd) Ksign = at::zeros({Rtr, Rtr}, f64), Tsign = at::zeros({Rtr, Rte}, f64);
  if (opts.asym) Kasym = at::zeros({Rtr, Rtr}, f64), Tasym = at::zeros({Rtr, Rte}, f64), Tflip = at::zeros({Rtr, Rte}, f64);
  at::Tensor f0Train = at::zeros({r.nTrain, Co}, at::kDouble), f0Test = at::zeros({r.nTest, Co}, at::kDouble);
  at::Tensor signWs;
  // the joint pass's workers: on CPU as many as BLAS had threads, each calling a single-threaded BLAS
  const int workers = dev.is_cpu() ? blasThreads() : 1;
  std::vector<JointWorkspace> jointWs(static_cast<size_t>(workers));
  const bool keepStore = opts.sgd || opts.asym;  // the small blocks' values (the sign kernels alone need only their signs)

  for (int64_t tile : r.tiles) {
    const int64_t t0 = tile * tileSize, t1 = std::min(r.nTrain, t0 + tileSize);
    const int64_t R0 = t0 * Co, Rn = (t1 - t0) * Co;
    const int64_t groupSize = useGhost ? 0 : chooseGroupSize(m, gb.wanted(), train, test.empty() ? train : test, t1 - t0, opts, Co);

    // 1. train side of the tile: (a, δ) of the linear weight sites per batch, and the small blocks'
    //    per-example gradients stored in place ([Rn, P_k] per block)
    std::vector<at::Tensor> store, signStore;
    std::vector<SiteBatch> tileSites;
    for (int64_t i = t0; i < t1; i += opts.batchSize) {
      progress.check();
      const int64_t j = std::min(t1, i + opts.batchSize);
      const int64_t r0 = (i - t0) * Co;
      tileSites.push_back(MakeSiteBatch(r0, train, static_cast<size_t>(i), static_cast<size_t>(j)));
      GhostConsumer keep = [&](size_t k, const at::Tensor& a, const at::Tensor& d) { tileSites.back().sites[k] = {a, d}; };
      at::Tensor f = gb.compute(makeBatch(m, train, i, j, dev), progress, [&](size_t k, const at::Tensor& blk) {
        if (k >= store.size()) store.resize(k + 1), signStore.resize(k + 1);
        if (keepStore && !store[k].defined()) store[k] = at::empty({Rn, blk.size(1)}, blk.options());
        if (signs && !signStore[k].defined()) signStore[k] = at::empty({Rn, blk.size(1)}, blk.options());
        if (keepStore) store[k].narrow(0, r0, blk.size(0)).copy_(blk);
        if (signs) {
          at::Tensor dst = signStore[k].narrow(0, r0, blk.size(0));
          at::sign_out(dst, blk);
        }
      }, keep);
      f0Train.narrow(0, i, j - i).copy_(f.to(at::kCPU, at::kDouble));
      progress("train", ++done, batches);
    }
    std::vector<size_t> linearBlocks;
    for (const auto& kv : tileSites.front().sites) linearBlocks.push_back(kv.first);

    // 2. train x train of the small blocks from the store alone when it holds the whole set
    bool tileTrainDone = !single;  // with several tiles the train set is streamed against each tile instead
    if (single) {
      std::unique_ptr<PhaseTimer> pt(new PhaseTimer(4));
      for (size_t k = 0; k < store.size(); k++) {
        progress.check();
        const at::Tensor& v = keepStore ? store[k] : signStore[k];
        if (!v.defined()) continue;  // a linear weight block: joint pass or ghost contraction
        if (opts.sgd) addProductTransposed(Ksgd, store[k], store[k]);
        if (opts.signgd) addProductTransposed(Ksign, signStore[k], signStore[k]);
        if (opts.asym) addProductTransposed(Kasym, signStore[k], store[k]);  // <sign g(train), g(train')>
      }
      if (useGhost) {  // ghost blocks: every pair of stored train batches
        for (const auto& p : tileSites)
          for (const auto& q : tileSites)
            for (const auto& kv : p.sites) {
              const auto& x = kv.second;
              const auto& y = q.sites.at(kv.first);
              Ksgd.narrow(0, p.row0, x.first.size(0) * Co).narrow(1, q.row0, y.first.size(0) * Co)
                  .add_(GhostProduct(PackGhost(x.first, x.second, p.lengths), PackGhost(y.first, y.second, q.lengths), Co));
            }
        tileTrainDone = true;
      }
    }
    // the tile's own train x train of the linear blocks by a joint pass with no streamed rows (or with
    // the first group of the test set, below)
    auto trainTargets = [&]() {
      JointTargets t;
      if (!tileTrainDone) t.Ksgd = opts.sgd ? Ksgd : at::Tensor(), t.Ksign = opts.signgd ? Ksign : at::Tensor(), t.Kasym = opts.asym ? Kasym : at::Tensor();
      return t;
    };

    // 3. stream a set of examples against the tile: small blocks are multiplied with the stored ones as
    //    they are formed; linear blocks are gathered as (a, δ) for a group of examples, then one joint
    //    pass per block (or, for the SGD kernel alone, the ghost contraction per batch)
    auto stream = [&](const std::vector<Example>& xs, const char* phase, at::Tensor S, at::Tensor G, at::Tensor A, at::Tensor F, at::Tensor* f0) {
      std::vector<SiteBatch> group;
      int64_t groupCol0 = 0, groupExamples = 0;
      auto flush = [&](int64_t col1) {
        const int64_t Rg = col1 - groupCol0;
        JointTargets t = trainTargets();
        auto cols = [&](const at::Tensor& T) { return T.defined() ? T.narrow(0, R0, Rn).slice(1, groupCol0, col1) : at::Tensor(); };
        t.Tsgd = cols(S), t.Tsign = cols(G), t.Tasym = cols(A), t.Tflip = cols(F);
        std::unique_ptr<PhaseTimer> pt(new PhaseTimer(6));
        std::unique_ptr<SingleThreadedBlas> single(workers > 1 ? new SingleThreadedBlas : nullptr);
        for (size_t k : linearBlocks) {
          progress.check();
          JointProducts(k, tileSites, Rn, group, Rg, t, jointWs);
        }
        tileTrainDone = true;
        group.clear();
        groupExamples = 0;
      };
      for (size_t i = 0; i < xs.size(); i += opts.batchSize) {
        progress.check();
        const size_t j = std::min(xs.size(), i + static_cast<size_t>(opts.batchSize));
        const int64_t c0 = static_cast<int64_t>(i) * Co, c1 = static_cast<int64_t>(j) * Co;
        if (group.empty()) groupCol0 = c0;
        // the batch's rows within the group (joint pass) and its lengths (both passes)
        SiteBatch here = MakeSiteBatch(c0 - groupCol0, xs, i, j);
        GhostConsumer against = [&](size_t k, const at::Tensor& a, const at::Tensor& d) {
          const GhostSide y = PackGhost(a, d, here.lengths);
          for (const auto& tb : tileSites) {
            const auto& ad = tb.sites.at(k);
            S.narrow(0, R0 + tb.row0, ad.first.size(0) * Co).slice(1, c0, c1).add_(GhostProduct(PackGhost(ad.first, ad.second, tb.lengths), y, Co));
          }
        };
        if (!useGhost) group.push_back(std::move(here));
        GhostConsumer gather = [&](size_t k, const at::Tensor& a, const at::Tensor& d) { group.back().sites[k] = {a, d}; };
        at::Tensor f = gb.compute(makeBatch(m, xs, i, j, dev), progress, [&](size_t k, const at::Tensor& t) {
          if (S.defined()) {
            at::Tensor v = S.narrow(0, R0, Rn).slice(1, c0, c1);
            addProductTransposed(v, store[k], t);
          }
          if (G.defined() || A.defined()) {
            if (signWs.numel() < t.numel()) signWs = at::empty({t.numel()}, t.options());
            at::Tensor st = signWs.narrow(0, 0, t.numel()).view(t.sizes());
            at::sign_out(st, t);
            if (G.defined()) {
              at::Tensor v = G.narrow(0, R0, Rn).slice(1, c0, c1);
              addProductTransposed(v, signStore[k], st);
            }
            if (A.defined()) {
              at::Tensor va = A.narrow(0, R0, Rn).slice(1, c0, c1);
              addProductTransposed(va, signStore[k], t);  // <sign g(train), g(x)>
            }
            if (F.defined()) {
              at::Tensor vf = F.narrow(0, R0, Rn).slice(1, c0, c1);
              addProductTransposed(vf, store[k], st);  // <g(train), sign g(x)>
            }
          }
        }, useGhost ? against : gather);
        if (f0) f0->narrow(0, static_cast<int64_t>(i), static_cast<int64_t>(j - i)).copy_(f.to(at::kCPU, at::kDouble));
        groupExamples += static_cast<int64_t>(j - i);
        if (!useGhost && (groupExamples >= groupSize || j == xs.size())) flush(c1);
        progress(phase, ++done, batches);
      }
    };

    // 4. train x train rows of the tile by streaming the whole training set when there are several tiles
    //    (exact, at the price of recomputing its gradients per tile); then the test set
    if (!single) stream(train, "train x train", Ksgd, Ksign, Kasym, at::Tensor(), nullptr);
    stream(test, "test", Tsgd, Tsign, Tasym, Tflip, &f0Test);
    if (!tileTrainDone && !linearBlocks.empty()) {  // no test examples: the tile's own pass
      std::unique_ptr<PhaseTimer> pt(new PhaseTimer(6));
      std::unique_ptr<SingleThreadedBlas> single(workers > 1 ? new SingleThreadedBlas : nullptr);
      for (size_t k : linearBlocks) {
        progress.check();
        JointProducts(k, tileSites, Rn, {}, 0, trainTargets(), jointWs);
      }
    }
  }
  PhaseTimer::report();
  r.f0Train = f0Train;
  r.f0Test = f0Test;

  auto shape4 = [&](const at::Tensor& k, int64_t na, int64_t nb) { return k.to(at::kCPU).view({na, Co, nb, Co}).contiguous(); };
  if (opts.sgd) {
    r.kernels["sgd/train_train"] = shape4(Ksgd, r.nTrain, r.nTrain);
    r.kernels["sgd/train_test"] = shape4(Tsgd, r.nTrain, r.nTest);
  }
  if (opts.signgd) {
    r.kernels["signgd/train_train"] = shape4(Ksign, r.nTrain, r.nTrain);
    r.kernels["signgd/train_test"] = shape4(Tsign, r.nTrain, r.nTest);
  }
  if (opts.asym) {
    r.kernels["asymmetric_signgd/train_train"] = shape4(Kasym, r.nTrain, r.nTrain);
    r.kernels["asymmetric_signgd/train_test"] = shape4(Tasym, r.nTrain, r.nTest);
    r.kernels["asymmetric_signgd/train_test_flipped"] = shape4(Tflip, r.nTrain, r.nTest);
  }
  return r;
}

}  // namespace lmk
