// Reliability checks of the core: safetensors header defects over memory buffers (the fuzzed entry
// point), JSON reader limits, and the memory estimate of the eNTK engine (exact stored width against
// the blocks the engine emits; a refusal under LMKERNEL_MEMORY_LIMIT_BYTES naming the sizes).
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>

#include "core/entk.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/safetensors_header.h"
#include "test_util.h"

using namespace lmk;

static std::vector<uint8_t> File(const std::string& header, size_t dataSize) {
  std::vector<uint8_t> b(8 + header.size() + dataSize, 0);
  for (int i = 0; i < 8; i++) b[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

static std::string HeaderError(const std::vector<uint8_t>& b) {
  try {
    ParseSafetensorsHeader(b.data(), b.size(), "mem");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

static bool Has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

using lmk::test::Examples;

namespace {

// Safetensors header defects over memory buffers (the fuzzed entry point).
void CheckHeaders() {
  auto ok = File(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
      8);
  SafetensorsHeader h = ParseSafetensorsHeader(ok.data(), ok.size(), "mem");
  LMK_CHECK(h.entries.size() == 2 && h.entries["a"].end == 8, "valid header parses");
  // [0,16) and [8,12) overlap although [4,4) (empty) sorts between them
  std::string e = HeaderError(File(
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
      16));
  LMK_CHECK(Has(e, "overlap at byte 8"), "non-adjacent overlap: %s", e.c_str());
  e = HeaderError(
      File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  LMK_CHECK(Has(e, "tensor 'a' appears twice"), "duplicate name: %s", e.c_str());
  std::vector<uint8_t> zip = {'P', 'K', 3, 4, 0, 0, 0, 0, 1, 2, 3};
  e = HeaderError(zip);
  LMK_CHECK(Has(e, "pickled PyTorch checkpoint (zip)"), "zip hint: %s", e.c_str());
  std::vector<uint8_t> pk = {0x80, 2, 0x7d, 0x71, 0, 0, 0, 0, 0};
  e = HeaderError(pk);
  LMK_CHECK(Has(e, "(pickle)"), "pickle hint: %s", e.c_str());
  e = HeaderError(File(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4));
  LMK_CHECK(Has(e, "shape too large"), "huge shape: %s", e.c_str());
  e = HeaderError(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}})", 4));
  LMK_CHECK(Has(e, "data_offsets must be non-negative integers"), "offset beyond int64: %s", e.c_str());
  e = HeaderError(File(std::string(70, '[') + std::string(70, ']'), 0));
  LMK_CHECK(Has(e, "nesting deeper than 64"), "depth: %s", e.c_str());
  e = HeaderError(std::vector<uint8_t>(7, 0));
  LMK_CHECK(Has(e, "truncated safetensors file (7 bytes"), "truncated: %s", e.c_str());
}

// The memory estimate of one model configuration: the stored width and the (a, δ) bytes exactly as the
// engine's blocks and sites hold them.
void CheckEstimate(const char* arch, const json::Value& A, const test::FixtureFiles& files, bool tied, const char* mode, bool lora,
                   Subset subset) {
  LoadOptions lo;
  lo.dtype = at::kFloat;
  lo.tieWordEmbeddings = tied;
  auto model = loadModel(files.config, files.weights, lo);
  if (lora) {  // LoRA on query and value: sites for A (sharing the layer input) and B
    LoraSpec spec;
    spec.r = 2;
    spec.alpha = 4;
    spec.targets = {"query", "value"};
    applyLora(*model, spec, 7);
  }
  const bool prompt = std::string(mode) == "prompt";
  if (!prompt && !model->clsW.defined()) return;
  const json::Value& inputs = *A.find("inputs")->find(mode);
  auto train = Examples(*inputs.find("train"));
  KernelOptions ko;
  ko.output.mode = prompt ? OutputMode::Prompt : OutputMode::Standard;
  if (prompt) ko.output.labelWordIds = files.labelIds;
  ko.subset = subset;
  ko.signgd = true;
  GradientBlocks gb(*model, ko.output, subset, train);
  int64_t width = 0, actBytes = 0;
  std::set<const void*> seenInputs;  // q, k, v (and LoRA A) share one layer input
  Batch b = makeBatch(*model, train, 0, 1, model->device());
  std::string widths;
  GhostConsumer ad = [&](size_t, const at::Tensor& a, const at::Tensor& d) {
    if (seenInputs.insert(a.data_ptr()).second) actBytes += a.numel() * a.element_size();
    actBytes += d.numel() * d.element_size();
  };
  gb.compute(
      b, Progress{},
      [&](size_t, const at::Tensor& blk) {
        width += blk.size(1);
        widths += std::to_string(blk.size(1)) + " ";
      },
      ad);
  if (std::getenv("LMK_DEBUG_WIDTH")) {
    std::fprintf(stderr, "blocks: %s\nparams:", widths.c_str());
    for (size_t i = 0; i < model->params.size(); i++)
      if (gb.wanted()[i]) std::fprintf(stderr, " %s=%lld", model->params[i].name.c_str(), (long long)model->params[i].numel);
    std::fprintf(stderr, "\n");
  }
  std::vector<Example> test(train.begin(), train.begin() + 4);
  KernelMemoryEstimate est = estimateKernelMemory(*model, gb.wanted(), train, test, ko, gb.numOutputs());
  LMK_CHECK(est.width == width, "%s tied=%d %s subset %d: estimated width %lld, blocks emit %lld", arch, tied, mode,
            static_cast<int>(subset), (long long)est.width, (long long)width);
  const int64_t estAct = activationBytes(est, {train[0]}, 1);
  LMK_CHECK(estAct == actBytes, "%s tied=%d %s subset %d: estimated (a, delta) bytes %lld, the sites hold %lld", arch, tied, mode,
            static_cast<int>(subset), (long long)estAct, (long long)actBytes);
  LMK_CHECK(est.rows == static_cast<int64_t>(train.size()) * gb.numOutputs(), "rows");
  LMK_CHECK(est.signStore == est.store && est.store == est.rows * est.width * 4, "store bytes");
  LMK_CHECK(est.trainActivations == activationBytes(est, train, ko.batchSize) &&
                (est.groupActivations > 0) == (est.activationsPerToken + est.activationsPerExample > 0),
            "activation totals");
}

// A refusal under an artificially low limit, before any allocation; automatic tiling under a limit that
// holds 3 of the 8 training examples; no check with LMKERNEL_MEMORY_CHECK=0.
void CheckLimits(const json::Value& A, const test::FixtureFiles& files) {
  // a refusal under an artificially low limit, before any allocation; the limit lifted, it runs
  LoadOptions lo;
  auto model = loadModel(files.config, files.weights, lo);
  auto train = Examples(*A.find("inputs")->find("prompt")->find("train"));
  KernelOptions ko;
  ko.output.labelWordIds = files.labelIds;
  ::setenv("LMKERNEL_MEMORY_LIMIT_BYTES", "100000", 1);
  std::string msg;
  try {
    computeKernels(*model, train, {}, ko, Progress{});
  } catch (const std::runtime_error& e) {
    msg = e.what();
  }
  LMK_CHECK(Has(msg, "not enough memory: the eNTK needs about") && Has(msg, "97.7 KiB is available (LMKERNEL_MEMORY_LIMIT_BYTES)") &&
                Has(msg, "fewer training examples") && Has(msg, "--subset"),
            "memory refusal: %s", msg.c_str());
  // a limit that holds the stores of 3 of the 8 training examples: tiled automatically, same kernels
  {
    ::unsetenv("LMKERNEL_MEMORY_LIMIT_BYTES");
    KernelResult whole = computeKernels(*model, train, {}, ko, Progress{});
    GradientBlocks gb(*model, ko.output, ko.subset, train);
    KernelMemoryEstimate e = estimateKernelMemory(*model, gb.wanted(), train, {}, ko, gb.numOutputs());
    const double perExample = static_cast<double>(e.store + e.signStore + e.trainActivations) / static_cast<double>(train.size());
    // the kernels, one group, the workspaces and transients, and 3.5 examples' stores
    const double limit = (static_cast<double>(e.kernels + e.groupActivations + e.overhead()) + 3.5 * perExample) / 0.9;
    ::setenv("LMKERNEL_MEMORY_LIMIT_BYTES", std::to_string(static_cast<int64_t>(limit)).c_str(), 1);
    KernelResult tiled = computeKernels(*model, train, {}, ko, Progress{});
    LMK_CHECK(tiled.tileSize == 3 && tiled.numTiles == (static_cast<int64_t>(train.size()) + 2) / 3, "automatic tiling: tile %lld x %lld",
              (long long)tiled.tileSize, (long long)tiled.numTiles);
    at::Tensor a = tiled.kernels.at("sgd/train_train"), w = whole.kernels.at("sgd/train_train");
    LMK_CHECK(((a - w).abs().max() / w.abs().max()).item<double>() < 1e-5, "automatic tiling changed the kernel");
    ko.trainTile = 5;  // asked for, and too large for the limit: refused, naming the tile that fits
    std::string m5;
    try {
      computeKernels(*model, train, {}, ko, Progress{});
    } catch (const std::runtime_error& ex) {
      m5 = ex.what();
    }
    LMK_CHECK(Has(m5, "A tile of at most 3 training examples fits (--train-tile 3)"), "asked tile refusal: %s", m5.c_str());
    ko.trainTile = 0;
  }
  ::setenv("LMKERNEL_MEMORY_CHECK", "0", 1);
  KernelResult r = computeKernels(*model, train, {}, ko, Progress{});
  LMK_CHECK(r.nTrain == static_cast<int64_t>(train.size()), "LMKERNEL_MEMORY_CHECK=0 skips the check");
  ::unsetenv("LMKERNEL_MEMORY_CHECK");
  ::unsetenv("LMKERNEL_MEMORY_LIMIT_BYTES");
}

}  // namespace

int main(int argc, char** argv) {
  CheckHeaders();
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  // LMK_TEST_QUICK=1 (valgrind): one architecture, one configuration
  const bool quick = std::getenv("LMK_TEST_QUICK") != nullptr;
  for (const char* arch : {"roberta", "bert"}) {
    if (quick && std::string(arch) != "roberta") continue;
    const json::Value& A = fx.arch(arch);
    const test::FixtureFiles files = fx.files(arch);
    for (bool tied : {false, true})
      for (const char* mode : {"prompt", "standard"})
        for (bool lora : {false, true})
          for (Subset subset : {Subset::All, Subset::ExcludeEmbeddings, Subset::ExcludeHead, Subset::OnlyBiases, Subset::Lora}) {
            if (quick && (tied || lora || std::string(mode) != "prompt" || subset != Subset::All)) continue;
            if (!lora && subset == Subset::Lora) continue;
            CheckEstimate(arch, A, files, tied, mode, lora, subset);
          }
    CheckLimits(A, files);
  }
  MemorySource avail = availableMemory(at::Device("cpu"));
  LMK_CHECK(avail.bytes > 0 && avail.source == "MemAvailable in /proc/meminfo", "MemAvailable read: %lld", (long long)avail.bytes);
  return test::Finish("test_reliability");
}
