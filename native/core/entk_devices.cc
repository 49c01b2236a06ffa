// computeKernelsOnDevices (entk_devices.h). Device d of D takes the tiles t of the shard i/n asked for with
// t ≡ i + d·n (mod n·D): the shard i + d·n of n·D, so that a shard of a multi-device run is still a shard.
#include "core/entk_devices.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/memory.h"

namespace lmk {

namespace {

// The progress of all devices as one: the sums of their done and total batches; a stop flag set when
// the caller cancels (seen at the next report of any device) or when a device fails.
struct SharedProgress {
  const Progress& parent;
  std::mutex mu;
  std::vector<int64_t> done, total;
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);

  Progress forDevice(size_t d) {
    Progress p;
    p.cancel = stop;
    p.report = [this, d](const std::string& phase, int64_t dn, int64_t tot) {
      if (parent.cancel && parent.cancel->load()) stop->store(true);
      std::lock_guard<std::mutex> lock(mu);
      done[d] = dn, total[d] = tot;
      int64_t a = 0, b = 0;
      for (size_t i = 0; i < done.size(); i++) a += done[i], b += total[i];
      parent(phase, a, b);
    };
    return p;
  }
};

// The model itself on its own device, one copy on each other device (shared by repeats of a device).
std::vector<const Model*> Replicas(const Model& m, const std::vector<at::Device>& devices,
                                   std::map<std::string, std::shared_ptr<Model>>& copies) {
  std::vector<const Model*> out;
  for (const auto& d : devices) {
    if (d == m.device()) {
      out.push_back(&m);
      continue;
    }
    auto& c = copies[d.str()];
    if (!c) {
      c = cloneModel(m);
      moveModel(*c, d);
    }
    out.push_back(c.get());
  }
  return out;
}

// The parts' sum: disjoint rows of every kernel and of f0Train; f0Test from the first part that computed a tile.
KernelResult Merge(std::vector<KernelResult>& parts) {
  KernelResult r = std::move(parts[0]);
  std::set<int64_t> tiles(r.tiles.begin(), r.tiles.end());
  bool haveTest = !r.tiles.empty();
  for (size_t d = 1; d < parts.size(); d++) {
    KernelResult& p = parts[d];
    for (auto& kv : r.kernels) kv.second.add_(p.kernels.at(kv.first));
    r.f0Train.add_(p.f0Train);
    if (!haveTest && !p.tiles.empty()) r.f0Test = p.f0Test, haveTest = true;
    tiles.insert(p.tiles.begin(), p.tiles.end());
  }
  r.tiles.assign(tiles.begin(), tiles.end());
  return r;
}

}  // namespace

int64_t deviceTileSize(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test, const KernelOptions& opts) {
  const int64_t n = static_cast<int64_t>(train.size()), D = static_cast<int64_t>(opts.devices.size());
  if (opts.trainTile > 0) return std::min(opts.trainTile, n);
  const int64_t perDevice = (n + D - 1) / D;
  KernelOptions o = opts;
  o.devices.clear();
  GradientBlocks gb(m, o.output, o.subset, train);
  const int64_t fit = chooseTrainTile(m, gb.wanted(), train, test, o, gb.numOutputs());  // 0: all of them fit
  return fit > 0 ? std::min(fit, perDevice) : perDevice;
}

KernelResult computeKernelsOnDevices(const Model& m, const std::vector<Example>& train, const std::vector<Example>& test,
                                     const KernelOptions& opts, const Progress& progress, const OneDeviceKernels& one) {
  const size_t D = opts.devices.size();
  std::map<std::string, std::shared_ptr<Model>> copies;
  const std::vector<const Model*> models = Replicas(m, opts.devices, copies);
  const int64_t tile = deviceTileSize(m, train, test, opts);
  SharedProgress shared{progress};
  shared.done.assign(D, 0);
  shared.total.assign(D, 0);
  std::vector<KernelResult> parts(D);
  std::vector<std::exception_ptr> errors(D);
  auto run = [&](size_t d) {
    try {
      KernelOptions o = opts;
      o.devices.clear();
      o.trainTile = tile;
      o.shardIndex = opts.shardIndex + static_cast<int64_t>(d) * opts.shardCount;
      o.shardCount = opts.shardCount * static_cast<int64_t>(D);
      parts[d] = one(*models[d], o, shared.forDevice(d));
    } catch (...) {
      errors[d] = std::current_exception();
      shared.stop->store(true);  // the other devices stop at their next check
    }
  };
  std::vector<std::thread> threads;
  for (size_t d = 1; d < D; d++) threads.emplace_back(run, d);
  run(0);
  for (auto& t : threads) t.join();
  // the first failure that is not the stop it caused; the caller's cancellation last
  std::exception_ptr cancelled;
  for (auto& e : errors) {
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const Cancelled&) {
      cancelled = e;
    } catch (...) {
      throw;
    }
  }
  if (cancelled) std::rethrow_exception(cancelled);
  progress.check();
  return Merge(parts);
}

}  // namespace lmk
