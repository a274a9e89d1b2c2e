#include "imret/learn/run_folder.hpp"

#include "imret/core/error.hpp"
#include "imret/core/yaml.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

// A run written before markers: its config.yaml says the command, and every
// entry is one a run holds.
bool legacy_run(const fs::path& folder, const std::string& command) {
  if (!only_entries(folder, {"config.yaml", "checkpoints", "train_log.csv", "embeddings", "metrics.json", "report",
                             "plots", "grids", "result.json"},
                    {".csv"}, "config.yaml"))
    return false;
  try {
    const nlohmann::json config = load_yaml(folder / "config.yaml");
    return config.is_object() && config.value("command", std::string()) == command;
  } catch (const std::exception&) {
    return false;
  }
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
  rules.legacy = [command](const fs::path& folder) { return legacy_run(folder, command); };
  return rules;
}

bool holds_run(const fs::path& folder, const std::string& kind) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return false;
  if (const auto marker = read_folder_marker(folder)) return marker->kind == kind;
  return legacy_run(folder, kind == "demo" ? "demo" : "train");
}

fs::path run_folder_of_checkpoint(const fs::path& checkpoint) {
  const fs::path folder = fs::absolute(checkpoint).lexically_normal().parent_path();
  if (folder.filename() != "checkpoints")
    throw Error(checkpoint.string() + ": not in a run's checkpoints/ folder, so its run folder is unknown: say where "
                "the run goes");
  return folder.parent_path();
}

}  // namespace imret::learn
