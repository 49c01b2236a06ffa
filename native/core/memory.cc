#include "core/memory.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lmk {

namespace {

bool parseBytes(const char* s, int64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0)) return false;
  out = static_cast<int64_t>(v);
  return true;
}

int64_t memAvailableBytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  return -1;
}

int64_t cudaFreeBytes(int index) {
  // The CUDA runtime is loaded by a CUDA libtorch; look it up at run time so that CPU-only builds
  // (Debian's libtorch) need no CUDA headers.
  using GetInfo = int (*)(size_t*, size_t*);
  using SetDevice = int (*)(int);
  auto getInfo = reinterpret_cast<GetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  auto setDevice = reinterpret_cast<SetDevice>(dlsym(RTLD_DEFAULT, "cudaSetDevice"));
  if (!getInfo) return -1;
  if (setDevice && index >= 0) setDevice(index);
  size_t freeB = 0, totalB = 0;
  if (getInfo(&freeB, &totalB) != 0) return -1;
  return static_cast<int64_t>(freeB);
}

}  // namespace

MemorySource availableMemory(const at::Device& dev) {
  MemorySource r;
  int64_t v = 0;
  if (parseBytes(std::getenv("LMKERNEL_MEMORY_LIMIT_BYTES"), v)) {
    r.bytes = v;
    r.source = "LMKERNEL_MEMORY_LIMIT_BYTES";
  } else if (dev.is_cuda()) {
    r.bytes = cudaFreeBytes(dev.has_index() ? dev.index() : -1);
    r.source = "free CUDA memory";
  } else {
    r.bytes = memAvailableBytes();
    r.source = "MemAvailable in /proc/meminfo";
  }
  return r;
}

std::string formatBytes(double b) {
  char buf[64];
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f bytes", b);
  return buf;
}

KernelMemoryEstimate estimateKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                                          int64_t nTest, const KernelOptions& opts, int64_t numOutputs) {
  KernelMemoryEstimate e;
  const bool prompt = opts.output.mode == OutputMode::Prompt;
  const int64_t H = m.cfg.hidden;
  // the stored widths of the blocks, as GradientBlocks::compute emits them
  std::set<int64_t> uni;
  for (const auto& x : train) uni.insert(x.ids.begin(), x.ids.end());
  if (m.tied && prompt) uni.insert(opts.output.labelWordIds.begin(), opts.output.labelWordIds.end());
  const int64_t Cu = static_cast<int64_t>(std::set<int64_t>(opts.output.labelWordIds.begin(), opts.output.labelWordIds.end()).size());
  // parameters with no block: the key biases (softmax ignores them: their gradient is exactly 0, the
  // engine records none) and, in the standard setting, the MLM head (not on the path to the output)
  std::set<int> none;
  for (const auto& l : m.layers) none.insert(l.k.pb);
  if (!prompt) none.insert({m.headDense.pw, m.headDense.pb, m.headLn.pw, m.headLn.pb});
  for (size_t i = 0; i < m.params.size() && i < wanted.size(); i++) {
    if (!wanted[i]) continue;
    const int idx = static_cast<int>(i);
    if (none.count(idx)) continue;
    if (idx == m.pWord) e.width += static_cast<int64_t>(uni.size()) * H;
    else if (idx == m.pDecoderW) e.width += prompt && !m.tied ? Cu * H : 0;
    else if (idx == m.pDecoderBias) e.width += prompt ? Cu : 0;
    else if (idx == m.pClsW || idx == m.pClsB) e.width += prompt ? 0 : m.params[i].numel;
    else e.width += m.params[i].numel;  // positions and types: whole tables; layers: every entry
  }
  e.rows = static_cast<int64_t>(train.size()) * numOutputs;
  e.elementSize = static_cast<int64_t>(c10::elementSize(m.dtype));
  e.store = e.rows * e.width * e.elementSize;
  e.signStore = (opts.signgd || opts.asym) ? e.store : 0;
  const int64_t rte = nTest * numOutputs;
  const int64_t nTT = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asym ? 1 : 0);
  const int64_t nTe = (opts.sgd ? 1 : 0) + (opts.signgd ? 1 : 0) + (opts.asym ? 2 : 0);
  e.kernels = 8 * (e.rows * e.rows * (nTT + 1) + e.rows * rte * nTe);
  return e;
}

int64_t chooseTrainTile(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, int64_t nTest,
                        const KernelOptions& opts, int64_t numOutputs) {
  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t asked = opts.trainTile > 0 ? std::min(opts.trainTile, n) : 0;
  const char* off = std::getenv("LMKERNEL_MEMORY_CHECK");
  if (off && std::strcmp(off, "0") == 0) return asked;
  const MemorySource avail = availableMemory(m.device());
  if (avail.bytes < 0) return asked;  // unknown: no check
  const KernelMemoryEstimate e = estimateKernelMemory(m, wanted, train, nTest, opts, numOutputs);
  const double budget = 0.9 * static_cast<double>(avail.bytes) - static_cast<double>(e.kernels);
  const double perExample = e.rows > 0 ? static_cast<double>(e.store + e.signStore) / static_cast<double>(n) : 0;
  const int64_t tile = asked > 0 ? asked : n;
  if (static_cast<double>(tile) * perExample <= budget) return asked;
  // the stores of all training examples do not fit: tile the training set (exact; each tile streams the
  // sets again) unless a tile was asked for, or even one example does not fit
  const int64_t fit = perExample > 0 && budget > 0 ? static_cast<int64_t>(budget / perExample) : 0;
  if (asked == 0 && fit >= 1) return std::min(n, fit);
  std::ostringstream msg;
  msg << "not enough memory: the eNTK needs about " << formatBytes(static_cast<double>(tile) * perExample + static_cast<double>(e.kernels))
      << " on " << m.device().str() << " (train gradient store " << tile * numOutputs << " rows (" << tile << " training examples x "
      << numOutputs << " outputs) x " << e.width << " gradient entries x " << e.elementSize << " bytes = "
      << formatBytes(static_cast<double>(e.store) * static_cast<double>(tile) / static_cast<double>(n));
  if (e.signStore) msg << ", the same again for the sign store of signgd/asymmetric_signgd";
  msg << ", kernels " << formatBytes(static_cast<double>(e.kernels)) << "), but only " << formatBytes(static_cast<double>(avail.bytes))
      << " is available (" << avail.source << ")";
  if (asked > 0 && fit >= 1) msg << ". A tile of at most " << fit << " training examples fits (--train-tile " << fit << ")";
  msg << ". Use fewer training examples, a smaller parameter subset (--subset exclude_embeddings or only_biases), float32 instead "
      << "of float64, or a smaller --train-tile; a smaller --batch-size only reduces the per-batch activations. "
      << "LMKERNEL_MEMORY_CHECK=0 skips this check.";
  throw std::runtime_error(msg.str());
}

void checkKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, int64_t nTest,
                       const KernelOptions& opts, int64_t numOutputs) {
  KernelOptions o = opts;
  if (o.trainTile <= 0) o.trainTile = static_cast<int64_t>(train.size());  // no automatic tiling: all must fit
  chooseTrainTile(m, wanted, train, nTest, o, numOutputs);
}

}  // namespace lmk
