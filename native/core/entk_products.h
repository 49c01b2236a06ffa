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
#include "core/plan.h"
#include "core/sign_planes.h"

namespace lmk {

// One side of a ghost product: the rows of a [T, din] and δ [T·Co, dout] of the real tokens only (padding
// has δ = 0 and only costs), with the example of each token (`ex` undefined: no padding, T = B·L).
// Token matches (the word embeddings): `ids` [T] the union row of each position (−1: none) instead of a,
// `ex` always defined.
struct GhostSide {
  at::Tensor a, d, ex, ids;
  int64_t B = 0, L = 0;
};

// Which rows of a batch's [B·L] token positions are real tokens, made once per batch (one host→device
// copy, which synchronises) and used for every site of the batch. `full`: no padding, nothing to select.
struct GhostIndex {
  at::Tensor rows, ex;  // positions e·L + t of the real tokens and the example e of each
  bool full = true;
};

// The (a, δ) of the linear weight sites of one batch, and the batch's first row among the rows it joins.
struct SiteBatch {
  int64_t row0 = 0;
  std::map<size_t, std::pair<at::Tensor, at::Tensor>> sites;  // block k -> (a [B, L, din], δ [B, L, Co, dout])
  std::map<size_t, GhostSide> ghost;                          // block k -> its packed ghost side (the ghost contraction)
  std::map<int64_t, GhostIndex> ghostIndex;                   // per sequence length L of its sites (the MLM head's: 1)
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
  at::Tensor g, s, d, s8;  // gradient chunk, its signs, the chunk's columns of δ, the signs as int8/fp8 operands
  SignPlanes planes;       // the chunk's signs as bit planes (the CPU's exact sign × sign products)
  at::Tensor get(at::Tensor& t, int64_t n, const at::TensorOptions& options) {
    if (t.numel() < n || t.scalar_type() != c10::typeMetaToScalarType(options.dtype())) t = at::empty({n}, options);
    return t.narrow(0, 0, n);
  }
};

// Packs one site of batch sb into a ghost side (the batch's GhostIndex for the site's L made on its first call).
GhostSide PackGhost(SiteBatch& sb, const at::Tensor& a, const at::Tensor& d);
// ⟨Σ_t δ1_t a1_tᵀ, Σ_s δ2_s a2_sᵀ⟩ = Σ_{t,s} (δ1_t·δ2_s)(a1_t·a2_s) for every pair of examples and outputs:
// [B1·C, B2·C] in float64. `bySegments` (the plan's choice from C outputs on, ExecutionPlan): each example's
// tokens on the second side are summed first, T1·T2·C·dout + T1·B2·C²·dout multiply-adds instead of
// T1·T2·C²·dout, spread over the workspaces' workers (token matches and the pairs' order use none).
at::Tensor GhostProduct(const GhostSide& x, const GhostSide& y, int64_t Co, bool bySegments, std::vector<JointWorkspace>& wss);
// Elements of the segments order's M per worker: a chunk of dout columns that stays in cache (at least 16).
constexpr int64_t kGhostSegmentElements = int64_t(1) << 20;

// The batch xs[i, j) starting at row row0, with its examples' lengths.
SiteBatch MakeSiteBatch(int64_t row0, const std::vector<Example>& xs, size_t i, size_t j);

// The joint pass over linear weight block k (see entk_products.cc).
void JointProducts(size_t k, const std::vector<SiteBatch>& tile, int64_t Rn, const std::vector<SiteBatch>& group, int64_t Rg,
                   const JointTargets& t, std::vector<JointWorkspace>& wss, const ExecutionPlan& plan);

}  // namespace lmk
