#include "core/memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/entk_products.h"

namespace lmk {

int64_t KernelMemoryEstimate::total(int64_t tile, int64_t n) const {
  const double share = n > 0 ? static_cast<double>(tile) / static_cast<double>(n) : 1.0;
  return static_cast<int64_t>(static_cast<double>(store + signStore + trainActivations) * share) + kernels + groupActivations + overhead();
}

std::string formatBytes(double b) {
  char buf[64];
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f bytes", b);
  return buf;
}

namespace {

// (a, δ) of the linear weight sites (forward.cc's tape): per token, the distinct layer inputs a (q, k, v
// and their LoRA A share one input) and Co output gradients per recorded output; per example the MLM
// head's dense layer (prompt mode: applied at the mask only).
// tokenMatches: the word embeddings' δ [L, Co, H] kept per example too (the ghost contraction's token matches)
void ActivationSizes(const Model& m, const std::vector<bool>& wanted, bool prompt, int64_t Co, bool tokenMatches, KernelMemoryEstimate& e) {
  auto want = [&](int p) { return p >= 0 && static_cast<size_t>(p) < wanted.size() && wanted[p]; };
  auto rank = [](const Linear& l) { return l.loraA.defined() ? l.loraA.size(0) : int64_t(0); };
  // (GPT-2's q, k, v hold only LoRA matrices: their sizes come from those)
  auto dout = [](const Linear& l) { return l.w.defined() ? l.w.size(0) : l.loraB.size(0); };
  auto din = [](const Linear& l) { return l.w.defined() ? l.w.size(1) : l.loraA.size(1); };
  // one Linear whose input is counted by the caller: the δ of its outputs and LoRA's inner input u
  auto outputs = [&](const Linear& l) {
    int64_t n = 0;
    if (want(l.pw)) n += Co * dout(l);
    if (want(l.pA)) n += Co * rank(l);            // δ of u = A x
    if (want(l.pB)) n += rank(l) + Co * dout(l);  // input u, δ of B u
    return n;
  };
  auto usesInput = [&](const Linear& l) { return want(l.pw) || want(l.pA); };
  auto widest = [&](const Linear& l) {
    if (!want(l.pw) && !want(l.pA) && !want(l.pB)) return;
    e.maxDin = std::max(e.maxDin, din(l));
    e.maxDout = std::max(e.maxDout, dout(l));
  };
  for (const auto& L : m.layers)
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.inter, &L.out}) widest(*l);
  if (prompt) widest(m.headDense);
  int64_t perToken = 0;
  for (const auto& L : m.layers) {
    if (usesInput(L.q) || usesInput(L.k) || usesInput(L.v)) perToken += m.cfg.hidden;  // their input x
    perToken += outputs(L.q) + outputs(L.k) + outputs(L.v);
    for (const Linear* l : {&L.o, &L.inter, &L.out, &L.qkv}) perToken += (usesInput(*l) ? din(*l) : 0) + outputs(*l);
    perToken += outputs(L.gate);  // Llama's gate_proj shares up_proj's input
  }
  if (tokenMatches && want(m.pWord)) perToken += Co * m.cfg.hidden;
  int64_t perExample = 0;
  if (prompt) perExample += (usesInput(m.headDense) ? din(m.headDense) : 0) + outputs(m.headDense);
  e.activationsPerToken = perToken * e.elementSize;
  e.activationsPerExample = perExample * e.elementSize;
}

int64_t MaxLength(const std::vector<Example>& xs) {
  int64_t n = 0;
  for (const auto& x : xs) n = std::max<int64_t>(n, static_cast<int64_t>(x.ids.size()));
  return n;
}

}  // namespace

