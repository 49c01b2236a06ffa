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
#include <memory>
#include <random>
#include <string>

#include "core/entk.h"
#include "core/entk_products.h"
#include "core/forward.h"
#include "core/model.h"
#include "core/runtime.h"
#include "core/sign_planes.h"
#include "core/skinny_gemm.h"

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

struct BenchArgs {
  int64_t nTrain = 8, nTest = 16, minLen = 20, maxLen = 40, labels = 2, threads = 0, batch = 8, layers = 12, hidden = 768;
  bool naive = true;
  int64_t repeat = 1;  // each timing is the fastest of `repeat` runs (a shared machine's noise only adds time)
  std::string only;    // one formula only (sgd, signgd or asymmetric_signgd), for quick experiments
  std::string device = "cpu";
};

static const char* kUsage =
    "bench_kernel [--train 8] [--test 16] [--min-len 20] [--max-len 40] [--labels 2] [--threads T] [--batch 8]\n"
    "             [--layers 12] [--hidden 768] [--no-naive] [--device cpu|cuda] [--repeat 1]\n"
    "             [--only sgd|signgd|asymmetric_signgd]\n"
    "eNTK kernels, the floor (C x batched forward+backward) and a naive per-example autograd loop on a\n"
    "RoBERTa-base-shaped model with random weights; each timing is the fastest of --repeat runs.\n"
    "Prints one JSON object (scripts/bench-kernel summarises it).\n";

// Returns -1 when the arguments are good, else the exit status (0 after --help, 2 for a bad argument).
static int ParseArgs(int argc, char** argv, BenchArgs* a) {
  for (int i = 1; i < argc; i++) {
    std::string s = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (s == "--train") a->nTrain = next();
    else if (s == "--test") a->nTest = next();
    else if (s == "--min-len") a->minLen = next();
    else if (s == "--max-len") a->maxLen = next();
    else if (s == "--labels") a->labels = next();
    else if (s == "--threads") a->threads = next();
    else if (s == "--batch") a->batch = next();
    else if (s == "--layers") a->layers = next();
    else if (s == "--hidden") a->hidden = next();
    else if (s == "--no-naive") a->naive = false;
    else if (s == "--repeat") a->repeat = std::max<int64_t>(1, next());
    else if (s == "--only" && i + 1 < argc) a->only = argv[++i];
    else if (s == "--device" && i + 1 < argc) a->device = argv[++i];
    else if (s == "--help" || s == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", s.c_str());
      return 2;
    }
  }
  return -1;
}

// RoBERTa-base shapes (vocabulary, positions) at the asked width and depth, random weights.
static std::shared_ptr<Model> BenchModel(const BenchArgs& a, const at::Device& dev) {
  ModelConfig cfg;
  cfg.arch = Arch::Roberta;
  cfg.vocabSize = 50265;
  cfg.hidden = a.hidden;
  cfg.layers = a.layers;
  cfg.heads = a.hidden / 64;
  cfg.intermediate = 4 * a.hidden;
  cfg.maxPositions = 514;
  cfg.typeVocab = 1;
  cfg.padId = 1;
  cfg.eps = 1e-5;
  LoadOptions lo;
  auto model = randomModel(cfg, lo, 1234, a.labels);
  if (!dev.is_cpu()) moveModel(*model, dev);
  return model;
}

// n prompts <s> ... <mask> x </s> of random length in [minLen, maxLen] with random tokens.
static std::vector<Example> MakeSet(const BenchArgs& a, int64_t n, std::mt19937_64& rng) {
  std::vector<Example> xs;
  for (int64_t i = 0; i < n; i++) {
    int64_t L = a.minLen + static_cast<int64_t>(rng() % static_cast<uint64_t>(a.maxLen - a.minLen + 1));
    Example x;
    x.ids.push_back(0);
    for (int64_t t = 1; t + 1 < L; t++) x.ids.push_back(3 + static_cast<int64_t>(rng() % 50000));
    x.ids.push_back(2);
    x.maskPos = L - 3;
    x.ids[x.maskPos] = 50264;
    xs.push_back(x);
  }
  return xs;
}

