// The GPU's logic on the CPU: sign products (int8 and fp8 emulated with the native calls' padding and
// chunking) against an integer loop; the plan's choices; the fast mode and several pseudo-devices
// against the fixtures and against one device; the process-wide memory budget.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/entk.h"
#include "core/memory.h"
#include "core/plan.h"
#include "core/sign_products.h"
#include "test_util.h"

using namespace lmk;
using lmk::test::Examples;
using lmk::test::MaxRelErr;
using lmk::test::ToTensor;

namespace {

// Random entries in {-1, 0, 1}; the product by an integer loop (the independent computation).
void CheckSignProducts() {
  std::mt19937 rng(7);
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{5, 3, 37}, {24, 17, 64}, {1, 1, 1}, {40, 9, 1000}}) {
    std::vector<float> a(M * K), b(N * K);
    for (auto& x : a) x = static_cast<float>(static_cast<int>(rng() % 3) - 1);
    for (auto& x : b) x = static_cast<float>(static_cast<int>(rng() % 3) - 1);
    at::Tensor ta = at::from_blob(a.data(), {M, K}, at::kFloat).clone(), tb = at::from_blob(b.data(), {N, K}, at::kFloat).clone();
    at::Tensor want = at::zeros({M, N}, at::kDouble);
    auto w = want.accessor<double, 2>();
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        int64_t s = 0;
        for (int64_t k = 0; k < K; k++) s += static_cast<int64_t>(a[i * K + k]) * static_cast<int64_t>(b[j * K + k]);
        w[i][j] = static_cast<double>(s);
      }
    for (SignProduct kind : {SignProduct::Float, SignProduct::Int8, SignProduct::Fp8, SignProduct::Planes}) {
      at::Tensor acc = at::full({M, N}, 0.5, at::kDouble);  // accumulates: 0.5 + the product
      addSignProduct(acc, kind == SignProduct::Int8 ? ta.to(at::kChar) : ta, tb, kind);
      LMK_CHECK(at::equal(acc - 0.5, want), "%s sign product %lldx%lldx%lld differs", signProductName(kind), (long long)M, (long long)N,
                (long long)K);
    }
  }
  // the native calls' shapes, by hand: int8 needs more than 16 rows and multiples of 8; fp8 multiples of 16
  SignProductShape s8 = paddedSignShape(SignProduct::Int8, 5, 3, 37), s16 = paddedSignShape(SignProduct::Fp8, 5, 3, 37);
  LMK_CHECK(s8.M == 24 && s8.N == 8 && s8.K == 40, "int8 shape %lld %lld %lld", (long long)s8.M, (long long)s8.N, (long long)s8.K);
  LMK_CHECK(s16.M == 16 && s16.N == 16 && s16.K == 48, "fp8 shape %lld %lld %lld", (long long)s16.M, (long long)s16.N, (long long)s16.K);
  LMK_CHECK(!signProductNative(SignProduct::Int8, at::Device("cpu")), "no native int8 product on the CPU");
}

void CheckPlans() {
  KernelOptions o;
  const at::Device cpu("cpu");
  ::unsetenv("LMKERNEL_PLAN");
  ExecutionPlan p = resolvePlan(o, cpu, 4, -1);
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  LMK_CHECK(!p.gpu && p.workers == hw && p.groupCap == 128 && !p.batchedForm && p.signProduct == SignProduct::Planes && !p.tf32,
            "the CPU's plan: workers %d (hardware %d), sign product %s", p.workers, hw, signProductName(p.signProduct));
  ::setenv("LMKERNEL_SIGN_PRODUCT", "float", 1);
  LMK_CHECK(resolvePlan(o, cpu, 4, -1).signProduct == SignProduct::Float, "LMKERNEL_SIGN_PRODUCT=float: float32 products on the CPU");
  ::setenv("LMKERNEL_SIGN_PRODUCT", "int4", 1);
  bool named = false;
  try {
    resolvePlan(o, cpu, 4, -1);
  } catch (const std::runtime_error& e) {
    named = std::string(e.what()).find("LMKERNEL_SIGN_PRODUCT='int4'") != std::string::npos;
  }
  LMK_CHECK(named, "a bad LMKERNEL_SIGN_PRODUCT is named");
  ::unsetenv("LMKERNEL_SIGN_PRODUCT");
  o.workers = 3;
  LMK_CHECK(resolvePlan(o, cpu, 4, -1).workers == 3, "workers as told");
  o.plan = PlanKind::Gpu;
  o.precision = Precision::Fast;
  p = resolvePlan(o, cpu, 4, int64_t(1) << 32);
  // 4 GiB / 64 / 4 bytes = 2^24 elements per chunk
  LMK_CHECK(p.gpu && p.workers == 1 && p.batchedForm && p.groupCap == 2048 && p.chunkElements == (int64_t(1) << 24) &&
                p.signProduct == SignProduct::Int8 && !p.tf32,
            "the GPU's plan on the CPU: chunk %lld", (long long)p.chunkElements);
  o.plan = PlanKind::Auto;
  ::setenv("LMKERNEL_PLAN", "gpu", 1);
  LMK_CHECK(resolvePlan(o, cpu, 4, -1).gpu, "LMKERNEL_PLAN=gpu");
  ::setenv("LMKERNEL_PLAN", "tpu", 1);
  bool threw = false;
  try {
    resolvePlan(o, cpu, 4, -1);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("LMKERNEL_PLAN='tpu'") != std::string::npos;
  }
  LMK_CHECK(threw, "a bad LMKERNEL_PLAN is named");
  ::unsetenv("LMKERNEL_PLAN");
}

