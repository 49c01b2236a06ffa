// Access to the JS `Model` handle (addon/model.cc) for the other binding files.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "addon/common.h"
#include "core/forward.h"
#include "core/model.h"

namespace lmk::addon {

struct ModelRef {
  std::shared_ptr<Model> model;
  // count of running jobs that read the model: a job takes BusyLease(busy) (addon/common.h)
  BusyCount busy;
};

// The model behind a JS `Model` handle; a TypeError naming `what` otherwise.
ModelRef UnwrapModel(Napi::Value v, const char* what);
// A new JS `Model` handle that owns `m`.
Napi::Object WrapModel(Napi::Env env, std::shared_ptr<Model> m);
// Reads `opts.output` ('prompt' | 'standard'), `opts.binary` and `opts.labelWordIds`.
OutputSpec ReadOutput(const Napi::Object& opts);
// Reads `opts[key]`: an array of {input_ids, mask_pos?, token_type_ids?}.
std::vector<Example> ReadExamples(const Napi::Object& opts, const char* key, bool required);

}  // namespace lmk::addon
