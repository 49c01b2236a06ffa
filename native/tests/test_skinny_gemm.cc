// The joint pass's product kernel against at::mm: random values (float32 tolerance) and ±1/0 entries
// (exact), every tail of M, N and K, strided operands and accumulator, every cell around the accumulator
// left untouched; large K (2^20 + 5, 2^25) exactly.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>

#include "core/skinny_gemm.h"
#include "test_util.h"

using namespace lmk;

int main(int, char**) {
  std::printf("fast kernel on this CPU: %s\n", skinnyKernelAvailable() ? "yes (AVX2/FMA)" : "no (at::mm)");
  at::manual_seed(3);
  for (int64_t M : {1, 2, 3, 4, 7, 16}) {
    for (int64_t N : {1, 3, 4, 5, 48}) {
      for (int64_t K : {1, 7, 8, 9, 4095, 4096, 4097, 20000}) {
        at::Tensor a = at::randn({M, K + 3}).narrow(1, 1, K), b = at::randn({N, K + 5}).narrow(1, 2, K);  // row strides ≠ K
        at::Tensor big = at::full({M + 2, N + 4}, 7.0, at::kDouble);
        at::Tensor acc = big.narrow(0, 1, M).narrow(1, 2, N);
        addProductTransposed(acc, a, b);
        at::Tensor ref = at::mm(a.to(at::kDouble), b.to(at::kDouble).t()) + 7.0;
        const double err = ((acc - ref).abs().max() / (ref.abs().max() + 1)).item<double>();
        LMK_CHECK(err < 1e-5, "values M %lld N %lld K %lld rel err %.3g", (long long)M, (long long)N, (long long)K, err);
        // every cell of `big` outside the accumulator's window (rows 1..M, columns 2..N+1) keeps its 7
        at::Tensor outside = at::ones({M + 2, N + 4}, at::kBool);
        outside.narrow(0, 1, M).narrow(1, 2, N).fill_(false);
        LMK_CHECK(big.masked_select(outside).eq(7.0).all().item<bool>() && big.masked_select(outside).numel() == (M + 2) * (N + 4) - M * N,
                  "M %lld N %lld K %lld: wrote outside the accumulator", (long long)M, (long long)N, (long long)K);
        at::Tensor sa = at::sign(at::randn({M, K}).clamp(-0.2, 0.2).round_() * 5), sb = at::sign(at::randn({N, K}));  // −1, 0, 1
        at::Tensor s = at::zeros({M, N}, at::kDouble);
        addProductTransposed(s, sa, sb);
        at::Tensor exact = at::mm(sa.to(at::kDouble), sb.to(at::kDouble).t());
        LMK_CHECK(s.equal(exact), "signs M %lld N %lld K %lld not exact", (long long)M, (long long)N, (long long)K);
      }
    }
  }
  // Large K, exactly: ±1/0 sums stay exact only while every float32 partial sum stays below 2^24.
  // K = 2^20 + 5 of random signs (every tail), and K = 2^25 all ones but for one zero in SIMD lane 0:
  // the exact sum 2^25 - 1 is odd and above 2^24, so float32 sums over all of K (or any block beyond
  // 2^24 columns) round it to 2^25, while blocks of at most 2^24 columns, added in float64, are exact.
  {
    const int64_t K = (int64_t(1) << 20) + 5;
    at::Tensor sa = at::sign(at::randn({3, K}).clamp(-0.2, 0.2).round_() * 5), sb = at::sign(at::randn({4, K}));
    at::Tensor s = at::zeros({3, 4}, at::kDouble);
    addProductTransposed(s, sa, sb);
    LMK_CHECK(s.equal(at::mm(sa.to(at::kDouble), sb.to(at::kDouble).t())), "signs K = 2^20 + 5 not exact");
  }
  // Both kernels, forced, on ±1/0 at K = 2^20 + 5 and a shape past the skinny kernel's rows (Auto: BLAS)
  for (auto k : {ProductKernel::Skinny, ProductKernel::Blas, ProductKernel::Auto}) {
    const int64_t K = (int64_t(1) << 20) + 5, M = skinnyMaxRows() + 3;
    at::Tensor sa = at::sign(at::randn({M, K}).clamp(-0.2, 0.2).round_() * 5), sb = at::sign(at::randn({M + 1, K}));
    at::Tensor s = at::zeros({M, M + 1}, at::kDouble);
    addProductTransposed(s, sa, sb, k);
    LMK_CHECK(s.equal(at::mm(sa.to(at::kDouble), sb.to(at::kDouble).t())), "kernel %d: signs %lld x %lld, K = 2^20 + 5 not exact", (int)k,
              (long long)M, (long long)(M + 1));
  }
  {
    const int64_t K = int64_t(1) << 25;
    at::Tensor ones = at::ones({1, K}), lane = at::ones({1, K});
    lane[0][0] = 0;
    at::Tensor s = at::zeros({1, 1}, at::kDouble);
    addProductTransposed(s, lane, ones);
    const double want = static_cast<double>(K - 1), got = s.item<double>();
    LMK_CHECK(got == want, "ones K = 2^25: %.17g, want exactly %.17g", got, want);
  }
  // float64 operands take at::mm
  at::Tensor a = at::randn({3, 50}, at::kDouble), b = at::randn({4, 50}, at::kDouble), acc = at::zeros({3, 4}, at::kDouble);
  addProductTransposed(acc, a, b);
  LMK_CHECK(((acc - at::mm(a, b.t())).abs().max()).item<double>() < 1e-12, "float64 path");
  return test::Finish("test_skinny_gemm");
}
