// The eNTK engine against fixtures-a.json (independent float64 implementations): f0, grad_dim and
// the sgd / signgd / asymmetric_signgd kernels of every RoBERTa and BERT case, LoRA included.
#include <cstdio>
#include <map>
#include <set>

#include "core/entk.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/runtime.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

using ExampleSet = std::vector<Example>;

// The asymmetric kernel alone without its flip (the default): no flipped entry, its two kernels equal to the
// fixture's and bit for bit to those of the run with the flip (the same products in the same order; the
// group's rows are then never signed).
void CheckWithoutFlip(const std::string& name, const Model& model, const ExampleSet& train, const ExampleSet& test, KernelOptions ko,
                      const KernelResult& withFlip, const json::Value& want, double tol) {
  ko.sgd = ko.signgd = ko.asymmetricFlipped = false;
  KernelResult r = computeKernels(model, train, test, ko, Progress{});
  LMK_CHECK(r.kernels.size() == 2 && !r.kernels.count("asymmetric_signgd/train_test_flipped"), "%s without the flip: %zu kernels",
            name.c_str(), r.kernels.size());
  for (const char* part : {"train_train", "train_test"}) {
    const std::string key = std::string("asymmetric_signgd/") + part;
    const double err = MaxRelErr(r.kernels.at(key), ToTensor(*want.find(part)));
    LMK_CHECK(err <= tol, "%s %s without the flip rel err %.3g", name.c_str(), key.c_str(), err);
    LMK_CHECK(at::equal(r.kernels.at(key), withFlip.kernels.at(key)), "%s %s: with and without the flip differ", name.c_str(), key.c_str());
  }
}

// One fixture case in one dtype: grad_dim, f0 and every kernel; the SGD kernel also by the ghost contraction.
void CheckCase(const std::string& arch, const json::Value& A, const test::FixtureFiles& files, const json::Value& cs, at::ScalarType dtype,
               const at::Device& device, Precision precision) {
  const std::string mode = cs.find("model_mode")->str, subset = cs.find("subset")->str;
  const bool binary = cs.find("binary")->b, tied = cs.find("tied_word_embeddings") && cs.find("tied_word_embeddings")->b;
  auto model = test::CaseModel(files, cs, dtype, device);
  const json::Value& inputs = *A.find("inputs")->find(mode);
  const ExampleSet train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  KernelOptions ko;
  ko.output.mode = mode == "prompt" ? OutputMode::Prompt : OutputMode::Standard;
  ko.output.binary = binary;
  if (mode == "prompt") ko.output.labelWordIds = files.labelIds;
  ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
  ko.subset = parseSubset(subset);
  ko.batchSize = 3;  // not a divisor of 8 or 6: exercises padding across batches
  ko.precision = precision;
  KernelResult r = computeKernels(*model, train, test, ko, Progress{});
  const bool f64 = dtype == at::kDouble;
  // float64: every value within 1e-13 of the fixtures (measured at most 1.6e-15 on these tiny models; float32
  // accumulation anywhere gives 1e-8 or more)
  // `fast` on CUDA: float32 products in TF32 (10-bit mantissa), whose signs may flip near 0; float64 is unchanged
  const double tol = f64 ? 1e-13 : precision == Precision::Fast ? 1e-2 : 1e-4;
  const std::string name = arch + "/" + mode + "/" + subset + (binary ? "/binary" : "") + (tied ? "/tied" : "") + (f64 ? " f64" : " f32") +
                           (precision == Precision::Fast ? " fast" : "");
  LMK_CHECK(r.gradDim == cs.find("grad_dim")->integer, "%s grad_dim %lld != %lld", name.c_str(), (long long)r.gradDim,
            (long long)cs.find("grad_dim")->integer);
  const double e0 = MaxRelErr(r.f0Train, ToTensor(*cs.find("f0_train"))), e1 = MaxRelErr(r.f0Test, ToTensor(*cs.find("f0_test")));
  LMK_CHECK(e0 <= tol && e1 <= tol, "%s f0 rel err %.3g %.3g", name.c_str(), e0, e1);
  std::printf("%-40s %-28s max rel err %.2e\n", name.c_str(), "f0", std::max(e0, e1));
  // the SGD kernel alone takes the ghost contraction for linear layers: same values
  KernelOptions kg = ko;
  kg.signgd = kg.asymmetricSigngd = kg.asymmetricFlipped = false;
  kg.ghost = 1;
  kg.batchSize = 2;  // several train batches: the mirrored (q, p) blocks of train x train are checked too
  KernelResult g = computeKernels(*model, train, test, kg, Progress{});
  const json::Value& sk = *cs.find("kernels")->find("sgd");
  const double g1 = MaxRelErr(g.kernels.at("sgd/train_train"), ToTensor(*sk.find("train_train")));
  const double g2 = MaxRelErr(g.kernels.at("sgd/train_test"), ToTensor(*sk.find("train_test")));
  LMK_CHECK(g1 <= tol && g2 <= tol, "%s ghost sgd rel err %.3g %.3g", name.c_str(), g1, g2);
  std::printf("%-40s %-28s max rel err %.2e\n", name.c_str(), "sgd (ghost)", std::max(g1, g2));
  for (auto& fk : cs.find("kernels")->obj) {
    // SignGD kernels are sums of ±1 products: exact in float64
    const double ktol = f64 && fk.first == "signgd" ? 0.0 : tol;
    for (auto& kk : fk.second.obj) {
      const double err = MaxRelErr(r.kernels.at(fk.first + "/" + kk.first), ToTensor(kk.second));
      LMK_CHECK(err <= ktol, "%s %s/%s rel err %.3g", name.c_str(), fk.first.c_str(), kk.first.c_str(), err);
      std::printf("%-40s %-28s max rel err %.2e\n", name.c_str(), (fk.first + "/" + kk.first).c_str(), err);
    }
  }
  CheckWithoutFlip(name, *model, train, test, ko, r, *cs.find("kernels")->find("asymmetric_signgd"), tol);
}

