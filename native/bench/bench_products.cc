// Benchmark (not a test) of the joint pass's product kernels on cache-sized chunks, as the joint pass
// forms them (R rows × K columns with R·K ≈ 2^19): the skinny AVX2 kernel against BLAS for values, and
// the float32 sign product against bit planes (packing included) for signs, for R from a few rows to
// hundreds. Each timing is the fastest of --repeat runs. Prints one JSON line per R and the choices.
// --ghost C1,C2,... times instead the ghost contraction's two orders (GhostProduct: pairs, or segments) for
// a pair of batches of 8 examples × --len tokens at RoBERTa-base's site shapes, per number of outputs C:
// the measurement behind the CPU plan's ghostSegmentsFrom.
//   bench_products [--repeat 5] [--chunk 524288] [--rows 4,8,16,...] [--ghost 1,2,3,5 [--len 30] [--workers 2]]
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/entk_products.h"
#include "core/sign_planes.h"
#include "core/skinny_gemm.h"

using namespace lmk;
using Clock = std::chrono::steady_clock;

static double Best(int repeat, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < repeat; r++) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

static std::vector<int64_t> ParseList(const std::string& v) {
  std::vector<int64_t> out;
  std::stringstream ss(v);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(std::max<int64_t>(1, std::atoll(t.c_str())));
  return out;
}

// Both orders of the ghost contraction for one pair of 8-example batches (no padding) per C and site shape.
static void BenchGhost(const std::vector<int64_t>& outputs, int64_t L, int repeat, int64_t workers) {
  const int64_t B = 8;
  std::vector<JointWorkspace> ws(static_cast<size_t>(std::max<int64_t>(1, workers)));
  for (int64_t C : outputs)
    for (auto [din, dout] : {std::pair<int64_t, int64_t>{768, 768}, {768, 3072}, {3072, 768}}) {
      auto side = [&] { return GhostSide{at::randn({B * L, din}), at::randn({B * L * C, dout}), at::Tensor(), at::Tensor(), B, L}; };
      const GhostSide x = side(), y = side();
      at::Tensor pairs, segments;
      const double tp = Best(repeat, [&] { pairs = GhostProduct(x, y, C, false, ws); });
      const double ts = Best(repeat, [&] { segments = GhostProduct(x, y, C, true, ws); });
      const double T = static_cast<double>(B * L), Cd = static_cast<double>(C);
      std::printf(
          "{\"ghost_outputs\": %lld, \"din\": %lld, \"dout\": %lld, \"tokens\": %lld, \"pairs_s\": %.6f, \"segments_s\": %.6f, "
          "\"pairs_gfma\": %.3f, \"segments_gfma\": %.3f, \"max_rel_diff\": %.2e, \"faster\": \"%s\"}\n",
          (long long)C, (long long)din, (long long)dout, (long long)(B * L), tp, ts, 1e-9 * T * T * (din + Cd * Cd * dout),
          1e-9 * T * (T * (din + Cd * dout) + B * Cd * Cd * dout), ((pairs - segments).abs().max() / pairs.abs().max()).item<double>(),
          ts < tp ? "segments" : "pairs");
      std::fflush(stdout);
    }
}

int main(int argc, char** argv) {
  int repeat = 5;
  int64_t ghostLen = 30, ghostWorkers = 2;
  std::vector<int64_t> ghost;
  int64_t chunk = int64_t(1) << 19;
  std::vector<int64_t> rows = {4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512};
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_products: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--repeat") {
      repeat = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--chunk") {
      chunk = std::max<int64_t>(1024, std::atoll(next().c_str()));
    } else if (a == "--rows") {
      rows = ParseList(next());
    } else if (a == "--ghost") {
      ghost = ParseList(next());
    } else if (a == "--workers") {
      ghostWorkers = std::max<int64_t>(1, std::atoll(next().c_str()));
    } else if (a == "--len") {
      ghostLen = std::max<int64_t>(1, std::atoll(next().c_str()));
    } else {
      std::fprintf(stderr, "bench_products [--repeat 5] [--chunk 524288] [--rows 4,8,...] [--ghost 1,2,3,5 [--len 30] [--workers 2]]\n");
      return 2;
    }
  }
  if (!ghost.empty()) {
    at::manual_seed(1);
    BenchGhost(ghost, ghostLen, repeat, ghostWorkers);
    return 0;
  }
  std::printf("{\"popcount_kernel\": \"%s\", \"skinny_kernel\": %s, \"skinny_max_rows\": %lld, \"chunk\": %lld, \"repeat\": %d}\n",
              popcountKernelName(popcountKernel()), skinnyKernelAvailable() ? "true" : "false", (long long)skinnyMaxRows(),
              (long long)chunk, repeat);
  at::manual_seed(1);
  for (int64_t R : rows) {
    const int64_t K = std::max<int64_t>(64, chunk / R);
    at::Tensor g = at::randn({R, K}), s = at::sign(g);
    at::Tensor acc = at::zeros({R, R}, at::kDouble);
    const double skinny = Best(repeat, [&] { addProductTransposed(acc, g, g, ProductKernel::Skinny); });
    const double blas = Best(repeat, [&] { addProductTransposed(acc, g, g, ProductKernel::Blas); });
    const double signFloat = Best(repeat, [&] { addProductTransposed(acc, s, s); });
    SignPlanes planes;
    const double signPlanes = Best(repeat, [&] {
      packSignPlanes(g.data_ptr<float>(), R, K, K, planes);
      addSignProducts(planes, 0, R, planes, 0, R, acc.data_ptr<double>(), R);
    });
    std::printf(
        "{\"rows\": %lld, \"cols\": %lld, \"values_skinny_s\": %.6f, \"values_blas_s\": %.6f, \"signs_float_auto_s\": %.6f, "
        "\"signs_planes_s\": %.6f, \"values_best\": \"%s\", \"signs_best\": \"%s\"}\n",
        (long long)R, (long long)K, skinny, blas, signFloat, signPlanes, skinny <= blas ? "skinny" : "blas",
        signPlanes <= signFloat ? "planes" : "float");
    std::fflush(stdout);
  }
  return 0;
}
