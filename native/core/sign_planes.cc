// Bit-plane sign products (sign_planes.h).
#include "core/sign_planes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LMK_POPCOUNT_X86 1
#include <immintrin.h>
#endif

namespace lmk {

namespace {

constexpr int64_t kWordAlign = 8;  // words a row is padded to: one 512-bit vector

// Words of one block of columns, sized so that the planes of `rows` rows in the block stay in L2 (256 KB)
// while every pair of rows is multiplied.
int64_t WordBlock(int64_t rows, int64_t words) {
  const int64_t fit = (int64_t(256) << 10) / (16 * std::max<int64_t>(1, rows));
  return std::min(words, std::max<int64_t>(kWordAlign * 4, fit / kWordAlign * kWordAlign));
}

// --- packing ------------------------------------------------------------------------------------

template <typename T>
void PackRowPortable(const T* x, int64_t cols, uint64_t* nz, uint64_t* neg) {
  for (int64_t c = 0; c < cols; c++) {
    const T v = x[c];
    const uint64_t bit = uint64_t(1) << (c & 63);
    if (v != 0) nz[c >> 6] |= bit;  // NaN != 0
    if (v < 0) neg[c >> 6] |= bit;
  }
}

#ifdef LMK_POPCOUNT_X86
__attribute__((target("avx2"))) void PackRowAvx2(const float* x, int64_t cols, uint64_t* nz, uint64_t* neg) {
  const __m256 zero = _mm256_setzero_ps();
  const int64_t full = cols / 64;
  for (int64_t w = 0; w < full; w++) {
    uint64_t z = 0, n = 0;
    for (int q = 0; q < 8; q++) {
      const __m256 v = _mm256_loadu_ps(x + w * 64 + 8 * q);
      z |= uint64_t(uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ)))) << (8 * q);
      n |= uint64_t(uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ)))) << (8 * q);
    }
    nz[w] = z, neg[w] = n;
  }
  PackRowPortable(x + full * 64, cols - full * 64, nz + full, neg + full);
}

__attribute__((target("avx512f"))) void PackRowAvx512(const float* x, int64_t cols, uint64_t* nz, uint64_t* neg) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t c0 = 0; c0 < cols; c0 += 64) {
    uint64_t z = 0, n = 0;
    for (int q = 0; q < 4; q++) {
      const int64_t c = c0 + 16 * q, left = cols - c;
      if (left <= 0) break;
      const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + c);  // lanes past the row read as 0: not set
      z |= uint64_t(_mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ)) << (16 * q);
      n |= uint64_t(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ)) << (16 * q);
    }
    nz[c0 >> 6] = z, neg[c0 >> 6] = n;
  }
}

__attribute__((target("avx2"))) void PackRowAvx2(const double* x, int64_t cols, uint64_t* nz, uint64_t* neg) {
  const __m256d zero = _mm256_setzero_pd();
  const int64_t full = cols / 64;
  for (int64_t w = 0; w < full; w++) {
    uint64_t z = 0, n = 0;
    for (int q = 0; q < 16; q++) {
      const __m256d v = _mm256_loadu_pd(x + w * 64 + 4 * q);
      z |= uint64_t(uint32_t(_mm256_movemask_pd(_mm256_cmp_pd(v, zero, _CMP_NEQ_UQ)))) << (4 * q);
      n |= uint64_t(uint32_t(_mm256_movemask_pd(_mm256_cmp_pd(v, zero, _CMP_LT_OQ)))) << (4 * q);
    }
    nz[w] = z, neg[w] = n;
  }
  PackRowPortable(x + full * 64, cols - full * 64, nz + full, neg + full);
}