bool sgdByGhost(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, const std::vector<Example>& test,
                const KernelOptions& opts, int64_t numOutputs, const ExecutionPlan* plan) {
  if (opts.ghost >= 0) return opts.ghost == 1;
  if (!opts.sgd || opts.signs()) return false;
  auto want = [&](int p) { return p >= 0 && static_cast<size_t>(p) < wanted.size() && wanted[p]; };
  auto tokens = [](const std::vector<Example>& xs) {
    double t = 0;
    for (const auto& x : xs) t += static_cast<double>(x.ids.size());
    return t;
  };
  const double ttr = tokens(train), tte = tokens(test), ntr = static_cast<double>(train.size()), nte = static_cast<double>(test.size());
  // per pair of tokens: din + C²·dout, or by segments (GhostProduct) din + C·dout + C²·dout / (tokens per example)
  const double C = static_cast<double>(numOutputs);
  const bool segments = numOutputs >= (plan ? *plan : resolvePlan(opts, m.device(), 4, -1)).ghostSegmentsFrom;
  const double perExample = (ttr + tte) / std::max(1.0, ntr + nte);
  double ghostPerToken = 0, jointPerRow = 0;  // Σ_sites of the ghost's cost per token pair and din·dout
  auto site = [&](double din, double dout) {
    ghostPerToken += din + (segments ? C * dout + C * C * dout / std::max(1.0, perExample) : C * C * dout);
    jointPerRow += din * dout;
  };
  auto linear = [&](const Linear& l) {
    if (!l.w.defined() && !l.loraA.defined()) return;  // a layer the family does not have (GPT-2's q, k, v; Llama's qkv)
    const double din = static_cast<double>(l.w.defined() ? l.w.size(1) : l.loraA.size(1));
    const double dout = static_cast<double>(l.w.defined() ? l.w.size(0) : l.loraB.size(0));
    const double r = l.loraA.defined() ? static_cast<double>(l.loraA.size(0)) : 0;
    if (want(l.pw)) site(din, dout);
    if (want(l.pA)) site(din, r);
    if (want(l.pB)) site(r, dout);
  };
  for (const auto& L : m.layers)
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.inter, &L.out, &L.qkv, &L.gate}) linear(*l);
  const double ghost = ghostPerToken * ttr * (ttr + tte);
  const double joint = jointPerRow * (C * (ttr + tte) + C * C * ntr * (ntr + nte));
  return ghost <= joint;
}

int64_t activationBytes(const KernelMemoryEstimate& e, const std::vector<Example>& xs, int64_t batchSize) {
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); i += static_cast<size_t>(batchSize)) {
    const size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    int64_t len = 0;
    for (size_t t = i; t < j; t++) len = std::max<int64_t>(len, static_cast<int64_t>(xs[t].ids.size()));
    total += static_cast<int64_t>(j - i) * (len * e.activationsPerToken + e.activationsPerExample);
  }
  return total;
}

