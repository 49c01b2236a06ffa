#include "core/safetensors_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

namespace lmk {

std::string jsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {
void WriteAll(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(path + ": write failed: " + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}
}  // namespace

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> data;
  std::set<std::string> seen;
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool f2 = true;
    for (auto& kv : metadata) {
      header += (f2 ? "" : ",") + jsonQuote(kv.first) + ":" + jsonQuote(kv.second);
      f2 = false;
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (auto& [name, t0] : tensors) {
    if (name == "__metadata__" || !seen.insert(name).second)
      throw std::runtime_error(path + ": duplicate or reserved tensor name '" + name + "'");
    if (!t0.defined()) throw std::runtime_error(path + ": tensor '" + name + "' is undefined");
    if (!at::isFloatingType(t0.scalar_type())) throw std::runtime_error(path + ": tensor '" + name + "' is not floating point");
    at::Tensor t = t0.detach().to(at::kCPU, at::kFloat).contiguous();
    std::string shape = "[";
    for (int64_t d = 0; d < t.dim(); d++) shape += (d ? "," : "") + std::to_string(t.size(d));
    shape += "]";
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
    header += (first ? "" : ",") + jsonQuote(name) + ":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    first = false;
    offset += bytes;
    data.push_back(t);
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';

  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot create '" + tmp + "': " + std::strerror(errno));
  try {
    uint8_t len[8];
    uint64_t h = header.size();
    for (int i = 0; i < 8; i++) len[i] = static_cast<uint8_t>((h >> (8 * i)) & 0xff);  // little-endian u64
    WriteAll(fd, len, 8, path);
    WriteAll(fd, header.data(), header.size(), path);
    for (auto& t : data) WriteAll(fd, t.data_ptr(), static_cast<size_t>(t.numel()) * 4, path);
    if (::fsync(fd) != 0) throw std::runtime_error(path + ": fsync failed: " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": rename failed: " + std::strerror(e));
  }
}

}  // namespace lmk
