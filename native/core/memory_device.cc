// The memory side of memory.h that reads the machine: available memory (MemAvailable, CUDA's free memory
// and the caching allocator's reserved-but-free bytes), the process-wide budget of running computations,
// and peak memory.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include "core/memory.h"

#ifdef LMKERNEL_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

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
  int64_t cached = 0;  // held by libtorch's caching allocator but free for its next allocations
#ifdef LMKERNEL_WITH_CUDA
  if (index >= 0) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
    cached = std::max<int64_t>(0, stats.reserved_bytes[0].current - stats.allocated_bytes[0].current);  // [0]: all pools
  }
#endif
  return static_cast<int64_t>(freeB) + cached;
}

int64_t StatusKiB(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string k;
  while (f >> k) {
    int64_t v = 0;
    if (k == key && f >> v) return v;
    std::getline(f, k);
  }
  return -1;
}

std::mutex gBudgetMutex;
std::map<std::string, int64_t>& Reserved() {
  static std::map<std::string, int64_t> r;
  return r;
}

}  // namespace

MemorySource availableMemory(const at::Device& dev) {
  MemorySource r;
  int64_t v = 0;
  if (parseBytes(std::getenv("LMKERNEL_MEMORY_LIMIT_BYTES"), v)) {
    r.bytes = v;
    r.source = "LMKERNEL_MEMORY_LIMIT_BYTES";
  } else if (dev.is_cuda()) {
    r.bytes = cudaFreeBytes(dev.has_index() ? dev.index() : 0);
    r.source = "free CUDA memory";
  } else {
    r.bytes = memAvailableBytes();
    r.source = "MemAvailable in /proc/meminfo";
  }
  const int64_t held = MemoryReservation::reserved(dev);
  if (r.bytes >= 0 && held > 0) {
    r.bytes = std::max<int64_t>(0, r.bytes - held);
    r.source += ", less " + formatBytes(static_cast<double>(held)) + " reserved by running computations";
  }
  return r;
}

namespace {
std::string DeviceKey(const at::Device& dev) { return dev.is_cuda() && !dev.has_index() ? "cuda:0" : dev.str(); }
}  // namespace

MemoryReservation::MemoryReservation(const at::Device& dev, int64_t bytes) : key_(DeviceKey(dev)), bytes_(std::max<int64_t>(0, bytes)) {
  std::lock_guard<std::mutex> lock(gBudgetMutex);
  Reserved()[key_] += bytes_;
}

MemoryReservation::MemoryReservation(MemoryReservation&& o) noexcept : key_(std::move(o.key_)), bytes_(o.bytes_) { o.bytes_ = 0; }

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& o) noexcept {
  if (this != &o) {
    release();
    key_ = std::move(o.key_);
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

MemoryReservation::~MemoryReservation() { release(); }

void MemoryReservation::release() {
  if (bytes_ == 0) return;
  std::lock_guard<std::mutex> lock(gBudgetMutex);
  Reserved()[key_] -= bytes_;
  bytes_ = 0;
}

int64_t MemoryReservation::reserved(const at::Device& dev) {
  std::lock_guard<std::mutex> lock(gBudgetMutex);
  auto it = Reserved().find(DeviceKey(dev));
  return it == Reserved().end() ? 0 : it->second;
}

int64_t peakMemoryBytes(const at::Device& dev) {
  if (dev.is_cuda()) {
#ifdef LMKERNEL_WITH_CUDA
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(dev.has_index() ? dev.index() : 0));
    return stats.allocated_bytes[0].peak;
#else
    return -1;
#endif
  }
  const int64_t kib = StatusKiB("VmHWM:");
  return kib < 0 ? -1 : kib * 1024;
}

void resetPeakMemory(const at::Device& dev) {
  if (dev.is_cuda()) {
#ifdef LMKERNEL_WITH_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(dev.has_index() ? dev.index() : 0));
#endif
    return;
  }
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current resident set (Linux >= 4.0)
}

}  // namespace lmk
