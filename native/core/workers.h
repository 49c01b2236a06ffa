// CPU worker threads for the joint pass of the eNTK engine. Its BLAS calls are small (one per example and
// chunk), too small to be worth BLAS's own threads: each multi-threaded call pays a thread wake-up
// (measured ~100 µs on a 2-vCPU VM, more than the call itself). So the chunks are spread over our own
// workers instead (the hardware's threads unless told: ExecutionPlan::workers in plan.h), each calling a
// single-threaded BLAS.
#pragma once
#include <cstdint>
#include <functional>

namespace lmk {

// While alive, BLAS runs single-threaded (OpenBLAS; nothing otherwise). Nested and concurrent scopes
// share one count: the first saves and sets, the last restores.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

// Runs fn(worker, i) for i in [0, n): item i on worker i % workers (static, so results do not depend on
// timing), workers − 1 extra threads plus the caller. The first exception is rethrown after all finish.
void forEachOnWorkers(int64_t n, int workers, const std::function<void(int worker, int64_t index)>& fn);

}  // namespace lmk
