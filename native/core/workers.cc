#include "core/workers.h"

#include <dlfcn.h>

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lmk {

namespace {
using GetThreads = int (*)();
using SetThreads = void (*)(int);
GetThreads OpenblasGet() { return reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")); }
SetThreads OpenblasSet() { return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); }
std::mutex gMutex;
int gDepth = 0, gSaved = 0;
}  // namespace

SingleThreadedBlas::SingleThreadedBlas() {
  GetThreads get = OpenblasGet();
  SetThreads set = OpenblasSet();
  if (!get || !set) return;
  std::lock_guard<std::mutex> lock(gMutex);
  if (gDepth++ == 0) {
    gSaved = get();
    set(1);
  }
}

SingleThreadedBlas::~SingleThreadedBlas() {
  SetThreads set = OpenblasSet();
  if (!OpenblasGet() || !set) return;
  std::lock_guard<std::mutex> lock(gMutex);
  if (--gDepth == 0) set(gSaved);
}

void forEachOnWorkers(int64_t n, int workers, const std::function<void(int, int64_t)>& fn) {
  if (workers <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; i++) fn(0, i);
    return;
  }
  const int w = static_cast<int>(std::min<int64_t>(workers, n));
  std::vector<std::exception_ptr> errors(w);
  auto run = [&](int id) {
    try {
      for (int64_t i = id; i < n; i += w) fn(id, i);
    } catch (...) {
      errors[id] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int id = 1; id < w; id++) threads.emplace_back(run, id);
  run(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lmk
