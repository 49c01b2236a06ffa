// Benchmark of the eNTK engine on a RoBERTa-base-shaped model with random weights (no checkpoint):
// SGD and SignGD kernels for N train x M test sequences, against, in the same run,
//   the floor: C x batched forward+backward (weight gradients) over the same N+M sequences, and
//   a naive loop: full per-example gradients by autograd, dotted with stored train gradients.
// Also checks the engine against the naive kernel (max relative error). Prints one JSON object.
//   bench_kernel [--train N] [--test M] [--min-len 20] [--max-len 40] [--labels 2] [--threads T]
//                [--batch B] [--layers L] [--hidden H] [--no-naive] [--device cpu|cuda] [--repeat N]
//                [--only sgd|signgd|asymmetric_signgd]
// Each timing (kernels, floor and naive loop alike) is the fastest of N runs (--repeat; a shared
// machine's noise only ever adds time), so every ratio compares timings taken the same way.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "core/entk.h"
#include "core/forward.h"
#include "core/model.h"
#include "core/runtime.h"

using namespace lmk;
using Clock = std::chrono::steady_clock;

static double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the process (all threads): less sensitive than wall time to other load on the machine.
static double CpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void Sync(const at::Device& d) {
  if (d.is_cuda()) at::zeros({1}, at::TensorOptions().device(d)).cpu();  // waits for the stream
}

