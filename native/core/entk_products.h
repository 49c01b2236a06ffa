// The products of the eNTK engine (internal to native/core): the ghost contraction for the SGD kernel,
// the joint pass that forms, signs and multiplies per-example gradients of linear layers chunk by chunk,
// and the products of the small explicit blocks. entk.cc drives them.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/forward.h"
#include "core/sign_planes.h"

namespace lmk {

// One side of a ghost product: the rows of a [T, din] and δ [T·Co, dout] of the real tokens only (padding
// has δ = 0 and only costs), with the example of each token (`ex` undefined: no padding, T = B·L).
struct GhostSide {
  at::Tensor a, d, ex;
  int64_t B = 0, L = 0;
};

// The (a, δ) of the linear weight sites of one batch, and the batch's first row among the rows it joins.
struct SiteBatch {
  int64_t row0 = 0;
  std::map<size_t, std::pair<at::Tensor, at::Tensor>> sites;  // block k -> (a [B, L, din], δ [B, L, Co, dout])
  std::vector<int64_t> lengths;                               // tokens of each example (positions past them are padding, δ = 0 there)
  bool ragged = false;                                        // lengths differ: forming each example over its own tokens skips the padding
};

// Where one joint pass accumulates: train × train of the tile ([Rn, Rn], undefined when not wanted) and
// tile × group ([Rn, Rg]) for each formula.
struct JointTargets {
  at::Tensor Ksgd, Ksign, Kasymmetric;
  at::Tensor Tsgd, Tsign, Tasymmetric, Tflip;
};

// Buffers reused by every chunk of every joint pass: the hot loop allocates nothing (a fresh δ-column
// copy per chunk doubled the pass's time on the development VM).
struct JointWorkspace {
  at::Tensor g, s, d;  // gradient chunk, its signs, the chunk's columns of δ
  SignPlanes planes;   // the chunk's signs as bit planes (CPU sign × sign products)
  at::Tensor get(at::Tensor& t, int64_t n, const at::Tensor& like) {
    if (t.numel() < n) t = at::empty({n}, like.options());
    return t.narrow(0, 0, n);
  }
};

GhostSide PackGhost(const at::Tensor& a, const at::Tensor& d, const std::vector<int64_t>& lengths);
// ⟨Σ_t δ1_t a1_tᵀ, Σ_s δ2_s a2_sᵀ⟩ = Σ_{t,s} (δ1_t·δ2_s)(a1_t·a2_s) for every pair of examples and outputs:
// [B1·C, B2·C] in float64.
at::Tensor GhostProduct(const GhostSide& x, const GhostSide& y, int64_t Co);

// The batch xs[i, j) starting at row row0, with its examples' lengths.
SiteBatch MakeSiteBatch(int64_t row0, const std::vector<Example>& xs, size_t i, size_t j);

// Whether the joint pass multiplies signs by bit planes (CPU; LMKERNEL_SIGN_PRODUCTS=float: float32).
bool signProductsByPlanes();

// The joint pass over linear weight block k (see entk_products.cc).
void JointProducts(size_t k, const std::vector<SiteBatch>& tile, int64_t Rn, const std::vector<SiteBatch>& group, int64_t Rg,
                   const JointTargets& t, std::vector<JointWorkspace>& wss);

}  // namespace lmk
