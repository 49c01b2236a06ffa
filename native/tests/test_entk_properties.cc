// Properties of the eNTK that need no fixture values: the SGD kernel is the inner product of the output
// gradients, checked by central finite differences of the outputs along a full autograd gradient
// (K(x_i, x_j) ≈ [f_j(θ + ε g_i) − f_j(θ − ε g_i)] / 2ε with g_i = ∇θ f(x_i)); a random config-only
// model; fp32 against fp64.
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>

#include "core/entk.h"
#include "core/model.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;

static at::Tensor Outputs(const Model& m, const std::vector<Example>& xs, const std::vector<int64_t>& labels) {
  OutputSpec out;
  out.labelWordIds = labels;
  return outputs(m, xs, out, 8);
}

// K(x_i, x_j) against central finite differences of the test outputs along g = ∇θ f_c(x_i) (autograd over
// every parameter tensor: a tied decoder's two uses of the word embeddings are summed by autograd).
static void CheckFiniteDifferences(Model& model, const std::vector<Example>& train, const std::vector<Example>& test,
                                   const std::vector<int64_t>& labels, const char* what) {
  KernelOptions ko;
  ko.output.labelWordIds = labels;
  KernelResult r = computeKernels(model, train, test, ko, Progress{});
  at::Tensor K = r.kernels.at("sgd/train_test");  // [3, 2, 2, 2]

  auto params = parameterTensors(model);
  const double eps = 1e-6;
  double worst = 0;
  for (size_t i = 0; i < train.size(); i++) {
    for (int64_t c = 0; c < 2; c++) {
      // g = ∇θ f_c(x_i) by autograd on the parameters
      for (auto& p : params) p.requires_grad_(true);
      std::vector<Example> one{train[i]};
      Batch b = makeBatch(model, one, 0, 1, model.device());
      at::Tensor lab = at::tensor(labels, at::kLong);
      at::Tensor f = logitsFromFeatures(model, featuresForward(model, encoderForward(model, b, nullptr), b, OutputMode::Prompt, nullptr),
                                        OutputMode::Prompt, lab);
      auto g = torch::autograd::grad({f.select(1, c).sum()}, params, {}, false, false, true);
      for (auto& p : params) p.requires_grad_(false);
      c10::NoGradGuard ng;
      auto shift = [&](double s) {
        for (size_t k = 0; k < params.size(); k++)
          if (g[k].defined()) params[k].add_(g[k], s);
      };
      shift(eps);
      at::Tensor fp = Outputs(model, test, labels);
      shift(-2 * eps);
      at::Tensor fm = Outputs(model, test, labels);
      shift(eps);
      at::Tensor fd = (fp - fm) / (2 * eps);                                // [2 test, 2 logits]
      at::Tensor want = K.select(0, static_cast<int64_t>(i)).select(0, c);  // [2, 2]
      double err = MaxRelErr(fd, want);
      worst = std::max(worst, err);
      LMK_CHECK(err < 1e-6, "%s: finite differences vs SGD kernel, train %zu logit %lld: rel err %.3g", what, i, (long long)c, err);
    }
  }
  std::printf("%s: finite differences vs SGD kernel: max rel err %.2e\n", what, worst);
}

int main(int argc, char** argv) {
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  const json::Value& A = fx.arch("roberta");
  const test::FixtureFiles files = fx.files("roberta");
  auto model = loadModel(files.config, files.weights, LoadOptions{at::kDouble, false});
  const std::vector<int64_t>& labels = files.labelIds;
  const json::Value& inputs = *A.find("inputs")->find("prompt");
  auto train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  train.resize(3);
  test.resize(2);

  CheckFiniteDifferences(*model, train, test, labels, "untied");
  // the tied decoder: the word embeddings are also the output rows, and the label words occur in the inputs
  // (a label word's row then holds both gradients: the input's and the decoder's)
  auto tied = loadModel(files.config, files.weights, LoadOptions{at::kDouble, true});
  auto trainT = train, testT = test;
  for (auto* xs : {&trainT, &testT})
    for (auto& x : *xs)
      for (size_t t = 1; t + 1 < x.ids.size(); t++)
        if (static_cast<int64_t>(t) != x.maskPos) {
          x.ids[t] = labels[t % 2];
          break;
        }
  CheckFiniteDifferences(*tied, trainT, testT, labels, "tied, label words in the inputs");

  KernelOptions ko;
  ko.output.labelWordIds = labels;
  // float32 engine against float64 on the same checkpoint
  auto m32 = loadModel(files.config, files.weights, LoadOptions{at::kFloat, false});
  ko.sgd = ko.signgd = true;
  KernelResult r64 = computeKernels(*model, train, test, ko, Progress{});
  KernelResult r32 = computeKernels(*m32, train, test, ko, Progress{});
  double e = MaxRelErr(r32.kernels.at("sgd/train_test"), r64.kernels.at("sgd/train_test"));
  LMK_CHECK(e < 1e-4, "fp32 vs fp64 SGD kernel rel err %.3g", e);

  // a random config-only model (benchmarks use these): symmetric train x train, f0 = outputs()
  ModelConfig cfg = ModelConfig::fromFile(files.config);
  auto rnd = randomModel(cfg, LoadOptions{at::kDouble, false}, 7, 2);
  KernelResult rr = computeKernels(*rnd, train, test, ko, Progress{});
  at::Tensor tt = rr.kernels.at("sgd/train_train").reshape({6, 6});
  LMK_CHECK(MaxRelErr(tt, tt.t()) < 1e-12, "random model: train x train not symmetric");
  LMK_CHECK(MaxRelErr(rr.f0Test, Outputs(*rnd, test, labels)) < 1e-12, "random model: f0 differs from outputs()");
  return test::Finish("test_entk_properties");
}
