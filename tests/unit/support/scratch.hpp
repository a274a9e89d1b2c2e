#pragma once
// Scratch files for unit tests: one folder per test program and process.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace imret::testing {

// <tmp>/imret_<suite>_<pid>/<name>, with the folder (and name's parents) created.
inline std::filesystem::path scratch_path(const std::string& suite, const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("imret_" + suite + "_" + std::to_string(::getpid())) / name;
  std::filesystem::create_directories(path.parent_path());
  return path;
}

// Entries of a folder (files and folders, not recursive).
inline int count_entries(const std::filesystem::path& folder) {
  int count = 0;
  for (auto it = std::filesystem::directory_iterator(folder); it != std::filesystem::directory_iterator(); ++it) ++count;
  return count;
}

}  // namespace imret::testing
