// A small strict JSON reader for safetensors headers and config.json (no dependency beyond the STL).
// Errors carry the byte offset; depth and size are bounded so hostile input cannot exhaust the stack.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmk::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool b = false;
  double num = 0;
  bool isInteger = false;  // the literal had no fraction or exponent
  int64_t integer = 0;     // exact value when isInteger and it fits
  std::string str;
  std::vector<Value> arr;
  std::vector<std::pair<std::string, Value>> obj;  // in file order

  bool isObject() const { return kind == Kind::Object; }
  bool isArray() const { return kind == Kind::Array; }
  bool isString() const { return kind == Kind::String; }
  bool isNumber() const { return kind == Kind::Number; }
  const Value* find(const std::string& key) const;
};

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses a whole document; trailing non-space bytes are an error.
Value parse(const char* data, size_t size, const std::string& what);
Value parseFile(const std::string& path, const std::string& what);

}  // namespace lmk::json
