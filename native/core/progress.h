// Progress reporting and cooperative cancellation for long native work. No N-API here: the addon
// adapts these to a thread-safe JS callback and an AbortSignal; C++ tests and benches use them directly.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace lmk {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the operation was aborted") {}
};

struct Progress {
  std::function<void(const std::string& phase, int64_t done, int64_t total)> report;
  std::shared_ptr<std::atomic<bool>> cancel;

  void operator()(const std::string& phase, int64_t done, int64_t total) const {
    if (report) report(phase, done, total);
  }
  // Called between blocks: throws Cancelled once the caller asked to stop.
  void check() const {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
  }
};

}  // namespace lmk
