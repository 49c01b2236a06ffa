// The decoder families against decoders/fixtures-c.json (independent float64 PyTorch from the Hugging Face
// modeling code): grad_dim, parameter names, f0 and every kernel of the GPT-2 and Llama cases; batches
// with right padding equal single examples; GPT-2 names with the `transformer.` prefix; tiles, shards and
// joint passes; config fields refused.
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <map>
#include <set>

#include "core/config.h"
#include "core/entk.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/safetensors.h"
#include "core/safetensors_write.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

using ExampleSet = std::vector<Example>;

KernelOptions CaseOptions(const json::Value& cs, const test::FixtureFiles& files) {
  const std::string mode = cs.find("model_mode")->str;
  KernelOptions ko;
  ko.output.mode = mode == "prompt" ? OutputMode::Prompt : OutputMode::Standard;
  ko.output.binary = cs.find("binary")->b;
  if (mode == "prompt") ko.output.labelWordIds = files.labelIds;
  ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
  ko.subset = parseSubset(cs.find("subset")->str);
  ko.batchSize = 3;  // 5 training examples of different lengths: right padding within a batch
  return ko;
}

void CheckCase(const std::string& arch, const json::Value& A, const test::FixtureFiles& files, const json::Value& cs,
               at::ScalarType dtype) {
  const std::string mode = cs.find("model_mode")->str;
  auto model = loadModel(files.config, files.weights, LoadOptions{dtype, false});
  const json::Value& inputs = *A.find("inputs")->find(mode);
  const ExampleSet train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  const KernelOptions ko = CaseOptions(cs, files);
  KernelResult r = computeKernels(*model, train, test, ko, Progress{});
  const bool f64 = dtype == at::kDouble;
  // float64: measured at most ~1e-15 on these tiny models; the issue asks for 1e-9
  const double tol = f64 ? 1e-12 : 1e-4;
  const std::string name = arch + "/" + mode + "/" + cs.find("subset")->str + (ko.output.binary ? "/binary" : "") + (f64 ? " f64" : " f32");
  LMK_CHECK(r.gradDim == cs.find("grad_dim")->integer, "%s grad_dim %lld != %lld", name.c_str(), (long long)r.gradDim,
            (long long)cs.find("grad_dim")->integer);
  std::vector<std::string> names;
  for (auto& n : cs.find("param_names")->arr) names.push_back(n.str);
  LMK_CHECK(r.paramNames == names, "%s parameter names differ from the fixture's", name.c_str());
  const double e0 = MaxRelErr(r.f0Train, ToTensor(*cs.find("f0_train"))), e1 = MaxRelErr(r.f0Test, ToTensor(*cs.find("f0_test")));
  LMK_CHECK(e0 <= tol && e1 <= tol, "%s f0 rel err %.3g %.3g", name.c_str(), e0, e1);
  if (f64) std::printf("%-36s %-38s max rel err %.2e\n", name.c_str(), "f0", std::max(e0, e1));
  KernelOptions kg = ko;
  kg.signgd = kg.asymmetricSigngd = kg.asymmetricFlipped = false;
  kg.ghost = 1;
  KernelResult g = computeKernels(*model, train, test, kg, Progress{});
  const json::Value& sk = *cs.find("kernels")->find("sgd");
  const double g1 = MaxRelErr(g.kernels.at("sgd/train_train"), ToTensor(*sk.find("train_train")));
  const double g2 = MaxRelErr(g.kernels.at("sgd/train_test"), ToTensor(*sk.find("train_test")));
  LMK_CHECK(g1 <= tol && g2 <= tol, "%s ghost sgd rel err %.3g %.3g", name.c_str(), g1, g2);
  for (auto& fk : cs.find("kernels")->obj)
    for (auto& kk : fk.second.obj) {
      const double ktol = f64 && fk.first == "signgd" ? 0.0 : tol;  // sums of ±1 products: exact in float64
      const double err = MaxRelErr(r.kernels.at(fk.first + "/" + kk.first), ToTensor(kk.second));
      LMK_CHECK(err <= ktol, "%s %s/%s rel err %.3g", name.c_str(), fk.first.c_str(), kk.first.c_str(), err);
      if (f64) std::printf("%-36s %-38s max rel err %.2e\n", name.c_str(), (fk.first + "/" + kk.first).c_str(), err);
    }
}

