// libFuzzer target for the strict JSON reader (core/json.cc): every input parses or throws
// json::ParseError; depth stays bounded. Inputs are capped at 1 MiB.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  std::vector<char> buf(data, data + size);  // exact-size copy, no terminator: reads past the end are caught
  try {
    lmk::json::Value v = lmk::json::parse(buf.data(), buf.size(), "fuzz");
    (void)v.find("dtype");
  } catch (const lmk::json::ParseError&) {
  }
  return 0;
}
