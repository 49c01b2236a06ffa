// Bit-plane sign products against float64 products of at::sign: exactly, with every popcount kernel this
// CPU runs, for every tail of rows (the 2 × 4 and 1 × 4 register tiles) and columns (within a word, a
// 512-bit vector and a word block), unaligned rows, -0.0 and NaN, and a K of 2^20 + 5 columns.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/sign_planes.h"
#include "test_util.h"

using namespace lmk;

namespace {

// −1, 0 and 1 in about equal shares, as float32 values of mixed magnitude
at::Tensor Values(int64_t rows, int64_t cols) {
  at::Tensor v = at::randn({rows, cols});
  return v * (v.abs() > 0.43).to(at::kFloat) * 3.5;
}

at::Tensor Exact(const at::Tensor& a, const at::Tensor& b) { return at::mm(at::sign(a).to(at::kDouble), at::sign(b).to(at::kDouble).t()); }

void CheckShapes(PopcountKernel k) {
  for (int64_t M : {1, 2, 3, 5, 9})
    for (int64_t N : {1, 3, 4, 5, 9})
      for (int64_t K : {1, 63, 64, 65, 511, 512, 513, 1000, 4097, 40000}) {
        // rows one float off any alignment, 3 floats apart beyond K
        for (auto dtype : {at::kFloat, at::kDouble}) {
          at::Tensor a = Values(M, K + 4).to(dtype).narrow(1, 1, K), b = Values(N, K + 3).to(dtype).narrow(1, 3, K);
          at::Tensor acc = at::full({M, N}, 7.0, at::kDouble);
          addSignProductTransposed(acc, a, b, k);
          LMK_CHECK(acc.equal(Exact(a, b) + 7.0), "%s %s: M %lld N %lld K %lld not exact", popcountKernelName(k),
                    dtype == at::kFloat ? "float32" : "float64", (long long)M, (long long)N, (long long)K);
        }
      }
}

void CheckSameOperand(PopcountKernel k) {
  at::Tensor a = Values(11, 3001);
  at::Tensor acc = at::zeros({11, 11}, at::kDouble);
  addSignProductTransposed(acc, a, a, k);
  LMK_CHECK(acc.equal(Exact(a, a)), "%s: a · aᵀ not exact", popcountKernelName(k));
}

// -0.0 has sign 0, NaN counts as non-zero and not negative (+1): a hand-built row
void CheckSpecialValues(PopcountKernel k) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(70, 0.f);
  x[0] = -0.0f, x[1] = 2.f, x[2] = -3.f, x[3] = nan, x[64] = -1.f, x[69] = 5.f;
  SignPlanes p;
  packSignPlanes(x.data(), 1, 70, 70, p, k);
  double c = 0;
  addSignProducts(p, 0, 1, p, 0, 1, &c, 1, k);
  LMK_CHECK(c == 5.0, "%s: ⟨s, s⟩ of the hand row is %g, want 5 (2, −3, NaN, −1, 5 non-zero)", popcountKernelName(k), c);
  std::vector<float> y(70, 1.f);
  SignPlanes q;
  packSignPlanes(y.data(), 1, 70, 70, q, k);
  double d = 0;
  addSignProducts(p, 0, 1, q, 0, 1, &d, 1, k);
  LMK_CHECK(d == 1.0, "%s: ⟨s, 1⟩ of the hand row is %g, want 1 (+1 −1 +1 −1 +1)", popcountKernelName(k), d);
  LMK_CHECK(p.words == 8 && p.nz[1] == ((uint64_t(1) << 0) | (uint64_t(1) << 5)) && p.neg[1] == 1 && p.nz[2] == 0,
            "%s: planes of the hand row (word 1: nz 0x%llx neg 0x%llx)", popcountKernelName(k), (unsigned long long)p.nz[1],
            (unsigned long long)p.neg[1]);
}

}  // namespace

int main(int, char**) {
  std::printf("popcount kernel chosen: %s\n", popcountKernelName(popcountKernel()));
  at::manual_seed(5);
  int ran = 0;
  for (auto k : {PopcountKernel::Portable, PopcountKernel::Avx2, PopcountKernel::Avx512}) {
    if (!popcountKernelRuns(k)) {
      std::printf("%s: not on this CPU\n", popcountKernelName(k));
      continue;
    }
    ran++;
    CheckShapes(k);
    CheckSameOperand(k);
    CheckSpecialValues(k);
  }
  LMK_CHECK(ran >= 1, "no popcount kernel ran");
  {  // K = 2^20 + 5 with the chosen kernel
    const int64_t K = (int64_t(1) << 20) + 5;
    at::Tensor a = Values(3, K), b = Values(5, K);
    at::Tensor acc = at::zeros({3, 5}, at::kDouble);
    addSignProductTransposed(acc, a, b);
    LMK_CHECK(acc.equal(Exact(a, b)), "K = 2^20 + 5 not exact");
  }
  {  // rows out of range are refused, not read
    SignPlanes p;
    std::vector<float> x(10, 1.f);
    packSignPlanes(x.data(), 1, 10, 10, p);
    double c = 0;
    bool threw = false;
    try {
      addSignProducts(p, 0, 2, p, 0, 1, &c, 1);
    } catch (const std::out_of_range&) {
      threw = true;
    }
    LMK_CHECK(threw, "rows past the planes were not refused");
  }
  return test::Finish("test_sign_planes");
}
