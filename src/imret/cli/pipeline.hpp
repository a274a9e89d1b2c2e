#pragma once
// The steps `imret embed`, `imret evaluate`, `imret demo` and
// `imret experiment` share.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/dataset.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/embed.hpp"
#include "imret/search/index.hpp"

namespace imret::cli {

// Embeds `dataset` with a loaded network and writes the embedding set into
// `folder` (the output-folder contract: an earlier embedding folder there is
// replaced whole, anything else is refused, as is a folder holding one of
// `inputs`); returns the number of items embedded. `meta` (where the data and
// the network came from: "data", "split", and "checkpoint" or "weights") goes
// into meta.json. Error when no image could be embedded or the network gives
// NaN/inf embeddings.
int64_t embed_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                        const nlohmann::json& meta, const models::EmbedOptions& options,
                        const std::filesystem::path& folder, const std::vector<std::filesystem::path>& inputs = {});

struct EvaluationRequest {
  search::Metric metric = search::Metric::Euclidean;
  eval::MetricOptions metric_options;
  bool exclude_self = false;
  int64_t knn_k = 5;  // 0: no k-NN classification (same-class relevance only)
  // auto: same class, or for items with objects (COCO) the three object
  // modes with selection first; same-class; or an object mode to report
  // first ("retrieval" in metrics.json): selection | aggregation | weighted.
  std::string relevance = "auto";
  double weighted_threshold = 0.5;  // weighted mode: relevant when the overlap >= this
  std::string device = "cpu";
};

struct EvaluationOutcome {
  nlohmann::json metrics;  // the content of metrics.json
  std::string table;       // the retrieval metrics as a short table
};

// Evaluates queries against the database, writes metrics.json and
// pr_curve.csv into `out`. Relevance as request.relevance says; the object
// modes add "modes": {"selection", "aggregation", "weighted"} (with nDCG@K
// and graded mAP) to metrics.json and pr_curve_<mode>.csv, and the table
// shows the three side by side. UsageError for an object mode on items
// without objects.
EvaluationOutcome evaluate_to_folder(const EmbeddingSet& queries, const EmbeddingSet& database,
                                  const EvaluationRequest& request, const std::filesystem::path& out);

// Prints the table and the k-NN accuracy.
void print_metrics(const EvaluationOutcome& outcome);

// A stratified part of `dataset` of about `count` items (all when count <= 0).
std::shared_ptr<const data::Dataset> stratified_part(std::shared_ptr<const data::Dataset> dataset, int64_t count,
                                                     uint64_t seed);

struct RetrievalRunRequest {
  std::string data;  // the dataset's path, recorded in the embeddings' meta.json
  std::shared_ptr<const data::Dataset> train_set;     // trained on
  std::shared_ptr<const data::Dataset> database_set;  // the database; null: the train set
  std::shared_ptr<const data::Dataset> query_set;
  std::string train_split = "train", database_split, query_split = "test";  // database_split empty: train_split
  search::Metric metric = search::Metric::Cosine;
  int64_t database_limit = 0, query_limit = 0;  // stratified parts (0: all)
};

struct RetrievalRun {
  learn::TrainResult trained;
  EvaluationOutcome evaluation;
};

// The whole path into `run_dir`: train (checkpoints/, train_log.csv), embed
// the database (the training split unless another is given) and the query split with the best
// checkpoint (embeddings/database, embeddings/queries), evaluate the full
// ranking (metrics.json, pr_curve.csv). Prints each step's header.
// `run_dir` is where the files are written (an OutputFolder's staging
// folder), `final_run_dir` where the run will be: the embeddings record
// their checkpoint there, and the result's paths point there.
RetrievalRun train_embed_evaluate(const learn::TrainConfig& config, const RetrievalRunRequest& request,
                                  const std::filesystem::path& run_dir, const std::filesystem::path& final_run_dir);

}  // namespace imret::cli
