#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <stdexcept>
#include <thread>

namespace lmk {

int configureThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

at::Device parseDevice(const std::string& s) {
  if (s.empty() || s == "cpu") return at::Device(at::kCPU);
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    if (!at::hasCUDA())
      throw std::runtime_error("device '" + s + "' was requested, but " +
                               std::string(at::hasCUDA() ? "" : "this libtorch build has no CUDA support or no GPU is visible") +
                               " (build against a CUDA libtorch: LIBTORCH_DIR or LMKERNEL_TORCH_FROM_PYTHON=1; see README)");
    return at::Device(s);
  }
  throw std::runtime_error("device '" + s + "' is not one of cpu, cuda, cuda:N");
}

std::string describeRuntime() { return "threads=" + std::to_string(at::get_num_threads()) + " cuda=" + (at::hasCUDA() ? "yes" : "no"); }

}  // namespace lmk
