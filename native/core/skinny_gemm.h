// C [M, N] (float64) += A [M, K] · Bᵀ (B [N, K]), float32 operands, for the joint pass's products: M and N
// are small (tens of rows) and K large, a shape where BLAS spends more time packing than multiplying.
// A register-tiled AVX2/FMA kernel (chosen at run time; at::mm elsewhere) sums in float32 over K blocks
// of at most 2^12 columns and adds each block's sums into C in float64, so sums of ±1 are exact.
#pragma once
#include <ATen/ATen.h>

namespace lmk {

enum class ProductKernel { Auto, Skinny, Blas };

// acc [M, N] float64 (any strides) += a [M, K] · bᵀ ([N, K]). Auto: the skinny kernel for float32 CPU
// operands with unit column stride when min(M, N) ≤ skinnyMaxRows(), BLAS in column blocks whose ±1 sums
// stay exact otherwise (and for other dtypes and devices). Skinny falls back to BLAS where it cannot run.
void addProductTransposed(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, ProductKernel k = ProductKernel::Auto);

// The largest min(M, N) for which Auto takes the skinny kernel: measured with native/bench/bench_products
// (docs/benchmarks.md); LMKERNEL_SKINNY_MAX_ROWS overrides it.
int64_t skinnyMaxRows();

// Whether the fast kernel runs on this CPU (for benchmarks and tests).
bool skinnyKernelAvailable();

}  // namespace lmk
