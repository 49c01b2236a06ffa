// Bit-plane sign products: the signs of a float32 row, sign(x) ∈ {−1, 0, 1}, stored as two bit planes,
// nz (x ≠ 0) and neg (x < 0), 64 columns a word. Then, exactly and in integers,
//   ⟨sign x, sign y⟩ = popcount(nz ∧ nz′) − 2 · popcount(nz ∧ nz′ ∧ (neg ⊕ neg′)),
// one bit of each operand per column where a float32 product carries 32. The popcount kernel is chosen at
// run time: AVX-512 VPOPCNTDQ, AVX2 (popcount by nibble lookup), or portable C++.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace lmk {

enum class PopcountKernel { Portable, Avx2, Avx512 };

// The fastest kernel this CPU runs, unless LMKERNEL_POPCOUNT=portable|avx2|avx512 names another one it runs.
PopcountKernel popcountKernel();
bool popcountKernelRuns(PopcountKernel k);
const char* popcountKernelName(PopcountKernel k);

// The planes of `rows` float32 rows of `cols` columns. A row takes `words` 64-bit words, a multiple of 8
// (512 bits) whose bits past `cols` are 0, so that no kernel has a tail.
struct SignPlanes {
  int64_t rows = 0, cols = 0, words = 0;
  std::vector<uint64_t> nz, neg;  // [rows, words] each
  const uint64_t* nzRow(int64_t r) const { return nz.data() + r * words; }
  const uint64_t* negRow(int64_t r) const { return neg.data() + r * words; }
};

// Planes of x[r, 0:cols) for r < rows, rows `ld` elements apart (any alignment). -0.0 is 0; NaN counts
// as non-zero and not negative. `out`'s buffers are reused.
void packSignPlanes(const float* x, int64_t rows, int64_t cols, int64_t ld, SignPlanes& out, PopcountKernel k = popcountKernel());
void packSignPlanes(const double* x, int64_t rows, int64_t cols, int64_t ld, SignPlanes& out, PopcountKernel k = popcountKernel());

// c[i, j] += ⟨sign a_(a0+i), sign b_(b0+j)⟩ for i < na, j < nb (c float64, rows ldc apart).
void addSignProducts(const SignPlanes& a, int64_t a0, int64_t na, const SignPlanes& b, int64_t b0, int64_t nb, double* c, int64_t ldc,
                     PopcountKernel k = popcountKernel());

// Whether t is a tensor the planes take: 2-D, on the CPU, float32 or float64, unit column stride.
bool signPlanesApply(const at::Tensor& t);

// acc [M, N] float64 (unit column stride) += sign(a) · sign(b)ᵀ for CPU tensors a [M, K], b [N, K] of one
// float type with unit column stride: packs both sides (once when a and b are the same tensor) and multiplies.
void addSignProductTransposed(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, PopcountKernel k = popcountKernel());

}  // namespace lmk
