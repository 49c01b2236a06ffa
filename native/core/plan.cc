#include "core/plan.h"

#include <ATen/Context.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace lmk {

namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::max<int64_t>(1, std::atoll(e)) : fallback;
}

PlanKind EnvPlan() {
  const char* e = std::getenv("LMKERNEL_PLAN");
  if (!e || !*e) return PlanKind::Auto;
  try {
    return parsePlan(e);
  } catch (const std::exception&) {
    throw std::runtime_error(std::string("LMKERNEL_PLAN='") + e + "' is not one of auto, cpu, gpu");
  }
}

SignProduct FastSignProduct() {
  const char* e = std::getenv("LMKERNEL_SIGN_PRODUCT");
  if (!e || !*e || std::strcmp(e, "int8") == 0) return SignProduct::Int8;
  if (std::strcmp(e, "fp8") == 0) return SignProduct::Fp8;
  if (std::strcmp(e, "float") == 0) return SignProduct::Float;
  if (std::strcmp(e, "planes") == 0) return SignProduct::Float;  // the CPU plan's kind: the GPU's exact product
  throw std::runtime_error(std::string("LMKERNEL_SIGN_PRODUCT='") + e + "' is not one of planes, float, int8, fp8");
}

// The CPU plan's product of signs: bit planes unless LMKERNEL_SIGN_PRODUCT=float (benchmarks).
SignProduct CpuSignProduct() {
  const char* e = std::getenv("LMKERNEL_SIGN_PRODUCT");
  if (!e || !*e || std::strcmp(e, "planes") == 0) return SignProduct::Planes;
  if (std::strcmp(e, "float") == 0) return SignProduct::Float;
  if (std::strcmp(e, "int8") == 0 || std::strcmp(e, "fp8") == 0) return SignProduct::Planes;  // the GPU plan's kinds
  throw std::runtime_error(std::string("LMKERNEL_SIGN_PRODUCT='") + e + "' is not one of planes, float, int8, fp8");
}

std::mutex gTf32Mutex;
int gTf32Depth = 0;
bool gTf32Saved = false;

}  // namespace

ExecutionPlan resolvePlan(const KernelOptions& opts, const at::Device& device, int64_t elementSize, int64_t deviceBytes) {
  ExecutionPlan p;
  PlanKind kind = opts.plan == PlanKind::Auto ? EnvPlan() : opts.plan;
  p.gpu = kind == PlanKind::Gpu || (kind == PlanKind::Auto && !device.is_cpu());
  p.minChunkRows = EnvInt("LMKERNEL_MIN_CHUNK_ROWS", 16);
  if (p.gpu) {
    // each chunk costs kernel launches, not cache: as large as 1/64 of the device's memory allows (the
    // chunk, its signs and its products live together), between 2^20 and 2^27 elements
    const int64_t fit = deviceBytes > 0 ? deviceBytes / 64 / std::max<int64_t>(1, elementSize) : int64_t(1) << 26;
    p.chunkElements = EnvInt("LMKERNEL_CHUNK_ELEMENTS", std::min<int64_t>(int64_t(1) << 27, std::max<int64_t>(int64_t(1) << 20, fit)));
    p.workers = 1;      // one stream: the device parallelises within each call
    p.groupCap = 2048;  // larger groups make larger products; chooseGroupSize bounds them by memory
    p.batchedForm = true;
  } else {
    // chunks that stay in cache while they are signed and multiplied (2^19 floats, measured on the 2-core VM)
    p.chunkElements = EnvInt("LMKERNEL_CHUNK_ELEMENTS", int64_t(1) << 19);
    const int64_t hw = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    p.workers = static_cast<int>(opts.workers > 0 ? opts.workers : EnvInt("LMKERNEL_WORKERS", hw));
    p.groupCap = 128;
  }
  const bool fast = opts.precision == Precision::Fast;
  // the CPU's products of signs are exact and fastest as bit planes (sign_planes.h), in both modes
  p.signProduct = p.gpu ? (fast ? FastSignProduct() : SignProduct::Float) : CpuSignProduct();
  p.tf32 = fast && device.is_cuda();
  p.ghostSegmentsFrom = EnvInt("LMKERNEL_GHOST_SEGMENTS_FROM", p.gpu ? std::numeric_limits<int64_t>::max() : 3);
  return p;
}

Tf32Scope::Tf32Scope(bool on) {
  if (!on) return;
  std::lock_guard<std::mutex> lock(gTf32Mutex);  // concurrent jobs share one count: the first saves, the last restores
  if (gTf32Depth++ == 0) {
    gTf32Saved = at::globalContext().allowTF32CuBLAS();
    at::globalContext().setAllowTF32CuBLAS(true);
  }
  set_ = true;
}

Tf32Scope::~Tf32Scope() {
  if (!set_) return;
  std::lock_guard<std::mutex> lock(gTf32Mutex);
  if (--gTf32Depth == 0) at::globalContext().setAllowTF32CuBLAS(gTf32Saved);
}

}  // namespace lmk
