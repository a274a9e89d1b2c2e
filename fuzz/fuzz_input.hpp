#pragma once
// Helpers for fuzz targets whose parsers read files: each input goes into a
// per-process folder in /dev/shm (or $IMRET_FUZZ_TMP), removed by fuzz/run.sh,
// and an input may hold several files separated by kPartSeparator.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace imret_fuzz {

// Between the files of a multi-file input (a line no JSON or YAML seed holds).
inline constexpr std::string_view kPartSeparator = "\n%%%%\n";

// The process's scratch folder, created on first use.
inline const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    const char* dir = std::getenv("IMRET_FUZZ_TMP");
    std::filesystem::path path = std::filesystem::path(dir ? dir : "/dev/shm") / ("imret_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return folder;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// Writes `bytes` to `name` in the scratch folder and returns its path.
inline std::filesystem::path write_file(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = scratch_folder() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The input cut at kPartSeparator into at most `parts` pieces (the last one
// keeps any further separators); fewer pieces when it holds fewer separators.
inline std::vector<std::string_view> split_parts(std::string_view input, size_t parts) {
  std::vector<std::string_view> pieces;
  while (pieces.size() + 1 < parts) {
    const size_t at = input.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    pieces.push_back(input.substr(0, at));
    input.remove_prefix(at + kPartSeparator.size());
  }
  pieces.push_back(input);
  return pieces;
}

}  // namespace imret_fuzz
