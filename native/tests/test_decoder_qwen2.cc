// Qwen2 (Llama with q/k/v biases) has no fixture; it is checked by derivations from the Llama fixture:
// 1. an independent reference written here from Hugging Face's modeling_qwen2.py (one example, no batching,
//    RoPE by explicit pair rotations, full per-example gradients by plain autograd over every weight
//    tensor) reproduces the Llama fixture's f0 and SGD kernel, which validates the reference;
// 2. a Qwen2 checkpoint made of the Llama fixture's tensors and zero biases gives the Llama f0;
// 3. with non-zero q, k and v biases (and with the key bias alone), lmkernel's f0 and every kernel equal
//    the reference's. Unlike GPT-2's, Qwen2's key bias is rotated with the key (RoPE is applied after
//    k_proj): its score shift q_i·R(j−i)b depends on the key position, so it is not ignored by softmax
//    and its gradient is not zero (the premise holds for GPT-2 only); the test shows it.
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/entk.h"
#include "core/model.h"
#include "core/safetensors.h"
#include "core/safetensors_write.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

struct Ref {
  std::map<std::string, at::Tensor> t;  // float64 leaves (LoRA: `<module>.lora_A` / `.lora_B`)
  double loraScale = 0;
  int64_t layers = 2, heads = 4, kvHeads = 2, dh = 8;
  double eps = 1e-6, theta = 10000.0;
  bool biases = false;
  at::Tensor p(const std::string& n) const { return t.at(n); }
};

at::Tensor Rms(const at::Tensor& x, const at::Tensor& w, double eps) { return w * (x / at::sqrt(x.pow(2).mean({-1}, true) + eps)); }

// RoPE on [n, T, dh]: each pair (i, i + dh/2) rotated by pos · θ^(-2i/dh).
at::Tensor Rotate(const at::Tensor& x, double theta) {
  const int64_t T = x.size(1), dh = x.size(2), h = dh / 2;
  std::vector<at::Tensor> cols(static_cast<size_t>(dh));
  std::vector<double> c(static_cast<size_t>(T)), s(static_cast<size_t>(T));
  for (int64_t i = 0; i < h; i++) {
    for (int64_t pos = 0; pos < T; pos++) {
      const double a = static_cast<double>(pos) * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(dh));
      c[static_cast<size_t>(pos)] = std::cos(a), s[static_cast<size_t>(pos)] = std::sin(a);
    }
    at::Tensor ct = at::tensor(c, at::kDouble).view({1, T}), st = at::tensor(s, at::kDouble).view({1, T});
    at::Tensor x1 = x.select(2, i), x2 = x.select(2, i + h);
    cols[static_cast<size_t>(i)] = x1 * ct - x2 * st;
    cols[static_cast<size_t>(i + h)] = x2 * ct + x1 * st;
  }
  return at::stack(cols, 2);
}

