// LMKERNEL_PROFILE=1 prints where kernel time goes (forward, backward, blocks, products) to stderr.
// Process-wide counters: time only from one thread (the joint pass times its worker 0).
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace lmk {

struct PhaseTimer {
  static bool enabled() {
    static bool on = std::getenv("LMKERNEL_PROFILE") != nullptr;
    return on;
  }
  static double& slot(int i) {
    static double t[8] = {0};
    return t[i];
  }
  int i;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  explicit PhaseTimer(int idx) : i(idx) {}
  ~PhaseTimer() {
    if (enabled()) slot(i) += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  static void report() {
    if (!enabled()) return;
    const char* names[] = {"forward", "backward", "blocks", "form", "products_train", "consume", "joint", "sign"};
    for (int k = 0; k < 8; k++) {
      if (slot(k) > 0) std::fprintf(stderr, "lmkernel profile: %-15s %.3f s\n", names[k], slot(k));
      slot(k) = 0;
    }
  }
};

}  // namespace lmk
