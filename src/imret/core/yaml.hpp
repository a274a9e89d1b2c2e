#pragma once
// YAML <-> JSON for configuration files (config.yaml in a run directory).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace imret {

// Block-style YAML for a JSON value (keys in the JSON's order).
std::string to_yaml(const nlohmann::json& value);

// Reads a YAML file as JSON (scalars typed as YAML 1.2 core: int, float, bool,
// null, string). Errors name the file, line and problem.
nlohmann::json load_yaml(const std::filesystem::path& path);

}  // namespace imret