// One benchmark's model, inputs and timing rule.
struct Bench {
  BenchArgs a;
  at::Device dev;
  std::shared_ptr<Model> model;
  std::vector<Example> train, test;
  std::vector<int64_t> labelIds;
  at::Tensor lab;  // the label word ids on the device
  KernelOptions ko;
  std::vector<at::Tensor> params;  // requires_grad, for the floor and the naive loop

  // The fastest of `repeat` runs of `body` (wall seconds) and the process CPU seconds of that run. Every
  // timing (kernels, floor, naive loop) goes through it, so their ratios compare like with like.
  template <typename F>
  double BestOf(const F& body, double* cpuOfBest) const {
    double best = -1;
    for (int64_t rep = 0; rep < a.repeat; rep++) {
      Sync(dev);
      auto t0 = Clock::now();
      double c0 = CpuSeconds();
      body();
      Sync(dev);
      double s = Seconds(t0);
      if (best < 0 || s < best) best = s, *cpuOfBest = CpuSeconds() - c0;
    }
    return best;
  }

  double TimeKernels(bool sgd, bool sign, bool asym, KernelResult* out, double* cpuOfBest) {
    ko.sgd = sgd;
    ko.signgd = sign;
    ko.asymmetricSigngd = asym;
    return BestOf(
        [&]() {
          KernelResult r = computeKernels(*model, train, test, ko, Progress{});
          if (out) *out = std::move(r);
        },
        cpuOfBest);
  }

  // The prompt logits [B, C] of examples [i, j) of xs, with the autograd graph.
  at::Tensor Logits(const std::vector<Example>& xs, size_t i, size_t j) const {
    Batch b = makeBatch(*model, xs, i, j, dev);
    return forwardOutputs(*model, b, OutputMode::Prompt, lab, nullptr).logits;
  }

  // The floor: C x (batched forward + backward with weight gradients) over the same N + M sequences.
  double TimeFloor(double* cpuOfBest) const {
    std::vector<Example> all(train);
    all.insert(all.end(), test.begin(), test.end());
    return BestOf(
        [&]() {
          for (int64_t c = 0; c < a.labels; c++)
            for (size_t i = 0; i < all.size(); i += a.batch) {
              at::Tensor f = Logits(all, i, std::min(all.size(), i + static_cast<size_t>(a.batch)));
              torch::autograd::grad({f.select(1, c).sum()}, params, {}, false, false, true);
            }
        },
        cpuOfBest);
  }

  // One example's full gradient of logit c, flattened (zeros for parameters it does not reach).
  at::Tensor FullGrad(const Example& x, int64_t c) const {
    std::vector<Example> one{x};
    auto g = torch::autograd::grad({Logits(one, 0, 1).select(1, c).sum()}, params, {}, false, false, true);
    std::vector<at::Tensor> flat;
    for (size_t k = 0; k < g.size(); k++)
      flat.push_back(g[k].defined() ? g[k].reshape({-1}) : at::zeros({params[k].numel()}, params[k].options()));
    return at::cat(flat).detach();
  }

  // The naive loop: per-example gradients by autograd (one backward per example and logit), the train rows
  // stored, each test gradient dotted with them; returns the seconds and the kernel it computed.
  double TimeNaive(at::Tensor* K, double* cpuOfBest) const {
    const int64_t C = a.labels;
    return BestOf(
        [&]() {
          at::Tensor S;  // filled row by row (no second copy: 16 rows of RoBERTa-base are 10 GB)
          for (int64_t i = 0; i < a.nTrain; i++)
            for (int64_t c = 0; c < C; c++) {
              at::Tensor g = FullGrad(train[i], c);
              if (!S.defined()) S = at::empty({a.nTrain * C, g.numel()}, g.options());
              S.select(0, i * C + c).copy_(g);
            }
          *K = at::zeros({a.nTrain * C, a.nTest * C}, at::kDouble);
          for (int64_t i = 0; i < a.nTest; i++)
            for (int64_t c = 0; c < C; c++) K->select(1, i * C + c).copy_(at::mv(S, FullGrad(test[i], c)).to(at::kCPU, at::kDouble));
        },
        cpuOfBest);
  }
};

struct Timings {
  double sgd = -1, signgd = -1, asym = -1, floor = -1, naive = -1, naiveErr = -1;
  double cSgd = -1, cSign = -1, cAsym = -1, cFloor = -1, cNaive = -1;
};

