// Validation of a safetensors header over a memory buffer, with no libtorch dependency (the file reader
// in safetensors.cc and the libFuzzer target in native/fuzz/ share it). Checks: the 8-byte length
// against the buffer, a 100 MiB header cap, the JSON, every dtype, shape and data offset (within the
// data section, byte size = dtype x shape, no duplicate names, no overlapping ranges).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lmk {

struct SafetensorsEntry {
  std::string dtype;  // F64 F32 F16 BF16 I64 I32 ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets within the data section
};

struct SafetensorsHeader {
  uint64_t dataStart = 0;  // 8 + header length
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // the optional `__metadata__` (string -> string)
};

// Bytes per element of a safetensors dtype name, -1 when unknown.
int64_t SafetensorsElementSize(const std::string& dtype);

// Parses and validates the header of a whole safetensors file held in `data[0, size)`. Throws
// std::runtime_error("<where>: <what is wrong>") on any defect; never reads outside the buffer.
SafetensorsHeader ParseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& where);

}  // namespace lmk
