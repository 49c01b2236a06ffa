// Benchmark of the eNTK engine on a RoBERTa-base-shaped (or, --arch gpt2, GPT-2-small-shaped: 124 M
// parameters at 12 layers x 768, prompts ending at the label word's position) model with random weights:
// SGD and SignGD kernels for N train x M test sequences, against, in the same run,
//   the floor: C x batched forward+backward (weight gradients) over the same N+M sequences, and
//   a naive loop: full per-example gradients by autograd, dotted with stored train gradients.
// Also checks the engine against the naive kernel (max relative error). Prints one JSON object.
//   bench_kernel [--train N] [--test M] [--min-len 20] [--max-len 40] [--labels 2] [--threads T]
//                [--batch B] [--layers L] [--hidden H] [--no-naive] [--device cpu|cuda] [--repeat N]
//                [--only sgd|signgd|asymmetric_signgd] [--asym-flipped] [--arch roberta|gpt2] [--modes exact,fast]
//                [--plan auto|cpu|gpu] [--reference-test M2] [--sst5-train N5 --sst5-test M5 --sst5-labels 5]
//                [--shard I/N] [--no-floor] [--ghost -1|0|1]
// --shard computes only the kernels' tiles t with t % N == I (as `lmkernel kernel --shard`): one piece of a
// job too long for one sitting, timed whole; --no-floor skips the floor (time it in a run of its own);
// --ghost 0 times the SGD kernel by the joint pass (1: the ghost contraction; default: the engine's choice).
// LMKERNEL_BENCH_PROGRESS=1 prints the engine's progress on stderr once a minute.
// The asymmetric SignGD kernel is timed as the engine computes it by default, without its flipped train x test
// kernel <g(train), sign g(x)> (only the asym solver's lambda != 1 reads it); --asym-flipped times it with
// the flip too ("asymmetric_signgd_flipped_seconds"; not in the --modes and SST-5 timings).
// With --modes, every formula is timed in every precision mode, with its peak memory and its max relative
// error against the exact mode; --reference-test times them again at N x M2 (the reference scheme's size);
// --sst5-train times the three formulas in one pass at N5 x 5 logits x M5 (fast mode), the 64-shot SST-5
// shape. These go into "results" and "sst5_64shot_seconds" (scripts/gpu-check builds its record from them).
// Each timing (kernels, floor and naive loop alike) is the fastest of N runs (--repeat; a shared
// machine's noise only ever adds time), so every ratio compares timings taken the same way.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "bench/bench_kernel_args.h"
#include "core/entk.h"
#include "core/forward.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/plan.h"
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