namespace {

// Bytes per row R of one worker's joint-pass workspace: a chunk of at least minChunkRows output rows of the
// widest site (its values, its signs when both are needed, their int8 operands and padded copies), and
// the float64 product of the tile's `tileRows` against it.
double WorkspacePerRow(const KernelMemoryEstimate& e, const KernelOptions& opts, const ExecutionPlan& plan, int64_t tileRows) {
  const double rowElems = static_cast<double>(std::min(e.maxDout, plan.minChunkRows) * e.maxDin);
  const bool values = opts.sgd || opts.asymmetricSigngd, signs = opts.signs();
  double perElem = static_cast<double>(e.elementSize) * (signs && values ? 2 : 1);
  if (signs && (plan.signProduct == SignProduct::Int8 || plan.signProduct == SignProduct::Fp8))
    perElem += 3;                                                         // the int8/fp8 operands and their padded copies
  if (signs && plan.signProduct == SignProduct::Planes) perElem += 0.25;  // two bit planes
  return rowElems * perElem + 8.0 * static_cast<double>(tileRows);
}

// jointWorkspace, workerTargets and batchTransients of e (the tile's rows `tileRows`, a group of e.groupExamples).
void Overheads(KernelMemoryEstimate& e, const Model& m, const KernelOptions& opts, const ExecutionPlan& plan, int64_t maxLen,
               int64_t numOutputs, int64_t tileRows, bool joint) {
  const int64_t rowsGroup = e.groupExamples * numOutputs, R = tileRows + rowsGroup;
  const int64_t W = std::max(1, plan.workers);
  if (joint) {
    // a chunk of plan.chunkElements (at most the whole site), or of minChunkRows rows when that is more
    const double whole = static_cast<double>(R) * static_cast<double>(e.maxDout * e.maxDin);
    const double chunk = std::max(std::min(static_cast<double>(plan.chunkElements), whole) * static_cast<double>(e.elementSize),
                                  WorkspacePerRow(e, opts, plan, tileRows) * static_cast<double>(R));
    e.jointWorkspace = static_cast<int64_t>(static_cast<double>(W) * chunk);
    const int64_t nTT = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asymmetricSigngd ? 1 : 0);
    const int64_t nTe = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asymmetricSigngd ? 1 : 0) + (opts.asymmetricFlipped ? 1 : 0);
    if (W > 1) e.workerTargets = W * 8 * (nTT * tileRows * tileRows + nTe * tileRows * rowsGroup);
  } else if (numOutputs >= plan.ghostSegmentsFrom) {
    // the ghost contraction's segments order: per worker M ([B·C·B·L, columns]) and the δ columns it reads
    const int64_t rows = opts.batchSize * numOutputs * opts.batchSize * maxLen;
    e.jointWorkspace = W * 2 * std::max(kGhostSegmentElements, 16 * rows) * e.elementSize;
  }
  // one batch's forward graph and δ beyond the (a, δ) kept (the graph saves the same layer inputs the tape
  // keeps; the δ of each output are stacked once more): about one more (a, δ) of the batch, and the
  // attention scores and probabilities of every layer
  const int64_t B = opts.batchSize, heads = std::max<int64_t>(1, m.cfg.heads);
  e.batchTransients = B * (maxLen * e.activationsPerToken + e.activationsPerExample) +
                      2 * static_cast<int64_t>(m.layers.size()) * B * heads * maxLen * maxLen * e.elementSize;
}

}  // namespace

