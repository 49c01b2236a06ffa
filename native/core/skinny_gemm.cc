#include "core/skinny_gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace lmk {

namespace {

constexpr int64_t kBlockK = 4096;  // float32 partial sums over at most this many columns (< 2^24: ±1 exact)
// Auto takes the skinny kernel up to this min(M, N) (native/bench/bench_products on the 2-core VM).
constexpr int64_t kSkinnyMaxRows = 64;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LMK_SKINNY_AVX2 1
}  // namespace
}  // namespace lmk
#include <immintrin.h>
namespace lmk {
namespace {

// MR × NR outputs over columns [k0, k1) (a multiple of 8 wide), in registers.
template <int MR, int NR>
__attribute__((target("avx2,fma"))) inline void Tile(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k0, int64_t k1,
                                                     double* c, int64_t ldc) {
  __m256 acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  for (int64_t k = k0; k < k1; k += 8) {
    __m256 av[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) av[i] = _mm256_loadu_ps(a + i * lda + k);
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      const __m256 bv = _mm256_loadu_ps(b + j * ldb + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      alignas(32) float v[8];
      _mm256_store_ps(v, acc[i][j]);
      const float s = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));  // exact for integer sums < 2^24
      c[i * ldc + j] += static_cast<double>(s);
    }
}

template <int MR>
__attribute__((target("avx2,fma"))) void Rows(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t N, int64_t k0, int64_t k1,
                                              double* c, int64_t ldc) {
  int64_t j = 0;
  for (; j + 4 <= N; j += 4) Tile<MR, 4>(a, lda, b + j * ldb, ldb, k0, k1, c + j, ldc);
  for (; j < N; j++) Tile<MR, 1>(a, lda, b + j * ldb, ldb, k0, k1, c + j, ldc);
}

__attribute__((target("avx2,fma"))) void Avx2Product(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M, int64_t N,
                                                     int64_t K, double* c, int64_t ldc) {
  const int64_t K8 = K / 8 * 8;
  for (int64_t k0 = 0; k0 < K8; k0 += kBlockK) {
    const int64_t k1 = std::min(K8, k0 + kBlockK);
    int64_t i = 0;
    for (; i + 3 <= M; i += 3) Rows<3>(a + i * lda, lda, b, ldb, N, k0, k1, c + i * ldc, ldc);
    for (; i < M; i++) Rows<1>(a + i * lda, lda, b, ldb, N, k0, k1, c + i * ldc, ldc);
  }
  if (K8 < K)  // the last K % 8 columns
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        float s = 0;
        for (int64_t k = K8; k < K; k++) s += a[i * lda + k] * b[j * ldb + k];
        c[i * ldc + j] += static_cast<double>(s);
      }
}
#endif

}  // namespace

bool skinnyKernelAvailable() {
#ifdef LMK_SKINNY_AVX2
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

int64_t skinnyMaxRows() {
  static const int64_t rows = [] {
    const char* e = std::getenv("LMKERNEL_SKINNY_MAX_ROWS");
    return e ? std::max<int64_t>(0, std::atoll(e)) : kSkinnyMaxRows;
  }();
  return rows;
}

void addProductTransposed(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, ProductKernel k) {
#ifdef LMK_SKINNY_AVX2
  const bool skinny = k == ProductKernel::Skinny || (k == ProductKernel::Auto && std::min(a.size(0), b.size(0)) <= skinnyMaxRows());
  if (skinny && skinnyKernelAvailable() && a.device().is_cpu() && a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat &&
      acc.scalar_type() == at::kDouble && acc.device().is_cpu() && a.stride(1) == 1 && b.stride(1) == 1 && acc.stride(1) == 1) {
    Avx2Product(a.data_ptr<float>(), a.stride(0), b.data_ptr<float>(), b.stride(0), a.size(0), b.size(0), a.size(1), acc.data_ptr<double>(),
                acc.stride(0));
    return;
  }
#endif
  // BLAS in column blocks whose ±1 sums stay exact (float32 partial sums below 2^24)
  const int64_t K = a.size(1), step = int64_t(1) << 24;
  for (int64_t k0 = 0; k0 < K; k0 += step) {
    const int64_t n = std::min(step, K - k0);
    acc.add_(at::mm(a.narrow(1, k0, n), b.narrow(1, k0, n).t()).to(at::kDouble));
  }
}

}  // namespace lmk
