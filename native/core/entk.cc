// computeKernels (entk.h): drives the eNTK engine tile by tile. For each training tile: the train side's
// small blocks are stored and its linear sites kept as (a, δ); the training set (several tiles) and the
// test set are then streamed against the tile, small blocks multiplied as they are formed, linear blocks
// by the joint pass over groups of streamed examples (entk_products.h) or the ghost contraction.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "core/entk.h"
#include "core/entk_devices.h"
#include "core/entk_products.h"
#include "core/memory.h"
#include "core/plan.h"
#include "core/profile.h"
#include "core/sign_products.h"
#include "core/skinny_gemm.h"
#include "core/workers.h"

namespace lmk {

namespace {

void CheckKernelOptions(const std::vector<Example>& train, const KernelOptions& opts) {
  if (train.empty()) throw std::runtime_error("the training set is empty: kernels need at least one training example");
  if (opts.batchSize < 1) throw std::runtime_error("batch size must be >= 1, got " + std::to_string(opts.batchSize));
  if (opts.groupSize < 0) throw std::runtime_error("group size must be >= 0 (0 = automatic), got " + std::to_string(opts.groupSize));
  if (!opts.sgd && !opts.signs()) throw std::runtime_error("no kernel formula requested");
  if (opts.asymmetricFlipped && !opts.asymmetricSigngd)
    throw std::runtime_error("the flipped kernel <g(train), sign g(x)> is part of asymmetric_signgd: ask for that formula too");
  if (opts.ghost == 1 && opts.signs())
    throw std::runtime_error("the ghost contraction gives the SGD kernel only; sign kernels need explicit blocks");
}

// One training tile [t0, t1): its stored small blocks (values and signs, [Rn, P_k] each), the (a, δ) of its
// linear sites per batch, and whether its own train x train of the linear blocks is done.
struct Tile {
  int64_t t0 = 0, t1 = 0, R0 = 0, Rn = 0, groupSize = 0;
  std::vector<at::Tensor> store, signStore;
  std::vector<SiteBatch> sites;
  std::vector<size_t> linearBlocks;
  bool trainDone = false;
};

class KernelRun {
 public:
  KernelRun(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts,
            const Progress& progress);
  KernelResult run();

 private:
  void storeTrainSide(Tile& tile);
  void trainTrainFromStore(Tile& tile);
  JointTargets trainTargets(const Tile& tile) const;
  void stream(Tile& tile, const std::vector<Example>& xs, const char* phase, const JointTargets& into, at::Tensor* f0);
  void multiplyStreamed(const Tile& tile, size_t k, const at::Tensor& t, const JointTargets& into, int64_t c0, int64_t c1);
  void jointPass(Tile& tile, const std::vector<SiteBatch>& group, int64_t Rg, const JointTargets& t);
  void addKernel(const char* name, const at::Tensor& k, int64_t na, int64_t nb);

