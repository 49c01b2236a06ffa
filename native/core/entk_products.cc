// The products of the eNTK engine (entk_products.h): ghost contraction, joint pass, small blocks.
#include "core/entk_products.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "core/profile.h"
#include "core/sign_products.h"
#include "core/skinny_gemm.h"
#include "core/workers.h"

namespace lmk {

GhostSide PackGhost(SiteBatch& sb, const at::Tensor& a, const at::Tensor& d) {
  if (a.scalar_type() == at::kLong) {  // token matches: every position kept, unmatched ones (−1) never pair
    const int64_t B = a.size(0), L = a.size(1), H = d.size(3);
    return GhostSide{at::Tensor(), d.reshape({-1, H}), at::arange(B, a.options()).repeat_interleave(L), a.reshape({B * L}), B, L};
  }
  const int64_t B = a.size(0), L = a.size(1), din = a.size(2), Co = d.size(2), dout = d.size(3);
  auto found = sb.ghostIndex.find(L);
  if (found == sb.ghostIndex.end()) {
    GhostIndex gi;
    std::vector<int64_t> idx, ex;
    for (int64_t e = 0; e < B; e++)
      for (int64_t t = 0; t < std::min(L, sb.lengths[e]); t++) idx.push_back(e * L + t), ex.push_back(e);
    gi.full = static_cast<int64_t>(idx.size()) == B * L;
    if (!gi.full) {  // from pinned memory on a GPU: the host does not wait for the device's queue
      auto to = [&](const std::vector<int64_t>& v) {
        at::Tensor t = at::tensor(v, at::kLong);
        return a.is_cuda() ? t.pin_memory().to(a.device(), at::kLong, true) : t;
      };
      gi.rows = to(idx);
      gi.ex = to(ex);
    }
    found = sb.ghostIndex.emplace(L, gi).first;
  }
  const GhostIndex& gi = found->second;
  GhostSide g{a.reshape({B * L, din}), d.reshape({B * L * Co, dout}), at::Tensor(), at::Tensor(), B, L};
  if (gi.full) return g;
  g.a = g.a.index_select(0, gi.rows);
  g.d = d.reshape({B * L, Co * dout}).index_select(0, gi.rows).view({-1, dout});
  g.ex = gi.ex;
  return g;
}

namespace {

// The word embeddings' token matches on the CPU: Σ over the pairs of positions with equal union rows of
// δ1_t·δ2_s, only for those pairs (an example touches at most L of the U rows a dense block spans).
at::Tensor TokenMatchProduct(const GhostSide& x, const GhostSide& y, int64_t Co) {
  const int64_t T1 = x.ids.size(0), T2 = y.ids.size(0), H = x.d.size(1);
  const at::Tensor pairs = (x.ids.unsqueeze(1).eq(y.ids.unsqueeze(0)) & x.ids.ge(0).unsqueeze(1)).nonzero();
  const at::Tensor I = pairs.select(1, 0), J = pairs.select(1, 1);
  const at::Tensor D1 = x.d.view({T1, Co, H}).index_select(0, I), D2 = y.d.view({T2, Co, H}).index_select(0, J);
  const at::Tensor cell = x.ex.index_select(0, I) * y.B + y.ex.index_select(0, J);  // (example 1, example 2)
  at::Tensor P = at::zeros({x.B * y.B, Co, Co}, x.d.options()).index_add_(0, cell, at::bmm(D1, D2.transpose(1, 2)));
  return P.view({x.B, y.B, Co, Co}).permute({0, 2, 1, 3}).to(at::kDouble).reshape({x.B * Co, y.B * Co});
}

// Row offsets of each example's real tokens in a ghost side (its rows are packed in example order).
std::vector<int64_t> ExampleOffsets(const GhostSide& g) {
  std::vector<int64_t> off(static_cast<size_t>(g.B) + 1, 0);
  if (!g.ex.defined()) {
    for (int64_t e = 0; e <= g.B; e++) off[e] = e * g.L;
    return off;
  }
  const at::Tensor counts = at::bincount(g.ex.cpu(), {}, g.B);
  const int64_t* c = counts.data_ptr<int64_t>();
  for (int64_t e = 0; e < g.B; e++) off[e + 1] = off[e] + c[e];
  return off;
}

// The ghost contraction with the second side's token sums taken first (GhostProduct, `bySegments`): per
// example e2 and output c', M[e2, c'] = Σ_{s∈e2} (a1·a2_s) δ2_{s,c'} ([T1, dout], one product), then
// P[(e1, c), (e2, c')] = Σ_{t∈e1} δ1_{t,c}·M[e2, c', t] (one product per e1 over its L1·dout values).
// T1·T2·C·dout + T1·B2·C²·dout multiply-adds instead of the pairs' T1·T2·C²·dout: fewer from C = 3.
// The products are small (K = one example's tokens), so the dout columns are cut into chunks whose M stays
// in cache (kGhostSegmentElements), spread over the joint pass's workers with single-threaded BLAS (as
// the joint pass, workers.h); each worker sums its chunks into its own P, added in worker order.

at::Tensor GhostProductBySegments(const GhostSide& x, const GhostSide& y, int64_t Co, std::vector<JointWorkspace>& wss) {
  const int64_t T1 = x.a.size(0), T2 = y.a.size(0), dout = x.d.size(1);
  const std::vector<int64_t> o1 = ExampleOffsets(x), o2 = ExampleOffsets(y);
  const at::Tensor A = at::mm(x.a, y.a.t());
  const at::Tensor d1 = x.d.view({T1, Co, dout}), d2 = y.d.view({T2, Co, dout});
  const int64_t rows = std::max<int64_t>(1, y.B * Co * T1);  // M's rows (e2, c', t) of one column
  const int W = static_cast<int>(std::max<size_t>(1, wss.size()));
  int64_t dc = std::max<int64_t>(16, kGhostSegmentElements / rows / 16 * 16);
  dc = std::min(dc, std::max<int64_t>(1, (dout + W - 1) / W));  // every worker gets a chunk
  const int64_t chunks = (dout + dc - 1) / dc;
  const int workers = static_cast<int>(std::min<int64_t>(W, chunks));
  std::vector<at::Tensor> parts(workers);
  for (auto& p : parts) p = at::zeros({x.B, Co, y.B * Co}, x.d.options());
  SingleThreadedBlas single;
  forEachOnWorkers(chunks, workers, [&](int w, int64_t c) {
    JointWorkspace& ws = wss[w];
    const int64_t d0 = c * dc, n = std::min(dc, dout - d0);
    at::Tensor M = ws.get(ws.g, rows * n, x.d.options()).view({y.B * Co, T1, n});
    at::Tensor left = ws.get(ws.d, Co * T1 * n, x.d.options()).view({Co, T1, n});
    left.copy_(d1.narrow(2, d0, n).permute({1, 0, 2}));
    for (int64_t e2 = 0; e2 < y.B; e2++) {
      const int64_t s0 = o2[e2], ns = o2[e2 + 1] - s0;
      for (int64_t k = 0; k < Co; k++) {
        at::Tensor out = M.select(0, e2 * Co + k);
        if (ns == 0) out.zero_();
        else at::mm_out(out, A.narrow(1, s0, ns), d2.narrow(0, s0, ns).select(1, k).narrow(1, d0, n));
      }
    }
    for (int64_t e1 = 0; e1 < x.B; e1++) {
      const int64_t t0 = o1[e1], nt = o1[e1 + 1] - t0;
      if (nt == 0) continue;
      at::Tensor out = parts[w].select(0, e1);
      out.addmm_(left.narrow(1, t0, nt).reshape({Co, nt * n}), M.narrow(1, t0, nt).reshape({y.B * Co, nt * n}).t());
    }
  });
  at::Tensor P = parts[0];
  for (int w = 1; w < workers; w++) P.add_(parts[w]);
  return P.to(at::kDouble).reshape({x.B * Co, y.B * Co});
}

}  // namespace

// ⟨Σ_t δ1_t a1_tᵀ, Σ_s δ2_s a2_sᵀ⟩ = Σ_{t,s} (δ1_t·δ2_s)(a1_t·a2_s) for every pair of examples and
// outputs: [B1·C, B2·C] in float64. Token matches: a1_t·a2_s = [row_t == row_s] (on a GPU as a dense
// mask, so that the host never waits for the number of matches).
at::Tensor GhostProduct(const GhostSide& x, const GhostSide& y, int64_t Co, bool bySegments, std::vector<JointWorkspace>& wss) {
  if (x.ids.defined() && !x.d.is_cuda()) return TokenMatchProduct(x, y, Co);
  if (bySegments && !x.ids.defined() && !x.d.is_cuda()) return GhostProductBySegments(x, y, Co, wss);  // CPU workers
  const int64_t T1 = x.ids.defined() ? x.ids.size(0) : x.a.size(0), T2 = y.ids.defined() ? y.ids.size(0) : y.a.size(0);
  at::Tensor A =
      x.ids.defined() ? (x.ids.unsqueeze(1).eq(y.ids.unsqueeze(0)) & x.ids.ge(0).unsqueeze(1)).to(x.d.scalar_type()) : at::mm(x.a, y.a.t());
  at::Tensor D = at::mm(x.d, y.d.t());
  at::Tensor P = D.view({T1, Co, T2, Co}) * A.view({T1, 1, T2, 1});
  // token sums within each example, first side then second
  P = x.ex.defined() ? at::zeros({x.B, Co, T2, Co}, P.options()).index_add_(0, x.ex, P) : P.view({x.B, x.L, Co, T2, Co}).sum(1);
  P = y.ex.defined() ? at::zeros({x.B, Co, y.B, Co}, P.options()).index_add_(2, y.ex, P) : P.view({x.B, Co, y.B, y.L, Co}).sum(3);
  return P.to(at::kDouble).reshape({x.B * Co, y.B * Co});
}

SiteBatch MakeSiteBatch(int64_t row0, const std::vector<Example>& xs, size_t i, size_t j) {
  SiteBatch sb;
  sb.row0 = row0;
  for (size_t t = i; t < j; t++) sb.lengths.push_back(static_cast<int64_t>(xs[t].ids.size()));
  // worth a call per example when the padding is at least an eighth of the batch's positions
  int64_t sum = 0, mx = 0;
  for (auto n : sb.lengths) sum += n, mx = std::max(mx, n);
  sb.ragged = 8 * (mx * static_cast<int64_t>(sb.lengths.size()) - sum) >= mx * static_cast<int64_t>(sb.lengths.size());
  return sb;
}

namespace {

// Rows [r0, r0 + nr) of the per-example gradients Σ_t δ_t a_tᵀ of linear block k for one batch, written
// into g's rows from base + sb.row0 (g [R, nr·din]).
void FormChunk(JointWorkspace& ws, const SiteBatch& sb, size_t k, int64_t base, const at::Tensor& g, int64_t r0, int64_t nr, bool batched) {
  const auto& ad = sb.sites.at(k);
  const int64_t B = ad.first.size(0), L = ad.first.size(1), din = ad.first.size(2), Co = ad.second.size(2), dout = ad.second.size(3);
  at::Tensor dc = ad.second.reshape({B, L, Co * dout});
  if (nr < dout) {
    dc = ws.get(ws.d, B * L * Co * nr, ad.first.options()).view({B, L, Co, nr});
    dc.copy_(ad.second.narrow(3, r0, nr));
    dc = dc.view({B, L, Co * nr});
  }
  at::Tensor out = g.narrow(0, base + sb.row0, B * Co).view({B, Co * nr, din});
  if (!sb.ragged || L == 1 || batched) {  // the GPU's plan: one batched call beats skipping the padding
    at::bmm_out(out, dc.transpose(1, 2), ad.first);
    return;
  }
  for (int64_t e = 0; e < B; e++) {
    at::Tensor oe = out.select(0, e);
    const int64_t Le = std::min(L, sb.lengths[e]);
    at::mm_out(oe, dc.select(0, e).narrow(0, 0, Le).t(), ad.first.select(0, e).narrow(0, 0, Le));
  }
}

// The tile's rows of `left` (the first Rn) against every row of `right` (train x train wanted: K defined)
// or against the group's rows only (the last Rg), added into K [Rn, Rn] and Tt [Rn, Rg].
void Accumulate(const at::Tensor& left, const at::Tensor& right, const at::Tensor& K, const at::Tensor& Tt, int64_t Rn, int64_t Rg,
                SignProduct signs = SignProduct::Float) {
  if (!K.defined() && !Tt.defined()) return;
  const bool withTrain = K.defined();
  at::Tensor cols = withTrain ? right : right.narrow(0, Rn, Rg);
  if (cols.size(0) == 0) return;
  at::Tensor p = at::zeros({Rn, cols.size(0)}, at::TensorOptions().dtype(at::kDouble).device(left.device()));
  addSignProduct(p, left.narrow(0, 0, Rn), cols, signs);  // Float: addProductTransposed, any operands
  if (withTrain) K.add_(p.narrow(1, 0, Rn));
  if (Tt.defined() && Rg > 0) Tt.add_(withTrain ? p.narrow(1, Rn, Rg) : p);
}

// The same products of signs as Accumulate(s, s, ...), from bit planes of the values x [R, w] (exact).
void AccumulatePlanes(SignPlanes& planes, const at::Tensor& x, const at::Tensor& K, const at::Tensor& Tt, int64_t Rn, int64_t Rg) {
  const bool withTrain = K.defined();
  const int64_t first = withTrain ? 0 : Rn, cols = withTrain ? Rn + Rg : Rg;
  if (cols == 0 || (!withTrain && !Tt.defined())) return;
  if (x.scalar_type() == at::kFloat) packSignPlanes(x.data_ptr<float>(), x.size(0), x.size(1), x.stride(0), planes);
  else packSignPlanes(x.data_ptr<double>(), x.size(0), x.size(1), x.stride(0), planes);
  at::Tensor p = at::zeros({Rn, cols}, at::TensorOptions().dtype(at::kDouble));
  addSignProducts(planes, 0, Rn, planes, first, cols, p.data_ptr<double>(), cols);
  if (withTrain) K.add_(p.narrow(1, 0, Rn));
  if (Tt.defined() && Rg > 0) Tt.add_(withTrain ? p.narrow(1, Rn, Rg) : p);
}

// Output rows per chunk: a chunk of plan.chunkElements, but at least plan.minChunkRows (16): with many
// rows R a cache-sized chunk would leave each per-example GEMM only a few rows (M = C·nr) and cost more in
// calls than it saves in cache.
int64_t RowsPerChunk(int64_t dout, int64_t R, int64_t din, const ExecutionPlan& plan) {
  return std::min<int64_t>(dout, std::max<int64_t>(plan.minChunkRows, plan.chunkElements / std::max<int64_t>(1, R * din)));
}

}  // namespace

// The joint pass over linear weight block k: per-example gradients Σ_t δ_t a_tᵀ of the tile's rows and the
// group's rows formed together in chunks of output rows (a chunk [Rn + Rg, nr·din] stays in cache), signed,
// and multiplied at once; nothing of it outlives the chunk. Chunks are spread over the workers (one
// workspace each); with several, each sums into float64 copies of the targets, added in worker order.
void JointProducts(size_t k, const std::vector<SiteBatch>& tile, int64_t Rn, const std::vector<SiteBatch>& group, int64_t Rg,
                   const JointTargets& t, std::vector<JointWorkspace>& wss, const ExecutionPlan& plan) {
  const at::Tensor& a0 = tile.front().sites.at(k).first;
  const at::Tensor& d0 = tile.front().sites.at(k).second;
  const int64_t din = a0.size(2), dout = d0.size(3), R = Rn + Rg;
  const bool signs = t.Ksign.defined() || t.Kasymmetric.defined() || t.Tsign.defined() || t.Tasymmetric.defined() || t.Tflip.defined();
  const bool values = t.Ksgd.defined() || t.Tsgd.defined() || t.Kasymmetric.defined() || t.Tasymmetric.defined() || t.Tflip.defined();
  const bool asymmetric = t.Kasymmetric.defined() || t.Tasymmetric.defined() || t.Tflip.defined();
  const int64_t rowsPerChunk = RowsPerChunk(dout, R, din, plan);
  const int64_t n = R * std::min(dout, rowsPerChunk) * din;
  const int64_t chunks = (dout + rowsPerChunk - 1) / rowsPerChunk;
  const int W = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(wss.size()), chunks)));
  std::vector<JointTargets> parts(W);
  auto zerosLike = [](const at::Tensor& x) { return x.defined() ? at::zeros(x.sizes(), x.options()) : at::Tensor(); };
  for (int w = 0; w < W; w++)
    parts[w] = W == 1 ? t : JointTargets{zerosLike(t.Ksgd),  zerosLike(t.Ksign),       zerosLike(t.Kasymmetric), zerosLike(t.Tsgd),
                                         zerosLike(t.Tsign), zerosLike(t.Tasymmetric), zerosLike(t.Tflip)};

  forEachOnWorkers(chunks, W, [&](int worker, int64_t c) {
    JointWorkspace& ws = wss[worker];
    const JointTargets& T = parts[worker];
    auto timer = [&](int slot) { return worker == 0 ? std::unique_ptr<PhaseTimer>(new PhaseTimer(slot)) : nullptr; };
    const int64_t r0 = c * rowsPerChunk, nr = std::min(rowsPerChunk, dout - r0), w = nr * din;
    at::Tensor g = ws.get(ws.g, n, a0.options()).narrow(0, 0, R * w).view({R, w});
    auto pt = timer(3);
    for (const auto& sb : tile) FormChunk(ws, sb, k, 0, g, r0, nr, plan.batchedForm);
    for (const auto& sb : group) FormChunk(ws, sb, k, Rn, g, r0, nr, plan.batchedForm);
    pt = timer(7);
    // sign × sign by bit planes packed straight from the values (CPU); float signs only where a product
    // with values needs them (the asymmetric kernel) or the planes do not apply
    const bool planes = signs && plan.signProduct == SignProduct::Planes && signPlanesApply(g);
    const bool signTerms = T.Ksign.defined() || T.Tsign.defined();
    at::Tensor s;
    if (signs && (!planes || asymmetric)) {
      if (!values) {  // the values are not needed: signs in place
        s = g;
        g.sign_();
      } else {
        // ⟨sign g(train), g(x)⟩ reads the tile's signs only; the group's rows are signed for the flipped
        // kernel and for sign × sign products in floats
        const int64_t signRows = T.Tflip.defined() || (signTerms && !planes) ? R : Rn;
        s = ws.get(ws.s, n, a0.options()).narrow(0, 0, R * w).view({R, w});
        at::Tensor sr = s.narrow(0, 0, signRows);
        at::sign_out(sr, g.narrow(0, 0, signRows));
      }
    }
    pt = timer(4);
    if (values) {
      Accumulate(g, g, T.Ksgd, T.Tsgd, Rn, Rg);
      Accumulate(s, g, T.Kasymmetric, T.Tasymmetric, Rn, Rg);  // ⟨sign g(train), g(x)⟩
      Accumulate(g, s, at::Tensor(), T.Tflip, Rn, Rg);         // ⟨g(train), sign g(x)⟩, when asked
    }
    if (signTerms && planes) {
      AccumulatePlanes(ws.planes, g, T.Ksign, T.Tsign, Rn, Rg);
    } else if (signTerms) {
      if (plan.signProduct == SignProduct::Int8) {
        at::Tensor s8 = ws.get(ws.s8, R * w, a0.options().dtype(at::kChar)).view({R, w});  // int8 operands made once per chunk
        s8.copy_(s);
        s = s8;
      }
      Accumulate(s, s, T.Ksign, T.Tsign, Rn, Rg, plan.signProduct);
    }
  });
  if (W > 1)
    for (const auto& p : parts)
      for (auto [dst, src] : {std::pair<at::Tensor, at::Tensor>{t.Ksgd, p.Ksgd},
                              {t.Ksign, p.Ksign},
                              {t.Kasymmetric, p.Kasymmetric},
                              {t.Tsgd, p.Tsgd},
                              {t.Tsign, p.Tsign},
                              {t.Tasymmetric, p.Tasymmetric},
                              {t.Tflip, p.Tflip}})
        if (dst.defined()) dst.add_(src);
}

}  // namespace lmk