// Tiles of 3 training examples (8 = 3 + 3 + 2) and 3 shards give the same kernels as one pass (rows of a
// shard are disjoint; their sum is the whole kernel).
void CheckTilesAndShards(const Model& model, const ExampleSet& train, const ExampleSet& test, KernelOptions ko, const KernelResult& full) {
  ko.trainTile = 3;
  KernelResult tiled = computeKernels(model, train, test, ko, Progress{});
  LMK_CHECK(tiled.numTiles == 3, "numTiles %lld", (long long)tiled.numTiles);
  std::map<std::string, at::Tensor> sum;
  at::Tensor f0 = at::zeros_like(full.f0Train);
  for (int64_t sh = 0; sh < 3; sh++) {
    ko.shardIndex = sh;
    ko.shardCount = 3;
    KernelResult part = computeKernels(model, train, test, ko, Progress{});
    LMK_CHECK(part.tiles.size() == 1 && part.tiles[0] == sh, "shard %lld tiles", (long long)sh);
    for (auto& kv : part.kernels) sum[kv.first] = sum.count(kv.first) ? sum[kv.first] + kv.second : kv.second;
    f0 += part.f0Train;
  }
  for (auto& kv : full.kernels) {
    double e1 = MaxRelErr(tiled.kernels.at(kv.first), kv.second), e2 = MaxRelErr(sum.at(kv.first), kv.second);
    LMK_CHECK(e1 <= 1e-12 && e2 <= 1e-12, "tiled/sharded %s rel err %.3g %.3g", kv.first.c_str(), e1, e2);
  }
  LMK_CHECK(MaxRelErr(f0, full.f0Train) <= 1e-13, "sharded f0 differs");
}

