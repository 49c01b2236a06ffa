// The execution plan of a kernel computation, resolved once from the options and the device: the CPU's
// (cache-sized chunks, per-example calls that skip padding, one worker per core) or the GPU's
// (device-sized chunks, one batched call per batch, one stream, int8/fp8 sign products in `fast`).
// LMKERNEL_PLAN=gpu (or KernelOptions::plan) runs the GPU's plan on CPU tensors, so that CI tests it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "core/kernel_options.h"
#include "core/sign_products.h"

namespace lmk {

struct ExecutionPlan {
  bool gpu = false;           // the GPU's plan
  int64_t chunkElements = 0;  // elements of one per-example gradient chunk of the joint pass
  int64_t minChunkRows = 16;  // output rows per chunk at least (LMKERNEL_MIN_CHUNK_ROWS)
  int workers = 1;            // threads of the joint pass (each with its own workspace)
  int64_t groupCap = 128;     // streamed examples per joint pass at most (memory may allow fewer)
  bool batchedForm = false;   // one batched call per batch instead of per-example calls skipping padding
  SignProduct signProduct = SignProduct::Float;
  bool tf32 = false;  // TF32 for float32 products (CUDA, fast)
  // outputs C from which the ghost contraction sums each example's tokens on one side first
  // (GhostProduct's segments: T1·T2·C·dout + T1·B2·C²·dout multiply-adds instead of T1·T2·C²·dout); the
  // CPU's plan from C = 3 (measured by bench_products --ghost), the GPU's never (one large product wins)
  int64_t ghostSegmentsFrom = 3;
};

// The plan for `opts` on `device`. `deviceBytes`: the memory a computation may use there (-1: unknown).
// Environment: LMKERNEL_PLAN (cpu | gpu, when opts.plan is auto), LMKERNEL_CHUNK_ELEMENTS,
// LMKERNEL_MIN_CHUNK_ROWS, LMKERNEL_WORKERS (when opts.workers is 0), LMKERNEL_SIGN_PRODUCT (float | int8
// | fp8: the sign product of `fast`, for benchmarks), LMKERNEL_GHOST_SEGMENTS_FROM (C; tests and benchmarks).
ExecutionPlan resolvePlan(const KernelOptions& opts, const at::Device& device, int64_t elementSize, int64_t deviceBytes);

// While alive, float32 products on CUDA may use TF32 (when `on`); restores the previous setting.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool on);
  ~Tf32Scope();
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool set_ = false, saved_ = false;
};

}  // namespace lmk