static Progress ProgressOnStderr() {
  Progress p;
  const char* e = std::getenv("LMKERNEL_BENCH_PROGRESS");
  if (!e || std::strcmp(e, "1") != 0) return p;
  auto last = std::make_shared<Clock::time_point>(Clock::now());
  p.report = [last](const std::string& phase, int64_t done, int64_t total) {
    if (Seconds(*last) < 60 && done < total) return;
    *last = Clock::now();
    std::fprintf(stderr, "bench: %s %lld/%lld\n", phase.c_str(), (long long)done, (long long)total);
  };
  return p;
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
  if (a.arch == "gpt2") {  // GPT-2 small's shapes: vocabulary 50257, 1024 positions, tied LM head
    cfg.arch = Arch::Gpt2;
    cfg.vocabSize = 50257;
    cfg.maxPositions = 1024;
    cfg.kvHeads = cfg.heads;
    cfg.padId = 0;
    cfg.hiddenAct = "gelu_new";
    cfg.tieWordEmbeddings = true;
  }
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
    if (a.arch == "gpt2") x.ids[x.maskPos] = 3 + static_cast<int64_t>(rng() % 50000), x.maskPos = L - 1;  // a causal prompt: its last token
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

  // LMKERNEL_BENCH_PROGRESS=1: the engine's progress on stderr, at most once a minute (long shapes)
  Progress progress = ProgressOnStderr();

  // asym: the asymmetric kernel, with its flipped train x test kernel when `flipped` (not the default)
  double TimeKernels(bool sgd, bool sign, bool asym, KernelResult* out, double* cpuOfBest, bool flipped = false) {
    ko.sgd = sgd;
    ko.signgd = sign;
    ko.asymmetricSigngd = asym;
    ko.asymmetricFlipped = asym && flipped;
    return BestOf(
        [&]() {
          KernelResult r = computeKernels(*model, train, test, ko, progress);
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

// One formula in one precision mode: its time (the fastest of --repeat), the peak memory of that run,
// its max relative error against the exact mode, and its time at the reference scheme's size.
struct ModeResult {
  std::string formula, mode;
  double seconds = -1, peakGiB = -1, maxRelErr = -1, secondsAtReference = -1;
};

static double KernelsRelErr(const KernelResult& got, const KernelResult& exact) {
  double e = 0;
  for (const auto& kv : exact.kernels) {
    const at::Tensor& w = kv.second;
    const double scale = std::max(1e-300, w.abs().max().item<double>());
    e = std::max(e, (got.kernels.at(kv.first) - w).abs().max().item<double>() / scale);
  }
  return e;
}

// Every wanted formula in every mode (exact first: the others' errors are against it).
static std::vector<ModeResult> TimeModes(Bench& b, const std::vector<std::string>& formulas) {
  std::vector<ModeResult> out;
  std::vector<std::string> modes = b.a.modes;
  if (std::find(modes.begin(), modes.end(), "exact") == modes.end()) modes.insert(modes.begin(), "exact");
  std::stable_partition(modes.begin(), modes.end(), [](const std::string& m) { return m == "exact"; });
  const std::vector<Example> fullTest = b.test;
  for (const auto& f : formulas) {
    KernelResult exact;
    for (const auto& mode : modes) {
      ModeResult r{f, mode};
      b.ko.precision = parsePrecision(mode);
      KernelResult got;
      double cpu = 0;
      resetPeakMemory(b.dev);
      r.seconds = b.TimeKernels(f == "sgd", f == "signgd", f == "asymmetric_signgd", &got, &cpu);
      const int64_t peak = peakMemoryBytes(b.dev);
      r.peakGiB = peak < 0 ? -1 : static_cast<double>(peak) / (1024.0 * 1024 * 1024);
      if (mode == "exact") exact = std::move(got), r.maxRelErr = 0;
      else r.maxRelErr = KernelsRelErr(got, exact);
      if (b.a.referenceTest > 0) {
        b.test.assign(fullTest.begin(), fullTest.begin() + std::min<int64_t>(b.a.referenceTest, static_cast<int64_t>(fullTest.size())));
        r.secondsAtReference = b.TimeKernels(f == "sgd", f == "signgd", f == "asymmetric_signgd", nullptr, &cpu);
        b.test = fullTest;
      }
      std::fprintf(stderr, "bench: %s %s %.3f s (peak %.2f GiB, max rel err vs exact %.2e)\n", f.c_str(), mode.c_str(), r.seconds,
                   r.peakGiB, r.maxRelErr);
      out.push_back(r);
    }
  }
  b.ko.precision = Precision::Exact;
  return out;
}

// The 64-shot SST-5 shape: the three formulas in one pass, N5 train x 5 logits x M5 test, fast if asked for.
static double TimeSst5(Bench& b, std::mt19937_64& rng, std::string* mode) {
  Bench s{b.a, b.dev};
  s.a.labels = b.a.sst5Labels;
  s.model = b.model;
  s.train = MakeSet(b.a, b.a.sst5Train, rng);
  s.test = MakeSet(b.a, b.a.sst5Test, rng);
  s.ko = b.ko;
  s.ko.output.labelWordIds = {6587, 372, 1099, 205, 2770, 1313};
  s.ko.output.labelWordIds.resize(static_cast<size_t>(s.a.labels));
  const bool fast = std::find(b.a.modes.begin(), b.a.modes.end(), "fast") != b.a.modes.end();
  s.ko.precision = fast ? Precision::Fast : Precision::Exact;
  *mode = fast ? "fast" : "exact";
  double cpu = 0;
  return s.TimeKernels(true, true, true, nullptr, &cpu);
}

static void PrintModes(const std::vector<ModeResult>& rs, double floor, double sst5, const std::string& sst5Mode, const BenchArgs& a) {
  auto num = [](double v, const char* fmt) {
    if (v < 0) return std::string("null");
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return std::string(buf);
  };
  std::printf(", \"plan\": \"%s\", \"results\": [", a.plan.c_str());
  for (size_t i = 0; i < rs.size(); i++) {
    const ModeResult& r = rs[i];
    std::printf(
        "%s{\"formula\": \"%s\", \"mode\": \"%s\", \"seconds\": %s, \"floor_seconds\": %s, \"peak_gib\": %s, "
        "\"max_rel_err_vs_exact\": %s, \"seconds_at_reference_size\": %s, \"reference_train\": %lld, \"reference_test\": %lld}",
        i ? ", " : "", r.formula.c_str(), r.mode.c_str(), num(r.seconds, "%.3f").c_str(), num(floor, "%.3f").c_str(),
        num(r.peakGiB, "%.3f").c_str(), num(r.maxRelErr, "%.3g").c_str(), num(r.secondsAtReference, "%.3f").c_str(), (long long)a.nTrain,
        (long long)a.referenceTest);
  }
  std::printf("], \"sst5_64shot_seconds\": %s, \"sst5_64shot_mode\": \"%s\", \"sst5_shape\": [%lld, %lld, %lld]}\n",
              num(sst5, "%.3f").c_str(), sst5Mode.c_str(), (long long)a.sst5Train, (long long)a.sst5Labels, (long long)a.sst5Test);
}

struct Timings {
  double sgd = -1, signgd = -1, asym = -1, asymFlipped = -1, floor = -1, naive = -1, naiveErr = -1;
  double cSgd = -1, cSign = -1, cAsym = -1, cAsymFlipped = -1, cFloor = -1, cNaive = -1;
};

static void PrintJson(const Bench& b, int nthreads, int64_t gradDim, const Timings& t) {
  const BenchArgs& a = b.a;
  std::printf(
      "{\"machine_threads\": %d, \"device\": \"%s\", \"model\": \"%s-shaped (random, %lld layers, hidden %lld)\", "
      "\"train\": %lld, \"test\": %lld, \"min_len\": %lld, \"max_len\": %lld, \"labels\": %lld, \"batch\": %lld, \"grad_dim\": %lld, "
      "\"sgd_seconds\": %.3f, \"signgd_seconds\": %.3f, \"asymmetric_signgd_seconds\": %.3f, "
      "\"asymmetric_signgd_flipped_seconds\": %.3f, \"floor_seconds\": %.3f, "
      "\"naive_seconds\": %.3f, \"sgd_over_floor\": %.2f, \"signgd_over_floor\": %.2f, \"naive_over_sgd\": %.2f, "
      "\"sgd_max_rel_err_vs_naive\": %.3g, \"repeat\": %lld, \"naive_repeat\": %lld, \"cpu_seconds\": {\"sgd\": %.2f, "
      "\"signgd\": %.2f, \"asymmetric_signgd\": %.2f, \"asymmetric_signgd_flipped\": %.2f, \"floor\": %.2f, \"naive\": %.2f}, "
      "\"dispatch\": {\"popcount\": \"%s\", "
      "\"sign_products\": \"%s\", \"skinny_kernel\": %s, \"skinny_max_rows\": %lld}",
      nthreads, b.dev.str().c_str(), a.arch == "gpt2" ? "gpt2-small" : "roberta-base", (long long)a.layers, (long long)a.hidden,
      (long long)a.nTrain, (long long)a.nTest, (long long)a.minLen, (long long)a.maxLen, (long long)a.labels, (long long)a.batch,
      (long long)gradDim, t.sgd, t.signgd, t.asym, t.asymFlipped, t.floor, t.naive, t.sgd / t.floor, t.signgd / t.floor,
      t.naive > 0 ? t.naive / t.sgd : -1.0, t.naiveErr, (long long)a.repeat, (long long)(a.naive ? a.repeat : 0), t.cSgd, t.cSign, t.cAsym,
      t.cAsymFlipped, t.cFloor, t.cNaive, popcountKernelName(popcountKernel()),
      signProductName(resolvePlan(KernelOptions{}, b.dev, 4, -1).signProduct), skinnyKernelAvailable() ? "true" : "false",
      (long long)skinnyMaxRows());
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
  b.ko.shardIndex = args.shardIndex, b.ko.shardCount = args.shardCount;
  b.ko.ghost = args.ghost;
  b.ko.plan = parsePlan(args.plan);
  for (const auto& m : args.modes) parsePrecision(m);  // a bad mode named before any work
  b.lab = labelIdTensor(*b.model, b.ko.output);

  auto wanted = [&](const char* f) { return args.only.empty() || args.only == f; };
  b.ko.sgd = true, b.ko.signgd = false, b.ko.asymmetricSigngd = false;
  {  // warm-up, not timed: the allocator's heap and thresholds (the ghost contraction's many mid-sized
     // tensors are page-faulted fresh in a cold process: 64 x 64 took 20 % longer) and the thread pools.
     // At most 64 examples of each set: every benchmark shape up to 64 x 64 warms on its whole sets, and
     // the 64-shot SST-5 shape in minutes rather than the hours of its whole SGD kernel.
    const size_t w = 64;
    const std::vector<Example> tr(b.train.begin(), b.train.begin() + std::min(w, b.train.size()));
    const std::vector<Example> te(b.test.begin(), b.test.begin() + std::min(w, b.test.size()));
    computeKernels(*b.model, tr, te, b.ko, Progress{});
  }
  KernelResult rs;
  Timings t;
  std::vector<ModeResult> modes;
  if (!args.modes.empty()) {
    std::vector<std::string> formulas;
    for (const char* f : {"sgd", "signgd", "asymmetric_signgd"})
      if (wanted(f)) formulas.push_back(f);
    modes = TimeModes(b, formulas);
    for (const auto& r : modes)
      if (r.mode == "exact") (r.formula == "sgd" ? t.sgd : r.formula == "signgd" ? t.signgd : t.asym) = r.seconds;
    if (args.naive) b.TimeKernels(true, false, false, &rs, &t.cSgd);
  } else {
    if (wanted("sgd") || args.naive) t.sgd = b.TimeKernels(true, false, false, &rs, &t.cSgd);
    if (wanted("signgd")) t.signgd = b.TimeKernels(false, true, false, nullptr, &t.cSign);
    if (wanted("asymmetric_signgd")) t.asym = b.TimeKernels(false, false, true, nullptr, &t.cAsym);
    if (wanted("asymmetric_signgd") && args.asymFlipped) t.asymFlipped = b.TimeKernels(false, false, true, nullptr, &t.cAsymFlipped, true);
  }
  if (rs.gradDim == 0) {
    for (auto& p : parameterTensors(*b.model)) rs.gradDim += p.numel();
  }

  std::string sst5Mode = "none";  // before the floor: its weights then require gradients
  const double sst5 = args.sst5Train > 0 ? TimeSst5(b, rng, &sst5Mode) : -1;
  b.params = parameterTensors(*b.model);
  for (auto& p : b.params) p.requires_grad_(true);
  t.floor = args.floor ? b.TimeFloor(&t.cFloor) : -1;
  if (args.naive) {
    at::Tensor K;
    t.naive = b.TimeNaive(&K, &t.cNaive);
    at::Tensor mine = rs.kernels.at("sgd/train_test").reshape({args.nTrain * args.labels, args.nTest * args.labels});
    t.naiveErr = ((mine - K).abs().max() / K.abs().max()).item<double>();
  }
  PrintJson(b, nthreads, rs.gradDim, t);
  if (args.modes.empty() && args.sst5Train == 0) std::printf("}\n");
  else PrintModes(modes, t.floor, sst5, sst5Mode, args);
  return 0;
}
