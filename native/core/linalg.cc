#include "core/linalg.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace lmk::linalg {
namespace {

at::Tensor view(const double* a, int64_t rows, int64_t cols) {
  // from_blob does not copy; callers only read the view (or clone it).
  return at::from_blob(const_cast<double*>(a), {rows, cols}, at::TensorOptions().dtype(at::kDouble));
}

std::vector<double> toVector(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  std::vector<double> out(static_cast<size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr<double>(), out.size() * sizeof(double));
  return out;
}

}  // namespace

SymEig eighSym(const double* a, int64_t n) {
  auto res = at::linalg_eigh(view(a, n, n), "L");
  SymEig out;
  out.values = toVector(std::get<0>(res));
  out.vectors = toVector(std::get<1>(res));
  return out;
}

double spectralNorm(const double* a, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return 0.0;
  at::Tensor s = at::linalg_svdvals(view(a, rows, cols));
  return s.max().item<double>();
}

double relativeAsymmetry(const double* a, int64_t n) {
  double maxAbs = 0, maxDiff = 0;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < n; j++) {
      maxAbs = std::max(maxAbs, std::fabs(a[i * n + j]));
      if (j > i) maxDiff = std::max(maxDiff, std::fabs(a[i * n + j] - a[j * n + i]));
    }
  }
  return maxAbs > 0 ? maxDiff / maxAbs : 0.0;
}

LstsqResult lstsq(const double* a, int64_t m, int64_t n, const double* b, int64_t nrhs, const std::string& driver) {
  at::Tensor A = view(a, m, n).clone();
  at::Tensor B = view(b, m, nrhs).clone();
  auto res = at::linalg_lstsq(A, B, {}, driver.c_str());  // no rcond (c10::nullopt, c10::string_view: deprecated)
  LstsqResult out;
  at::Tensor x = std::get<0>(res);
  out.x = toVector(x.narrow(0, 0, n));
  at::Tensor rank = std::get<2>(res);
  out.rank = rank.numel() > 0 ? rank.item<int64_t>() : std::min(m, n);
  return out;
}

std::vector<double> matmul(const double* a, int64_t m, int64_t k, const double* b, int64_t n, bool transA) {
  at::Tensor A = transA ? view(a, k, m).t() : view(a, m, k);
  return toVector(at::mm(A, view(b, k, n)));
}

std::vector<double> regularized(const double* a, int64_t n, double lambda, double* sigmaOut) {
  std::vector<double> out(a, a + n * n);
  if (sigmaOut) *sigmaOut = 0.0;
  if (lambda != 0.0) {
    double sigma = spectralNorm(a, n, n);
    if (sigmaOut) *sigmaOut = sigma;
    for (int64_t i = 0; i < n; i++) out[i * n + i] += lambda * sigma;
  }
  return out;
}

}  // namespace lmk::linalg
