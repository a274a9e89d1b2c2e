#pragma once
// torchvision's detectors as the parity tests' references: the folders that
// tests/unit/detect/detector_reference.py writes, and what is in them.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/reference_files.hpp"

namespace imret::testing {

// One reference folder per architecture and version of the reference script,
// shared by the test processes (ctest runs each test in its own, several at
// once): made under a private name, then renamed into place.
inline std::filesystem::path reference_for(const std::string& arch) {
  const std::string script = "tests/unit/detect/detector_reference.py";
  std::ifstream in(std::filesystem::path(IMRET_SOURCE_DIR) / script, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     ("imret_detector_reference_" + std::to_string(std::hash<std::string>{}(text)));
  const std::filesystem::path dir = root / arch;
  if (!std::filesystem::exists(dir / "sizes.json")) {
    const std::filesystem::path scratch = root / (arch + ".tmp-" + std::to_string(::getpid()));
    std::filesystem::create_directories(scratch);
    const int status = run_reference(script, arch + " " + scratch.string());
    EXPECT_EQ(status, 0) << script << " failed";
    std::error_code ec;
    // Only a complete folder goes into the cache; rename fails harmlessly
    // when another process got there first.
    if (status == 0 && std::filesystem::exists(scratch / "sizes.json")) std::filesystem::rename(scratch, dir, ec);
    std::filesystem::remove_all(scratch, ec);
  }
  return dir;
}

inline nlohmann::json sizes_of(const std::filesystem::path& dir) {
  std::ifstream in(dir / "sizes.json");
  return nlohmann::json::parse(in);
}

inline std::vector<torch::Tensor> images_of(const std::filesystem::path& dir, const nlohmann::json& sizes) {
  std::vector<torch::Tensor> images;
  for (size_t i = 0; i < sizes["images"].size(); ++i) {
    const auto shape = sizes["images"][i].get<std::vector<int64_t>>();
    images.push_back(load(dir / ("image" + std::to_string(i) + ".npy")).reshape(shape));
  }
  return images;
}

}  // namespace imret::testing
