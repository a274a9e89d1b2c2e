#pragma once
// Training run folders under the output-folder contract (core/output_folder.hpp):
//   config.yaml, checkpoints/{last,best}.safetensors (+ .json), last.optim.pt,
//   train_log.csv, and for demo/experiment runs embeddings/, metrics.json,
//   pr_curve*.csv, report/; .imret-folder.json of kind "run" (or "demo").
#include <filesystem>
#include <string>
#include <vector>

#include "imret/core/output_folder.hpp"

namespace imret::learn {

// The rules of a run folder of `kind` ("run" for imret train and experiment
// rows, "demo" for imret demo) written by `command`. Folders of this kind
// written before markers are recognised by their config.yaml or checkpoints/.
OutputRules run_folder_rules(const std::string& kind, const std::string& command, bool replace,
                             const std::string& replace_hint, std::vector<std::filesystem::path> inputs = {});

// True when `folder` holds a run of `kind` (its marker, or a folder of this
// kind from before markers), complete or not.
bool holds_run(const std::filesystem::path& folder, const std::string& kind);

// The run folder a checkpoint belongs to: RUN/checkpoints/NAME.safetensors ->
// RUN. Throws imret::Error naming the file when it is not in a checkpoints/ folder.
std::filesystem::path run_folder_of_checkpoint(const std::filesystem::path& checkpoint);

}  // namespace imret::learn