// Right padding: a batch of examples of different lengths gives what each example gives alone (outputs
// and kernels), in both settings.
void CheckBatchEqualsSingle(const Model& m, const json::Value& A, const test::FixtureFiles& files) {
  for (const char* mode : {"prompt", "standard"}) {
    const json::Value& inputs = *A.find("inputs")->find(mode);
    const ExampleSet train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
    OutputSpec out;
    out.mode = std::string(mode) == "prompt" ? OutputMode::Prompt : OutputMode::Standard;
    if (out.mode == OutputMode::Prompt) out.labelWordIds = files.labelIds;
    at::Tensor batched = outputs(m, train, out, 5), single = outputs(m, train, out, 1);
    LMK_CHECK(MaxRelErr(batched, single) <= 1e-14, "%s: batched outputs differ from single ones by %.3g", mode, MaxRelErr(batched, single));
    KernelOptions ko;
    ko.output = out;
    ko.sgd = ko.signgd = true;
    ko.batchSize = 1;
    KernelResult one = computeKernels(m, train, test, ko, Progress{});
    ko.batchSize = 5;
    KernelResult five = computeKernels(m, train, test, ko, Progress{});
    for (auto& kv : one.kernels)
      LMK_CHECK(MaxRelErr(five.kernels.at(kv.first), kv.second) <= 1e-13, "%s: %s batched differs from single", mode, kv.first.c_str());
    // tokens after mask_pos do not change a causal model's output there
    if (out.mode == OutputMode::Prompt) {
      ExampleSet cut = train;
      for (auto& x : cut) x.ids.resize(static_cast<size_t>(x.maskPos + 1));
      LMK_CHECK(MaxRelErr(outputs(m, cut, out, 2), single) <= 1e-14, "tokens after mask_pos changed the output");
    }
  }
}

// Tiles of 2, 3 shards and joint passes over groups of 1 and 3 give the single-pass kernels.
void CheckTilesShardsGroups(const Model& m, const ExampleSet& train, const ExampleSet& test, KernelOptions ko) {
  const KernelResult full = computeKernels(m, train, test, ko, Progress{});
  auto same = [&](const KernelResult& r, const char* what) {
    for (auto& kv : full.kernels)
      LMK_CHECK(MaxRelErr(r.kernels.at(kv.first), kv.second) <= 1e-12, "%s: %s differs", what, kv.first.c_str());
  };
  KernelOptions t = ko;
  t.trainTile = 2;
  same(computeKernels(m, train, test, t, Progress{}), "tiles of 2");
  for (int64_t g : {1, 3}) {
    KernelOptions go = ko;
    go.groupSize = g;
    same(computeKernels(m, train, test, go, Progress{}), "groups");
  }
  std::map<std::string, at::Tensor> sum;
  for (int64_t sh = 0; sh < 3; sh++) {
    KernelOptions so = t;
    so.shardIndex = sh;
    so.shardCount = 3;
    for (auto& kv : computeKernels(m, train, test, so, Progress{}).kernels)
      sum[kv.first] = sum.count(kv.first) ? sum[kv.first] + kv.second : kv.second;
  }
  for (auto& kv : full.kernels) LMK_CHECK(MaxRelErr(sum.at(kv.first), kv.second) <= 1e-12, "shards: %s differs", kv.first.c_str());
}

// GPT-2 tensors saved from GPT2LMHeadModel carry `transformer.`; the mask buffers may be absent.
void CheckGpt2Prefix(const test::FixtureFiles& files, const std::string& tmp, const Model& plain, const ExampleSet& xs) {
  Safetensors st(files.weights);
  std::vector<std::pair<std::string, at::Tensor>> ts;
  for (const auto& n : st.names())
    if (n.find(".attn.bias") == std::string::npos) ts.push_back({n == "score.weight" ? n : "transformer." + n, st.load(n, at::kFloat)});
  const std::string path = tmp + "/gpt2-prefixed.safetensors";
  writeSafetensors(path, ts);
  auto m = loadModel(files.config, path, LoadOptions{at::kDouble, false});
  OutputSpec out;
  out.labelWordIds = files.labelIds;
  LMK_CHECK(MaxRelErr(outputs(*m, xs, out, 2), outputs(plain, xs, out, 2)) == 0, "prefixed GPT-2 names give other outputs");
  LMK_CHECK(m->params.size() == plain.params.size() && m->params[0].name == "wte.weight", "prefixed GPT-2: parameter names");
}

