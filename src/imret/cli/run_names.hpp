#pragma once
// The names of run folders in legends and reports (imret plot, imret report).
#include <filesystem>
#include <string>
#include <vector>

namespace imret::cli {

// A run's name: its folder's name (runs/fmnist/ -> fmnist).
std::string folder_name(const std::filesystem::path& folder);

// `names` when given (one per run), else the folders' names. UsageError when
// the counts differ or two runs get the same name.
std::vector<std::string> run_names(const std::vector<std::string>& runs, const std::vector<std::string>& names);

}  // namespace imret::cli