__attribute__((target("avx512f"))) void PackRowAvx512(const double* x, int64_t cols, uint64_t* nz, uint64_t* neg) {
  const __m512d zero = _mm512_setzero_pd();
  for (int64_t c0 = 0; c0 < cols; c0 += 64) {
    uint64_t z = 0, n = 0;
    for (int q = 0; q < 8; q++) {
      const int64_t c = c0 + 8 * q, left = cols - c;
      if (left <= 0) break;
      const __mmask8 m = left >= 8 ? __mmask8(0xFF) : __mmask8((1u << left) - 1);
      const __m512d v = _mm512_maskz_loadu_pd(m, x + c);
      z |= uint64_t(_mm512_cmp_pd_mask(v, zero, _CMP_NEQ_UQ)) << (8 * q);
      n |= uint64_t(_mm512_cmp_pd_mask(v, zero, _CMP_LT_OQ)) << (8 * q);
    }
    nz[c0 >> 6] = z, neg[c0 >> 6] = n;
  }
}
#endif

// --- products -------------------------------------------------------------------------------------

// The products of rows a0..a0+MR and b0..b0+NR over words [w0, w1), added into c.
void TilePortable(const SignPlanes& a, int64_t i0, int64_t mr, const SignPlanes& b, int64_t j0, int64_t nr, int64_t w0, int64_t w1,
                  double* c, int64_t ldc) {
  for (int64_t i = 0; i < mr; i++)
    for (int64_t j = 0; j < nr; j++) {
      const uint64_t *az = a.nzRow(i0 + i), *an = a.negRow(i0 + i), *bz = b.nzRow(j0 + j), *bn = b.negRow(j0 + j);
      int64_t m = 0, d = 0;
      for (int64_t w = w0; w < w1; w++) {
        const uint64_t t = az[w] & bz[w];
        m += __builtin_popcountll(t);
        d += __builtin_popcountll(t & (an[w] ^ bn[w]));
      }
      c[i * ldc + j] += static_cast<double>(m - 2 * d);
    }
}

#ifdef LMK_POPCOUNT_X86
template <int MR, int NR>
__attribute__((target("avx512f,avx512vpopcntdq"))) void TileAvx512(const SignPlanes& a, int64_t i0, const SignPlanes& b, int64_t j0,
                                                                   int64_t w0, int64_t w1, double* c, int64_t ldc) {
  __m512i m[MR][NR], d[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) m[i][j] = d[i][j] = _mm512_setzero_si512();
  for (int64_t w = w0; w < w1; w += 8) {
    __m512i az[MR], an[MR];
    for (int i = 0; i < MR; i++) az[i] = _mm512_loadu_si512(a.nzRow(i0 + i) + w), an[i] = _mm512_loadu_si512(a.negRow(i0 + i) + w);
    for (int j = 0; j < NR; j++) {
      const __m512i bz = _mm512_loadu_si512(b.nzRow(j0 + j) + w), bn = _mm512_loadu_si512(b.negRow(j0 + j) + w);
      for (int i = 0; i < MR; i++) {
        const __m512i t = _mm512_and_si512(az[i], bz);
        m[i][j] = _mm512_add_epi64(m[i][j], _mm512_popcnt_epi64(t));
        // t ∧ (an ⊕ bn): truth table 0xF0 & (0xCC ^ 0xAA) = 0x60
        d[i][j] = _mm512_add_epi64(d[i][j], _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(t, an[i], bn, 0x60)));
      }
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {  // (stored and summed: GCC 12 warns inside _mm512_reduce_add_epi64)
      alignas(64) int64_t mv[8], dv[8];
      _mm512_store_si512(mv, m[i][j]);
      _mm512_store_si512(dv, d[i][j]);
      int64_t sum = 0;
      for (int l = 0; l < 8; l++) sum += mv[l] - 2 * dv[l];
      c[i * ldc + j] += static_cast<double>(sum);
    }
}

// popcount of each byte (≤ 8) by nibble lookup
__attribute__((target("avx2"))) inline __m256i ByteCounts(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

template <int NR>
__attribute__((target("avx2"))) void TileAvx2(const SignPlanes& a, int64_t i0, const SignPlanes& b, int64_t j0, int64_t w0, int64_t w1,
                                              double* c) {
  __m256i m[NR], d[NR];
  for (int j = 0; j < NR; j++) m[j] = d[j] = _mm256_setzero_si256();
  const __m256i zero = _mm256_setzero_si256();
  const uint64_t *az = a.nzRow(i0), *an = a.negRow(i0);
  for (int64_t w = w0; w < w1; w += 4) {
    const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(az + w));
    const __m256i n = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(an + w));
    for (int j = 0; j < NR; j++) {
      const __m256i bz = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.nzRow(j0 + j) + w));
      const __m256i bn = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.negRow(j0 + j) + w));
      const __m256i t = _mm256_and_si256(z, bz);
      m[j] = _mm256_add_epi64(m[j], _mm256_sad_epu8(ByteCounts(t), zero));
      d[j] = _mm256_add_epi64(d[j], _mm256_sad_epu8(ByteCounts(_mm256_and_si256(t, _mm256_xor_si256(n, bn))), zero));
    }
  }
  for (int j = 0; j < NR; j++) {
    alignas(32) int64_t mv[4], dv[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(mv), m[j]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(dv), d[j]);
    c[j] += static_cast<double>((mv[0] + mv[1] + mv[2] + mv[3]) - 2 * (dv[0] + dv[1] + dv[2] + dv[3]));
  }
}
#endif

