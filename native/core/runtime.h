// Process-level runtime settings: threads and devices.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace lmk {

// Sets libtorch's intra-op threads (0 = the machine's cores). Returns the number in use.
int configureThreads(int n);
// "cpu", "cuda", "cuda:1": a clear error when CUDA is asked for and this build or machine has none.
at::Device parseDevice(const std::string& s);
std::string describeRuntime();

}  // namespace lmk
