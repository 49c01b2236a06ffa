// The paper's two tests of kernel behaviour (REFERENCE.md §8.3; not in the reference repository):
// - Linearization: f_lin(x) = f(θ0)(x) + ∇f(θ0)(x)·(θ1 − θ0), one forward-mode (JVP) pass per batch with
//   the tangents θ1 − θ0 on the trained parameters;
// - Fixed Features: the relative distance ‖K(θ1) − K(θ0)‖_F / ‖K(θ0)‖_F of an eNTK (SGD, SignGD or
//   asymmetric SignGD: the optimizer's kernel analog, the paper's Table 7).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/forward.h"
#include "core/model.h"
#include "core/progress.h"

namespace lmk {

struct LinearizedOutputs {
  at::Tensor f0;   // f(θ0)(x), float64 [N, Cout]
  at::Tensor jvp;  // ∇f(θ0)(x)·(θ1 − θ0), float64 [N, Cout]
  at::Tensor lin;  // f0 + jvp
};

// m0 and m1 must have the same architecture and parameter list; `mask` selects the parameters whose
// difference enters the tangent (the others are taken as equal).
LinearizedOutputs linearizedOutputs(const Model& m0, const Model& m1, const std::vector<bool>& mask, const std::vector<Example>& xs,
                                    const OutputSpec& out, int64_t batchSize, const Progress& progress);

struct KernelDistance {
  double trainTrain = 0;
  double trainTest = 0;  // NaN when there is no test set
};

// Kernels of one formula ("sgd", "signgd", "asymmetric_signgd") over all parameters at θ0 and θ1
// (computeKernels on both models).
KernelDistance kernelDistance(const Model& m0, const Model& m1, const std::vector<Example>& train, const std::vector<Example>& test,
                              const OutputSpec& out, int64_t batchSize, const Progress& progress, const std::string& formula = "sgd");

}  // namespace lmk
