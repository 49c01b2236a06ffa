// Memory estimates before large allocations. The eNTK engine stores the train side's per-example
// gradients ([N_train·C, Σ P_k] in the model's dtype, twice with the sign store of the sign kernels)
// and float64 kernels; when that exceeds what the machine can give, it fails up front with the size
// and what to change, instead of being killed by the OOM killer half-way through.
//
// Available memory: the environment variable LMKERNEL_MEMORY_LIMIT_BYTES when set (tests, or a cap
// below the machine's), else MemAvailable from /proc/meminfo (CPU) or the device's free memory
// (CUDA, through cudaMemGetInfo when the CUDA runtime is loaded). LMKERNEL_MEMORY_CHECK=0 disables it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/entk.h"

namespace lmk {

struct MemorySource {
  int64_t bytes = -1;   // -1 when unknown (no check is made)
  std::string source;   // "LMKERNEL_MEMORY_LIMIT_BYTES", "MemAvailable", "cuda free memory"
};

// The memory a new allocation on `dev` can use now.
MemorySource availableMemory(const at::Device& dev);

// "1.50 GiB", "320.0 MiB", "512 bytes"
std::string formatBytes(double bytes);

struct KernelMemoryEstimate {
  int64_t rows = 0;        // N_train · C
  int64_t width = 0;       // Σ P_k: gradient entries stored per row
  int64_t elementSize = 4;
  int64_t store = 0;       // rows × width × elementSize
  int64_t signStore = 0;   // the same again for signgd / asymmetric_signgd
  int64_t kernels = 0;     // float64 train × train and train × test kernels (+ one product temporary)
  int64_t total() const { return store + signStore + kernels; }
};

// The bytes computeKernels allocates for its stores and kernels (activations of one batch excluded).
KernelMemoryEstimate estimateKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                                          int64_t nTest, const KernelOptions& opts, int64_t numOutputs);

// The training tile to use: the one asked for (opts.trainTile > 0) when it fits; with none asked, 0 (all
// at once) when everything fits, else the largest tile that fits (automatic exact tiling). Throws the
// "not enough memory" error below when not even the asked tile or a single example fits.
int64_t chooseTrainTile(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, int64_t nTest,
                        const KernelOptions& opts, int64_t numOutputs);

// Throws std::runtime_error("not enough memory: ...") when the estimate exceeds 90% of the available
// memory; the message names the sizes and suggests fewer training examples, a smaller --subset,
// float32, or tiling the training set.
void checkKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, int64_t nTest,
                       const KernelOptions& opts, int64_t numOutputs);

}  // namespace lmk
