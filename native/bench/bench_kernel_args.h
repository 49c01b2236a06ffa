// The arguments of bench_kernel (native/bench/bench_kernel.cc): its options, usage text and parser.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

struct BenchArgs {
  int64_t nTrain = 8, nTest = 16, minLen = 20, maxLen = 40, labels = 2, threads = 0, batch = 8, layers = 12, hidden = 768;
  bool naive = true;
  bool asymFlipped = false;  // also time the asymmetric kernel with its flipped train x test kernel
  int64_t repeat = 1;        // each timing is the fastest of `repeat` runs (a shared machine's noise only adds time)
  std::string only;          // one formula only (sgd, signgd or asymmetric_signgd), for quick experiments
  std::string device = "cpu";
  std::string arch = "roberta";    // or gpt2
  std::vector<std::string> modes;  // precision modes timed per formula (empty: exact, the former output only)
  std::string plan = "auto";
  int64_t referenceTest = 0;                               // 0: not timed at the reference's size
  int64_t sst5Train = 0, sst5Test = 1000, sst5Labels = 5;  // 0: no SST-5 shape
  int64_t shardIndex = 0, shardCount = 1;                  // the kernels' tiles t with t % count == index
  bool floor = true;                                       // time the floor (--no-floor: the kernels only)
  int ghost = -1;  // the SGD kernel's linear layers: -1 the engine's choice, 0 the joint pass, 1 the ghost contraction
};

static const char* kUsage =
    "bench_kernel [--train 8] [--test 16] [--min-len 20] [--max-len 40] [--labels 2] [--threads T] [--batch 8]\n"
    "             [--layers 12] [--hidden 768] [--no-naive] [--device cpu|cuda] [--repeat 1]\n"
    "             [--only sgd|signgd|asymmetric_signgd] [--asym-flipped] [--arch roberta|gpt2] [--modes exact,fast]\n"
    "             [--plan auto|cpu|gpu] [--shard I/N] [--no-floor] [--ghost -1|0|1]\n"
    "             [--reference-test M2] [--sst5-train N5 --sst5-test M5 --sst5-labels 5]\n"
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
    else if (s == "--asym-flipped") a->asymFlipped = true;
    else if (s == "--no-floor") a->floor = false;
    else if (s == "--ghost") a->ghost = static_cast<int>(std::max<int64_t>(-1, std::min<int64_t>(1, next())));
    else if (s == "--shard" && i + 1 < argc) {
      const std::string v = argv[++i];
      const size_t q = v.find('/');
      a->shardIndex = std::atoll(v.substr(0, q).c_str());
      a->shardCount = q == std::string::npos ? 0 : std::atoll(v.substr(q + 1).c_str());
      if (a->shardCount < 1 || a->shardIndex < 0 || a->shardIndex >= a->shardCount) {
        std::fprintf(stderr, "--shard wants I/N with 0 <= I < N, got %s\n", v.c_str());
        return 2;
      }
    } else if (s == "--repeat") a->repeat = std::max<int64_t>(1, next());
    else if (s == "--only" && i + 1 < argc) a->only = argv[++i];
    else if (s == "--device" && i + 1 < argc) a->device = argv[++i];
    else if (s == "--arch" && i + 1 < argc) a->arch = argv[++i];
    else if (s == "--plan" && i + 1 < argc) a->plan = argv[++i];
    else if (s == "--reference-test") a->referenceTest = next();
    else if (s == "--sst5-train") a->sst5Train = next();
    else if (s == "--sst5-test") a->sst5Test = next();
    else if (s == "--sst5-labels") a->sst5Labels = next();
    else if (s == "--modes" && i + 1 < argc) {
      std::string v = argv[++i];
      for (size_t p = 0; p <= v.size();) {
        size_t q = v.find(',', p);
        if (q == std::string::npos) q = v.size();
        a->modes.push_back(v.substr(p, q - p));
        p = q + 1;
      }
    } else if (s == "--help" || s == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", s.c_str());
      return 2;
    }
  }
  return -1;
}