// Label-word logits [C] at `pos` for one example.
at::Tensor RefLogits(const Ref& r, const std::vector<int64_t>& ids, int64_t pos, const std::vector<int64_t>& labels) {
  const int64_t T = static_cast<int64_t>(ids.size());
  at::Tensor x = r.p("model.embed_tokens.weight").index_select(0, at::tensor(ids, at::kLong));
  at::Tensor mask = at::ones({T, T}, at::kBool).triu(1);
  for (int64_t l = 0; l < r.layers; l++) {
    const std::string L = "model.layers." + std::to_string(l) + ".";
    auto weight = [&](const std::string& n) {
      at::Tensor w = r.p(L + n + ".weight");
      auto a = r.t.find(L + n + ".lora_A");
      return a == r.t.end() ? w : w + r.loraScale * at::matmul(r.p(L + n + ".lora_B"), a->second);  // W + s·B A
    };
    auto proj = [&](const std::string& n, const at::Tensor& a) {
      at::Tensor y = at::matmul(a, weight(n).t());
      return r.biases ? y + r.p(L + n + ".bias") : y;
    };
    at::Tensor a = Rms(x, r.p(L + "input_layernorm.weight"), r.eps);
    at::Tensor q = Rotate(proj("self_attn.q_proj", a).view({T, r.heads, r.dh}).transpose(0, 1), r.theta);
    at::Tensor k = Rotate(proj("self_attn.k_proj", a).view({T, r.kvHeads, r.dh}).transpose(0, 1), r.theta);
    at::Tensor v = proj("self_attn.v_proj", a).view({T, r.kvHeads, r.dh}).transpose(0, 1);
    std::vector<at::Tensor> ctx;
    for (int64_t h = 0; h < r.heads; h++) {
      const int64_t g = h / (r.heads / r.kvHeads);
      at::Tensor sc = at::matmul(q[h], k[g].t()) / std::sqrt(static_cast<double>(r.dh));
      ctx.push_back(at::matmul(at::softmax(sc.masked_fill(mask, -std::numeric_limits<double>::infinity()), -1), v[g]));
    }
    x = x + at::matmul(at::cat(ctx, 1), weight("self_attn.o_proj").t());
    at::Tensor b = Rms(x, r.p(L + "post_attention_layernorm.weight"), r.eps);
    at::Tensor up = at::matmul(b, weight("mlp.up_proj").t()), gate = at::matmul(b, weight("mlp.gate_proj").t());
    x = x + at::matmul(gate * at::sigmoid(gate) * up, weight("mlp.down_proj").t());
  }
  at::Tensor z = Rms(x[pos], r.p("model.norm.weight"), r.eps);
  return at::matmul(r.p("lm_head.weight").index_select(0, at::tensor(labels, at::kLong)), z);
}

// Per-example gradients [N·C, P] over every tensor (plain autograd), and f0 [N, C].
// `only`: the leaves whose name contains it (e.g. "lora_"), else all.
std::pair<at::Tensor, at::Tensor> RefGradients(const Ref& r, const std::vector<Example>& xs, const std::vector<int64_t>& labels,
                                               const std::string& only = "") {
  std::vector<at::Tensor> leaves;
  for (auto& kv : r.t)
    if (kv.first.find(only) != std::string::npos) leaves.push_back(kv.second);
  std::vector<at::Tensor> rows, f0;
  for (const auto& x : xs) {
    at::Tensor lg = RefLogits(r, x.ids, x.maskPos, labels);
    f0.push_back(lg.detach());
    for (int64_t c = 0; c < lg.size(0); c++) {
      auto gr = torch::autograd::grad({lg[c]}, leaves, {}, true, false, true);
      std::vector<at::Tensor> flat;
      for (size_t i = 0; i < gr.size(); i++) flat.push_back((gr[i].defined() ? gr[i] : at::zeros_like(leaves[i])).reshape({-1}));
      rows.push_back(at::cat(flat));
    }
  }
  return {at::stack(rows), at::stack(f0)};
}

// The kernel file's [Na·C, Nb·C] as lmkernel's [Na, C, Nb, C].
at::Tensor K4(const at::Tensor& k, int64_t na, int64_t nb, int64_t C) { return k.view({na, C, nb, C}); }

struct Files {
  std::string config, weights;
};

Files WriteQwen2(const json::Value& A, const std::string& dir, const std::string& tmp, const std::string& name, const Tensors& ts) {
  json::Value cfg = *A.find("config");
  for (auto& kv : cfg.obj)
    if (kv.first == "model_type") kv.second.str = "qwen2";
  Files f{tmp + "/" + name + "-config.json", tmp + "/" + name + ".safetensors"};
  test::WriteFile(f.config, test::Dump(cfg));
  writeSafetensors(f.weights, ts);
  return f;
}

// The same kernel comparison over a subset's rows.
void CheckKernels(const char* what, const KernelResult& r, const at::Tensor& gtr, const at::Tensor& gte, int64_t na, int64_t nb,
                  int64_t C) {
  at::Tensor str = gtr.sign(), ste = gte.sign();
  const std::map<std::string, at::Tensor> want = {
      {"sgd/train_train", K4(at::matmul(gtr, gtr.t()), na, na, C)},
      {"sgd/train_test", K4(at::matmul(gtr, gte.t()), na, nb, C)},
      {"signgd/train_train", K4(at::matmul(str, str.t()), na, na, C)},
      {"signgd/train_test", K4(at::matmul(str, ste.t()), na, nb, C)},
      {"asymmetric_signgd/train_train", K4(at::matmul(str, gtr.t()), na, na, C)},
      {"asymmetric_signgd/train_test", K4(at::matmul(str, gte.t()), na, nb, C)},
      {"asymmetric_signgd/train_test_flipped", K4(at::matmul(gtr, ste.t()), na, nb, C)},
  };
  for (auto& kv : want) {
    const double e = MaxRelErr(r.kernels.at(kv.first), kv.second);
    std::printf("%s %-38s max rel err %.2e\n", what, kv.first.c_str(), e);
    LMK_CHECK(e <= (kv.first.rfind("signgd", 0) == 0 ? 0.0 : 1e-12), "%s %s rel err %.3g", what, kv.first.c_str(), e);
  }
}

