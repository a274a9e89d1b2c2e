#include "imret/learn/run_folder.hpp"

#include "imret/core/error.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

bool legacy_run(const fs::path& folder) {
  std::error_code ec;
  return fs::exists(folder / "config.yaml", ec) || fs::is_directory(folder / "checkpoints", ec);
}

}  // namespace

OutputRules run_folder_rules(const std::string& kind, const std::string& command, bool replace,
                             const std::string& replace_hint, std::vector<fs::path> inputs) {
  OutputRules rules;
  rules.kind = kind;
  rules.command = command;
  rules.replace = replace;
  rules.replace_hint = replace_hint;
  rules.inputs = std::move(inputs);
  rules.legacy = legacy_run;
  return rules;
}

bool holds_run(const fs::path& folder, const std::string& kind) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return false;
  if (const auto marker = read_folder_marker(folder)) return marker->kind == kind;
  return legacy_run(folder);
}

fs::path run_folder_of_checkpoint(const fs::path& checkpoint) {
  const fs::path folder = fs::absolute(checkpoint).lexically_normal().parent_path();
  if (folder.filename() != "checkpoints")
    throw Error(checkpoint.string() + ": not in a run's checkpoints/ folder, so its run folder is unknown: say where "
                "the run goes");
  return folder.parent_path();
}

}  // namespace imret::learn
