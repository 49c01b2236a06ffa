#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/json.h"

namespace lmk {

namespace {

int64_t ElementSize(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return -1;
}

at::ScalarType TorchType(const std::string& dtype) {
  if (dtype == "F64") return at::kDouble;
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  if (dtype == "I64") return at::kLong;
  if (dtype == "I32") return at::kInt;
  if (dtype == "I16") return at::kShort;
  if (dtype == "I8") return at::kChar;
  if (dtype == "U8") return at::kByte;
  if (dtype == "BOOL") return at::kBool;
  throw std::runtime_error("unsupported dtype " + dtype);
}

}  // namespace

Safetensors::Safetensors(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open safetensors file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error(path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  auto fail = [&](const std::string& msg) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    ::close(fd_);
    map_ = nullptr;
    fd_ = -1;
    throw std::runtime_error(path + ": " + msg);
  };
  if (size_ < 8) fail("truncated safetensors file (" + std::to_string(size_) + " bytes, the header length alone needs 8)");
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (m == MAP_FAILED) fail(std::string("mmap failed: ") + std::strerror(errno));
  map_ = static_cast<const uint8_t*>(m);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | map_[i];
  if (hlen > size_ - 8)
    fail("safetensors header length " + std::to_string(hlen) + " runs past the end of the file (" + std::to_string(size_ - 8) +
         " bytes after the length field)");
  if (hlen > (100u << 20)) fail("safetensors header length " + std::to_string(hlen) + " exceeds 100 MiB");
  dataStart_ = 8 + hlen;
  const uint64_t dataSize = size_ - dataStart_;
  json::Value header;
  try {
    header = json::parse(reinterpret_cast<const char*>(map_ + 8), hlen, "safetensors header");
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
        metadata_[m.first] = m.second.str;
      }
      continue;
    }
    const json::Value& e = kv.second;
    if (!e.isObject()) fail("tensor '" + name + "': header entry is not an object");
    const json::Value* dt = e.find("dtype");
    const json::Value* sh = e.find("shape");
    const json::Value* off = e.find("data_offsets");
    if (!dt || !dt->isString()) fail("tensor '" + name + "': missing or non-string 'dtype'");
    if (!sh || !sh->isArray()) fail("tensor '" + name + "': missing or non-array 'shape'");
    if (!off || !off->isArray() || off->arr.size() != 2) fail("tensor '" + name + "': 'data_offsets' must be [begin, end]");
    SafetensorsEntry ent;
    ent.dtype = dt->str;
    int64_t esize = ElementSize(ent.dtype);
    if (esize < 0) fail("tensor '" + name + "': unknown dtype '" + ent.dtype + "'");
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
    ranges.emplace_back(ent.begin, ent.end);
    entries_[name] = ent;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++)
    if (ranges[i].first < ranges[i - 1].second && ranges[i].first != ranges[i].second)
      fail("tensor data ranges overlap at byte " + std::to_string(ranges[i].first));
}

Safetensors::~Safetensors() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

const SafetensorsEntry& Safetensors::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw std::runtime_error(path_ + ": missing tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> Safetensors::names() const {
  std::vector<std::string> out;
  for (auto& kv : entries_) out.push_back(kv.first);
  return out;
}

at::Tensor Safetensors::load(const std::string& name, at::ScalarType dtype) const {
  const auto& e = entry(name);
  at::ScalarType src = TorchType(e.dtype);
  if (at::isFloatingType(dtype) && !at::isFloatingType(src))
    throw std::runtime_error(path_ + ": tensor '" + name + "' has dtype " + e.dtype + ", expected a floating type");
  // from_blob over the (read-only) map, then a converting copy: the result owns its memory.
  void* ptr = const_cast<uint8_t*>(map_ + dataStart_ + e.begin);
  at::Tensor view;
  if (reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(ElementSize(e.dtype)) != 0) {
    view = at::empty(e.shape, at::TensorOptions().dtype(src));  // unaligned data: copy bytes first
    std::memcpy(view.data_ptr(), ptr, e.end - e.begin);
  } else {
    view = at::from_blob(ptr, e.shape, at::TensorOptions().dtype(src));
  }
  at::Tensor out = at::empty(e.shape, at::TensorOptions().dtype(dtype));
  out.copy_(view);
  return out;
}

}  // namespace lmk
