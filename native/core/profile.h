// LMKERNEL_PROFILE=1 prints where kernel time goes (forward, backward, blocks, products) to stderr.
// Process-wide counters (the joint pass times its worker 0 only). On CUDA the phases are timed on the
// device: with CUDA events (libtorch >= 2.6: read once, at the report) or, with older libtorch, by
// synchronising the stream at each phase's start and end; host timers alone would time kernel launches.
#pragma once
#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 6)
#define LMK_EVENT_TIMING 1
#endif

namespace lmk {

struct PhaseTimer {
  static bool enabled() {
    static bool on = std::getenv("LMKERNEL_PROFILE") != nullptr;
    return on;
  }
  struct State {
    std::mutex mu;
    double t[8] = {0};
    at::Device device = at::Device(at::kCPU);
#ifdef LMK_EVENT_TIMING
    std::vector<std::pair<int, std::pair<std::shared_ptr<c10::Event>, std::shared_ptr<c10::Event>>>> events;
#endif
  };
  static State& state() {
    static State s;
    return s;
  }
  // The device whose work the phases time (set by the engine when a computation starts).
  static void setDevice(const at::Device& d) {
    if (!enabled()) return;
    std::lock_guard<std::mutex> lock(state().mu);
    state().device = d;
  }
  static at::Device device() {
    std::lock_guard<std::mutex> lock(state().mu);
    return state().device;
  }
  static c10::Stream stream(const at::Device& d) { return c10::impl::getDeviceGuardImpl(d.type())->getStream(d); }

  int i;
  at::Device dev = at::Device(at::kCPU);
  std::chrono::steady_clock::time_point t0;
#ifdef LMK_EVENT_TIMING
  std::shared_ptr<c10::Event> start;
#endif
  explicit PhaseTimer(int idx) : i(idx) {
    if (!enabled()) return;
    dev = device();
#ifdef LMK_EVENT_TIMING
    if (dev.is_cuda()) {
      start = std::make_shared<c10::Event>(dev.type(), c10::EventFlag::BACKEND_DEFAULT);
      start->record(stream(dev));
      return;
    }
#endif
    if (dev.is_cuda()) c10::impl::getDeviceGuardImpl(dev.type())->synchronizeStream(stream(dev));
    t0 = std::chrono::steady_clock::now();
  }
  ~PhaseTimer() {
    if (!enabled()) return;
#ifdef LMK_EVENT_TIMING
    if (start) {
      auto end = std::make_shared<c10::Event>(dev.type(), c10::EventFlag::BACKEND_DEFAULT);
      end->record(stream(dev));
      std::lock_guard<std::mutex> lock(state().mu);
      state().events.push_back({i, {start, end}});
      return;
    }
#endif
    if (dev.is_cuda()) c10::impl::getDeviceGuardImpl(dev.type())->synchronizeStream(stream(dev));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(state().mu);
    state().t[i] += s;
  }
  static void report() {
    if (!enabled()) return;
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
#ifdef LMK_EVENT_TIMING
    for (auto& e : st.events) {
      e.second.second->synchronize();
      st.t[e.first] += e.second.first->elapsedTime(*e.second.second) / 1000.0;  // milliseconds
    }
    st.events.clear();
#endif
    const char* names[] = {"forward", "backward", "blocks", "form", "products_train", "consume", "joint", "sign"};
    for (int k = 0; k < 8; k++) {
      if (st.t[k] > 0)
        std::fprintf(stderr, "lmkernel profile: %-15s %.3f s%s\n", names[k], st.t[k], st.device.is_cuda() ? " (device)" : "");
      st.t[k] = 0;
    }
  }
};

}  // namespace lmk
