#include "core/entk.h"
#include "core/memory.h"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>

namespace lmk {

// LMKERNEL_PROFILE=1 prints where kernel time goes (forward, backward, blocks, products) to stderr.
namespace {
struct PhaseTimer {
  static bool enabled() {
    static bool on = std::getenv("LMKERNEL_PROFILE") != nullptr;
    return on;
  }
  static double& slot(int i) {
    static double t[8] = {0};
    return t[i];
  }
  int i;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  explicit PhaseTimer(int idx) : i(idx) {}
  ~PhaseTimer() {
    if (enabled()) slot(i) += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  static void report() {
    if (!enabled()) return;
    const char* names[] = {"forward", "backward", "blocks", "unused", "products_train", "consume", "signs", "other"};
    for (int k = 0; k < 8; k++) {
      if (slot(k) > 0) std::fprintf(stderr, "lmkernel profile: %-15s %.3f s\n", names[k], slot(k));
      slot(k) = 0;
    }
  }
};
}  // namespace

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
  mutable at::Tensor workspace;     // reused per-example weight-gradient buffer
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

at::Tensor GradientBlocks::compute(const Batch& b, const Progress& progress, const BlockConsumer& consume) const {
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
  auto emit = [&](const at::Tensor& blk) {
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
        // Σ_t δ_t a_tᵀ for every example and output: one batched GEMM into a reused workspace
        const int64_t din = s.input.size(2), n = B * Co * dout * din;
        if (c.workspace.numel() < n) c.workspace = at::empty({n}, s.input.options());
        at::Tensor gw = c.workspace.narrow(0, 0, n).view({B, Co * dout, din});
        at::bmm_out(gw, d.reshape({B, L, Co * dout}).transpose(1, 2), s.input);
        emit(gw.view({B * Co, dout * din}));
      }
      if (s.pb >= 0) emit(d.sum(1).reshape({B * Co, dout}));
    } else if (s.kind == Site::Kind::Norm) {
      if (s.pw >= 0) emit((d * s.input.unsqueeze(2)).sum(1).reshape({B * Co, dout}));
      if (s.pb >= 0) emit(d.sum(1).reshape({B * Co, dout}));
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
        emit(RowsToBlock(rows));
      }
      if (c.wanted[m.pPos]) emit(RowsToBlock(ScatterRows(dd, b.positions, b.attention, m.cfg.maxPositions).view({B, m.cfg.maxPositions, Co, H})));
      if (c.wanted[m.pType]) emit(RowsToBlock(ScatterRows(dd, b.types, b.attention, m.cfg.typeVocab).view({B, m.cfg.typeVocab, Co, H})));
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
    if (m.pDecoderW >= 0 && c.wanted[m.pDecoderW]) emit((gr.view({1, Co, c.Cu, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.Cu * H}));
    if (c.wanted[m.pDecoderBias]) emit(gr.unsqueeze(0).expand({B, Co, c.Cu}).reshape({B * Co, c.Cu}).contiguous());
  } else {
    if (c.wanted[m.pClsW]) emit((c.g.view({1, Co, c.C, 1}) * zd.view({B, 1, 1, H})).reshape({B * Co, c.C * H}));
    if (c.wanted[m.pClsB]) emit(c.g.unsqueeze(0).expand({B, Co, c.C}).reshape({B * Co, c.C}).contiguous());
  }
  return f.detach();
}

// ------------------------------------------------------------------------------------------------
at::Tensor outputs(const Model& m, const std::vector<Example>& xs, const OutputSpec& out, int64_t batchSize) {
  at::NoGradGuard ng;
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
  at::NoGradGuard ng;
  validateExamples(m, xs, mode == OutputMode::Prompt, "inputs");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); i += batchSize) {
    size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    Batch b = makeBatch(m, xs, i, j, m.device());
    parts.push_back(featuresForward(m, encoderForward(m, b, nullptr), b, mode, nullptr).to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0, m.cfg.hidden}, at::kDouble) : at::cat(parts, 0);
}

namespace {

// Largest number of columns whose ±1 products an fp32 GEMM sums exactly (2^24).
constexpr int64_t kExactColumns = int64_t(1) << 24;

// acc [Ra, Rb] (float64) += A [Ra, P] · Bᵀ [P, Rb], computed in the operands' dtype in column chunks.
void AddProduct(at::Tensor& acc, const at::Tensor& a, const at::Tensor& bT) {
  const int64_t P = a.size(1);
  for (int64_t c0 = 0; c0 < P; c0 += kExactColumns) {
    int64_t c1 = std::min(P, c0 + kExactColumns);
    at::Tensor prod = P <= kExactColumns ? at::mm(a, bT.t()) : at::mm(a.slice(1, c0, c1), bT.slice(1, c0, c1).t());
    acc.add_(prod.to(at::kDouble));
  }
}

}  // namespace