// Reservations of running computations come off what availableMemory reports, and go back when they end.
void CheckBudget() {
  ::setenv("LMKERNEL_MEMORY_LIMIT_BYTES", "1000000", 1);
  const at::Device cpu("cpu");
  {
    MemoryReservation r(cpu, 400000);
    MemoryReservation moved = std::move(r);
    LMK_CHECK(availableMemory(cpu).bytes == 600000, "budget less a reservation: %lld", (long long)availableMemory(cpu).bytes);
  }
  LMK_CHECK(availableMemory(cpu).bytes == 1000000, "reservation given back");
  ::unsetenv("LMKERNEL_MEMORY_LIMIT_BYTES");
}

// The prompt case of RoBERTa in the fast mode on the GPU's plan, and on 3 pseudo-devices (8 training
// examples: 3 + 3 + 2), against the fixtures and against one device with the same tiles.
void CheckModesAndDevices(const test::Fixtures& fx) {
  const json::Value& A = fx.arch("roberta");
  const test::FixtureFiles files = fx.files("roberta");
  const json::Value& cs = A.find("cases")->arr[0];
  const json::Value& inputs = *A.find("inputs")->find(cs.find("model_mode")->str);
  const std::vector<Example> train = Examples(*inputs.find("train")), test = Examples(*inputs.find("test"));
  for (auto dtype : {at::kDouble, at::kFloat}) {
    auto model = test::CaseModel(files, cs, dtype);
    KernelOptions ko;
    ko.output.labelWordIds = files.labelIds;
    ko.sgd = ko.signgd = ko.asymmetricSigngd = ko.asymmetricFlipped = true;
    ko.batchSize = 3;
    ko.precision = Precision::Fast;
    ko.plan = PlanKind::Gpu;
    const KernelResult fast = computeKernels(*model, train, test, ko, Progress{});
    const double tol = dtype == at::kDouble ? 1e-13 : 1e-4;
    for (auto& fk : cs.find("kernels")->obj)
      for (auto& kk : fk.second.obj) {
        const double err = MaxRelErr(fast.kernels.at(fk.first + "/" + kk.first), ToTensor(kk.second));
        // the sign kernel's products are exact: equal to the fixture in float64 (float32: signs of float32 gradients)
        LMK_CHECK(err <= (fk.first == "signgd" && dtype == at::kDouble ? 0.0 : tol), "fast %s/%s rel err %.3g", fk.first.c_str(),
                  kk.first.c_str(), err);
      }
    ko.precision = Precision::Exact;
    ko.plan = PlanKind::Auto;
    ko.trainTile = 3;
    const KernelResult one = computeKernels(*model, train, test, ko, Progress{});
    ko.trainTile = 0;
    ko.devices = {at::Device("cpu"), at::Device("cpu"), at::Device("cpu")};
    const KernelResult three = computeKernels(*model, train, test, ko, Progress{});
    LMK_CHECK(three.tileSize == 3 && three.numTiles == 3 && three.tiles == std::vector<int64_t>({0, 1, 2}), "3 devices: tiles %lld x %lld",
              (long long)three.tileSize, (long long)three.numTiles);
    LMK_CHECK(
        MaxRelErr(three.f0Train, ToTensor(*cs.find("f0_train"))) <= tol && MaxRelErr(three.f0Test, ToTensor(*cs.find("f0_test"))) <= tol,
        "3 devices: f0");
    for (auto& kv : one.kernels) {
      // every row once: equal to one device's tiles (float64 sums in the same order), and to the fixtures
      LMK_CHECK(at::equal(three.kernels.at(kv.first), kv.second), "3 devices: %s differs from one device", kv.first.c_str());
      const auto slash = kv.first.find('/');
      const json::Value& want = *cs.find("kernels")->find(kv.first.substr(0, slash))->find(kv.first.substr(slash + 1));
      LMK_CHECK(MaxRelErr(three.kernels.at(kv.first), ToTensor(want)) <= tol, "3 devices: %s vs fixture", kv.first.c_str());
    }
    // a shard of a multi-device run: shard 1/2 with 3 devices computes the tiles 1 of 3 (shards 1, 3, 5 of 6)
    ko.shardIndex = 1, ko.shardCount = 2;
    const KernelResult half = computeKernels(*model, train, test, ko, Progress{});
    LMK_CHECK(half.tiles == std::vector<int64_t>({1}), "shard 1/2 on 3 devices: %zu tiles", half.tiles.size());
    LMK_CHECK(at::equal(half.kernels.at("signgd/train_test").narrow(0, 3, 3), one.kernels.at("signgd/train_test").narrow(0, 3, 3)) &&
                  half.kernels.at("signgd/train_test").narrow(0, 0, 3).abs().max().item<double>() == 0,
              "shard 1/2 on 3 devices: rows");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const test::Fixtures fx = test::LoadFixtures(argc, argv);
  CheckSignProducts();
  CheckPlans();
  CheckBudget();
  CheckModesAndDevices(fx);
  return test::Finish("test_gpu_plan");
}
