// The decoder-only forward pass (decoder.h), after Hugging Face's GPT2LMHeadModel and LlamaForCausalLM /
// Qwen2ForCausalLM (eager attention). Differences, all exact in real arithmetic: RoPE angles and RMSNorm
// are computed in the model's dtype (Hugging Face uses float32 even for a float64 model), and padded
// keys are masked with -inf.
#include "core/decoder.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace lmk {

at::Tensor rmsNormForward(const Norm& n, const at::Tensor& x, double eps, Tape* tape) {
  at::Tensor xhat = x * at::rsqrt(x.pow(2).mean({-1}, true) + eps);
  at::Tensor y = xhat * n.w;
  if (tape && tape->wants(n.pw)) tape->sites.push_back({Site::Kind::Norm, n.pw, -1, xhat.detach(), y});
  return y;
}

static at::Tensor DecoderNorm(const Model& m, const Norm& n, const at::Tensor& x, Tape* tape) {
  return m.cfg.arch == Arch::Gpt2 ? normForward(n, x, m.cfg.eps, tape) : rmsNormForward(n, x, m.cfg.eps, tape);
}

at::Tensor decoderFinalNorm(const Model& m, const at::Tensor& h, Tape* tape) { return DecoderNorm(m, m.headLn, h, tape); }

namespace {

// [B, 1, L, L]: query i sees key j when j <= i and j is a real token.
at::Tensor CausalMask(const Batch& b) {
  const int64_t L = b.ids.size(1);
  at::Tensor t = at::arange(L, b.ids.options());
  at::Tensor causal = t.view({1, L}).le(t.view({L, 1}));  // [i, j]: j <= i
  return causal.view({1, 1, L, L}).logical_and(b.attention.view({b.size(), 1, 1, L}));
}

// `drop`: attention dropout in training mode (GPT-2's attn_pdrop; Llama's attention_dropout is 0)
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, bool drop = false) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor probs = at::softmax(scores, -1);
  return at::matmul(drop ? dropout(probs) : probs, v);
}

// GPT-2's fused c_attn. z = x Wᵀ is the weight's site and y = z + b the bias's; q and v read y while k
// reads z + b_k outside the bias site: softmax ignores the key bias, so its block is exactly zero (not a
// rounding residue), as for RoBERTa.
at::Tensor Gpt2Attention(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& allowed, Tape* tape) {
  const int64_t B = x.size(0), L = x.size(1), H = m.cfg.hidden, nh = m.cfg.heads, dh = H / nh;
  Linear weight = l.qkv;
  weight.b = at::Tensor();
  weight.pb = -1;
  at::Tensor z = linearForward(weight, x, tape);
  at::Tensor y = z + l.qkv.b;
  if (tape && tape->wants(l.qkv.pb)) tape->sites.push_back({Site::Kind::Linear, -1, l.qkv.pb, x.detach(), y});
  auto heads = [&](const at::Tensor& t) { return t.view({B, L, nh, dh}).transpose(1, 2); };
  // LoRA adapters on the q, k, v slices (Linear q, k, v hold only LoRA matrices for GPT-2)
  auto adapt = [&](const Linear& a, at::Tensor t) { return a.loraA.defined() ? t + loraForward(a, x, tape) : t; };
  at::Tensor q = heads(adapt(l.q, y.narrow(-1, 0, H)));
  at::Tensor k = heads(adapt(l.k, z.narrow(-1, H, H) + l.qkv.b.narrow(0, H, H)));
  at::Tensor v = heads(adapt(l.v, y.narrow(-1, 2 * H, H)));
  at::Tensor ctx = Attend(q, k, v, allowed, /*drop=*/true).transpose(1, 2).reshape({B, L, H});
  return dropout(linearForward(l.o, ctx, tape));  // resid_pdrop
}

// cos and sin [B, 1, L, dh] of the rotary embedding at the batch's positions, the angles in float64.
std::pair<at::Tensor, at::Tensor> Rope(const Model& m, const Batch& b) {
  const int64_t dh = m.cfg.headDim();
  auto f64 = at::TensorOptions().dtype(at::kDouble).device(b.positions.device());
  at::Tensor invFreq = at::pow(m.cfg.ropeTheta, at::arange(0, dh, 2, f64) / static_cast<double>(dh)).reciprocal();
  at::Tensor pos = b.positions.to(at::kDouble) / m.cfg.ropeFactor;
  at::Tensor freqs = pos.unsqueeze(-1) * invFreq;  // [B, L, dh/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);
  return {emb.cos().to(m.dtype), emb.sin().to(m.dtype)};
}

at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