// Joint passes over groups of streamed examples (1, 3 and 5 examples, batches of 2: groups that end
// mid-way, on and across batch boundaries), with and without tiles; the sign kernel alone (no value
// store); the SGD kernel by the joint pass instead of the ghost contraction; no test examples.
void CheckJointPasses(const Model& model, const ExampleSet& train, const ExampleSet& test, KernelOptions ko, const KernelResult& full) {
  for (int64_t tileSize : {0, 3})
    for (int64_t g : {1, 3, 5}) {
      ko.trainTile = tileSize;
      ko.groupSize = g;
      KernelResult gr = computeKernels(model, train, test, ko, Progress{});
      for (auto& kv : full.kernels) {
        double e = MaxRelErr(gr.kernels.at(kv.first), kv.second);
        LMK_CHECK(e <= 1e-12, "tile %lld group %lld: %s rel err %.3g", (long long)tileSize, (long long)g, kv.first.c_str(), e);
      }
    }
  // the asymmetric kernel without its flip (the streamed rows unsigned), tiled and in groups
  KernelOptions ao = ko;
  ao.sgd = ao.signgd = ao.asymmetricFlipped = false;
  for (int64_t tileSize : {0, 3})
    for (int64_t g : {1, 3}) {
      ao.trainTile = tileSize;
      ao.groupSize = g;
      KernelResult a = computeKernels(model, train, test, ao, Progress{});
      LMK_CHECK(a.kernels.size() == 2 && !a.kernels.count("asymmetric_signgd/train_test_flipped"), "no flip: %zu kernels",
                a.kernels.size());
      for (const char* key : {"asymmetric_signgd/train_train", "asymmetric_signgd/train_test"}) {
        double e = MaxRelErr(a.kernels.at(key), full.kernels.at(key));
        LMK_CHECK(e <= 1e-12, "no flip, tile %lld group %lld: %s rel err %.3g", (long long)tileSize, (long long)g, key, e);
      }
    }
  ko.trainTile = 0;
  ko.groupSize = 0;
  KernelOptions so = ko;
  so.sgd = so.asymmetricSigngd = so.asymmetricFlipped = false;
  KernelResult s = computeKernels(model, train, test, so, Progress{});
  LMK_CHECK(s.kernels.size() == 2 && MaxRelErr(s.kernels.at("signgd/train_test"), full.kernels.at("signgd/train_test")) == 0 &&
                MaxRelErr(s.kernels.at("signgd/train_train"), full.kernels.at("signgd/train_train")) == 0,
            "signgd alone differs");
  KernelOptions jo = ko;
  jo.signgd = jo.asymmetricSigngd = jo.asymmetricFlipped = false;
  jo.ghost = 0;
  KernelResult j = computeKernels(model, train, test, jo, Progress{});
  LMK_CHECK(MaxRelErr(j.kernels.at("sgd/train_test"), full.kernels.at("sgd/train_test")) <= 1e-12 &&
                MaxRelErr(j.kernels.at("sgd/train_train"), full.kernels.at("sgd/train_train")) <= 1e-12,
            "sgd by the joint pass differs");
  // no test examples: the tile's own joint pass gives train x train
  KernelResult n = computeKernels(model, train, {}, ko, Progress{});
  for (const char* key : {"sgd/train_train", "signgd/train_train", "asymmetric_signgd/train_train"})
    LMK_CHECK(MaxRelErr(n.kernels.at(key), full.kernels.at(key)) <= 1e-12, "%s without test examples differs", key);
}

// The automatic choice between the ghost contraction and the joint pass for the SGD kernel alone:
// hidden 32, intermediate 64, 2 outputs. Per layer Σ(din + 4·dout) = 4·160 + 288 + 160 = 1088 and
// Σ din·dout = 4·1024 + 2·2048 = 8192. One train and one test example of T tokens each: ghost
// 1088·T·2T vs joint 8192·(2·2T + 4·2): the ghost wins for T = 4 (34,816 vs 98,304) and loses for
// T = 60 (7.8 M vs 1.05 M).
void CheckGhostChoice(const Model& model, const ExampleSet& train, KernelOptions so) {
  so.signgd = so.asymmetricSigngd = so.asymmetricFlipped = false;
  GradientBlocks gb(model, so.output, so.subset, train);
  auto ex = [&](int64_t T) {
    Example x;
    x.ids.assign(static_cast<size_t>(T), 5);
    x.maskPos = 1;
    return ExampleSet{x};
  };
  LMK_CHECK(sgdByGhost(model, gb.wanted(), ex(4), ex(4), so, 2), "short sequences: the ghost contraction is cheaper");
  LMK_CHECK(!sgdByGhost(model, gb.wanted(), ex(60), ex(60), so, 2), "long sequences: the joint pass is cheaper");
  so.ghost = 1;
  LMK_CHECK(sgdByGhost(model, gb.wanted(), ex(60), ex(60), so, 2), "ghost = 1 forces the ghost contraction");
  so.ghost = 0;
  LMK_CHECK(!sgdByGhost(model, gb.wanted(), ex(4), ex(4), so, 2), "ghost = 0 forces the joint pass");
  so.ghost = -1;
  so.signgd = true;
  LMK_CHECK(!sgdByGhost(model, gb.wanted(), ex(4), ex(4), so, 2), "sign kernels need the joint pass");
  // the ghost contraction takes the word embeddings as token matches: no stored rows, the store is
  // N·C·U·H elements smaller (U: the training set's distinct tokens) and each token keeps its δ [C, H]
  so.signgd = false;
  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  const int64_t C = gb.numOutputs(), H = model.cfg.hidden, N = static_cast<int64_t>(train.size()), U = static_cast<int64_t>(uni.size());
  so.ghost = 0;
  const KernelMemoryEstimate joint = estimateKernelMemory(model, gb.wanted(), train, train, so, C);
  so.ghost = 1;
  const KernelMemoryEstimate ghost = estimateKernelMemory(model, gb.wanted(), train, train, so, C);
  LMK_CHECK(joint.store - ghost.store == N * C * U * H * 8, "ghost store %lld vs joint %lld (U = %lld)", (long long)ghost.store,
            (long long)joint.store, (long long)U);
  LMK_CHECK(ghost.activationsPerToken - joint.activationsPerToken == C * H * 8, "ghost activations per token");
}

