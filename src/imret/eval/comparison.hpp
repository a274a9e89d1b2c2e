#pragma once
// The comparison table of `imret experiment`: one row per trained and
// evaluated configuration, as Markdown (results.md), CSV (results.csv) and
// JSON (results.json).
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imret::eval {

struct ExperimentResult {
  std::string name;
  std::string description;
  nlohmann::json settings;   // learn::TrainConfig::to_json()
  std::string miner;         // the miner the run used ("-" where none)
  // The loss's distance and margin as the table shows them ("-" where the
  // method has none), from learn::table_distance / table_margin. Filled by the
  // caller, not stored in to_json() (they follow from the settings).
  std::string distance = "-";
  std::string margin = "-";
  std::string metric;        // retrieval metric of the evaluation
  nlohmann::json retrieval;  // eval::Summary::to_json() without the PR curve
  // COCO items: {"selection": Summary JSON, "aggregation": .., "weighted": ..}, without PR curves; else empty
  nlohmann::json modes = nlohmann::json::object();
  double knn_accuracy = NAN;
  int64_t epochs_run = 0;
  double train_seconds = 0;
  double images_per_second = NAN;  // last epoch
  double tuples_per_batch = NAN;   // last epoch, metric learning
  double nonzero_fraction = NAN;   // last epoch, metric learning

  nlohmann::json to_json() const;
  static ExperimentResult from_json(const nlohmann::json& json);
};

// The results table; when results have object modes, a second table with
// the three modes side by side (mAP, P@1, nDCG@10, graded mAP).
std::string comparison_markdown(const std::string& title, const std::vector<ExperimentResult>& results);
std::string comparison_csv(const std::vector<ExperimentResult>& results);

// Writes results.md, results.csv and results.json into `folder` (atomically).
void write_comparison(const std::filesystem::path& folder, const std::string& title,
                      const std::vector<ExperimentResult>& results);

}  // namespace imret::eval
