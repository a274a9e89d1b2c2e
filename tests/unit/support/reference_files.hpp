#pragma once
// Tensors exchanged with the Python reference scripts (tests/unit/*/..._reference.py)
// as .npy files, and running those scripts with Debian's /usr/bin/python3.
#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "imret/core/npy.hpp"
#include "support/scratch.hpp"

namespace imret::testing {

// A fresh-per-process folder <tmp>/imret_<suite>_<pid>/<name> for one test's files.
inline std::filesystem::path reference_folder(const std::string& suite, const std::string& name) {
  const std::filesystem::path dir = scratch_path(suite, name);
  std::filesystem::create_directories(dir);
  return dir;
}

// `t` as float32 rows (N x everything else) in an .npy file.
inline void save(const std::filesystem::path& path, const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous().reshape({t.size(0), -1});
  save_npy(path, c.data_ptr<float>(), c.size(0), c.size(1));
}

// An .npy file as a float32 rows x cols tensor.
inline at::Tensor load(const std::filesystem::path& path) {
  const FloatMatrix m = load_npy(path);
  return at::tensor(m.values).reshape({m.rows, m.cols});
}

// Runs `/usr/bin/python3 <source dir>/<script> <args>`; returns its exit status.
inline int run_reference(const std::string& script, const std::string& args) {
  const std::string line = "/usr/bin/python3 " + std::string(IMRET_SOURCE_DIR) + "/" + script + " " + args;
  return std::system(line.c_str());
}

}  // namespace imret::testing
