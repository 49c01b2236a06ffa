// C [M, N] (float64) += A [M, K] · Bᵀ (B [N, K]), float32 operands, for the joint pass's products: M and N
// are small (tens of rows) and K large, a shape where BLAS spends more time packing than multiplying.
// A register-tiled AVX2/FMA kernel (chosen at run time; at::mm elsewhere) sums in float32 over K blocks
// of at most 2^12 columns and adds each block's sums into C in float64, so sums of ±1 are exact.
#pragma once
#include <ATen/ATen.h>

namespace lmk {

// acc [M, N] float64 (any strides) += a [M, K] · bᵀ ([N, K]); a and b float32 with unit column stride,
// or any other dtype/device (then at::mm).
void addProductTransposed(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b);

// Whether the fast kernel runs on this CPU (for benchmarks and tests).
bool skinnyKernelAvailable();

}  // namespace lmk
