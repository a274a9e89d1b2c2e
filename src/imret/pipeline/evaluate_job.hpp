#pragma once
// Evaluating query embeddings against a database into a folder:
// metrics.json and the precision-recall curves (`imret evaluate`, and the
// last step of a training run).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

struct EvaluationRequest {
  search::Metric metric = search::Metric::Euclidean;
  eval::MetricOptions metric_options;
  bool exclude_self = false;  // the queries are the database: ignore each query's own row
  int64_t knn_k = 5;          // 0: no k-NN classification (same-class relevance only)
  // auto: same class, or for items with objects (COCO) the three object
  // modes with selection first; same-class; or an object mode to report
  // first ("retrieval" in metrics.json): selection | aggregation | weighted.
  std::string relevance = "auto";
  double weighted_threshold = 0.5;  // weighted mode: relevant when the overlap >= this
  std::string device = "cpu";
  // Re-ranking plans (rerank::Plan specs) compared with the plain ranking:
  // metrics.json "rerank", rerank.md, and a table; shortlists of rerank_depth.
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

struct EvaluationOutcome {
  nlohmann::json metrics;  // the content of metrics.json
  std::string table;       // the retrieval metrics as a short table
};

// Evaluates queries against the database, writes metrics.json and
// pr_curve.csv into `out`. Relevance as request.relevance says; the object
// modes add "modes": {"selection", "aggregation", "weighted"} (with nDCG@K
// and graded mAP) to metrics.json and pr_curve_<mode>.csv, and the table
// shows the three side by side. With request.rerank, each plan is compared
// with the plain ranking on the first relevance (metrics.json "rerank",
// rerank.md, and the table after the metrics). UsageError naming the field for an object
// mode on items without objects, unlabelled items under same-class
// relevance, or embeddings of different sizes.
EvaluationOutcome evaluate_to_folder(const EmbeddingSet& queries, const EmbeddingSet& database,
                                     const EvaluationRequest& request, const std::filesystem::path& out);

}  // namespace imret::pipeline