// Every pair of rows over words [w0, w1) with kernel k.
void BlockProducts(const SignPlanes& a, int64_t a0, int64_t na, const SignPlanes& b, int64_t b0, int64_t nb, int64_t w0, int64_t w1,
                   double* c, int64_t ldc, PopcountKernel k) {
#ifdef LMK_POPCOUNT_X86
  if (k == PopcountKernel::Avx512) {
    int64_t i = 0;
    for (; i + 2 <= na; i += 2) {
      int64_t j = 0;
      for (; j + 4 <= nb; j += 4) TileAvx512<2, 4>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j, ldc);
      for (; j < nb; j++) TileAvx512<2, 1>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j, ldc);
    }
    for (; i < na; i++) {
      int64_t j = 0;
      for (; j + 4 <= nb; j += 4) TileAvx512<1, 4>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j, ldc);
      for (; j < nb; j++) TileAvx512<1, 1>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j, ldc);
    }
    return;
  }
  if (k == PopcountKernel::Avx2) {
    for (int64_t i = 0; i < na; i++) {
      int64_t j = 0;
      for (; j + 4 <= nb; j += 4) TileAvx2<4>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j);
      for (; j < nb; j++) TileAvx2<1>(a, a0 + i, b, b0 + j, w0, w1, c + i * ldc + j);
    }
    return;
  }
#endif
  TilePortable(a, a0, na, b, b0, nb, w0, w1, c, ldc);
}

PopcountKernel Fastest() {
  if (popcountKernelRuns(PopcountKernel::Avx512)) return PopcountKernel::Avx512;
  if (popcountKernelRuns(PopcountKernel::Avx2)) return PopcountKernel::Avx2;
  return PopcountKernel::Portable;
}

}  // namespace

bool popcountKernelRuns(PopcountKernel k) {
  switch (k) {
    case PopcountKernel::Portable: return true;
#ifdef LMK_POPCOUNT_X86
    case PopcountKernel::Avx2: return __builtin_cpu_supports("avx2");
    case PopcountKernel::Avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#endif
    default: return false;
  }
}

const char* popcountKernelName(PopcountKernel k) {
  return k == PopcountKernel::Avx512 ? "avx512-vpopcntdq" : k == PopcountKernel::Avx2 ? "avx2-nibble-lut" : "portable";
}

PopcountKernel popcountKernel() {
  static const PopcountKernel chosen = [] {
    const char* e = std::getenv("LMKERNEL_POPCOUNT");
    if (!e || !*e) return Fastest();
    const std::string s(e);
    for (auto k : {PopcountKernel::Portable, PopcountKernel::Avx2, PopcountKernel::Avx512})
      if ((s == "portable" && k == PopcountKernel::Portable) || (s == "avx2" && k == PopcountKernel::Avx2) ||
          (s == "avx512" && k == PopcountKernel::Avx512))
        return popcountKernelRuns(k) ? k : Fastest();
    return Fastest();
  }();
  return chosen;
}

