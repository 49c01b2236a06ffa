// Benchmark (not a test) of the joint pass's product kernels on cache-sized chunks, as the joint pass
// forms them (R rows × K columns with R·K ≈ 2^19): the skinny AVX2 kernel against BLAS for values, and
// the float32 sign product against bit planes (packing included) for signs, for R from a few rows to
// hundreds. Each timing is the fastest of --repeat runs. Prints one JSON line per R and the choices.
//   bench_products [--repeat 5] [--chunk 524288] [--rows 4,8,16,...]
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

int main(int argc, char** argv) {
  int repeat = 5;
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
      rows.clear();
      std::stringstream ss(next());
      for (std::string t; std::getline(ss, t, ',');) rows.push_back(std::max<int64_t>(1, std::atoll(t.c_str())));
    } else {
      std::fprintf(stderr, "bench_products [--repeat 5] [--chunk 524288] [--rows 4,8,...]\n");
      return 2;
    }
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
