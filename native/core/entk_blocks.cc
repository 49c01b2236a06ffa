// GradientBlocks (entk.h): the per-example gradient blocks of one batch from one forward pass and one
// backward pass per output to the recorded activations (DESIGN.md, per-block streaming).
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>

#include "core/entk.h"
#include "core/profile.h"

namespace lmk {

struct BlockContext {
  const Model& m;
  OutputSpec out;
  std::vector<bool> wanted;
  int64_t C = 0;     // logits read from the model (label words or classifier rows)
  int64_t Cout = 0;  // outputs differentiated (C, or 1 when binary)
  at::Tensor g;      // [Cout, C] output coefficients: f = logits · gᵀ
  at::Tensor labelIds;
  // word-embedding rows kept: tokens of the training set (plus label words when the decoder is tied)
  at::Tensor unionMap;  // [vocab] int64, -1 where dropped
  int64_t U = 0;
  // unique label rows of the untied decoder (two labels may share a word)
  at::Tensor labelRow;  // [C] -> row in 0..Cu-1
  int64_t Cu = 0;
  std::vector<int> unionLabelRows;  // tied: union row of each label
  bool tokenMatches = false;        // word embeddings to the GhostConsumer as token matches
};

namespace {

// whether parameter p (an index, -1 = the model has none) has blocks in this kernel
bool Wants(const BlockContext& c, int p) { return p >= 0 && c.wanted[static_cast<size_t>(p)]; }

// The logits read and the output coefficients g (identity, or [-1, 1] for one binary output).
void SetOutputs(BlockContext& c) {
  const Model& m = c.m;
  const OutputSpec& out = c.out;
  if (out.mode == OutputMode::Prompt) {
    if (out.labelWordIds.empty()) throw std::runtime_error("prompt mode needs label_word_ids (one token id per label)");
    for (size_t i = 0; i < out.labelWordIds.size(); i++)
      if (out.labelWordIds[i] < 0 || out.labelWordIds[i] >= m.cfg.vocabSize)
        throw std::runtime_error("label_word_ids[" + std::to_string(i) + "] = " + std::to_string(out.labelWordIds[i]) +
                                 " is outside the vocabulary [0, " + std::to_string(m.cfg.vocabSize) + ")");
    c.C = static_cast<int64_t>(out.labelWordIds.size());
    c.labelIds = labelIdTensor(m, out);
  } else {
    if (!m.clsW.defined())
      throw std::runtime_error("the standard setting needs a 'classifier' head: the checkpoint has no classifier.weight (supply one)");
    c.C = m.clsW.size(0);
  }
  if (out.binary && c.C != 2) throw std::runtime_error("binary output needs exactly 2 logits, the model has " + std::to_string(c.C));
  c.Cout = out.binary ? 1 : c.C;
  c.g = out.binary ? at::tensor({-1.0, 1.0}, at::kDouble).view({1, 2}) : at::eye(c.C, at::kDouble);
  c.g = c.g.to(m.device(), m.dtype);
}

// The row spaces: the word-embedding union of the training set and the unique label rows.
void SetRows(BlockContext& c, const std::vector<Example>& train) {
  const Model& m = c.m;
  const OutputSpec& out = c.out;
  const bool tiedLabels = m.tied && out.mode == OutputMode::Prompt;
  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  if (tiedLabels) uni.insert(out.labelWordIds.begin(), out.labelWordIds.end());
  auto map = at::full({m.cfg.vocabSize}, -1, at::kLong);
  auto pm = map.accessor<int64_t, 1>();
  int64_t k = 0;
  for (auto id : uni) pm[id] = k++;
  c.U = k;
  if (tiedLabels)
    for (auto id : out.labelWordIds) c.unionLabelRows.push_back(static_cast<int>(pm[id]));
  c.unionMap = map.to(m.device());

  std::vector<int64_t> rows, seen;
  for (auto id : out.labelWordIds) {
    auto it = std::find(seen.begin(), seen.end(), id);
    rows.push_back(it == seen.end() ? static_cast<int64_t>(seen.size()) : it - seen.begin());
    if (it == seen.end()) seen.push_back(id);
  }
  c.Cu = static_cast<int64_t>(seen.size());
  c.labelRow = at::tensor(rows.empty() ? std::vector<int64_t>{0} : rows, at::kLong).to(m.device());
}

// Scatter rows of δ [B, L, K] by index [B, L] (−1 = dropped) into [B, R, K]. Dropped positions go to one
// extra row, cut off after: no boolean selection, whose size the host would wait for on a GPU.
at::Tensor ScatterRows(const at::Tensor& delta, const at::Tensor& index, const at::Tensor& valid, int64_t R) {
  const int64_t B = delta.size(0), L = delta.size(1), K = delta.size(2);
  auto base = at::arange(B, index.options()).view({B, 1}) * R;
  auto keep = valid & index.ge(0);
  auto flat = at::where(keep, base + index.clamp_min(0), at::full({}, B * R, index.options())).view({B * L});
  auto out = at::zeros({B * R + 1, K}, delta.options());
  out.index_add_(0, flat, delta.reshape({B * L, K}));
  return out.narrow(0, 0, B * R).view({B, R, K});
}

// [B, R, Cout, d] -> [B·Cout, R·d]
at::Tensor RowsToBlock(const at::Tensor& g) {
  const int64_t B = g.size(0), R = g.size(1), Co = g.size(2), d = g.size(3);
  return g.permute({0, 2, 1, 3}).reshape({B * Co, R * d});
}

// δ of every recorded site, one backward pass per output to the activations only (no weight gradients):
// per site, the gradients of the Cout outputs.
std::vector<std::vector<at::Tensor>> SiteGradients(const Tape& tape, const at::Tensor& f, int64_t Co, const Progress& progress) {
  std::vector<at::Tensor> outs;
  for (auto& s : tape.sites) outs.push_back(s.output);
  std::vector<std::vector<at::Tensor>> deltas(tape.sites.size());
  if (outs.empty()) return deltas;
  for (int64_t o = 0; o < Co; o++) {
    progress.check();
    auto gr = torch::autograd::grad({f.select(1, o).sum()}, outs, {}, /*retain_graph=*/o + 1 < Co, false, /*allow_unused=*/true);
    for (size_t i = 0; i < gr.size(); i++) deltas[i].push_back(gr[i].defined() ? gr[i] : at::zeros_like(outs[i]));
  }
  return deltas;
}

// Hands the blocks out in order (block k = the k-th emitted), timing the consumers apart.
struct Emitter {
  const BlockConsumer& consume;
  const GhostConsumer& linear;
  std::unique_ptr<PhaseTimer>& pt;
  size_t k = 0;
  void whole(const at::Tensor& blk) {
    pt.reset(new PhaseTimer(5));
    consume(k++, blk);
    pt.reset(new PhaseTimer(2));
  }
  void ghost(const at::Tensor& a, const at::Tensor& d) {
    pt.reset(new PhaseTimer(5));
    linear(k++, a, d);
    pt.reset(new PhaseTimer(2));
  }
};

// Embedding blocks: δ of the embedding sum [B, L, Co, H] scattered into table rows. The tied decoder's
// label-row gradient g[o, c] · z joins the word-embedding rows before any sign.
void EmitEmbeddings(const BlockContext& c, const Batch& b, const at::Tensor& d, const at::Tensor& zd, Emitter& emit) {
  const Model& m = c.m;
  const int64_t B = b.size(), L = d.size(1), Co = c.Cout, H = m.cfg.hidden;
  at::Tensor dd = d.reshape({B, L, Co * H});
  if (Wants(c, m.pWord) && c.tokenMatches) {
    // the union row of each position (−1: padding, or outside the union) and, tied, one more position per
    // label (its row, δ = g[o, c] · z): the ghost contraction sums over equal rows
    at::Tensor idx = c.unionMap.index_select(0, b.ids.reshape({-1})).view(b.ids.sizes());
    idx = at::where(b.attention, idx, at::full({}, -1, idx.options()));
    at::Tensor dl = d;
    if (!c.unionLabelRows.empty()) {
      std::vector<at::Tensor> rows, adds;
      for (int64_t l = 0; l < static_cast<int64_t>(c.unionLabelRows.size()); l++) {
        rows.push_back(at::full({B, 1}, c.unionLabelRows[l], idx.options()));
        adds.push_back((c.g.select(1, l).view({1, Co, 1}) * zd.view({B, 1, H})).unsqueeze(1));  // [B, 1, Co, H]
      }
      idx = at::cat({idx, at::cat(rows, 1)}, 1);
      dl = at::cat({d, at::cat(adds, 1)}, 1);
    }
    emit.ghost(idx, dl);
  } else if (Wants(c, m.pWord)) {
    at::Tensor idx = c.unionMap.index_select(0, b.ids.reshape({-1})).view(b.ids.sizes());
    at::Tensor rows = ScatterRows(dd, idx, b.attention, c.U).view({B, c.U, Co, H});
    for (int64_t l = 0; l < static_cast<int64_t>(c.unionLabelRows.size()); l++) {
      at::Tensor add = c.g.select(1, l).view({1, Co, 1}) * zd.view({B, 1, H});  // [B, Co, H]
      rows.select(1, c.unionLabelRows[l]).add_(add);
    }
    emit.whole(RowsToBlock(rows));
  }
  if (Wants(c, m.pPos))
    emit.whole(RowsToBlock(ScatterRows(dd, b.positions, b.attention, m.cfg.maxPositions).view({B, m.cfg.maxPositions, Co, H})));
  if (Wants(c, m.pType)) emit.whole(RowsToBlock(ScatterRows(dd, b.types, b.attention, m.cfg.typeVocab).view({B, m.cfg.typeVocab, Co, H})));
}

// The blocks of one recorded site from its δ [B, L, Cout, dout].
void EmitSite(const BlockContext& c, const Batch& b, const Site& s, const at::Tensor& d, const at::Tensor& zd, Emitter& emit) {
  const int64_t rows = b.size() * c.Cout, dout = d.size(3);
  if (s.kind == Site::Kind::Linear) {
    if (s.pw >= 0) emit.ghost(s.input, d);
    if (s.pb >= 0) emit.whole(d.sum(1).reshape({rows, dout}));
  } else if (s.kind == Site::Kind::Norm) {
    if (s.pw >= 0) emit.whole((d * s.input.unsqueeze(2)).sum(1).reshape({rows, dout}));
    if (s.pb >= 0) emit.whole(d.sum(1).reshape({rows, dout}));
  } else {
    EmitEmbeddings(c, b, d, zd, emit);
  }
}

// The explicit output rows: untied decoder + output bias (prompt) or classifier (standard).
void EmitOutputRows(const BlockContext& c, const at::Tensor& zd, Emitter& emit) {
  const Model& m = c.m;
  const int64_t B = zd.size(0), Co = c.Cout, H = m.cfg.hidden;
  if (c.out.mode == OutputMode::Prompt) {
    at::Tensor gr = at::zeros({Co, c.Cu}, c.g.options());  // Σ_c g[o, c] into row labelRow[c]
    gr.index_add_(1, c.labelRow, c.g);
    if (Wants(c, m.pDecoderW)) emit.whole((gr.view({1, Co, c.Cu, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.Cu * H}));
    if (Wants(c, m.pDecoderBias)) emit.whole(gr.unsqueeze(0).expand({B, Co, c.Cu}).reshape({B * Co, c.Cu}).contiguous());
  } else {
    if (Wants(c, m.pClsW)) emit.whole((c.g.view({1, Co, c.C, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.C * H}));
    if (Wants(c, m.pClsB)) emit.whole(c.g.unsqueeze(0).expand({B, Co, c.C}).reshape({B * Co, c.C}).contiguous());
  }
}

}  // namespace

GradientBlocks::GradientBlocks(const Model& m, const OutputSpec& out, Subset subset, const std::vector<Example>& train)
    : ctx_(new BlockContext{m, out, subsetMask(m, subset)}) {
  SetOutputs(*ctx_);
  SetRows(*ctx_, train);
}

GradientBlocks::~GradientBlocks() = default;
int64_t GradientBlocks::numOutputs() const { return ctx_->Cout; }
const std::vector<bool>& GradientBlocks::wanted() const { return ctx_->wanted; }
void GradientBlocks::setTokenMatches(bool on) { ctx_->tokenMatches = on; }

at::Tensor GradientBlocks::compute(const Batch& b, const Progress& progress, const BlockConsumer& consume,
                                   const GhostConsumer& linear) const {
  const auto& c = *ctx_;
  Tape tape;
  tape.wanted = &c.wanted;
  std::unique_ptr<PhaseTimer> pt(new PhaseTimer(0));
  ForwardOutputs fw = forwardOutputs(c.m, b, c.out.mode, c.labelIds, &tape);
  at::Tensor f = at::matmul(fw.logits, c.g.t());  // [B, Cout]
  pt.reset(new PhaseTimer(1));
  std::vector<std::vector<at::Tensor>> deltas = SiteGradients(tape, f, c.Cout, progress);
  pt.reset(new PhaseTimer(2));
  const at::Tensor zd = fw.features.detach();
  fw = ForwardOutputs();
  Emitter emit{consume, linear, pt};
  for (size_t i = 0; i < tape.sites.size(); i++) {
    Site& s = tape.sites[i];
    at::Tensor d = deltas[i].size() == 1 ? deltas[i][0].unsqueeze(2) : at::stack(deltas[i], 2);  // [B, L, Cout, dout]
    deltas[i].clear();
    s.output = at::Tensor();
    EmitSite(c, b, s, d, zd, emit);
    s.input = at::Tensor();
  }
  EmitOutputRows(c, zd, emit);
  return f.detach();
}

}  // namespace lmk
