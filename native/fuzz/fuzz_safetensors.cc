// libFuzzer target for the safetensors header validation (core/safetensors_header.cc) and, through it,
// the JSON reader. Build with scripts/fuzz-safetensors (clang, -fsanitize=fuzzer,address,undefined).
//
// The first byte picks how the rest is read:
//   even: the rest is a whole safetensors file (8-byte length, header, data);
//   odd:  the rest is the header JSON alone; the target prepends the matching length and appends a
//         data section of (byte 0 >> 1) * 64 zero bytes, so mutations of the JSON are not all lost
//         to a length that no longer matches.
// Every input must either parse or throw std::runtime_error; anything else (a crash, an ASan report,
// UB, a hang) is a finding. Inputs are capped at 1 MiB.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> buf;
  if ((mode & 1) == 0) {
    buf.assign(data + 1, data + size);  // exact-size heap copy: ASan sees any read past the end
  } else {
    const uint64_t hlen = size - 1, dsize = uint64_t(mode >> 1) * 64;
    buf.resize(8 + hlen + dsize, 0);
    for (int i = 0; i < 8; i++) buf[i] = static_cast<uint8_t>(hlen >> (8 * i));
    std::memcpy(buf.data() + 8, data + 1, hlen);
  }
  try {
    lmk::SafetensorsHeader h = lmk::ParseSafetensorsHeader(buf.data(), buf.size(), "fuzz");
    // invariants of an accepted header
    const uint64_t dataSize = buf.size() - h.dataStart;
    for (auto& kv : h.entries) {
      const auto& e = kv.second;
      if (e.begin > e.end || e.end > dataSize) __builtin_trap();
      uint64_t numel = 1;
      for (auto d : e.shape) numel *= static_cast<uint64_t>(d);
      if (e.end - e.begin != numel * static_cast<uint64_t>(lmk::SafetensorsElementSize(e.dtype))) __builtin_trap();
    }
  } catch (const std::runtime_error&) {
    // a clear refusal is the expected outcome for most inputs
  }
  return 0;
}
