// Module entry: the CancelToken class plus every binding file's registered exports.
#include <torch/version.h>

#include "addon/common.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lmk::addon::CancelToken::Init(env, exports);
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  for (auto fn : lmk::addon::Registry()) fn(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(lmkernel, Init)