namespace {
template <typename T>
void PackPlanes(const T* x, int64_t rows, int64_t cols, int64_t ld, SignPlanes& out, PopcountKernel k) {
  out.rows = rows, out.cols = cols;
  out.words = std::max<int64_t>(kWordAlign, (cols + 64 * kWordAlign - 1) / (64 * kWordAlign) * kWordAlign);
  out.nz.assign(rows * out.words, 0);
  out.neg.assign(rows * out.words, 0);
  for (int64_t r = 0; r < rows; r++) {
    uint64_t *nz = out.nz.data() + r * out.words, *neg = out.neg.data() + r * out.words;
#ifdef LMK_POPCOUNT_X86
    if (k == PopcountKernel::Avx512) {
      PackRowAvx512(x + r * ld, cols, nz, neg);
      continue;
    }
    if (k == PopcountKernel::Avx2) {
      PackRowAvx2(x + r * ld, cols, nz, neg);
      continue;
    }
#endif
    PackRowPortable(x + r * ld, cols, nz, neg);
  }
}
}  // namespace

void packSignPlanes(const float* x, int64_t rows, int64_t cols, int64_t ld, SignPlanes& out, PopcountKernel k) {
  PackPlanes(x, rows, cols, ld, out, k);
}
void packSignPlanes(const double* x, int64_t rows, int64_t cols, int64_t ld, SignPlanes& out, PopcountKernel k) {
  PackPlanes(x, rows, cols, ld, out, k);
}

void addSignProducts(const SignPlanes& a, int64_t a0, int64_t na, const SignPlanes& b, int64_t b0, int64_t nb, double* c, int64_t ldc,
                     PopcountKernel k) {
  if (a.words != b.words) throw std::invalid_argument("addSignProducts: planes of different widths");
  if (a0 < 0 || na < 0 || a0 + na > a.rows || b0 < 0 || nb < 0 || b0 + nb > b.rows)
    throw std::out_of_range("addSignProducts: rows out of range");
  const int64_t block = WordBlock(na + nb, a.words);
  for (int64_t w0 = 0; w0 < a.words; w0 += block) BlockProducts(a, a0, na, b, b0, nb, w0, std::min(a.words, w0 + block), c, ldc, k);
}

namespace {
void PackTensor(const at::Tensor& t, SignPlanes& p, PopcountKernel k) {
  if (t.scalar_type() == at::kFloat) packSignPlanes(t.data_ptr<float>(), t.size(0), t.size(1), t.stride(0), p, k);
  else packSignPlanes(t.data_ptr<double>(), t.size(0), t.size(1), t.stride(0), p, k);
}
}  // namespace

bool signPlanesApply(const at::Tensor& t) {
  return t.dim() == 2 && t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble) && t.stride(1) == 1;
}

void addSignProductTransposed(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b, PopcountKernel k) {
  if (!signPlanesApply(a) || !signPlanesApply(b) || a.scalar_type() != b.scalar_type() || a.size(1) != b.size(1) || acc.dim() != 2 ||
      acc.scalar_type() != at::kDouble || !acc.device().is_cpu() || acc.stride(1) != 1 || acc.size(0) != a.size(0) ||
      acc.size(1) != b.size(0))
    throw std::invalid_argument(
        "addSignProductTransposed: CPU operands [M, K], [N, K] of one float type and a float64 [M, N] accumulator expected");
  SignPlanes pa, pb;
  PackTensor(a, pa, k);
  const bool same = a.data_ptr() == b.data_ptr() && a.sizes() == b.sizes() && a.strides() == b.strides();
  if (!same) PackTensor(b, pb, k);
  addSignProducts(pa, 0, a.size(0), same ? pa : pb, 0, b.size(0), acc.data_ptr<double>(), acc.stride(0), k);
}

}  // namespace lmk
