#include "core/safetensors_header.h"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <utility>

#include "core/json.h"

namespace lmk {

int64_t SafetensorsElementSize(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return -1;
}

namespace {

using Fail = std::function<void(const std::string&)>;

// One tensor's header entry: dtype, shape and data offsets, checked against the data section's size.
SafetensorsEntry ParseEntry(const std::string& name, const json::Value& e, uint64_t dataSize, const Fail& fail) {
  if (!e.isObject()) fail("tensor '" + name + "': header entry is not an object");
  const json::Value* dt = e.find("dtype");
  const json::Value* sh = e.find("shape");
  const json::Value* off = e.find("data_offsets");
  if (!dt || !dt->isString()) fail("tensor '" + name + "': missing or non-string 'dtype'");
  if (!sh || !sh->isArray()) fail("tensor '" + name + "': missing or non-array 'shape'");
  if (!off || !off->isArray() || off->arr.size() != 2) fail("tensor '" + name + "': 'data_offsets' must be [begin, end]");
  SafetensorsEntry ent;
  ent.dtype = dt->str;
  const int64_t esize = SafetensorsElementSize(ent.dtype);
  if (esize < 0) fail("tensor '" + name + "': unknown dtype '" + ent.dtype + "'");
  if (sh->arr.size() > 16) fail("tensor '" + name + "': " + std::to_string(sh->arr.size()) + " dimensions (at most 16)");
  uint64_t numel = 1;
  for (auto& d : sh->arr) {
    if (!d.isNumber() || !d.isInteger || d.integer < 0) fail("tensor '" + name + "': shape entries must be non-negative integers");
    if (d.integer > 0 && numel > (uint64_t(1) << 50) / static_cast<uint64_t>(d.integer)) fail("tensor '" + name + "': shape too large");
    numel *= static_cast<uint64_t>(d.integer);
    ent.shape.push_back(d.integer);
  }
  for (auto& o : off->arr)
    if (!o.isNumber() || !o.isInteger || o.integer < 0) fail("tensor '" + name + "': data_offsets must be non-negative integers");
  ent.begin = static_cast<uint64_t>(off->arr[0].integer);
  ent.end = static_cast<uint64_t>(off->arr[1].integer);
  if (ent.end < ent.begin) fail("tensor '" + name + "': data_offsets end < begin");
  if (ent.end > dataSize)
    fail("tensor '" + name + "': data_offsets [" + std::to_string(ent.begin) + ", " + std::to_string(ent.end) +
         "] out of bounds (data section is " + std::to_string(dataSize) + " bytes)");
  if (ent.end - ent.begin != numel * static_cast<uint64_t>(esize))
    fail("tensor '" + name + "': " + std::to_string(ent.end - ent.begin) + " bytes for " + std::to_string(numel) + " elements of " +
         ent.dtype);
  return ent;
}

// Non-empty ranges may not overlap. Compare each range with the furthest end seen so far (not only its
// neighbour: [0, 100) and [20, 30) overlap even with [10, 10) sorted between them).
void CheckNoOverlap(std::vector<std::pair<uint64_t, uint64_t>> ranges, const Fail& fail) {
  std::sort(ranges.begin(), ranges.end());
  uint64_t maxEnd = 0;
  for (size_t i = 0; i < ranges.size(); i++) {
    if (i > 0 && ranges[i].first < maxEnd) fail("tensor data ranges overlap at byte " + std::to_string(ranges[i].first));
    maxEnd = std::max(maxEnd, ranges[i].second);
  }
}

// The 8-byte little-endian header length, checked against the file size (a PyTorch checkpoint under the
// wrong name is named as such).
uint64_t HeaderLength(const uint8_t* data, size_t size, const Fail& fail) {
  if (size < 8) fail("truncated safetensors file (" + std::to_string(size) + " bytes, the header length alone needs 8)");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i];
  if (hlen > size - 8) {
    // a PyTorch checkpoint under the wrong name: zip (torch.save >= 1.6) or a bare pickle
    const bool zip = data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
    const bool pickle = data[0] == 0x80 && data[1] >= 2 && data[1] <= 5;
    if (zip || pickle)
      fail(std::string("not a safetensors file: it starts like a pickled PyTorch checkpoint (") + (zip ? "zip" : "pickle") +
           "); lmkernel never unpickles: convert it once to safetensors with Python");
    fail("safetensors header length " + std::to_string(hlen) + " runs past the end of the file (" + std::to_string(size - 8) +
         " bytes after the length field)");
  }
  if (hlen > (100u << 20)) fail("safetensors header length " + std::to_string(hlen) + " exceeds 100 MiB");
  return hlen;
}

}  // namespace

SafetensorsHeader ParseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& where) {
  const Fail fail = [&](const std::string& msg) { throw std::runtime_error(where + ": " + msg); };
  const uint64_t hlen = HeaderLength(data, size, fail);
  SafetensorsHeader out;
  out.dataStart = 8 + hlen;
  const uint64_t dataSize = size - out.dataStart;
  json::Value header;
  try {
    header = json::parse(reinterpret_cast<const char*>(data + 8), hlen, "safetensors header");
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (!header.isObject()) fail("safetensors header is not a JSON object");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& kv : header.obj) {
    const std::string& name = kv.first;
    if (name == "__metadata__") {
      if (!kv.second.isObject()) fail("'__metadata__' is not a JSON object");
      for (auto& m : kv.second.obj) {
        if (!m.second.isString()) fail("'__metadata__' entry '" + m.first + "' is not a string");
        out.metadata[m.first] = m.second.str;
      }
      continue;
    }
    if (out.entries.count(name)) fail("tensor '" + name + "' appears twice in the header");
    SafetensorsEntry ent = ParseEntry(name, kv.second, dataSize, fail);
    if (ent.end > ent.begin) ranges.emplace_back(ent.begin, ent.end);
    out.entries[name] = ent;
  }
  CheckNoOverlap(std::move(ranges), fail);
  return out;
}

}  // namespace lmk
