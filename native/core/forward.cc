#include "core/forward.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/decoder.h"

namespace lmk {

void validateExamples(const Model& m, const std::vector<Example>& xs, bool needMask, const char* where) {
  const auto& c = m.cfg;
  const int64_t maxLen = c.arch == Arch::Roberta ? c.maxPositions - c.padId - 1 : c.maxPositions;
  for (size_t i = 0; i < xs.size(); i++) {
    const auto& x = xs[i];
    const std::string at = std::string(where) + "[" + std::to_string(i) + "]";
    if (x.ids.empty()) throw std::runtime_error(at + ": input_ids is empty");
    if (static_cast<int64_t>(x.ids.size()) > maxLen)
      throw std::runtime_error(at + ": " + std::to_string(x.ids.size()) + " tokens, the model's positions allow at most " +
                               std::to_string(maxLen));
    for (size_t t = 0; t < x.ids.size(); t++)
      if (x.ids[t] < 0 || x.ids[t] >= c.vocabSize)
        throw std::runtime_error(at + ": input_ids[" + std::to_string(t) + "] = " + std::to_string(x.ids[t]) +
                                 " is outside the vocabulary [0, " + std::to_string(c.vocabSize) + ")");
    if (needMask && (x.maskPos < 0 || x.maskPos >= static_cast<int64_t>(x.ids.size())))
      throw std::runtime_error(at + ": mask_pos " + std::to_string(x.maskPos) + " is out of range for " + std::to_string(x.ids.size()) +
                               " tokens");
    if (!x.tokenTypes.empty()) {
      if (x.tokenTypes.size() != x.ids.size())
        throw std::runtime_error(at + ": token_type_ids has " + std::to_string(x.tokenTypes.size()) + " entries for " +
                                 std::to_string(x.ids.size()) + " tokens");
      for (auto t : x.tokenTypes)
        if (t < 0 || t >= c.typeVocab)
          throw std::runtime_error(at + ": token type " + std::to_string(t) + " outside [0, " + std::to_string(c.typeVocab) + ")");
    }
  }
}

Batch makeBatch(const Model& m, const std::vector<Example>& xs, size_t begin, size_t end, const at::Device& device) {
  const int64_t B = static_cast<int64_t>(end - begin);
  int64_t L = 0;
  for (size_t i = begin; i < end; i++) L = std::max<int64_t>(L, static_cast<int64_t>(xs[i].ids.size()));
  auto ids = at::full({B, L}, m.cfg.padId, at::kLong);
  auto att = at::zeros({B, L}, at::kBool);
  auto pos = at::zeros({B, L}, at::kLong);
  auto typ = at::zeros({B, L}, at::kLong);
  auto mpos = at::zeros({B}, at::kLong);
  auto pi = ids.accessor<int64_t, 2>();
  auto pa = att.accessor<bool, 2>();
  auto pp = pos.accessor<int64_t, 2>();
  auto pt = typ.accessor<int64_t, 2>();
  const bool rob = m.cfg.arch == Arch::Roberta;
  for (int64_t b = 0; b < B; b++) {
    const auto& x = xs[begin + b];
    for (int64_t t = 0; t < L; t++) {
      bool real = t < static_cast<int64_t>(x.ids.size());
      if (real) {
        pi[b][t] = x.ids[t];
        pa[b][t] = true;
        if (!x.tokenTypes.empty()) pt[b][t] = x.tokenTypes[t];
      }
      // RoBERTa: positions offset by the padding index, pads at the padding index (as HF)
      pp[b][t] = rob ? (real ? m.cfg.padId + 1 + t : m.cfg.padId) : t;
    }
    mpos[b] = x.maskPos < 0 ? 0 : x.maskPos;
  }
  // to a GPU from pinned memory, without the host waiting for the device's queue at every batch
  auto to = [&](const at::Tensor& t) { return device.is_cuda() ? t.pin_memory().to(device, t.scalar_type(), true) : t.to(device); };
  return Batch{to(ids), to(att), to(pos), to(typ), to(mpos)};
}

namespace {
thread_local DropoutScope* tlsDropout = nullptr;
}  // namespace

DropoutScope::DropoutScope(double p, at::Generator gen) : p_(p), gen_(std::move(gen)), prev_(tlsDropout) {
  if (!(p >= 0 && p < 1)) throw std::runtime_error("dropout probability must be in [0, 1), got " + std::to_string(p));
  tlsDropout = this;
}
DropoutScope::~DropoutScope() { tlsDropout = prev_; }

at::Tensor dropout(const at::Tensor& x) {
  const DropoutScope* s = tlsDropout;
  if (!s || s->p_ <= 0) return x;
  at::Tensor keep = at::empty(x.sizes(), at::TensorOptions().dtype(at::kDouble)).bernoulli_(1.0 - s->p_, s->gen_);
  return x * keep.div_(1.0 - s->p_).to(x.device(), x.scalar_type());
}

at::Tensor activation(const at::Tensor& x, const std::string& act) {
  if (act == "gelu") return at::gelu(x);
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (act == "relu") return at::relu(x);
  throw std::runtime_error("unsupported activation '" + act + "'");
}

at::Tensor linearForward(const Linear& l, const at::Tensor& x, Tape* tape, bool recordBias) {
  at::Tensor y = at::linear(x, l.w, l.b);
  if (tape && (tape->wants(l.pw) || (recordBias && tape->wants(l.pb))))
    tape->sites.push_back({Site::Kind::Linear, tape->wants(l.pw) ? l.pw : -1, recordBias && tape->wants(l.pb) ? l.pb : -1, x.detach(), y});
  if (!l.loraA.defined()) return y;
  return y + loraForward(l, x, tape);
}

at::Tensor loraForward(const Linear& l, const at::Tensor& x, Tape* tape) {
  at::Tensor u = at::linear(x, l.loraA);
  at::Tensor v = at::linear(u, l.loraB);
  if (tape && tape->wants(l.pA)) tape->sites.push_back({Site::Kind::Linear, l.pA, -1, x.detach(), u});
  if (tape && tape->wants(l.pB)) tape->sites.push_back({Site::Kind::Linear, l.pB, -1, u.detach(), v});
  return v * l.loraScale;
}

at::Tensor linearForward(const Linear& l, const at::Tensor& x, Tape* tape) { return linearForward(l, x, tape, true); }

at::Tensor normForward(const Norm& n, const at::Tensor& x, double eps, Tape* tape) {
  at::Tensor xhat = at::layer_norm(x, {x.size(-1)}, {}, {}, eps);
  at::Tensor y = at::addcmul(n.b, xhat, n.w);
  if (tape && (tape->wants(n.pw) || tape->wants(n.pb)))
    tape->sites.push_back({Site::Kind::Norm, tape->wants(n.pw) ? n.pw : -1, tape->wants(n.pb) ? n.pb : -1, xhat.detach(), y});
  return y;
}

at::Tensor embeddingsForward(const Model& m, const Batch& b, Tape* tape) {
  at::Tensor e = at::embedding(m.wordEmb, b.ids) + at::embedding(m.posEmb, b.positions) + at::embedding(m.typeEmb, b.types);
  if (tape) {
    // the embedding sum is the leaf the backward passes reach; its gradient gives the word, position
    // and token-type blocks by scattering rows
    e = e.detach().requires_grad_(true);
    if (tape->wants(m.pWord) || tape->wants(m.pPos) || tape->wants(m.pType))
      tape->sites.push_back({Site::Kind::Embedding, -1, -1, at::Tensor(), e});
  }
  return dropout(normForward(m.embLn, e, m.cfg.eps, tape));
}

at::Tensor attentionForward(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& keyMask, Tape* tape) {
  const int64_t B = x.size(0), L = x.size(1), H = m.cfg.hidden, nh = m.cfg.heads, dh = H / nh;
  auto heads = [&](const at::Tensor& t) { return t.view({B, L, nh, dh}).transpose(1, 2); };
  at::Tensor q = heads(linearForward(l.q, x, tape));
  // the key bias shifts every score of a query equally: softmax ignores it, its gradient is exactly 0,
  // so it has no block (it still counts in grad_dim)
  at::Tensor k = heads(linearForward(l.k, x, tape, false));
  at::Tensor v = heads(linearForward(l.v, x, tape));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(dh));
  scores = scores.masked_fill(keyMask.logical_not().view({B, 1, 1, L}), -std::numeric_limits<double>::infinity());
  at::Tensor probs = dropout(at::softmax(scores, -1));
  at::Tensor ctx = at::matmul(probs, v).transpose(1, 2).reshape({B, L, H});
  at::Tensor o = dropout(linearForward(l.o, ctx, tape));
  return normForward(l.ln1, o + x, m.cfg.eps, tape);
}