// The memory estimate's stored width and per-token activations, derived by hand from the families'
// layers: small blocks = word-embedding rows of the training tokens (tied: label words too), GPT-2's
// position table, norms, biases, the untied LM head's label rows or the score head; (a, δ) per token =
// each linear layer's input (q, k, v share one; Llama's gate shares up's) and Co output gradients.
void CheckMemoryEstimate(const Model& m, const ExampleSet& train, const ExampleSet& test, const std::vector<int64_t>& labels, bool prompt) {
  const int64_t H = m.cfg.hidden, I = m.cfg.intermediate, L = m.cfg.layers, Co = prompt ? static_cast<int64_t>(labels.size()) : 2;
  const bool gpt2 = m.cfg.arch == Arch::Gpt2;
  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  if (gpt2 && prompt) uni.insert(labels.begin(), labels.end());
  const int64_t U = static_cast<int64_t>(uni.size()), KV = m.cfg.kvHeads * m.cfg.headDim();
  int64_t width = U * H, perToken = 0;
  if (gpt2) {
    width += m.cfg.maxPositions * H + L * (2 * H + 3 * H + H + 2 * H + 4 * H + H) + 2 * H;
    perToken = L * ((H + Co * 3 * H) + (H + Co * H) + (H + Co * I) + (I + Co * H));
  } else {
    width += L * 2 * H + H + (prompt ? static_cast<int64_t>(labels.size()) * H : 0);
    perToken = L * ((H + Co * (H + 2 * KV)) + (H + Co * H) + (H + Co * I) + Co * I + (I + Co * H));
  }
  if (!prompt) width += 2 * H;  // the score head
  KernelOptions ko;
  ko.output.mode = prompt ? OutputMode::Prompt : OutputMode::Standard;
  if (prompt) ko.output.labelWordIds = labels;
  ko.sgd = ko.signgd = true;
  const KernelMemoryEstimate e = estimateKernelMemory(m, subsetMask(m, Subset::All), train, test, ko, Co);
  LMK_CHECK(e.width == width, "%s %s: estimated width %lld, derived %lld", m.cfg.archName(), prompt ? "prompt" : "standard",
            (long long)e.width, (long long)width);
  LMK_CHECK(e.activationsPerToken == perToken * 8, "%s: activations per token %lld, derived %lld", m.cfg.archName(),
            (long long)e.activationsPerToken, (long long)(perToken * 8));
  LMK_CHECK(e.activationsPerExample == 0, "a decoder has no per-example head sites");
}

bool Refused(const std::string& config, const std::string& needle) {
  try {
    ModelConfig::fromJsonText(config, "config.json");
  } catch (const std::exception& e) {
    const bool ok = std::string(e.what()).find(needle) != std::string::npos;
    if (!ok) std::fprintf(stderr, "message: %s\n", e.what());
    return ok;
  }
  return false;
}

