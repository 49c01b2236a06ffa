// The eNTK engine against fixtures-a.json (independent float64 implementations): f0, grad_dim and
// the sgd / signgd / asymmetric_signgd kernels of every RoBERTa and BERT case, LoRA included.
#include <cstdio>
#include <map>

#include "core/entk.h"
#include "core/model.h"
#include "core/runtime.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

using lmk::test::Examples;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "../shared/fixtures";
  // --device cuda: the same checks with the model on the GPU (scripts/gpu-check)
  at::Device device(at::kCPU);
  for (int i = 2; i + 1 < argc; i++)
    if (std::string(argv[i]) == "--device") device = parseDevice(argv[i + 1]);
  json::Value fx = json::parseFile(dir + "/fixtures-a.json", "fixtures");
  std::string tmp = test::TempDir();
  for (const char* arch : {"roberta", "bert"}) {
    const json::Value& A = *fx.find(arch);
    const test::FixtureFiles files = test::WriteFixture(fx, arch, dir, tmp);
    const std::string &cfgPath = files.config, &weights = files.weights;
    const std::vector<int64_t>& labelIds = files.labelIds;
    for (auto& cs : A.find("cases")->arr) {
      std::string mode = cs.find("model_mode")->str, subset = cs.find("subset")->str;
      bool binary = cs.find("binary")->b;
      bool tied = cs.find("tied_word_embeddings") && cs.find("tied_word_embeddings")->b;
      for (auto dtype : {at::kDouble, at::kFloat}) {
        LoadOptions lo;
        lo.dtype = dtype;
        lo.tieWordEmbeddings = tied;
        auto model = loadModel(cfgPath, weights, lo);
        if (!device.is_cpu()) moveModel(*model, device);
        if (const json::Value* lora = cs.find("lora")) {
          LoraSpec spec;
          spec.r = lora->find("r")->integer;
          spec.alpha = lora->find("alpha")->num;
          for (auto& t : lora->find("targets")->arr) spec.targets.push_back(t.str);
          for (auto& kv : lora->find("A")->obj) spec.matrices[kv.first] = ToTensor(kv.second);
          applyLora(*model, spec, 0);
        }
        const json::Value& inputs = *A.find("inputs")->find(mode);
        KernelOptions ko;
        ko.output.mode = mode == "prompt" ? OutputMode::Prompt : OutputMode::Standard;
        ko.output.binary = binary;
        if (mode == "prompt") ko.output.labelWordIds = labelIds;
        ko.sgd = ko.signgd = ko.asym = true;
        ko.subset = parseSubset(subset);
        ko.batchSize = 3;  // not a divisor of 8 or 6: exercises padding across batches
        KernelResult r = computeKernels(*model, Examples(*inputs.find("train")), Examples(*inputs.find("test")), ko, Progress{});
        const bool f64 = dtype == at::kDouble;
        const double tol = f64 ? 1e-9 : 1e-4;
        std::string name = std::string(arch) + "/" + mode + "/" + subset + (binary ? "/binary" : "") + (tied ? "/tied" : "") +
                           (f64 ? " f64" : " f32");
        LMK_CHECK(r.gradDim == cs.find("grad_dim")->integer, "%s grad_dim %lld != %lld", name.c_str(), (long long)r.gradDim,
              (long long)cs.find("grad_dim")->integer);
        double e0 = MaxRelErr(r.f0Train, ToTensor(*cs.find("f0_train")));
        double e1 = MaxRelErr(r.f0Test, ToTensor(*cs.find("f0_test")));
        LMK_CHECK(e0 <= tol && e1 <= tol, "%s f0 rel err %.3g %.3g", name.c_str(), e0, e1);
        // the SGD kernel alone takes the ghost contraction for linear layers: same values
        {
          KernelOptions kg = ko;
          kg.signgd = kg.asym = false;
          kg.ghost = 1;
          KernelResult g = computeKernels(*model, Examples(*inputs.find("train")), Examples(*inputs.find("test")), kg, Progress{});
          const json::Value& sk = *cs.find("kernels")->find("sgd");
          double e1 = MaxRelErr(g.kernels.at("sgd/train_train"), ToTensor(*sk.find("train_train")));
          double e2 = MaxRelErr(g.kernels.at("sgd/train_test"), ToTensor(*sk.find("train_test")));
          LMK_CHECK(e1 <= tol && e2 <= tol, "%s ghost sgd rel err %.3g %.3g", name.c_str(), e1, e2);
          if (f64) std::printf("%-40s %-28s max rel err %.2e\n", name.c_str(), "sgd (ghost)", std::max(e1, e2));
        }
        for (auto& fk : cs.find("kernels")->obj) {
          for (auto& kk : fk.second.obj) {
            at::Tensor want = ToTensor(kk.second);
            at::Tensor got = r.kernels.at(fk.first + "/" + kk.first);
            double err = MaxRelErr(got, want);
            // sign kernels are integers: exact in float64
            double ktol = (f64 && fk.first != "sgd") ? 0 : tol;
            if (fk.first != "sgd" && f64) ktol = 1e-12;
            LMK_CHECK(err <= ktol, "%s %s/%s rel err %.3g", name.c_str(), fk.first.c_str(), kk.first.c_str(), err);
            if (f64) std::printf("%-40s %-28s max rel err %.2e\n", name.c_str(), (fk.first + "/" + kk.first).c_str(), err);
          }
        }
      }
    }
  }
  // Tiling and sharding: tiles of 3 training examples (8 = 3 + 3 + 2) and 3 shards give the same
  // kernels as one pass (rows of a shard are disjoint; their sum is the whole kernel).
  {
    const json::Value& A = *fx.find("roberta");
    const test::FixtureFiles files = test::WriteFixture(fx, "roberta", dir, tmp);
    auto model = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
    const json::Value& inputs = *A.find("inputs")->find("prompt");
    auto train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
    KernelOptions ko;
    ko.output.labelWordIds = files.labelIds;
    ko.sgd = ko.signgd = ko.asym = true;
    ko.batchSize = 2;
    KernelResult full = computeKernels(*model, train, test, ko, Progress{});
    ko.trainTile = 3;
    KernelResult tiled = computeKernels(*model, train, test, ko, Progress{});
    LMK_CHECK(tiled.numTiles == 3, "numTiles %lld", (long long)tiled.numTiles);
    std::map<std::string, at::Tensor> sum;
    at::Tensor f0 = at::zeros_like(full.f0Train);
    for (int64_t sh = 0; sh < 3; sh++) {
      ko.shardIndex = sh;
      ko.shardCount = 3;
      KernelResult part = computeKernels(*model, train, test, ko, Progress{});
      LMK_CHECK(part.tiles.size() == 1 && part.tiles[0] == sh, "shard %lld tiles", (long long)sh);
      for (auto& kv : part.kernels) sum[kv.first] = sum.count(kv.first) ? sum[kv.first] + kv.second : kv.second;
      f0 += part.f0Train;
    }
    for (auto& kv : full.kernels) {
      double e1 = MaxRelErr(tiled.kernels.at(kv.first), kv.second), e2 = MaxRelErr(sum.at(kv.first), kv.second);
      LMK_CHECK(e1 <= 1e-12 && e2 <= 1e-12, "tiled/sharded %s rel err %.3g %.3g", kv.first.c_str(), e1, e2);
    }
    LMK_CHECK(MaxRelErr(f0, full.f0Train) <= 1e-13, "sharded f0 differs");
    // joint passes over groups of streamed examples (1, 3 and 5 examples, batches of 2: groups that end
    // mid-way, on and across batch boundaries), with and without tiles; the sign kernel alone (no value
    // store); the SGD kernel by the joint pass instead of the ghost contraction
    ko.shardIndex = 0;
    ko.shardCount = 1;
    for (int64_t tileSize : {0, 3})
      for (int64_t g : {1, 3, 5}) {
        ko.trainTile = tileSize;
        ko.groupSize = g;
        KernelResult gr = computeKernels(*model, train, test, ko, Progress{});
        for (auto& kv : full.kernels) {
          double e = MaxRelErr(gr.kernels.at(kv.first), kv.second);
          LMK_CHECK(e <= 1e-12, "tile %lld group %lld: %s rel err %.3g", (long long)tileSize, (long long)g, kv.first.c_str(), e);
        }
      }
    ko.trainTile = 0;
    ko.groupSize = 0;
    {
      KernelOptions so = ko;
      so.sgd = so.asym = false;
      KernelResult s = computeKernels(*model, train, test, so, Progress{});
      LMK_CHECK(s.kernels.size() == 2 && MaxRelErr(s.kernels.at("signgd/train_test"), full.kernels.at("signgd/train_test")) == 0 &&
                    MaxRelErr(s.kernels.at("signgd/train_train"), full.kernels.at("signgd/train_train")) == 0,
                "signgd alone differs");
      KernelOptions jo = ko;
      jo.signgd = jo.asym = false;
      jo.ghost = 0;
      KernelResult j = computeKernels(*model, train, test, jo, Progress{});
      LMK_CHECK(MaxRelErr(j.kernels.at("sgd/train_test"), full.kernels.at("sgd/train_test")) <= 1e-12 &&
                    MaxRelErr(j.kernels.at("sgd/train_train"), full.kernels.at("sgd/train_train")) <= 1e-12,
                "sgd by the joint pass differs");
      // no test examples: the tile's own joint pass gives train x train
      KernelResult n = computeKernels(*model, train, {}, ko, Progress{});
      for (const char* key : {"sgd/train_train", "signgd/train_train", "asymmetric_signgd/train_train"})
        LMK_CHECK(MaxRelErr(n.kernels.at(key), full.kernels.at(key)) <= 1e-12, "%s without test examples differs", key);
    }
    // the automatic choice between the ghost contraction and the joint pass for the SGD kernel alone:
    // hidden 32, intermediate 64, 2 outputs. Per layer Σ(din + 4·dout) = 4·160 + 288 + 160 = 1088 and
    // Σ din·dout = 4·1024 + 2·2048 = 8192. One train and one test example of T tokens each: ghost
    // 1088·T·2T vs joint 8192·(2·2T + 4·2): the ghost wins for T = 4 (34,816 vs 98,304) and loses for
    // T = 60 (7.8 M vs 1.05 M).
    {
      KernelOptions so = ko;
      so.signgd = so.asym = false;
      GradientBlocks gb(*model, so.output, so.subset, train);
      auto ex = [&](int64_t T) {
        Example x;
        x.ids.assign(static_cast<size_t>(T), 5);
        x.maskPos = 1;
        return std::vector<Example>{x};
      };
      LMK_CHECK(sgdByGhost(*model, gb.wanted(), ex(4), ex(4), so, 2), "short sequences: the ghost contraction is cheaper");
      LMK_CHECK(!sgdByGhost(*model, gb.wanted(), ex(60), ex(60), so, 2), "long sequences: the joint pass is cheaper");
      so.ghost = 1;
      LMK_CHECK(sgdByGhost(*model, gb.wanted(), ex(60), ex(60), so, 2), "ghost = 1 forces the ghost contraction");
      so.ghost = 0;
      LMK_CHECK(!sgdByGhost(*model, gb.wanted(), ex(4), ex(4), so, 2), "ghost = 0 forces the joint pass");
      so.ghost = -1;
      so.signgd = true;
      LMK_CHECK(!sgdByGhost(*model, gb.wanted(), ex(4), ex(4), so, 2), "sign kernels need the joint pass");
    }
    // ghost SGD, tiled and sharded
    ko.signgd = ko.asym = false;
    ko.ghost = 1;
    at::Tensor gsum;
    for (int64_t sh = 0; sh < 2; sh++) {
      ko.shardIndex = sh;
      ko.shardCount = 2;
      KernelResult part = computeKernels(*model, train, test, ko, Progress{});
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
  return test::Finish("test_entk_fixtures");
}