// The ghost SGD kernel, tiled and sharded; an impossible shard refused.
void CheckGhostShards(const Model& model, const ExampleSet& train, const ExampleSet& test, KernelOptions ko, const KernelResult& full) {
  ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = false;
  ko.ghost = 1;
  at::Tensor gsum;
  for (int64_t sh = 0; sh < 2; sh++) {
    ko.shardIndex = sh;
    ko.shardCount = 2;
    KernelResult part = computeKernels(model, train, test, ko, Progress{});
    gsum = gsum.defined() ? gsum + part.kernels.at("sgd/train_train") : part.kernels.at("sgd/train_train");
  }
  LMK_CHECK(MaxRelErr(gsum, full.kernels.at("sgd/train_train")) <= 1e-12, "ghost tiled/sharded sgd differs");
  bool threw = false;
  try {
    shardTiles(3, 3, 3);
  } catch (const std::exception&) {
    threw = true;
  }
  LMK_CHECK(threw, "shard 3/3 accepted");
}

}  // namespace

int main(int argc, char** argv) {
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  // --device cuda: the same checks with the model on the GPU (scripts/gpu-check); --precision fast: in
  // the fast mode (LMKERNEL_PLAN=gpu runs the GPU's plan, int8 sign products included, on the CPU);
  // --f64-only: the float64 runs alone (the chunked CTest entry, where float32 adds time and no check)
  at::Device device(at::kCPU);
  Precision precision = Precision::Exact;
  bool f32 = true;
  for (int i = 2; i < argc; i++) {
    if (std::string(argv[i]) == "--device" && i + 1 < argc) device = parseDevice(argv[i + 1]);
    if (std::string(argv[i]) == "--precision" && i + 1 < argc) precision = parsePrecision(argv[i + 1]);
    if (std::string(argv[i]) == "--f64-only") f32 = false;
  }
  for (const char* arch : {"roberta", "bert"}) {
    const json::Value& A = fx.arch(arch);
    const test::FixtureFiles files = fx.files(arch);
    for (auto& cs : A.find("cases")->arr)
      for (auto dtype : {at::kDouble, at::kFloat})
        if (dtype == at::kDouble || f32) CheckCase(arch, A, files, cs, dtype, device, precision);
  }
  // tiles, groups and shards on the same device and in the same mode (float64: exact products either way)
  const json::Value& A = fx.arch("roberta");
  const test::FixtureFiles files = fx.files("roberta");
  auto model = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
  if (!device.is_cpu()) moveModel(*model, device);
  const json::Value& inputs = *A.find("inputs")->find("prompt");
  const ExampleSet train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  KernelOptions ko;
  ko.output.labelWordIds = files.labelIds;
  ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
  ko.batchSize = 2;
  ko.precision = precision;
  const KernelResult full = computeKernels(*model, train, test, ko, Progress{});
  CheckTilesAndShards(*model, train, test, ko, full);
  CheckJointPasses(*model, train, test, ko, full);
  CheckGhostChoice(*model, train, ko);
  CheckGhostShards(*model, train, test, ko, full);
  return test::Finish("test_entk_fixtures");
}
