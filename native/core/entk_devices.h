// Several devices in one process (KernelOptions::devices): the training tiles are scheduled over the
// devices, each holding a replica of the model and computing its tiles' rows of every kernel; the rows
// are disjoint, so the parts add up to the whole kernels, identical to one device's tiles.
#pragma once
#include <functional>
#include <vector>

#include "core/entk.h"

namespace lmk {

// One device's computation: computeKernels' engine for a model on that device and options naming its tiles.
using OneDeviceKernels = std::function<KernelResult(const Model&, const KernelOptions&, const Progress&)>;

// The tile size with several devices: the one asked for, else one tile per device (the last one shorter
// when the training set does not divide), smaller when memory needs it.
int64_t deviceTileSize(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts);

KernelResult computeKernelsOnDevices(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test,
                                     const KernelOptions& opts, const Progress& progress, const OneDeviceKernels& one);

}  // namespace lmk