at::Tensor layerForward(const Model& m, const EncoderLayer& l, const at::Tensor& x, const at::Tensor& keyMask, Tape* tape) {
  at::Tensor h = attentionForward(m, l, x, keyMask, tape);
  at::Tensor i = activation(linearForward(l.inter, h, tape), m.cfg.hiddenAct);
  at::Tensor o = dropout(linearForward(l.out, i, tape));
  return normForward(l.ln2, o + h, m.cfg.eps, tape);
}

at::Tensor encoderForward(const Model& m, const Batch& b, Tape* tape) {
  at::Tensor h = embeddingsForward(m, b, tape);
  for (const auto& l : m.layers) h = layerForward(m, l, h, b.attention, tape);
  return h;
}

at::Tensor featuresForward(const Model& m, const at::Tensor& hidden, const Batch& b, OutputMode mode, Tape* tape) {
  const int64_t B = hidden.size(0);
  if (mode == OutputMode::Standard) return hidden.select(1, 0);
  at::Tensor rows = at::arange(B, at::TensorOptions().dtype(at::kLong).device(hidden.device()));
  at::Tensor h = hidden.index({rows, b.maskPos}).unsqueeze(1);  // [B, 1, H]
  at::Tensor d = linearForward(m.headDense, h, tape);
  // RoBERTa's LM head always uses the exact (erf) GELU; BERT's transform uses config.hidden_act
  d = m.cfg.arch == Arch::Roberta ? at::gelu(d) : activation(d, m.cfg.hiddenAct);
  return normForward(m.headLn, d, m.cfg.eps, tape).squeeze(1);
}

