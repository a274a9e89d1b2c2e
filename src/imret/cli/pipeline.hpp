#pragma once
// The steps `imret embed`, `imret evaluate` and `imret demo` share.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/dataset.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/embed.hpp"
#include "imret/search/index.hpp"

namespace imret::cli {

// Embeds `dataset` with a loaded network and writes the embedding set into
// `folder`; returns the number of items embedded. `meta` (where the data and
// the network came from: "data", "split", and "checkpoint" or "weights") goes
// into meta.json.
int64_t embed_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                        const nlohmann::json& meta, const models::EmbedOptions& options,
                        const std::filesystem::path& folder);

struct EvaluationRequest {
  search::Metric metric = search::Metric::Euclidean;
  eval::MetricOptions metric_options;
  bool exclude_self = false;
  int64_t knn_k = 5;  // 0: no k-NN classification
  std::string device = "cpu";
};

struct EvaluationOutcome {
  nlohmann::json metrics;  // the content of metrics.json
  std::string table;       // the retrieval metrics as a short table
};

// Evaluates queries against the database (relevance: same class), writes
// metrics.json and pr_curve.csv into `out`.
EvaluationOutcome evaluate_to_folder(const EmbeddingSet& queries, const EmbeddingSet& database,
                                  const EvaluationRequest& request, const std::filesystem::path& out);

// Prints the table and the k-NN accuracy.
void print_metrics(const EvaluationOutcome& outcome);

}  // namespace imret::cli
