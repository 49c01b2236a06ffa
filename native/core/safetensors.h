// Memory-mapped safetensors reader. The header is validated before any tensor is touched: its length
// against the file, the JSON, every dtype, shape and data offset (within the data section, sizes that
// agree with dtype × shape, no overlaps). Tensors are copied out converted to the requested dtype.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors_header.h"

namespace lmk {

class Safetensors {
 public:
  explicit Safetensors(const std::string& path);
  ~Safetensors();
  Safetensors(const Safetensors&) = delete;
  Safetensors& operator=(const Safetensors&) = delete;

  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  // A copy of the tensor converted to `dtype` (F16/BF16/F32/F64 accepted for floating dtypes).
  at::Tensor load(const std::string& name, at::ScalarType dtype) const;
  const std::string& path() const { return path_; }
  // The header's optional `__metadata__` (string -> string).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  uint64_t dataStart_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace lmk
