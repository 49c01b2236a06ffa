// What an eNTK computation is asked for: the output, the formulas, the parameter subset, batching,
// tiling and sharding. Below both the engine (entk.h) and its memory planning (memory.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/forward.h"
#include "core/model.h"

namespace lmk {

enum class Subset { All, ExcludeEmbeddings, ExcludeHead, OnlyBiases, Lora };
Subset parseSubset(const std::string& s);

// exact: the model's dtype throughout (sign kernels exact); fast: TF32 for the gradients and the SGD kernel
// on CUDA, sign products in int8 with int32 accumulation (or fp8 with fp32 output), still exact (plan.h).
enum class Precision { Exact, Fast };
Precision parsePrecision(const std::string& s);
// The execution plan: the device's own (auto), or the CPU's or the GPU's on any device (plan.h).
enum class PlanKind { Auto, Cpu, Gpu };
PlanKind parsePlan(const std::string& s);

// Which parameters a subset differentiates (the reference's name predicates, REFERENCE.md §5.2).
std::vector<bool> subsetMask(const Model& m, Subset s);

struct KernelOptions {
  OutputSpec output;
  // the formulas (the paper's names): SGD <g, g'>, SignGD <sign g, sign g'>, and asymmetric SignGD
  // <sign g(train), g(x)>
  bool sgd = true, signgd = false, asymmetricSigngd = false;
  // with asymmetric SignGD, also its flipped train x test kernel <g(train), sign g(x)>: read only by the
  // asymmetric LS-SVM's predictor with lambda != 1 (paper A.3 uses lambda = 1), so computed only when asked
  bool asymmetricFlipped = false;
  Subset subset = Subset::All;
  int64_t batchSize = 8;
  // Training examples whose (a, δ) and small gradient blocks are stored at once (0 = all, or as many as
  // fit in memory). With several tiles each tile is stored in turn and the training and test sets are
  // streamed against it: exact, no approximation.
  int64_t trainTile = 0;
  // SGD kernel of linear layers by the "ghost" contraction Σ_{t,t'} (δ_t·δ'_t')(a_t·a'_t'), which never
  // forms per-example weight gradients (cheaper when sequences are short relative to the width). -1 auto:
  // used when only the SGD kernel is asked for and it is the cheaper (sgdByGhost, memory.h); 0 off: the
  // joint pass for the SGD kernel too; 1 on (an error with sign kernels).
  int ghost = -1;
  // Streamed examples whose (a, δ) are gathered for one joint pass over the linear layers (0 = automatic:
  // up to 128, as memory allows). Each pass re-forms the tile's gradients once.
  int64_t groupSize = 0;
  // Compute only tiles t with t % shardCount == shardIndex (rows of those tiles; other rows stay 0);
  // `lmkernel merge` assembles the shards.
  int64_t shardIndex = 0, shardCount = 1;
  Precision precision = Precision::Exact;
  // auto: LMKERNEL_PLAN (cpu | gpu) when set, else the device's own plan
  PlanKind plan = PlanKind::Auto;
  // Several devices: the tiles are scheduled over them in one process (entk_devices.cc), each device
  // holding a replica of the model; empty or one: the model's device.
  std::vector<at::Device> devices;
  // CPU workers of the joint pass (0: the hardware's concurrency)
  int workers = 0;

  bool signs() const { return signgd || asymmetricSigngd; }
};

// The tiles a shard computes (round-robin over tiles).
std::vector<int64_t> shardTiles(int64_t numTiles, int64_t shardIndex, int64_t shardCount);

}  // namespace lmk