  const Model& m_;
  const std::vector<Example>& train_;
  const std::vector<Example>& test_;
  const KernelOptions& opts_;
  const Progress& progress_;
  const at::Device dev_;
  ExecutionPlan plan_;
  // the row spaces (word-embedding union, label rows) come from the whole training set, whatever the tile
  GradientBlocks gb_;
  KernelResult r_;
  int64_t Co_ = 0;
  bool useGhost_ = false, keepStore_ = false, signs_ = false, single_ = true;
  int64_t batches_ = 0, done_ = 0, groupSize_ = 0;
  JointTargets k_;  // the whole kernels: train x train (K*) and train x test (T*)
  at::Tensor f0Train_, f0Test_, signWs_;
  std::vector<JointWorkspace> jointWs_;
  MemoryReservation reservation_;  // this computation's share of the process-wide memory budget
};

KernelRun::KernelRun(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts,
                     const Progress& progress)
    : m_(m), train_(train), test_(test), opts_(opts), progress_(progress), dev_(m.device()), gb_(m, opts.output, opts.subset, train) {
  r_.numOutputs = Co_ = gb_.numOutputs();
  r_.nTrain = static_cast<int64_t>(train.size());
  r_.nTest = static_cast<int64_t>(test.size());
  for (size_t i = 0; i < m.params.size(); i++)
    if (gb_.wanted()[i]) {
      r_.gradDim += m.params[i].numel;
      r_.paramNames.push_back(m.params[i].name);
    }
  signs_ = opts.signs();
  plan_ = resolvePlan(opts, dev_, static_cast<int64_t>(c10::elementSize(m.dtype)), availableMemory(dev_).bytes);
  keepStore_ = opts.sgd || opts.asymmetricSigngd;  // the small blocks' values (the sign kernels alone need only their signs)
  useGhost_ = sgdByGhost(m, gb_.wanted(), train, test, opts, Co_, &plan_);
  gb_.setTokenMatches(useGhost_);  // the word embeddings by token matches too
  // fail before allocating, or tile the training set automatically when its stores do not fit
  const int64_t chosen = chooseTrainTile(m, gb_.wanted(), train, test, opts, Co_, &plan_);
  r_.tileSize = chosen > 0 ? std::min<int64_t>(chosen, r_.nTrain) : r_.nTrain;
  r_.numTiles = (r_.nTrain + r_.tileSize - 1) / r_.tileSize;
  r_.tiles = shardTiles(r_.numTiles, opts.shardIndex, opts.shardCount);
  single_ = r_.numTiles == 1;
  auto nb = [&](int64_t n) { return (n + opts.batchSize - 1) / opts.batchSize; };
  for (int64_t t : r_.tiles) batches_ += nb(std::min(r_.nTrain, (t + 1) * r_.tileSize) - t * r_.tileSize);
  batches_ += static_cast<int64_t>(r_.tiles.size()) * (nb(r_.nTest) + (single_ ? 0 : nb(r_.nTrain)));

  const int64_t Rtr = r_.nTrain * Co_, Rte = r_.nTest * Co_;
  auto f64 = at::TensorOptions().dtype(at::kDouble).device(dev_);
  if (opts.sgd) k_.Ksgd = at::zeros({Rtr, Rtr}, f64), k_.Tsgd = at::zeros({Rtr, Rte}, f64);
  if (opts.signgd) k_.Ksign = at::zeros({Rtr, Rtr}, f64), k_.Tsign = at::zeros({Rtr, Rte}, f64);
  if (opts.asymmetricSigngd) k_.Kasymmetric = at::zeros({Rtr, Rtr}, f64), k_.Tasymmetric = at::zeros({Rtr, Rte}, f64);
  if (opts.asymmetricFlipped) k_.Tflip = at::zeros({Rtr, Rte}, f64);
  // the outputs stay on the device until the end: no copy (and no synchronisation) per batch
  f0Train_ = at::zeros({r_.nTrain, Co_}, f64);
  f0Test_ = at::zeros({r_.nTest, Co_}, f64);
  // the joint pass's workers (the CPU's plan: one per core, each calling a single-threaded BLAS)
  jointWs_.resize(static_cast<size_t>(plan_.workers));
  // groups sized before this computation reserves its share of the memory budget
  groupSize_ = useGhost_ ? 0 : chooseGroupSize(m, gb_.wanted(), train, test.empty() ? train : test, r_.tileSize, opts, Co_, &plan_);
  KernelOptions tiled = opts;
  tiled.trainTile = r_.tileSize;
  tiled.groupSize = groupSize_;
  const KernelMemoryEstimate e = estimateKernelMemory(m, gb_.wanted(), train, test, tiled, Co_, &plan_);
  reservation_ = MemoryReservation(dev_, e.total(r_.tileSize, r_.nTrain));
}

// 1. The train side of the tile: (a, δ) of the linear weight sites per batch, and the small blocks'
//    per-example gradients stored in place ([Rn, P_k] per block).
void KernelRun::storeTrainSide(Tile& tile) {
  for (int64_t i = tile.t0; i < tile.t1; i += opts_.batchSize) {
    progress_.check();
    const int64_t j = std::min(tile.t1, i + opts_.batchSize);
    const int64_t r0 = (i - tile.t0) * Co_;
    tile.sites.push_back(MakeSiteBatch(r0, train_, static_cast<size_t>(i), static_cast<size_t>(j)));
    // the ghost contraction's side of the tile is packed once, here, not per streamed batch
    GhostConsumer keep = [&](size_t k, const at::Tensor& a, const at::Tensor& d) {
      SiteBatch& sb = tile.sites.back();
      if (useGhost_) sb.ghost[k] = PackGhost(sb, a, d);
      else sb.sites[k] = {a, d};
    };
    BlockConsumer put = [&](size_t k, const at::Tensor& blk) {
      auto& store = tile.store;
      auto& signStore = tile.signStore;
      if (k >= store.size()) store.resize(k + 1), signStore.resize(k + 1);
      if (keepStore_ && !store[k].defined()) store[k] = at::empty({tile.Rn, blk.size(1)}, blk.options());
      if (signs_ && !signStore[k].defined()) signStore[k] = at::empty({tile.Rn, blk.size(1)}, blk.options());
      if (keepStore_) store[k].narrow(0, r0, blk.size(0)).copy_(blk);
      if (signs_) {
        at::Tensor dst = signStore[k].narrow(0, r0, blk.size(0));
        at::sign_out(dst, blk);
      }
    };
    at::Tensor f = gb_.compute(makeBatch(m_, train_, i, j, dev_), progress_, put, keep);
    f0Train_.narrow(0, i, j - i).copy_(f);
    progress_("train", ++done_, batches_);
  }
  for (const auto& kv : tile.sites.front().sites) tile.linearBlocks.push_back(kv.first);
  for (const auto& kv : tile.sites.front().ghost) tile.linearBlocks.push_back(kv.first);
}

// 2. Train x train of the small blocks from the store alone when it holds the whole set (and, for the
//    ghost contraction, of the linear blocks from every pair of stored batches).
void KernelRun::trainTrainFromStore(Tile& tile) {
  std::unique_ptr<PhaseTimer> pt(new PhaseTimer(4));
  for (size_t k = 0; k < tile.store.size(); k++) {
    progress_.check();
    const at::Tensor& v = keepStore_ ? tile.store[k] : tile.signStore[k];
    if (!v.defined()) continue;  // a linear weight block: joint pass or ghost contraction
    if (opts_.sgd) addProductTransposed(k_.Ksgd, tile.store[k], tile.store[k]);
    if (opts_.signgd) addSignProduct(k_.Ksign, tile.signStore[k], tile.signStore[k], plan_.signProduct);
    if (opts_.asymmetricSigngd) addProductTransposed(k_.Kasymmetric, tile.signStore[k], tile.store[k]);  // <sign g(train), g(train')>
  }
  if (!useGhost_) return;
  // each pair of batches once: the (q, p) block is the transpose of the (p, q) one
  for (size_t i = 0; i < tile.sites.size(); i++)
    for (size_t j = i; j < tile.sites.size(); j++) {
      const auto &p = tile.sites[i], &q = tile.sites[j];
      for (const auto& kv : p.ghost) {
        const GhostSide& x = kv.second;
        const GhostSide& y = q.ghost.at(kv.first);
        const at::Tensor P = GhostProduct(x, y, Co_, Co_ >= plan_.ghostSegmentsFrom, jointWs_);
        k_.Ksgd.narrow(0, p.row0, x.B * Co_).narrow(1, q.row0, y.B * Co_).add_(P);
        if (j != i) k_.Ksgd.narrow(0, q.row0, y.B * Co_).narrow(1, p.row0, x.B * Co_).add_(P.t());
      }
    }
  tile.trainDone = true;
}

// The tile's own train x train of the linear blocks, joined to the first joint pass (or a pass of its own).
JointTargets KernelRun::trainTargets(const Tile& tile) const {
  JointTargets t;
  if (!tile.trainDone) t.Ksgd = k_.Ksgd, t.Ksign = k_.Ksign, t.Kasymmetric = k_.Kasymmetric;
  return t;
}

void KernelRun::jointPass(Tile& tile, const std::vector<SiteBatch>& group, int64_t Rg, const JointTargets& t) {
  std::unique_ptr<PhaseTimer> pt(new PhaseTimer(6));
  std::unique_ptr<SingleThreadedBlas> single(plan_.workers > 1 ? new SingleThreadedBlas : nullptr);
  for (size_t k : tile.linearBlocks) {
    progress_.check();
    JointProducts(k, tile.sites, tile.Rn, group, Rg, t, jointWs_, plan_);
  }
  tile.trainDone = true;
}

// A streamed small block t [rows of x, P_k] against the tile's stored ones, into columns [c0, c1).
void KernelRun::multiplyStreamed(const Tile& tile, size_t k, const at::Tensor& t, const JointTargets& into, int64_t c0, int64_t c1) {
  auto cols = [&](const at::Tensor& T) { return T.narrow(0, tile.R0, tile.Rn).slice(1, c0, c1); };
  if (into.Tsgd.defined()) {
    at::Tensor v = cols(into.Tsgd);
    addProductTransposed(v, tile.store[k], t);
  }
  if (into.Tasymmetric.defined()) {
    at::Tensor v = cols(into.Tasymmetric);
    addProductTransposed(v, tile.signStore[k], t);  // <sign g(train), g(x)>
  }
  // the streamed block's signs: only for SignGD and the flipped kernel
  if (!into.Tsign.defined() && !into.Tflip.defined()) return;
  if (signWs_.numel() < t.numel()) signWs_ = at::empty({t.numel()}, t.options());
  at::Tensor st = signWs_.narrow(0, 0, t.numel()).view(t.sizes());
  at::sign_out(st, t);
  if (into.Tsign.defined()) {
    at::Tensor v = cols(into.Tsign);
    addSignProduct(v, tile.signStore[k], st, plan_.signProduct);
  }
  if (into.Tflip.defined()) {
    at::Tensor v = cols(into.Tflip);
    addProductTransposed(v, tile.store[k], st);  // <g(train), sign g(x)>
  }
}

// 3. Streams a set of examples against the tile into the T* kernels of `into`: small blocks are multiplied
//    with the stored ones as they are formed; linear blocks are gathered as (a, δ) for a group of
//    examples, then one joint pass per block (or, for the SGD kernel alone, the ghost contraction per batch).
void KernelRun::stream(Tile& tile, const std::vector<Example>& xs, const char* phase, const JointTargets& into, at::Tensor* f0) {
  std::vector<SiteBatch> group;
  int64_t groupCol0 = 0, groupExamples = 0;
  for (size_t i = 0; i < xs.size(); i += opts_.batchSize) {
    progress_.check();
    const size_t j = std::min(xs.size(), i + static_cast<size_t>(opts_.batchSize));
    const int64_t c0 = static_cast<int64_t>(i) * Co_, c1 = static_cast<int64_t>(j) * Co_;
    if (group.empty()) groupCol0 = c0;
    // the batch's rows within the group (joint pass) and its lengths (both passes)
    SiteBatch here = MakeSiteBatch(c0 - groupCol0, xs, i, j);
    GhostConsumer against = [&](size_t k, const at::Tensor& a, const at::Tensor& d) {
      const GhostSide y = PackGhost(here, a, d);
      for (const auto& tb : tile.sites) {
        const GhostSide& x = tb.ghost.at(k);
        into.Tsgd.narrow(0, tile.R0 + tb.row0, x.B * Co_)
            .slice(1, c0, c1)
            .add_(GhostProduct(x, y, Co_, Co_ >= plan_.ghostSegmentsFrom, jointWs_));
      }
    };
    if (!useGhost_) group.push_back(std::move(here));
    GhostConsumer gather = [&](size_t k, const at::Tensor& a, const at::Tensor& d) { group.back().sites[k] = {a, d}; };
    BlockConsumer multiply = [&](size_t k, const at::Tensor& t) { multiplyStreamed(tile, k, t, into, c0, c1); };
    at::Tensor f = gb_.compute(makeBatch(m_, xs, i, j, dev_), progress_, multiply, useGhost_ ? against : gather);
    if (f0) f0->narrow(0, static_cast<int64_t>(i), static_cast<int64_t>(j - i)).copy_(f);
    groupExamples += static_cast<int64_t>(j - i);
    if (!useGhost_ && (groupExamples >= tile.groupSize || j == xs.size())) {
      JointTargets t = trainTargets(tile);
      auto cols = [&](const at::Tensor& T) { return T.defined() ? T.narrow(0, tile.R0, tile.Rn).slice(1, groupCol0, c1) : at::Tensor(); };
      t.Tsgd = cols(into.Tsgd), t.Tsign = cols(into.Tsign), t.Tasymmetric = cols(into.Tasymmetric), t.Tflip = cols(into.Tflip);
      jointPass(tile, group, c1 - groupCol0, t);
      group.clear();
      groupExamples = 0;
    }
    progress_(phase, ++done_, batches_);
  }
}

void KernelRun::addKernel(const char* name, const at::Tensor& k, int64_t na, int64_t nb) {
  r_.kernels[name] = k.to(at::kCPU).view({na, Co_, nb, Co_}).contiguous();
}

KernelResult KernelRun::run() {
  Tf32Scope tf32(plan_.tf32);
  PhaseTimer::setDevice(dev_);
  for (int64_t t : r_.tiles) {
    Tile tile;
    tile.t0 = t * r_.tileSize;
    tile.t1 = std::min(r_.nTrain, tile.t0 + r_.tileSize);
    tile.R0 = tile.t0 * Co_;
    tile.Rn = (tile.t1 - tile.t0) * Co_;
    tile.groupSize = groupSize_;
    tile.trainDone = !single_;  // with several tiles the train set is streamed against each tile instead
    storeTrainSide(tile);
    if (single_) trainTrainFromStore(tile);
    // 4. train x train rows of the tile by streaming the whole training set when there are several tiles
    //    (exact, at the price of recomputing its gradients per tile); then the test set
    if (!single_) {
      JointTargets tt;
      tt.Tsgd = k_.Ksgd, tt.Tsign = k_.Ksign, tt.Tasymmetric = k_.Kasymmetric;
      stream(tile, train_, "train x train", tt, nullptr);
    }
    JointTargets te;
    te.Tsgd = k_.Tsgd, te.Tsign = k_.Tsign, te.Tasymmetric = k_.Tasymmetric, te.Tflip = k_.Tflip;
    stream(tile, test_, "test", te, &f0Test_);
    if (!tile.trainDone && !tile.linearBlocks.empty()) jointPass(tile, {}, 0, trainTargets(tile));  // no test examples
  }
  PhaseTimer::report();
  r_.f0Train = f0Train_.to(at::kCPU);
  r_.f0Test = f0Test_.to(at::kCPU);
  const int64_t na = r_.nTrain, nb = r_.nTest;
  if (opts_.sgd) addKernel("sgd/train_train", k_.Ksgd, na, na), addKernel("sgd/train_test", k_.Tsgd, na, nb);
  if (opts_.signgd) addKernel("signgd/train_train", k_.Ksign, na, na), addKernel("signgd/train_test", k_.Tsign, na, nb);
  if (opts_.asymmetricSigngd) {
    addKernel("asymmetric_signgd/train_train", k_.Kasymmetric, na, na);
    addKernel("asymmetric_signgd/train_test", k_.Tasymmetric, na, nb);
    if (opts_.asymmetricFlipped) addKernel("asymmetric_signgd/train_test_flipped", k_.Tflip, na, nb);
  }
  return std::move(r_);
}

}  // namespace

KernelResult computeKernels(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts,
                            const Progress& progress) {
  CheckKernelOptions(train, opts);
  const bool prompt = opts.output.mode == OutputMode::Prompt;
  validateExamples(m, train, prompt, "train");
  validateExamples(m, test, prompt, "test");
  if (opts.devices.size() > 1)
    return computeKernelsOnDevices(m, train, test, opts, progress, [&](const Model& mm, const KernelOptions& o, const Progress& p) {
      return KernelRun(mm, train, test, o, p).run();
    });
  if (opts.devices.size() == 1 && opts.devices[0] != m.device())
    throw std::runtime_error("devices: the one device asked for (" + opts.devices[0].str() + ") is not the model's (" + m.device().str() +
                             "); load the model there, or list several devices");
  return KernelRun(m, train, test, opts, progress).run();
}

}  // namespace lmk
