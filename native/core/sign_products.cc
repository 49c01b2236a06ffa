#include "core/sign_products.h"

#include <torch/version.h>

#include <algorithm>
#include <stdexcept>

#include "core/sign_planes.h"
#include "core/skinny_gemm.h"

// at::_int_mm (CUDA) since libtorch 2.1; at::_scaled_mm with the (…, out_dtype, use_fast_accum) signature
// returning one tensor since 2.5
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define LMK_HAS_INT_MM 1
#define LMK_HAS_FP8_DTYPE 1
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
#define LMK_HAS_SCALED_MM 1
#endif

namespace lmk {

namespace {

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// a [M, K] padded with zeros to [Mp, Kp] in `dtype` (a copy only when a pad or a cast is needed).
at::Tensor Padded(const at::Tensor& a, int64_t Mp, int64_t Kp, at::ScalarType dtype) {
  at::Tensor x = a.scalar_type() == dtype ? a : a.to(dtype);
  if (x.size(0) == Mp && x.size(1) == Kp) return x.contiguous();
  at::Tensor out = at::zeros({Mp, Kp}, x.options());
  out.narrow(0, 0, x.size(0)).narrow(1, 0, x.size(1)).copy_(x);
  return out;
}

// The product of padded int8 or fp8 operands a [Mp, Kp] and b [Np, Kp]: int32 or float32 [Mp, Np].
at::Tensor LowPrecisionProduct(const at::Tensor& a, const at::Tensor& b, SignProduct kind) {
  if (signProductNative(kind, a.device())) {
#ifdef LMK_HAS_INT_MM
    if (kind == SignProduct::Int8) return at::_int_mm(a, b.t());  // b.t(): column-major [Kp, Np], cuBLASLt's TN layout
#endif
#ifdef LMK_HAS_SCALED_MM
    if (kind == SignProduct::Fp8) {
      at::Tensor one = at::ones({}, a.options().dtype(at::kFloat));
      return at::_scaled_mm(a, b.t(), one, one, {}, {}, at::kFloat, false);
    }
#endif
  }
  // exact emulation: float32 sums of at most kSignChunkColumns terms of ±1 are exact integers
  at::Tensor p = at::mm(a.to(at::kFloat), b.to(at::kFloat).t());
  return kind == SignProduct::Int8 ? p.to(at::kInt) : p;
}

}  // namespace

const char* signProductName(SignProduct kind) {
  switch (kind) {
    case SignProduct::Int8: return "int8";
    case SignProduct::Fp8: return "fp8";
    case SignProduct::Planes: return "planes";
    default: return "float";
  }
}

bool signProductNative(SignProduct kind, const at::Device& device) {
  if (!device.is_cuda()) return false;
#ifdef LMK_HAS_INT_MM
  if (kind == SignProduct::Int8) return true;
#endif
#ifdef LMK_HAS_SCALED_MM
  if (kind == SignProduct::Fp8) return true;
#endif
  return false;
}

SignProductShape paddedSignShape(SignProduct kind, int64_t M, int64_t N, int64_t K) {
  const int64_t m = kind == SignProduct::Fp8 ? 16 : 8;
  // _int_mm: more than 16 rows, width and columns multiples of 8; _scaled_mm: multiples of 16
  const int64_t minRows = kind == SignProduct::Int8 ? 17 : m;
  return {RoundUp(std::max(M, minRows), m), RoundUp(std::max<int64_t>(N, m), m), RoundUp(std::max<int64_t>(K, m), m)};
}

void addSignProduct(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, SignProduct kind) {
  const int64_t M = a.size(0), N = b.size(0), K = a.size(1);
  if (b.size(1) != K || acc.size(0) != M || acc.size(1) != N) throw std::runtime_error("addSignProduct: operand shapes do not match");
  if (M == 0 || N == 0 || K == 0) return;
  if (kind == SignProduct::Planes && signPlanesApply(a) && signPlanesApply(b) && a.scalar_type() == b.scalar_type() &&
      acc.scalar_type() == at::kDouble && acc.device().is_cpu() && acc.stride(1) == 1) {
    addSignProductTransposed(acc, a, b);
    return;
  }
  if (kind == SignProduct::Float || kind == SignProduct::Planes) {
    addProductTransposed(acc, a, b);
    return;
  }
#ifdef LMK_HAS_FP8_DTYPE
  const at::ScalarType fp8 = at::ScalarType::Float8_e4m3fn;
#else
  const at::ScalarType fp8 = at::kFloat;  // no float8 type: ±1/0 are exact in float32 alike
#endif
  const at::ScalarType dtype = kind == SignProduct::Int8 ? at::kChar : fp8;
  for (int64_t k0 = 0; k0 < K; k0 += kSignChunkColumns) {
    const int64_t w = std::min(kSignChunkColumns, K - k0);
    const SignProductShape s = paddedSignShape(kind, M, N, w);
    at::Tensor pa = Padded(a.narrow(1, k0, w), s.M, s.K, dtype), pb = Padded(b.narrow(1, k0, w), s.N, s.K, dtype);
    acc.add_(LowPrecisionProduct(pa, pb, kind).narrow(0, 0, M).narrow(1, 0, N));  // int32 / float32 into float64: exact
  }
}

}  // namespace lmk
