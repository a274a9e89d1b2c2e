#pragma once
// `imret compare-search`: one set of embeddings, several search backends, one
// table. Each backend's top-k lists are scored against exact search (recall)
// and against the classes (mAP@k, P@1, P@5, k-NN accuracy).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/search/index.hpp"

namespace imret::eval {

// AP of a ranking cut at k: (1 / min(R, k)) * sum_{i <= k} P@i * rel(i),
// R = num_relevant (the relevant items in the whole database). With k >= the
// database size it is the AP of the full ranking (ties ranked as given).
// `relevant`: k flags, the ranked list's relevance. 0 when num_relevant == 0.
double average_precision_at_k(const std::vector<bool>& relevant, int64_t num_relevant);

// Mean over queries of |found top-k ∩ exact top-k| / k (ids < 0 never match).
// Needs both with at least k columns and the same rows.
double recall_against(const search::SearchResult& found, const search::SearchResult& exact, int64_t k);

// Ranking quality of top-k lists with same-class relevance. Queries with a
// negative label, or whose class has no database item, are left out.
struct TopKQuality {
  int64_t queries = 0;
  double map_at_k = 0;        // mean average_precision_at_k over the result's k columns
  double precision_at_1 = 0;  // fraction of relevant items in the first 1 / 5
  double precision_at_5 = 0;
};
TopKQuality top_k_quality(const search::SearchResult& result, const std::vector<int64_t>& database_labels,
                          const std::vector<int64_t>& query_labels);

// One backend (a row of the table).
struct SearchBackendResult {
  std::string spec;                                        // as given, with its @parameters
  std::string rerank = "none";                             // the re-ranking plan searched through
  search::SearchParams parameters;  // the spec's, build-time and query-time
  double train_seconds = 0;
  double add_seconds = 0;
  int64_t memory_bytes = 0;
  double queries_per_second = 0;  // search of all queries for the top k
  double recall_at_1 = 0, recall_at_10 = 0;  // against exact search
  TopKQuality quality;
  int64_t k = 0;               // the k of the timed search and of mAP@k
  double knn_accuracy = 0;     // vote of the first knn_k neighbours
  int64_t knn_k = 0;
  bool knn_distance_weighted = false;
  nlohmann::json to_json() const;
};

// "faiss:IVF1024,Flat@nprobe=16,efSearch=64" -> ("faiss:IVF1024,Flat",
// {{"nprobe", 16}, {"efSearch", 64}}). UsageError on a malformed suffix.
std::pair<std::string, search::SearchParams> split_spec_parameters(const std::string& spec);

struct SearchComparisonOptions {
  int64_t k = 100;      // results per query (timed search, mAP@k); >= 10
  int64_t knn_k = 10;   // k-NN classification
  bool knn_distance_weighted = false;  // votes weighted by 1 / distance (eval::knn_classify)
  int64_t train_size = 0;  // training sample for IVF/PQ (0: the whole database)
  uint64_t seed = 0;
  search::Metric metric = search::Metric::Euclidean;
  // Re-ranking plans (rerank::Plan specs): each backend is searched through
  // each of them too, one row each (an index of DBA-augmented vectors is
  // built for a plan with DBA).
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

// Builds every backend on `database` (N x D), searches `queries` (Q x D) and
// fills a row each. Ground truth: the exact index with the same metric.
// Specs with the same backend and build-time parameters (efConstruction)
// share one index, built once (their rows report its train and add times
// and memory); each searches it with its own query-time parameters, per
// call (Index::search's SearchParams). With options.rerank, each backend's
// row is followed by one row per plan.
std::vector<SearchBackendResult> compare_search_backends(const std::vector<std::string>& specs,
                                                         const at::Tensor& database,
                                                         const std::vector<int64_t>& database_labels,
                                                         const at::Tensor& queries,
                                                         const std::vector<int64_t>& query_labels,
                                                         const SearchComparisonOptions& options);

std::string search_comparison_markdown(const std::string& title, const std::vector<SearchBackendResult>& rows);
std::string search_comparison_csv(const std::vector<SearchBackendResult>& rows);
// results.md, results.csv, results.json in `folder`, atomically.
void write_search_comparison(const std::filesystem::path& folder, const std::string& title,
                             const std::vector<SearchBackendResult>& rows, const nlohmann::json& setup);

}  // namespace imret::eval
