// safetensors writer: F32 tensors (any floating input is converted), a header JSON with an optional
// `__metadata__` (string -> string), padded with spaces to a multiple of 8 bytes so that every tensor's
// data is 8-byte aligned. The file is written beside the target and renamed over it (atomic on POSIX),
// so a reader never sees a partial file.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lmk {

// `tensors` in file order (names must be unique). Throws on I/O errors (the target is left untouched).
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// A JSON string literal (quotes included) with the escapes JSON requires.
std::string jsonQuote(const std::string& s);

}  // namespace lmk