KernelMemoryEstimate estimateKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                                          const std::vector<Example>& test, const KernelOptions& opts, int64_t numOutputs,
                                          const ExecutionPlan* plan) {
  KernelMemoryEstimate e;
  const bool prompt = opts.output.mode == OutputMode::Prompt;
  const int64_t H = m.cfg.hidden;
  e.elementSize = static_cast<int64_t>(c10::elementSize(m.dtype));
  // the stored widths of the explicit blocks, as GradientBlocks::compute emits them
  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  if (m.tied && prompt) uni.insert(opts.output.labelWordIds.begin(), opts.output.labelWordIds.end());
  const int64_t Cu = static_cast<int64_t>(std::set<int64_t>(opts.output.labelWordIds.begin(), opts.output.labelWordIds.end()).size());
  // parameters with no block: the key biases (softmax ignores them: their gradient is exactly 0, the
  // engine records none) and, in the standard setting, the MLM head (not on the path to the output);
  // linear weights (and LoRA matrices) travel as (a, δ), counted in the activations
  std::set<int> none, linear;
  for (const auto& l : m.layers) {
    if (!m.cfg.isDecoder()) none.insert(l.k.pb);  // (Qwen2's rotated key bias has a block; GPT-2's is in c_attn's)
    for (const Linear* x : {&l.q, &l.k, &l.v, &l.o, &l.inter, &l.out, &l.qkv, &l.gate}) linear.insert({x->pw, x->pA, x->pB});
  }
  // (a decoder's final norm, headLn, is on the path in both settings)
  if (!prompt && !m.cfg.isDecoder()) none.insert({m.headDense.pw, m.headDense.pb, m.headLn.pw, m.headLn.pb});
  linear.insert(m.headDense.pw);
  // the ghost contraction takes the word embeddings as token matches, kept with the (a, δ) (no stored rows)
  const ExecutionPlan p = plan ? *plan : resolvePlan(opts, m.device(), e.elementSize, -1);
  const bool joint = !sgdByGhost(m, wanted, train, test, opts, numOutputs, &p);
  for (size_t i = 0; i < m.params.size() && i < wanted.size(); i++) {
    if (!wanted[i]) continue;
    const int idx = static_cast<int>(i);
    if (none.count(idx) || linear.count(idx)) continue;
    if (idx == m.pWord) e.width += joint ? static_cast<int64_t>(uni.size()) * H : 0;
    else if (idx == m.pDecoderW) e.width += prompt && !m.tied ? Cu * H : 0;
    else if (idx == m.pDecoderBias) e.width += prompt ? Cu : 0;
    else if (idx == m.pClsW || idx == m.pClsB) e.width += prompt ? 0 : m.params[i].numel;
    else e.width += m.params[i].numel;  // positions and types: whole tables; LayerNorms and biases
  }
  e.rows = static_cast<int64_t>(train.size()) * numOutputs;
  e.store = (opts.sgd || opts.asymmetricSigngd ? e.rows * e.width : 0) * e.elementSize;
  e.signStore = (opts.signgd || opts.asymmetricSigngd) ? e.rows * e.width * e.elementSize : 0;
  ActivationSizes(m, wanted, prompt, numOutputs, !joint, e);
  e.trainActivations = activationBytes(e, train, opts.batchSize);
  if (joint) {
    e.groupExamples =
        std::min<int64_t>(static_cast<int64_t>(std::max(train.size(), test.size())), opts.groupSize > 0 ? opts.groupSize : opts.batchSize);
    e.groupActivations = e.groupExamples * (std::max(MaxLength(train), MaxLength(test)) * e.activationsPerToken + e.activationsPerExample);
  }
  const int64_t rte = static_cast<int64_t>(test.size()) * numOutputs;
  const int64_t nTT = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asymmetricSigngd ? 1 : 0);
  const int64_t nTe = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asymmetricSigngd ? 1 : 0) + (opts.asymmetricFlipped ? 1 : 0);
  e.kernels = 8 * (e.rows * e.rows * (nTT + 1) + e.rows * rte * nTe);
  const int64_t tile = opts.trainTile > 0 ? std::min<int64_t>(opts.trainTile, static_cast<int64_t>(train.size())) : train.size();
  Overheads(e, m, opts, p, std::max(MaxLength(train), MaxLength(test)), numOutputs, tile * numOutputs, joint);
  return e;
}

int64_t chooseGroupSize(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                        const std::vector<Example>& streamed, int64_t tile, const KernelOptions& opts, int64_t numOutputs,
                        const ExecutionPlan* plan) {
  const int64_t n = static_cast<int64_t>(streamed.size());
  if (opts.groupSize > 0) return std::max<int64_t>(1, std::min(opts.groupSize, std::max<int64_t>(1, n)));
  const ExecutionPlan p = plan ? *plan : resolvePlan(opts, m.device(), static_cast<int64_t>(c10::elementSize(m.dtype)), -1);
  const int64_t cap = std::max<int64_t>(opts.batchSize, p.groupCap);
  int64_t group = std::max<int64_t>(1, std::min(n, cap));
  const char* off = std::getenv("LMKERNEL_MEMORY_CHECK");
  const MemorySource avail = availableMemory(m.device());
  if ((off && std::strcmp(off, "0") == 0) || avail.bytes < 0) return group;
  KernelOptions tiled = opts;
  tiled.trainTile = tile;
  const KernelMemoryEstimate e = estimateKernelMemory(m, wanted, train, streamed, tiled, numOutputs, &p);
  const double nTrain = static_cast<double>(std::max<size_t>(1, train.size()));
  const double tileBytes = static_cast<double>(e.store + e.signStore + e.trainActivations) * static_cast<double>(tile) / nTrain;
  // half of what is left after the tile, the kernels and the transients, for the group's (a, δ) and the
  // joint pass's workspace rows and per-worker target columns that grow with it
  const double left = 0.5 * (0.9 * static_cast<double>(avail.bytes) - static_cast<double>(e.kernels + e.batchTransients) - tileBytes);
  const int64_t tileRows = tile * numOutputs, W = std::max(1, p.workers);
  const double nTe = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asymmetricSigngd ? 1 : 0) + (opts.asymmetricFlipped ? 1 : 0);
  const double perRow = static_cast<double>(W) * WorkspacePerRow(e, opts, p, tileRows) + (W > 1 ? W * 8.0 * nTe * tileRows : 0.0);
  const double perExample =
      static_cast<double>(MaxLength(streamed) * e.activationsPerToken + e.activationsPerExample) + static_cast<double>(numOutputs) * perRow;
  if (perExample > 0) group = std::min<int64_t>(group, static_cast<int64_t>(std::max(0.0, left / perExample)));
  return std::max<int64_t>(group, std::min<int64_t>(std::max<int64_t>(1, n), opts.batchSize));
}

