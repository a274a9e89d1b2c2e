#include "imret/cli/run_names.hpp"

#include <set>

#include "imret/core/error.hpp"

namespace fs = std::filesystem;

namespace imret::cli {

std::string folder_name(const fs::path& folder) {
  const fs::path normal = folder.lexically_normal();
  const fs::path name = normal.has_filename() ? normal.filename() : normal.parent_path().filename();
  return name.empty() ? normal.string() : name.string();
}

std::vector<std::string> run_names(const std::vector<std::string>& runs, const std::vector<std::string>& names) {
  if (!names.empty() && names.size() != runs.size())
    throw UsageError("--names: " + std::to_string(names.size()) + " names for " + std::to_string(runs.size()) + " runs");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string name = names.empty() ? folder_name(runs[i]) : names[i];
    if (!seen.insert(name).second)
      throw UsageError("two runs are named '" + name + "': tell them apart with --names");
    out.push_back(name);
  }
  return out;
}

}  // namespace imret::cli
