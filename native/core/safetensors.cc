#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lmk {

namespace {

int64_t ElementSize(const std::string& dtype) { return SafetensorsElementSize(dtype); }

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
  try {
    SafetensorsHeader h = ParseSafetensorsHeader(map_, size_, path);
    dataStart_ = h.dataStart;
    entries_ = std::move(h.entries);
    metadata_ = std::move(h.metadata);
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    ::close(fd_);
    map_ = nullptr;
    fd_ = -1;
    throw;
  }
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