at::Tensor logitsFromFeatures(const Model& m, const at::Tensor& z, OutputMode mode, const at::Tensor& labelIds) {
  if (mode == OutputMode::Standard) {
    if (!m.clsW.defined())
      throw std::runtime_error("the standard setting needs a 'classifier' head: the checkpoint has no classifier.weight (supply one)");
    return at::linear(z, m.clsW, m.clsB);
  }
  return at::linear(z, m.decoderW.index_select(0, labelIds), m.decoderBias.index_select(0, labelIds));
}

ForwardOutputs forwardOutputs(const Model& m, const Batch& b, OutputMode mode, const at::Tensor& labelIds, Tape* tape) {
  if (m.cfg.isDecoder()) return decoderOutputs(m, b, mode, labelIds, tape);
  ForwardOutputs o;
  o.features = featuresForward(m, encoderForward(m, b, tape), b, mode, tape);
  o.logits = logitsFromFeatures(m, o.features, mode, labelIds);
  return o;
}

at::Tensor labelIdTensor(const Model& m, const OutputSpec& out) {
  return out.labelWordIds.empty() ? at::Tensor() : at::tensor(out.labelWordIds, at::kLong).to(m.device());
}

at::Tensor binaryOutput(const at::Tensor& logits, bool binary) {
  return binary ? (logits.select(1, 1) - logits.select(1, 0)).unsqueeze(1) : logits;
}

at::Tensor outputs(const Model& m, const std::vector<Example>& xs, const OutputSpec& out, int64_t batchSize) {
  c10::NoGradGuard ng;
  validateExamples(m, xs, out.mode == OutputMode::Prompt, "inputs");
  const at::Tensor labelIds = labelIdTensor(m, out);
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); i += batchSize) {
    size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    Batch b = makeBatch(m, xs, i, j, m.device());
    at::Tensor f = binaryOutput(forwardOutputs(m, b, out.mode, labelIds, nullptr).logits, out.binary);
    parts.push_back(f.to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0, 0}, at::kDouble) : at::cat(parts, 0);
}

at::Tensor features(const Model& m, const std::vector<Example>& xs, OutputMode mode, int64_t batchSize) {
  c10::NoGradGuard ng;
  validateExamples(m, xs, mode == OutputMode::Prompt, "inputs");
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < xs.size(); i += batchSize) {
    size_t j = std::min(xs.size(), i + static_cast<size_t>(batchSize));
    Batch b = makeBatch(m, xs, i, j, m.device());
    at::Tensor z =
        m.cfg.isDecoder() ? decoderOutputFeatures(m, b, mode) : featuresForward(m, encoderForward(m, b, nullptr), b, mode, nullptr);
    parts.push_back(z.to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0, m.cfg.hidden}, at::kDouble) : at::cat(parts, 0);
}

}  // namespace lmk