// LoRA on Llama's q_proj, v_proj and down_proj with non-zero A and B: f0 and the `lora` subset's kernels
// against the reference, whose weights are W + (alpha / r) B A with A and B as autograd leaves.
void CheckLora(const Ref& base, const std::vector<Example>& train, const std::vector<Example>& test, const std::vector<int64_t>& labels,
               const test::FixtureFiles& files) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  LoraSpec spec;
  spec.r = 2;
  spec.alpha = 4;
  spec.targets = {"q_proj", "value", "down_proj"};
  Ref ref = base;
  ref.loraScale = spec.alpha / static_cast<double>(spec.r);
  for (int l = 0; l < 2; l++)
    for (auto [name, din, dout] :
         {std::tuple<const char*, int64_t, int64_t>{"self_attn.q_proj", 32, 32}, {"self_attn.v_proj", 32, 16}, {"mlp.down_proj", 64, 32}}) {
      const std::string key = "model.layers." + std::to_string(l) + "." + name;
      at::Tensor a = at::randn({spec.r, din}, gen).to(at::kDouble) * 0.3, b = at::randn({dout, spec.r}, gen).to(at::kDouble) * 0.3;
      spec.matrices[key + ".lora_A"] = a;
      spec.matrices[key + ".lora_B"] = b;
      ref.t[key + ".lora_A"] = a.clone().requires_grad_(true);
      ref.t[key + ".lora_B"] = b.clone().requires_grad_(true);
    }
  auto m = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
  applyLora(*m, spec, 0);
  LMK_CHECK(m->hasLora() && m->params.back().name == "model.layers.1.mlp.down_proj.lora_B", "LoRA parameter names");
  KernelOptions ko;
  ko.output.labelWordIds = labels;
  ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
  ko.subset = Subset::Lora;
  ko.batchSize = 2;
  KernelResult r = computeKernels(*m, train, test, ko, Progress{});
  auto [gtr, f0] = RefGradients(ref, train, labels, ".lora_");
  auto gte = RefGradients(ref, test, labels, ".lora_").first;
  LMK_CHECK(r.gradDim == gtr.size(1), "LoRA grad_dim %lld vs %lld", (long long)r.gradDim, (long long)gtr.size(1));
  LMK_CHECK(MaxRelErr(r.f0Train, f0) <= 1e-12, "LoRA f0 rel err %.3g", MaxRelErr(r.f0Train, f0));
  const int64_t C = static_cast<int64_t>(labels.size());
  CheckKernels("llama LoRA", r, gtr, gte, static_cast<int64_t>(train.size()), static_cast<int64_t>(test.size()), C);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = std::string(argc > 1 ? argv[1] : "test/fixtures") + "/decoders";
  const json::Value fx = json::parseFile(dir + "/fixtures-c.json", "fixtures-c");
  const std::string tmp = test::TempDir();
  const json::Value& A = *fx.find("llama");
  std::vector<int64_t> labels;
  for (auto& v : A.find("label_word_ids")->arr) labels.push_back(v.integer);
  const json::Value& inputs = *A.find("inputs")->find("prompt");
  const auto train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  const json::Value& cs = A.find("cases")->arr[0];  // prompt, all
  const int64_t C = static_cast<int64_t>(labels.size()), na = static_cast<int64_t>(train.size()), nb = static_cast<int64_t>(test.size());

  Safetensors st(dir + "/" + A.find("weights_file")->str);
  Ref ref;
  for (const auto& n : st.names())
    if (n != "score.weight") ref.t[n] = st.load(n, at::kDouble).requires_grad_(true);
  // 1. the reference against the Llama fixture
  {
    auto [gtr, f0] = RefGradients(ref, train, labels);
    auto gte = RefGradients(ref, test, labels).first;
    const double ef = MaxRelErr(f0, ToTensor(*cs.find("f0_train")));
    const double ek = MaxRelErr(K4(at::matmul(gtr, gte.t()), na, nb, C), ToTensor(*cs.find("kernels")->find("sgd")->find("train_test")));
    std::printf("reference vs Llama fixture: f0 %.2e, sgd train_test %.2e\n", ef, ek);
    LMK_CHECK(ef <= 1e-12 && ek <= 1e-12, "the reference does not reproduce the Llama fixture (%.3g, %.3g)", ef, ek);
  }
  // 2. zero biases: the Llama f0 exactly
  Tensors base;
  for (const auto& n : st.names()) base.push_back({n, st.load(n, at::kFloat)});
  auto withBiases = [&](double qs, double ks, double vs, uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    Tensors ts = base;
    for (int l = 0; l < 2; l++)
      for (auto [n, d, s] : {std::tuple<const char*, int64_t, double>{"q", 32, qs}, {"k", 16, ks}, {"v", 16, vs}})
        ts.push_back({"model.layers." + std::to_string(l) + ".self_attn." + n + "_proj.bias", at::randn({d}, gen) * s});
    return ts;
  };
  OutputSpec out;
  out.labelWordIds = labels;
  KernelOptions ko;
  ko.output = out;
  ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
  ko.batchSize = 3;
  // lmkernel's f0 and kernels of a Qwen2 checkpoint against the reference on the same tensors
  auto check = [&](const char* what, const Files& f) {
    auto m = loadModel(f.config, f.weights, LoadOptions{at::kDouble, false});
    LMK_CHECK(m->totalParams() == 51424 + 2 * (32 + 16 + 16), "%s: parameter count %lld", what, (long long)m->totalParams());
    Safetensors sq(f.weights);
    Ref rq = ref;
    rq.biases = true;
    for (const auto& n : sq.names())
      if (n != "score.weight") rq.t[n] = sq.load(n, at::kDouble).requires_grad_(true);
    auto [gtr, f0] = RefGradients(rq, train, labels);
    auto gte = RefGradients(rq, test, labels).first;
    KernelResult r = computeKernels(*m, train, test, ko, Progress{});
    // the reference leaves out the unused score head [2, 32]
    LMK_CHECK(r.gradDim == gtr.size(1) + 64, "%s: grad_dim %lld vs reference %lld", what, (long long)r.gradDim, (long long)gtr.size(1));
    LMK_CHECK(MaxRelErr(r.f0Train, f0) <= 1e-12, "%s: f0 rel err %.3g", what, MaxRelErr(r.f0Train, f0));
    CheckKernels(what, r, gtr, gte, na, nb, C);
    return r;
  };
  // 2. zero biases: the Llama fixture's f0 (adding a zero bias changes the BLAS call, not the value)
  KernelResult r0 = check("qwen2 (zero biases)", WriteQwen2(A, dir, tmp, "qwen2-zero", withBiases(0, 0, 0, 1)));
  LMK_CHECK(MaxRelErr(r0.f0Train, ToTensor(*cs.find("f0_train"))) <= 1e-14, "zero-bias Qwen2 differs from Llama");
  // 3. q, k and v biases
  check("qwen2 (q/k/v biases)", WriteQwen2(A, dir, tmp, "qwen2-bias", withBiases(0.5, 0.5, 0.5, 2)));
  // the key bias alone: unlike GPT-2's, it is rotated with the key (RoPE), so its score shift
  // q_i·R(j−i)b depends on the key position j: it changes the outputs and has a gradient of its own
  KernelResult rk = check("qwen2 (key bias only)", WriteQwen2(A, dir, tmp, "qwen2-k", withBiases(0, 0.5, 0, 3)));
  LMK_CHECK(MaxRelErr(rk.f0Train, r0.f0Train) > 1e-6, "the rotated key bias did not change the outputs");
  CheckLora(ref, train, test, labels, test::WriteFixture(fx, "llama", dir, tmp));
  return test::Finish("test_decoder_qwen2");
}