static void PrintJson(const Bench& b, int nthreads, int64_t gradDim, const Timings& t) {
  const BenchArgs& a = b.a;
  std::printf(
      "{\"machine_threads\": %d, \"device\": \"%s\", \"model\": \"roberta-base-shaped (random, %lld layers, hidden %lld)\", "
      "\"train\": %lld, \"test\": %lld, \"min_len\": %lld, \"max_len\": %lld, \"labels\": %lld, \"batch\": %lld, \"grad_dim\": %lld, "
      "\"sgd_seconds\": %.3f, \"signgd_seconds\": %.3f, \"asymmetric_signgd_seconds\": %.3f, \"floor_seconds\": %.3f, "
      "\"naive_seconds\": %.3f, \"sgd_over_floor\": %.2f, \"signgd_over_floor\": %.2f, \"naive_over_sgd\": %.2f, "
      "\"sgd_max_rel_err_vs_naive\": %.3g, \"repeat\": %lld, \"naive_repeat\": %lld, \"cpu_seconds\": {\"sgd\": %.2f, "
      "\"signgd\": %.2f, \"asymmetric_signgd\": %.2f, \"floor\": %.2f, \"naive\": %.2f}, \"dispatch\": {\"popcount\": \"%s\", "
      "\"sign_products\": \"%s\", \"skinny_kernel\": %s, \"skinny_max_rows\": %lld}}\n",
      nthreads, b.dev.str().c_str(), (long long)a.layers, (long long)a.hidden, (long long)a.nTrain, (long long)a.nTest, (long long)a.minLen,
      (long long)a.maxLen, (long long)a.labels, (long long)a.batch, (long long)gradDim, t.sgd, t.signgd, t.asym, t.floor, t.naive,
      t.sgd / t.floor, t.signgd / t.floor, t.naive > 0 ? t.naive / t.sgd : -1.0, t.naiveErr, (long long)a.repeat,
      (long long)(a.naive ? a.repeat : 0), t.cSgd, t.cSign, t.cAsym, t.cFloor, t.cNaive, popcountKernelName(popcountKernel()),
      signProductsByPlanes() ? "bit-planes" : "float32", skinnyKernelAvailable() ? "true" : "false", (long long)skinnyMaxRows());
}

int main(int argc, char** argv) {
  BenchArgs args;
  if (int rc = ParseArgs(argc, argv, &args); rc >= 0) return rc;
  int nthreads = configureThreads(static_cast<int>(args.threads));
  Bench b{args, parseDevice(args.device)};
  b.model = BenchModel(args, b.dev);
  std::mt19937_64 rng(42);
  b.train = MakeSet(args, args.nTrain, rng);
  b.test = MakeSet(args, args.nTest, rng);
  b.labelIds = {6587, 372, 1099, 205, 2770, 1313};
  b.labelIds.resize(args.labels);
  b.ko.output.mode = OutputMode::Prompt;
  b.ko.output.labelWordIds = b.labelIds;
  b.ko.batchSize = args.batch;
  b.lab = labelIdTensor(*b.model, b.ko.output);

  auto wanted = [&](const char* f) { return args.only.empty() || args.only == f; };
  b.ko.sgd = true, b.ko.signgd = false, b.ko.asymmetricSigngd = false;
  computeKernels(*b.model, b.train, b.test, b.ko, Progress{});  // warm-up (allocator, thread pools), not timed
  KernelResult rs;
  Timings t;
  if (wanted("sgd") || args.naive) t.sgd = b.TimeKernels(true, false, false, &rs, &t.cSgd);
  if (wanted("signgd")) t.signgd = b.TimeKernels(false, true, false, nullptr, &t.cSign);
  if (wanted("asymmetric_signgd")) t.asym = b.TimeKernels(false, false, true, nullptr, &t.cAsym);

  b.params = parameterTensors(*b.model);
  for (auto& p : b.params) p.requires_grad_(true);
  t.floor = b.TimeFloor(&t.cFloor);
  if (args.naive) {
    at::Tensor K;
    t.naive = b.TimeNaive(&K, &t.cNaive);
    at::Tensor mine = rs.kernels.at("sgd/train_test").reshape({args.nTrain * args.labels, args.nTest * args.labels});
    t.naiveErr = ((mine - K).abs().max() / K.abs().max()).item<double>();
  }
  PrintJson(b, nthreads, rs.gradDim, t);
  return 0;
}