// Llama/Qwen2 attention: RoPE on q and k, grouped-query heads (head h reads key/value head h / (nh/kv)).
at::Tensor LlamaAttention(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& allowed,
                          const std::pair<at::Tensor, at::Tensor>& rope, Tape* tape) {
  const int64_t B = x.size(0), L = x.size(1), nh = m.cfg.heads, kv = m.cfg.kvHeads, dh = m.cfg.headDim();
  auto heads = [&](const at::Tensor& t, int64_t n) { return t.view({B, L, n, dh}).transpose(1, 2); };
  at::Tensor q = heads(linearForward(l.q, x, tape), nh);
  // Qwen2's key bias is rotated with the key: its score shift q_i·R(j−i)b depends on the key position, so
  // unlike GPT-2's (and RoBERTa's) it is not ignored by softmax and has a gradient of its own
  at::Tensor k = heads(linearForward(l.k, x, tape), kv);
  at::Tensor v = heads(linearForward(l.v, x, tape), kv);
  q = q * rope.first + RotateHalf(q) * rope.second;
  k = k * rope.first + RotateHalf(k) * rope.second;
  if (kv != nh) {
    k = k.repeat_interleave(nh / kv, 1);
    v = v.repeat_interleave(nh / kv, 1);
  }
  at::Tensor ctx = Attend(q, k, v, allowed).transpose(1, 2).reshape({B, L, nh * dh});
  return linearForward(l.o, ctx, tape);
}

at::Tensor Mlp(const Model& m, const EncoderLayer& l, const at::Tensor& x, Tape* tape) {
  if (m.cfg.arch == Arch::Gpt2) return dropout(linearForward(l.out, activation(linearForward(l.inter, x, tape), m.cfg.hiddenAct), tape));
  at::Tensor g = at::silu(linearForward(l.gate, x, tape));
  return linearForward(l.out, g * linearForward(l.inter, x, tape), tape);
}

}  // namespace

at::Tensor decoderHidden(const Model& m, const Batch& b, Tape* tape) {
  at::Tensor e = at::embedding(m.wordEmb, b.ids);
  if (m.posEmb.defined()) e = e + at::embedding(m.posEmb, b.positions);
  if (tape) {
    // the embedding sum is the leaf the backward passes reach (forward.cc's embeddingsForward)
    e = e.detach().requires_grad_(true);
    if (tape->wants(m.pWord) || tape->wants(m.pPos)) tape->sites.push_back({Site::Kind::Embedding, -1, -1, at::Tensor(), e});
  }
  const at::Tensor allowed = CausalMask(b);
  const bool gpt2 = m.cfg.arch == Arch::Gpt2;
  std::pair<at::Tensor, at::Tensor> rope;
  if (!gpt2) rope = Rope(m, b);
  // training-mode dropout (forward.h's DropoutScope) where Hugging Face's GPT-2 has it: embeddings,
  // attention probabilities, the attention and MLP outputs; Llama/Qwen2 have none by default
  at::Tensor h = gpt2 ? dropout(e) : e;
  for (const auto& l : m.layers) {
    at::Tensor a = DecoderNorm(m, l.ln1, h, tape);
    h = h + (gpt2 ? Gpt2Attention(m, l, a, allowed, tape) : LlamaAttention(m, l, a, allowed, rope, tape));
    h = h + Mlp(m, l, DecoderNorm(m, l.ln2, h, tape), tape);
  }
  return h;
}

at::Tensor decoderReadPositions(const Batch& b, OutputMode mode) {
  if (mode == OutputMode::Prompt) return b.maskPos;
  return b.attention.sum(1).sub(1).to(at::kLong);
}

at::Tensor decoderOutputFeatures(const Model& m, const Batch& b, OutputMode mode, Tape* tape) {
  at::Tensor h = decoderHidden(m, b, tape);
  at::Tensor rows = at::arange(h.size(0), at::TensorOptions().dtype(at::kLong).device(h.device()));
  at::Tensor read = h.index({rows, decoderReadPositions(b, mode)}).unsqueeze(1);  // [B, 1, H]
  return decoderFinalNorm(m, read, tape).squeeze(1);
}

ForwardOutputs decoderOutputs(const Model& m, const Batch& b, OutputMode mode, const at::Tensor& labelIds, Tape* tape) {
  if (mode == OutputMode::Standard && !m.clsW.defined())
    throw std::runtime_error("the standard setting needs a 'score' head: the checkpoint has no score.weight (supply a classifier)");
  ForwardOutputs o;
  o.features = decoderOutputFeatures(m, b, mode, tape);
  o.logits =
      mode == OutputMode::Prompt ? at::linear(o.features, m.decoderW.index_select(0, labelIds)) : at::linear(o.features, m.clsW, m.clsB);
  return o;
}

}  // namespace lmk