KernelResult computeKernels(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test,
                            const KernelOptions& opts, const Progress& progress) {
  if (train.empty()) throw std::runtime_error("the training set is empty: kernels need at least one training example");
  if (opts.batchSize < 1) throw std::runtime_error("batch size must be >= 1, got " + std::to_string(opts.batchSize));
  if (!opts.sgd && !opts.signgd && !opts.asym) throw std::runtime_error("no kernel formula requested");
  const bool prompt = opts.output.mode == OutputMode::Prompt;
  validateExamples(m, train, prompt, "train");
  validateExamples(m, test, prompt, "test");
  GradientBlocks gb(m, opts.output, opts.subset, train);
  checkKernelMemory(m, gb.wanted(), train, static_cast<int64_t>(test.size()), opts, gb.numOutputs());  // fail before allocating
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
  const int64_t batches = (r.nTrain + opts.batchSize - 1) / opts.batchSize + (r.nTest + opts.batchSize - 1) / opts.batchSize;
  int64_t done = 0;
  const bool signs = opts.signgd || opts.asym;

  // 1. train side: per-example gradient blocks, stored in place ([Rtr, P_k] per block)
  std::vector<at::Tensor> store, signStore;
  std::vector<at::Tensor> f0tr;
  for (size_t i = 0; i < train.size(); i += opts.batchSize) {
    progress.check();
    size_t j = std::min(train.size(), i + static_cast<size_t>(opts.batchSize));
    const int64_t r0 = static_cast<int64_t>(i) * Co;
    at::Tensor f = gb.compute(makeBatch(m, train, i, j, dev), progress, [&](size_t k, const at::Tensor& blk) {
      if (k == store.size()) store.push_back(at::empty({Rtr, blk.size(1)}, blk.options()));
      store[k].narrow(0, r0, blk.size(0)).copy_(blk);
    });
    f0tr.push_back(f.to(at::kCPU, at::kDouble));
    progress("train", ++done, batches);
  }
  r.f0Train = at::cat(f0tr, 0);
  std::unique_ptr<PhaseTimer> pt(new PhaseTimer(6));
  if (signs)
    for (auto& s : store) signStore.push_back(at::sign(s));

  auto f64 = at::TensorOptions().dtype(at::kDouble).device(dev);
  at::Tensor Ksgd, Ksign, Kasym;
  if (opts.sgd) Ksgd = at::zeros({Rtr, Rtr}, f64);
  if (opts.signgd) Ksign = at::zeros({Rtr, Rtr}, f64);
  if (opts.asym) Kasym = at::zeros({Rtr, Rtr}, f64);
  pt.reset(new PhaseTimer(4));
  for (size_t k = 0; k < store.size(); k++) {
    progress.check();
    if (opts.sgd) AddProduct(Ksgd, store[k], store[k]);
    if (opts.signgd) AddProduct(Ksign, signStore[k], signStore[k]);
    if (opts.asym) AddProduct(Kasym, signStore[k], store[k]);  // <sign g(train), g(train')>
  }
  pt.reset();

  // 2. test side: each block of a test batch is multiplied with the stored train block as soon as it
  //    is formed, then dropped: a test example's full gradient never exists
  at::Tensor Tsgd, Tsign, Tasym, Tflip;
  if (opts.sgd) Tsgd = at::zeros({Rtr, Rte}, f64);
  if (opts.signgd) Tsign = at::zeros({Rtr, Rte}, f64);
  if (opts.asym) {
    Tasym = at::zeros({Rtr, Rte}, f64);
    Tflip = at::zeros({Rtr, Rte}, f64);
  }
  at::Tensor signWs;
  std::vector<at::Tensor> f0te;
  for (size_t i = 0; i < test.size(); i += opts.batchSize) {
    progress.check();
    size_t j = std::min(test.size(), i + static_cast<size_t>(opts.batchSize));
    const int64_t c0 = static_cast<int64_t>(i) * Co, c1 = static_cast<int64_t>(j) * Co;
    at::Tensor f = gb.compute(makeBatch(m, test, i, j, dev), progress, [&](size_t k, const at::Tensor& t) {
      if (opts.sgd) {
        at::Tensor v = Tsgd.slice(1, c0, c1);
        AddProduct(v, store[k], t);
      }
      if (signs) {
        if (signWs.numel() < t.numel()) signWs = at::empty({t.numel()}, t.options());
        at::Tensor st = signWs.narrow(0, 0, t.numel()).view(t.sizes());
        at::sign_out(st, t);
        if (opts.signgd) {
          at::Tensor v = Tsign.slice(1, c0, c1);
          AddProduct(v, signStore[k], st);
        }
        if (opts.asym) {
          at::Tensor va = Tasym.slice(1, c0, c1);
          AddProduct(va, signStore[k], t);  // <sign g(train), g(test)>
          at::Tensor vf = Tflip.slice(1, c0, c1);
          AddProduct(vf, store[k], st);  // <g(train), sign g(test)>
        }
      }
    });
    f0te.push_back(f.to(at::kCPU, at::kDouble));
    progress("test", ++done, batches);
  }
  PhaseTimer::report();
  r.f0Test = f0te.empty() ? at::zeros({0, Co}, at::kDouble) : at::cat(f0te, 0);

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