void CheckConfigs() {
  const std::string llama =
      R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 16)";
  auto cfg = [&](const std::string& type, const std::string& extra) { return "{\"model_type\": \"" + type + "\", " + llama + extra + "}"; };
  LMK_CHECK(Refused(cfg("llama", R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4})"), "'rope_scaling' has type 'yarn'"),
            "yarn accepted");
  LMK_CHECK(Refused(cfg("llama", R"(, "rope_scaling": {"type": "dynamic", "factor": 2})"), "'rope_scaling' has type 'dynamic'"),
            "dynamic accepted");
  LMK_CHECK(Refused(cfg("mistral", R"(, "sliding_window": 4096)"), "'sliding_window' is set"), "Mistral sliding window accepted");
  LMK_CHECK(Refused(cfg("qwen2", R"(, "use_sliding_window": true)"), "'use_sliding_window' is true"), "Qwen2 sliding window accepted");
  LMK_CHECK(Refused(cfg("llama", R"(, "num_key_value_heads": 3)"), "'num_key_value_heads' (3) does not divide"), "bad GQA accepted");
  LMK_CHECK(Refused(cfg("llama", R"(, "hidden_act": "gelu")"), "'hidden_act' is 'gelu'"), "gelu llama accepted");
  LMK_CHECK(Refused(R"({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_head": 2, "n_layer": 1})", "'n_positions' is missing"),
            "GPT-2 without n_positions accepted");
  LMK_CHECK(Refused(R"({"model_type": "falcon"})", "supported: roberta, bert, gpt2, llama, mistral, qwen2"), "falcon accepted");
  ModelConfig m =
      ModelConfig::fromJsonText(cfg("mistral", R"(, "sliding_window": null, "rope_scaling": {"type": "linear", "factor": 2.0})"), "c");
  LMK_CHECK(m.arch == Arch::Llama && m.ropeFactor == 2.0 && m.kvHeads == 2 && !m.tieWordEmbeddings, "Mistral without a window is a Llama");
  ModelConfig g = ModelConfig::fromJsonText(
      R"({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 4})", "c");
  LMK_CHECK(g.intermediate == 32 && g.tieWordEmbeddings && g.hiddenAct == "gelu_new" && g.eps == 1e-5, "GPT-2 defaults");
}

// Training-mode dropout where Hugging Face has it: GPT-2 (embeddings, attention probabilities, attention
// and MLP outputs) changes its outputs inside a DropoutScope, reproducibly per seed; Llama has no dropout;
// p = 0 and eval mode (no scope) give the fixture model's outputs exactly.
void CheckDropout(const std::string& arch, const Model& m, const ExampleSet& xs, const std::vector<int64_t>& labels) {
  OutputSpec out;
  out.labelWordIds = labels;
  const at::Tensor eval = outputs(m, xs, out, 5);
  auto trained = [&](double p, uint64_t seed) {
    DropoutScope s(p, at::make_generator<at::CPUGeneratorImpl>(seed));
    return outputs(m, xs, out, 5);
  };
  LMK_CHECK(trained(0.0, 1).equal(eval), "%s: dropout p = 0 changed the outputs", arch.c_str());
  const at::Tensor a = trained(0.1, 9), b = trained(0.1, 9);
  LMK_CHECK(a.equal(b), "%s: the same dropout seed gave different outputs", arch.c_str());
  if (arch == "gpt2") LMK_CHECK(MaxRelErr(a, eval) > 1e-3, "gpt2: dropout 0.1 left the outputs unchanged (%.3g)", MaxRelErr(a, eval));
  else LMK_CHECK(a.equal(eval), "%s: a model without dropout changed its outputs in training mode", arch.c_str());
  LMK_CHECK(outputs(m, xs, out, 5).equal(eval), "%s: eval mode after a DropoutScope differs", arch.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = std::string(argc > 1 ? argv[1] : "test/fixtures") + "/decoders";
  const json::Value fx = json::parseFile(dir + "/fixtures-c.json", "fixtures-c");
  const std::string tmp = test::TempDir();
  for (const char* arch : {"gpt2", "llama"}) {
    const json::Value& A = *fx.find(arch);
    const test::FixtureFiles files = test::WriteFixture(fx, arch, dir, tmp);
    for (auto& cs : A.find("cases")->arr)
      for (auto dtype : {at::kDouble, at::kFloat}) CheckCase(arch, A, files, cs, dtype);
    auto m = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
    CheckBatchEqualsSingle(*m, A, files);
    for (const char* mode : {"prompt", "standard"}) {
      const json::Value& in = *A.find("inputs")->find(mode);
      CheckMemoryEstimate(*m, Examples(*in.find("train")), Examples(*in.find("test")), files.labelIds, std::string(mode) == "prompt");
    }
    const json::Value& inputs = *A.find("inputs")->find("prompt");
    KernelOptions ko;
    ko.output.labelWordIds = files.labelIds;
    ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
    ko.batchSize = 2;
    CheckTilesShardsGroups(*m, Examples(*inputs.find("train")), Examples(*inputs.find("test")), ko);
    if (std::string(arch) == "gpt2") CheckGpt2Prefix(files, tmp, *m, Examples(*inputs.find("train")));
    CheckDropout(arch, *m, Examples(*inputs.find("train")), files.labelIds);
  }
  CheckConfigs();
  return test::Finish("test_decoder_fixtures");
}
