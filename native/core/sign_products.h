// Products of signs: acc += a · bᵀ where every entry of a and b is −1, 0 or 1. One function for every
// way of computing them, so that other exact kernels (bit planes on the CPU) slot in beside these:
//   Float  the operands' own dtype (skinny_gemm.h on the CPU: float32 sums over blocks of 2^12 columns)
//   Int8   int8 operands, int32 accumulation (at::_int_mm on CUDA with libtorch >= 2.1)
//   Fp8    float8 e4m3 operands, float32 output (at::_scaled_mm on CUDA with libtorch >= 2.5)
//   Planes bit planes of the signs and popcounts, in integers (the CPU plan's default; sign_planes.h);
//          operands it does not take (another device or dtype) go to Float
// Int8 and Fp8 are exact: ±1/0 are exact in both types, and the columns are taken in chunks of at most
// kSignChunkColumns so that every partial sum (at most the chunk's width in magnitude) is an exact int32
// and float32 integer; each chunk's result is added into the float64 accumulator. Where the native call
// is missing (the CPU, libtorch 1.13) the same padding and chunking run with an exact float32 product in
// place of the int8/fp8 call, so the GPU's logic is tested on the CPU.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace lmk {

enum class SignProduct { Float, Int8, Fp8, Planes };

// 2^24: the largest width whose sums of ±1 are exact float32 integers (int32 allows more).
constexpr int64_t kSignChunkColumns = int64_t(1) << 24;

// acc [M, N] float64 (any strides) += a [M, K] · bᵀ ([N, K]); a and b hold only −1, 0 and 1 (any dtype).
void addSignProduct(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, SignProduct kind);

// Whether `kind` runs as the native int8/fp8 call on `device` (else the exact emulation).
bool signProductNative(SignProduct kind, const at::Device& device);

// "float", "int8", "fp8", "planes"
const char* signProductName(SignProduct kind);

// The operand shape the native calls accept: rows, columns and width padded with zeros to a multiple of
// `multiple` (8 for int8, 16 for fp8) and at least `minRows` rows (int8: more than 16). Zeros add nothing.
struct SignProductShape {
  int64_t M = 0, N = 0, K = 0;
};
SignProductShape paddedSignShape(SignProduct kind, int64_t M, int64_t N, int64_t K);

}  // namespace lmk
