// Memory estimates before large allocations. The eNTK engine keeps, for the train side, the layer
// inputs and output gradients (a, δ) of every linear weight site (the per-example weight gradients are
// formed from them in cache-sized chunks, never stored) and the per-example gradients of the other,
// small blocks (embedding rows, LayerNorms, biases, label rows: [N_train·C, Σ P_k], twice with the sign
// store of the sign kernels); the streamed side keeps (a, δ) for one group of examples at a time; and the
// float64 kernels. When that exceeds what the machine can give, it fails up front with the sizes and
// what to change, instead of being killed by the OOM killer half-way through.
//
// Available memory: the environment variable LMKERNEL_MEMORY_LIMIT_BYTES when set (tests, or a cap
// below the machine's), else MemAvailable from /proc/meminfo (CPU) or the device's free memory (CUDA:
// cudaMemGetInfo when the CUDA runtime is loaded, plus what libtorch's caching allocator holds reserved
// but unused), less what the computations running in this process have reserved on that device (one
// process-wide budget: concurrent jobs do not each count on all of it). LMKERNEL_MEMORY_CHECK=0 disables it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/forward.h"
#include "core/kernel_options.h"
#include "core/model.h"
#include "core/plan.h"

namespace lmk {

struct MemorySource {
  int64_t bytes = -1;  // -1 when unknown (no check is made)
  std::string source;  // "LMKERNEL_MEMORY_LIMIT_BYTES", "MemAvailable", "cuda free memory"
};

// The memory a new allocation on `dev` can use now (less the reservations of running computations).
MemorySource availableMemory(const at::Device& dev);

// A computation's share of the process-wide budget of one device, held while it runs (movable).
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(const at::Device& dev, int64_t bytes);
  MemoryReservation(MemoryReservation&& o) noexcept;
  MemoryReservation& operator=(MemoryReservation&& o) noexcept;
  ~MemoryReservation();
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  // Bytes reserved on `dev` by all live reservations.
  static int64_t reserved(const at::Device& dev);

 private:
  void release();
  std::string key_;
  int64_t bytes_ = 0;
};

// The peak memory in use on `dev` since the last reset: CUDA, the caching allocator's peak of allocated
// bytes (-1 when this build cannot read it); CPU, the process's peak resident set (VmHWM).
int64_t peakMemoryBytes(const at::Device& dev);
void resetPeakMemory(const at::Device& dev);

// "1.50 GiB", "320.0 MiB", "512 bytes"
std::string formatBytes(double bytes);

struct KernelMemoryEstimate {
  int64_t rows = 0;   // N_train · C
  int64_t width = 0;  // Σ P_k of the explicitly stored blocks (all but linear weights): entries per row
  int64_t elementSize = 4;
  int64_t store = 0;      // rows × width × elementSize
  int64_t signStore = 0;  // the same again for signgd / asymmetric_signgd
  int64_t kernels = 0;    // float64 train × train and train × test kernels (+ one product temporary)
  // (a, δ) of the linear weight sites: bytes per (padded) token, plus per example for the MLM head's
  // sites (prompt mode: at the mask only)
  int64_t activationsPerToken = 0, activationsPerExample = 0;
  int64_t maxDin = 0, maxDout = 0;  // the widest linear site's input and output
  int64_t trainActivations = 0;     // all training examples, padded per batch as computeKernels batches them
  int64_t groupActivations = 0;     // one group of streamed examples (groupExamples of the longest lengths)
  int64_t groupExamples = 0;
  // transients the stores do not count, whatever the tile: per worker, the joint pass's chunk workspaces
  // (a chunk of at least minChunkRows output rows: R·16·d_in elements with R rows) and its float64
  // product; with several workers, each one's float64 copies of the targets; one batch's forward graph
  int64_t jointWorkspace = 0, workerTargets = 0, batchTransients = 0;
  int64_t overhead() const { return jointWorkspace + workerTargets + batchTransients; }
  // everything for a tile of `tile` of the `n` training examples
  int64_t total(int64_t tile, int64_t n) const;
};

// Whether computeKernels takes the ghost contraction for the linear layers: opts.ghost = 1, or automatic
// (-1) when only the SGD kernel is asked for and the ghost contraction costs fewer multiply-adds than the
// joint pass: ghost ≈ Σ_sites (din + C²·dout) · T_train · (T_train + T_test) with T the real tokens (by
// segments, from the plan's ghostSegmentsFrom outputs on: din + C·dout + C²·dout / L̄, L̄ the mean tokens per
// example), joint ≈ Σ_sites din·dout · (C·(T_train + T_test) + C²·N_train·(N_train + N_test)). Short
// sequences, few outputs and wide layers favour the ghost; long sequences and many labels on a small model
// the joint pass. The memory estimate follows the same choice (docs/benchmarks.md compares it with timings).
// `plan`: the execution plan (nullptr: the one resolvePlan gives for the model's device).
bool sgdByGhost(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train, const std::vector<Example>& test,
                const KernelOptions& opts, int64_t numOutputs, const ExecutionPlan* plan = nullptr);

// Bytes of (a, δ) the linear weight sites of examples xs[begin, end) take when batched by batchSize.
int64_t activationBytes(const KernelMemoryEstimate& e, const std::vector<Example>& xs, int64_t batchSize);

// The bytes computeKernels allocates for its stores and kernels (activations of one batch excluded).
// `plan`: the execution plan (nullptr: the one resolvePlan gives for the model's device).
KernelMemoryEstimate estimateKernelMemory(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                                          const std::vector<Example>& test, const KernelOptions& opts, int64_t numOutputs,
                                          const ExecutionPlan* plan = nullptr);

// Streamed examples per joint pass (group): opts.groupSize when set, else as many as fit next to a tile
// of `tile` training examples, at least one batch, at most the plan's group cap (128 on the CPU: enough
// that re-forming the tile's gradients per group costs little next to the products; 2048 on a GPU).
int64_t chooseGroupSize(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                        const std::vector<Example>& streamed, int64_t tile, const KernelOptions& opts, int64_t numOutputs,
                        const ExecutionPlan* plan = nullptr);

// The training tile to use: the one asked for (opts.trainTile > 0) when it fits; with none asked, 0 (all
// at once) when everything fits, else the largest tile that fits (automatic exact tiling). Throws the
// "not enough memory" error below when not even the asked tile or a single example fits.
int64_t chooseTrainTile(const Model& m, const std::vector<bool>& wanted, const std::vector<Example>& train,
                        const std::vector<Example>& test, const KernelOptions& opts, int64_t numOutputs,
                        const ExecutionPlan* plan = nullptr);

}  // namespace lmk