int main(int argc, char** argv) {
  int64_t nTrain = 8, nTest = 16, minLen = 20, maxLen = 40, labels = 2, threads = 0, batch = 8, layers = 12, hidden = 768;
  bool naive = true;
  int64_t repeat = 1;  // each timing is the fastest of `repeat` runs (a shared machine's noise only adds time)
  std::string only;    // one formula only (sgd, signgd or asymmetric_signgd), for quick experiments
  std::string device = "cpu";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (a == "--train") nTrain = next();
    else if (a == "--test") nTest = next();
    else if (a == "--min-len") minLen = next();
    else if (a == "--max-len") maxLen = next();
    else if (a == "--labels") labels = next();
    else if (a == "--threads") threads = next();
    else if (a == "--batch") batch = next();
    else if (a == "--layers") layers = next();
    else if (a == "--hidden") hidden = next();
    else if (a == "--no-naive") naive = false;
    else if (a == "--repeat") repeat = std::max<int64_t>(1, next());
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--device" && i + 1 < argc) device = argv[++i];
    else if (a == "--help" || a == "-h") {
      std::printf(
          "bench_kernel [--train 8] [--test 16] [--min-len 20] [--max-len 40] [--labels 2] [--threads T] [--batch 8]\n"
          "             [--layers 12] [--hidden 768] [--no-naive] [--device cpu|cuda] [--repeat 1]\n"
          "             [--only sgd|signgd|asymmetric_signgd]\n"
          "eNTK kernels, the floor (C x batched forward+backward) and a naive per-example autograd loop on a\n"
          "RoBERTa-base-shaped model with random weights; each timing is the fastest of --repeat runs.\n"
          "Prints one JSON object (scripts/bench-kernel summarises it).\n");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  int nthreads = configureThreads(static_cast<int>(threads));
  at::Device dev = parseDevice(device);
  ModelConfig cfg;
  cfg.arch = Arch::Roberta;
  cfg.vocabSize = 50265;
  cfg.hidden = hidden;
  cfg.layers = layers;
  cfg.heads = hidden / 64;
  cfg.intermediate = 4 * hidden;
  cfg.maxPositions = 514;
  cfg.typeVocab = 1;
  cfg.padId = 1;
  cfg.eps = 1e-5;
  LoadOptions lo;
  auto model = randomModel(cfg, lo, 1234, labels);
  if (!dev.is_cpu()) moveModel(*model, dev);

  std::mt19937_64 rng(42);
  auto makeSet = [&](int64_t n) {
    std::vector<Example> xs;
    for (int64_t i = 0; i < n; i++) {
      int64_t L = minLen + static_cast<int64_t>(rng() % static_cast<uint64_t>(maxLen - minLen + 1));
      Example x;
      x.ids.push_back(0);
      for (int64_t t = 1; t + 1 < L; t++) x.ids.push_back(3 + static_cast<int64_t>(rng() % 50000));
      x.ids.push_back(2);
      x.maskPos = L - 3;
      x.ids[x.maskPos] = 50264;
      xs.push_back(x);
    }
    return xs;
  };
  auto train = makeSet(nTrain), test = makeSet(nTest);
  std::vector<int64_t> labelIds = {6587, 372, 1099, 205, 2770, 1313};
  labelIds.resize(labels);

  KernelOptions ko;
  ko.output.mode = OutputMode::Prompt;
  ko.output.labelWordIds = labelIds;
  ko.batchSize = batch;

  // The fastest of `repeat` runs of `body` (wall seconds) and the process CPU seconds of that run. Every
  // timing below (kernels, floor, naive loop) goes through it, so their ratios compare like with like.
  auto bestOf = [&](const auto& body, double* cpuOfBest) {
    double best = -1;
    for (int64_t rep = 0; rep < repeat; rep++) {
      Sync(dev);
      auto t0 = Clock::now();
      double c0 = CpuSeconds();
      body();
      Sync(dev);
      double s = Seconds(t0);
      if (best < 0 || s < best) best = s, *cpuOfBest = CpuSeconds() - c0;
    }
    return best;
  };
  auto timeKernels = [&](bool sgd, bool sign, bool asym, KernelResult* out, double* cpuOfBest) {
    ko.sgd = sgd;
    ko.signgd = sign;
    ko.asymmetricSigngd = asym;
    return bestOf(
        [&]() {
          KernelResult r = computeKernels(*model, train, test, ko, Progress{});
          if (out) *out = std::move(r);
        },
        cpuOfBest);
  };
  auto wanted = [&](const char* f) { return only.empty() || only == f; };
  ko.sgd = true, ko.signgd = false, ko.asymmetricSigngd = false;
  computeKernels(*model, train, test, ko, Progress{});  // warm-up (allocator, thread pools), not timed
  KernelResult rs;
  double tSgd = -1, cSgd = -1, tSign = -1, cSign = -1, tAsym = -1, cAsym = -1;
  if (wanted("sgd") || naive) tSgd = timeKernels(true, false, false, &rs, &cSgd);
  if (wanted("signgd")) tSign = timeKernels(false, true, false, nullptr, &cSign);
  if (wanted("asymmetric_signgd")) tAsym = timeKernels(false, false, true, nullptr, &cAsym);

  // floor: C x (batched forward + backward with weight gradients) over the same N + M sequences
  auto params = parameterTensors(*model);
  for (auto& p : params) p.requires_grad_(true);
  std::vector<Example> all(train);
  all.insert(all.end(), test.begin(), test.end());
  at::Tensor lab = at::tensor(labelIds, at::kLong).to(dev);
  double cFloor = -1;
  const double tFloor = bestOf(
      [&]() {
        for (int64_t c = 0; c < labels; c++) {
          for (size_t i = 0; i < all.size(); i += batch) {
            size_t j = std::min(all.size(), i + static_cast<size_t>(batch));
            Batch b = makeBatch(*model, all, i, j, dev);
            at::Tensor h = encoderForward(*model, b, nullptr);
            at::Tensor f = logitsFromFeatures(*model, featuresForward(*model, h, b, OutputMode::Prompt, nullptr), OutputMode::Prompt, lab);
            auto g = torch::autograd::grad({f.select(1, c).sum()}, params, {}, false, false, true);
          }
        }
      },
      &cFloor);

  // naive: full per-example gradients by autograd (one backward per example and logit), train stored;
  // timed as the kernels are (fastest of --repeat runs)
  double tNaive = -1, naiveErr = -1, cNaive = -1;
  if (naive) {
    auto fullGrad = [&](const Example& x, int64_t c) {
      std::vector<Example> one{x};
      Batch b = makeBatch(*model, one, 0, 1, dev);
      at::Tensor f = logitsFromFeatures(*model, featuresForward(*model, encoderForward(*model, b, nullptr), b, OutputMode::Prompt, nullptr),
                                        OutputMode::Prompt, lab);
      auto g = torch::autograd::grad({f.select(1, c).sum()}, params, {}, false, false, true);
      std::vector<at::Tensor> flat;
      for (size_t k = 0; k < g.size(); k++)
        flat.push_back(g[k].defined() ? g[k].reshape({-1}) : at::zeros({params[k].numel()}, params[k].options()));
      return at::cat(flat).detach();
    };
    at::Tensor K;
    tNaive = bestOf(
        [&]() {
          // the stored train gradients, filled row by row (no second copy: 16 rows of RoBERTa-base are 10 GB)
          at::Tensor S;
          for (int64_t i = 0; i < nTrain; i++)
            for (int64_t c = 0; c < labels; c++) {
              at::Tensor g = fullGrad(train[i], c);
              if (!S.defined()) S = at::empty({nTrain * labels, g.numel()}, g.options());
              S.select(0, i * labels + c).copy_(g);
            }
          K = at::zeros({nTrain * labels, nTest * labels}, at::kDouble);
          for (int64_t i = 0; i < nTest; i++)
            for (int64_t c = 0; c < labels; c++)
              K.select(1, i * labels + c).copy_(at::mv(S, fullGrad(test[i], c)).to(at::kCPU, at::kDouble));
        },
        &cNaive);
    at::Tensor mine = rs.kernels.at("sgd/train_test").reshape({nTrain * labels, nTest * labels});
    naiveErr = ((mine - K).abs().max() / K.abs().max()).item<double>();
  }
  std::printf(
      "{\"machine_threads\": %d, \"device\": \"%s\", \"model\": \"roberta-base-shaped (random, %lld layers, hidden %lld)\", \"train\": "
      "%lld, "
      "\"test\": %lld, \"min_len\": %lld, \"max_len\": %lld, \"labels\": %lld, \"batch\": %lld, \"grad_dim\": %lld, "
      "\"sgd_seconds\": %.3f, \"signgd_seconds\": %.3f, \"asymmetric_signgd_seconds\": %.3f, \"floor_seconds\": %.3f, "
      "\"naive_seconds\": %.3f, \"sgd_over_floor\": %.2f, \"signgd_over_floor\": %.2f, \"naive_over_sgd\": %.2f, "
      "\"sgd_max_rel_err_vs_naive\": %.3g, \"repeat\": %lld, \"naive_repeat\": %lld, \"cpu_seconds\": {\"sgd\": %.2f, \"signgd\": %.2f, "
      "\"asymmetric_signgd\": %.2f, "
      "\"floor\": %.2f, \"naive\": %.2f}}\n",
      nthreads, dev.str().c_str(), (long long)layers, (long long)hidden, (long long)nTrain, (long long)nTest, (long long)minLen,
      (long long)maxLen, (long long)labels, (long long)batch, (long long)rs.gradDim, tSgd, tSign, tAsym, tFloor, tNaive, tSgd / tFloor,
      tSign / tFloor, tNaive > 0 ? tNaive / tSgd : -1.0, naiveErr, (long long)repeat, (long long)(naive ? repeat : 0), cSgd, cSign, cAsym,
      cFloor, cNaive);
  return 0;
}
