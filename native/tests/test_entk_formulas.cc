// Every formula alone and in every combination (the 7 non-empty subsets of sgd, signgd,
// asymmetric_signgd, the last with and without its flipped kernel) on every fixture case of
// fixtures-a.json, in float64, against the fixture values: the SignGD kernel exactly, the others to
// 1e-13. Each subset takes its own branch of the joint pass (signs only, signs in place; values only;
// signs and values; the tile's signs only); the cases with exact zeros in their per-example gradients
// (LoRA: B = 0, so every gradient of A is exactly 0; subsets; tied decoder; BERT) are those where
// sign(0) = 0 matters.
#include <cstdio>
#include <string>

#include "core/entk.h"
#include "core/model.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

constexpr double kValueTol = 1e-13;  // measured: at most 1.6e-15 (sgd, asymmetric_signgd)

double worst = 0;

void CheckCase(const std::string& arch, const json::Value& A, const test::FixtureFiles& files, const json::Value& cs) {
  const std::string mode = cs.find("model_mode")->str, subset = cs.find("subset")->str;
  const bool binary = cs.find("binary")->b, tied = cs.find("tied_word_embeddings") && cs.find("tied_word_embeddings")->b;
  const std::string name = arch + "/" + mode + "/" + subset + (binary ? "/binary" : "") + (tied ? "/tied" : "");
  auto model = test::CaseModel(files, cs);
  const json::Value& inputs = *A.find("inputs")->find(mode);
  const std::vector<Example> train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  const char* formulas[] = {"sgd", "signgd", "asymmetric_signgd"};
  // bit 8: the asymmetric kernel's flip (only with bit 4)
  for (int mask = 1; mask < 16; mask++) {
    if ((mask & 8) && !(mask & 4)) continue;
    KernelOptions ko;
    ko.output.mode = mode == "prompt" ? OutputMode::Prompt : OutputMode::Standard;
    ko.output.binary = binary;
    if (mode == "prompt") ko.output.labelWordIds = files.labelIds;
    ko.sgd = mask & 1;
    ko.signgd = mask & 2;
    ko.asymmetricSigngd = mask & 4;
    ko.asymmetricFlipped = mask & 8;
    ko.subset = parseSubset(subset);
    ko.batchSize = 3;
    std::string combo;
    for (int f = 0; f < 3; f++)
      if (mask & (1 << f)) combo += (combo.empty() ? "" : "+") + std::string(formulas[f]);
    if (mask & 8) combo += " (flipped)";
    KernelResult r = computeKernels(*model, train, test, ko, Progress{});
    size_t expected = 0;
    for (int f = 0; f < 3; f++) {
      if (!(mask & (1 << f))) continue;
      const json::Value& fk = *cs.find("kernels")->find(formulas[f]);
      for (auto& kk : fk.obj) {
        if (kk.first == "train_test_flipped" && !(mask & 8)) continue;  // computed only when asked
        const std::string key = std::string(formulas[f]) + "/" + kk.first;
        expected++;
        if (!r.kernels.count(key)) {
          LMK_CHECK(false, "%s [%s]: no %s", name.c_str(), combo.c_str(), key.c_str());
          continue;
        }
        const double err = MaxRelErr(r.kernels.at(key), ToTensor(kk.second));
        const double tol = f == 1 ? 0.0 : kValueTol;  // sums of ±1/0 products: exact
        LMK_CHECK(err <= tol, "%s [%s] %s rel err %.3g > %.3g", name.c_str(), combo.c_str(), key.c_str(), err, tol);
        if (f != 1) worst = std::max(worst, err);
      }
    }
    LMK_CHECK(r.kernels.size() == expected, "%s [%s]: %zu kernels, want %zu", name.c_str(), combo.c_str(), r.kernels.size(), expected);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  for (const char* arch : {"roberta", "bert"}) {
    const json::Value& A = fx.arch(arch);
    const test::FixtureFiles files = fx.files(arch);
    for (auto& cs : A.find("cases")->arr) CheckCase(arch, A, files, cs);
  }
  std::printf("largest rel err of the sgd / asymmetric_signgd kernels: %.2e (tolerance %.0e)\n", worst, kValueTol);
  return test::Finish("test_entk_formulas");
}
