// Tiny test helpers for the core's CTest executables (no framework): CHECK counts failures.
#pragma once
#include <ATen/ATen.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/forward.h"
#include "core/json.h"
#include "core/model.h"

namespace lmk::test {

inline int failures = 0;
inline int checks = 0;

#define LMK_CHECK(cond, ...)                                    \
  do {                                                          \
    ::lmk::test::checks++;                                      \
    if (!(cond)) {                                              \
      ::lmk::test::failures++;                                  \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
    }                                                           \
  } while (0)

// Nested JSON number arrays -> float64 tensor.
inline void Flatten(const json::Value& v, std::vector<double>& out, std::vector<int64_t>& shape, size_t depth) {
  if (v.isArray()) {
    if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(v.arr.size()));
    for (auto& e : v.arr) Flatten(e, out, shape, depth + 1);
  } else {
    out.push_back(v.num);
  }
}
inline at::Tensor ToTensor(const json::Value& v) {
  std::vector<double> data;
  std::vector<int64_t> shape;
  Flatten(v, data, shape, 0);
  return at::tensor(data, at::kDouble).view(shape);
}
inline double MaxRelErr(const at::Tensor& got, const at::Tensor& want) {
  double scale = want.abs().max().item<double>();
  if (scale == 0) scale = 1;
  return (got.to(at::kDouble) - want).abs().max().item<double>() / scale;
}
inline std::string TempDir() {
  char tmpl[] = "/tmp/lmk-test-XXXXXX";
  char* d = mkdtemp(tmpl);
  return d ? std::string(d) : std::string("/tmp");
}
inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}
// Serialises a json::Value back to text (enough for configs).
inline std::string Dump(const json::Value& v) {
  using K = json::Value::Kind;
  switch (v.kind) {
    case K::Null: return "null";
    case K::Bool: return v.b ? "true" : "false";
    case K::Number: {
      if (v.isInteger) return std::to_string(v.integer);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.num);
      return buf;
    }
    case K::String: {
      std::string s = "\"";
      for (char c : v.str) s += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
      return s + "\"";
    }
    case K::Array: {
      std::string s = "[";
      for (size_t i = 0; i < v.arr.size(); i++) s += (i ? "," : "") + Dump(v.arr[i]);
      return s + "]";
    }
    case K::Object: {
      std::string s = "{";
      for (size_t i = 0; i < v.obj.size(); i++) {
        json::Value k;
        k.kind = K::String;
        k.str = v.obj[i].first;
        s += (i ? "," : "") + Dump(k) + ":" + Dump(v.obj[i].second);
      }
      return s + "}";
    }
  }
  return "null";
}

// One architecture of fixtures-a.json as files a model loads: its config written to <tmp>/<arch>-config.json,
// the weights file beside the fixtures, and its label word ids.
struct FixtureFiles {
  std::string config, weights;
  std::vector<int64_t> labelIds;
};
inline FixtureFiles WriteFixture(const json::Value& fx, const std::string& arch, const std::string& dir, const std::string& tmp) {
  const json::Value& A = *fx.find(arch);
  FixtureFiles f{tmp + "/" + arch + "-config.json", dir + "/" + A.find("weights_file")->str, {}};
  WriteFile(f.config, Dump(*A.find("config")));
  for (auto& v : A.find("label_word_ids")->arr) f.labelIds.push_back(v.integer);
  return f;
}

// The fixtures folder (argv[1], else test/fixtures, relative to the repository root) with its
// fixtures-a.json parsed, and a temporary folder for the config files that files() writes.
struct Fixtures {
  std::string dir, tmp;
  json::Value fx;
  const json::Value& arch(const std::string& a) const { return *fx.find(a); }
  FixtureFiles files(const std::string& a) const { return WriteFixture(fx, a, dir, tmp); }
};
inline Fixtures LoadFixtures(int argc, char** argv) {
  Fixtures f;
  f.dir = argc > 1 ? argv[1] : "test/fixtures";
  f.fx = json::parseFile(f.dir + "/fixtures-a.json", "fixtures");
  f.tmp = TempDir();
  return f;
}

// Fixture examples [{input_ids, mask_pos}] -> core examples.
// The model of one fixture case: its tie flag and, for a LoRA case, the fixture's A matrices (B = 0).
inline std::shared_ptr<Model> CaseModel(const FixtureFiles& files, const json::Value& cs, at::ScalarType dtype = at::kDouble,
                                        const at::Device& device = at::kCPU) {
  LoadOptions lo;
  lo.dtype = dtype;
  lo.tieWordEmbeddings = cs.find("tied_word_embeddings") && cs.find("tied_word_embeddings")->b;
  auto model = loadModel(files.config, files.weights, lo);
  if (!device.is_cpu()) moveModel(*model, device);
  if (const json::Value* lora = cs.find("lora")) {
    LoraSpec spec;
    spec.r = lora->find("r")->integer;
    spec.alpha = lora->find("alpha")->num;
    for (auto& t : lora->find("targets")->arr) spec.targets.push_back(t.str);
    for (auto& kv : lora->find("A")->obj) spec.matrices[kv.first] = ToTensor(kv.second);
    applyLora(*model, spec, 0);
  }
  return model;
}

inline std::vector<Example> Examples(const json::Value& arr) {
  std::vector<Example> xs;
  for (auto& e : arr.arr) {
    Example x;
    for (auto& id : e.find("input_ids")->arr) x.ids.push_back(id.integer);
    if (auto* mp = e.find("mask_pos")) x.maskPos = mp->integer;
    xs.push_back(x);
  }
  return xs;
}

inline int Finish(const char* name) {
  std::printf("%s: %d checks, %d failures\n", name, checks, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace lmk::test