int64_t chooseTrainTile(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                        const std::vector<Example>& test, const KernelOptions& opts, int64_t numOutputs, const ExecutionPlan* plan) {
  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t asked = opts.trainTile > 0 ? std::min(opts.trainTile, n) : 0;
  const char* off = std::getenv("LMKERNEL_MEMORY_CHECK");
  if (off && std::strcmp(off, "0") == 0) return asked;
  const MemorySource avail = availableMemory(m.device());
  if (avail.bytes < 0) return asked;  // unknown: no check
  KernelOptions whole = opts;         // the transients of the whole set's rows: an upper bound whatever the tile
  whole.trainTile = 0;
  const KernelMemoryEstimate e = estimateKernelMemory(m, wanted, train, test, whole, numOutputs, plan);
  // the kernels, (joint mode) one group of streamed examples and the transients, whatever the tile
  const double budget = 0.9 * static_cast<double>(avail.bytes) - static_cast<double>(e.kernels + e.groupActivations + e.overhead());
  const double perExample = n > 0 ? static_cast<double>(e.store + e.signStore + e.trainActivations) / static_cast<double>(n) : 0;
  const int64_t tile = asked > 0 ? asked : n;
  if (static_cast<double>(tile) * perExample <= budget) return asked;
  // the stores of all training examples do not fit: tile the training set (exact; each tile streams the
  // sets again) unless a tile was asked for, or even one example does not fit
  const int64_t fit = perExample > 0 && budget > 0 ? static_cast<int64_t>(budget / perExample) : 0;
  if (asked == 0 && fit >= 1) return std::min(n, fit);
  const double share = static_cast<double>(tile) / static_cast<double>(std::max<int64_t>(1, n));
  std::ostringstream msg;
  msg << "not enough memory: the eNTK needs about "
      << formatBytes(static_cast<double>(tile) * perExample + static_cast<double>(e.kernels + e.groupActivations + e.overhead())) << " on "
      << m.device().str() << " (for " << tile << " training examples x " << numOutputs
      << " outputs: layer inputs and output gradients of the linear layers " << formatBytes(static_cast<double>(e.trainActivations) * share)
      << ", gradient store of the other blocks " << tile * numOutputs << " rows x " << e.width << " entries x " << e.elementSize
      << " bytes = " << formatBytes(static_cast<double>(e.store) * share);
  if (e.signStore) msg << ", sign store " << formatBytes(static_cast<double>(e.signStore) * share);
  if (e.groupActivations) msg << ", one batch of streamed examples " << formatBytes(static_cast<double>(e.groupActivations));
  if (e.overhead()) msg << ", workspaces and transients " << formatBytes(static_cast<double>(e.overhead()));
  msg << ", kernels " << formatBytes(static_cast<double>(e.kernels)) << "), but only " << formatBytes(static_cast<double>(avail.bytes))
      << " is available (" << avail.source << ")";
  if (asked > 0 && fit >= 1) msg << ". A tile of at most " << fit << " training examples fits (--train-tile " << fit << ")";
  msg << ". Use fewer training examples, a smaller parameter subset (--subset exclude_embeddings or only_biases), float32 instead "
      << "of float64, shorter sequences, or a smaller --train-tile or --batch-size. "
      << "LMKERNEL_MEMORY_CHECK=0 skips this check.";
  throw std::runtime_error(msg.str());
}

}  // namespace lmk
