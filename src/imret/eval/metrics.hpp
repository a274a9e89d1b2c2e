#pragma once
// Ranking metrics of retrieval: AP/mAP (exactly as scikit-learn's
// average_precision_score, ties included), mAP@R and R-precision (as
// pytorch-metric-learning defines them), MRR, P@K, R@K, hit rate@K and the
// interpolated precision-recall curve. Torch-free: a ranking is a row of
// scores and a row of relevance grades.
//
// Conventions (docs/metrics.md has the details):
//  - higher score = more similar; relevance 1 = relevant, 0 = not relevant,
//    -1 = excluded (removed before anything is computed, e.g. the query itself);
//  - AP uses one operating point per distinct score value (sklearn), so the
//    order of tied items does not matter;
//  - rank-based metrics (P@K, R@K, hit@K, mAP@R, R-precision, MRR) rank tied
//    items by database order (lower index first).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imret::eval {

struct MetricOptions {
  std::vector<int> ks = {1, 5, 10};  // cut-offs of P@K, R@K and hit rate@K; each >= 1
  int pr_points = 101;               // points of the interpolated PR curve; >= 2
};

// Metrics of one query's ranking. When num_relevant == 0 every metric is 0
// (sklearn returns 0 for AP there too) and the query is left out of the means.
struct QueryMetrics {
  int64_t num_relevant = 0;
  double average_precision = 0;  // sklearn.metrics.average_precision_score(relevance, scores), ties included
  double map_at_r = 0;           // (1/R) * sum_{i<=R} P@i * rel(i), R = num_relevant
  double r_precision = 0;        // relevant in top R / R
  double reciprocal_rank = 0;    // 1 / rank of the first relevant item
  std::vector<double> precision_at_k;  // one per options.ks: relevant in top k / k
  std::vector<double> recall_at_k;     // relevant in top k / num_relevant
  std::vector<double> hit_rate_at_k;   // 1 if any relevant in top k, else 0
  // options.pr_points values: at recall r_j = j / (pr_points - 1), the maximum
  // precision over the score thresholds whose recall is >= r_j.
  std::vector<double> interpolated_precision;
};

// Computes every metric of one ranking in O(n) after an O(n) radix sort.
// Needs: `scores` and `relevance` of length n >= 0 (relevance < 0 = excluded,
// > 0 = relevant, 0 = not relevant), options.ks all >= 1, pr_points >= 2.
// Throws imret::Error on a NaN score (among the non-excluded items) or bad options.
// Thread-safe (per-thread scratch memory).
QueryMetrics evaluate_query(const float* scores, const int8_t* relevance, int64_t n, const MetricOptions& options);

// Means over the queries that have at least one relevant item.
struct Summary {
  int64_t queries = 0;                   // every query added, with or without relevant items
  int64_t queries_without_relevant = 0;  // left out of every mean below
  double mean_average_precision = 0;
  double map_at_r = 0;
  double r_precision = 0;
  double mean_reciprocal_rank = 0;
  std::vector<int> ks;
  std::vector<double> precision_at_k, recall_at_k, hit_rate_at_k;  // one per ks
  std::vector<double> pr_recall, pr_precision;                     // mean interpolated PR curve

  // {"queries", "queries_without_relevant", "mAP", "mAP@R", "R-precision", "MRR",
  //  "P@K": {"1": ..}, "R@K": {..}, "hit@K": {..}, "pr_curve": {"recall": [..], "precision": [..]}}
  nlohmann::json to_json() const;
  // A short human table for the terminal (one metric a line).
  std::string to_table() const;
};

// Sums per-query metrics; summary() gives the means. add() order does not
// change the result beyond floating-point rounding (sums are in double).
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(MetricOptions options);
  // Needs metrics computed with the same options (vector sizes are checked).
  void add(const QueryMetrics& metrics);
  Summary summary() const;

 private:
  MetricOptions options_;
  int64_t queries_ = 0;
  int64_t without_relevant_ = 0;
  double average_precision_ = 0, map_at_r_ = 0, r_precision_ = 0, reciprocal_rank_ = 0;
  std::vector<double> precision_at_k_, recall_at_k_, hit_rate_at_k_, interpolated_precision_;
};

// Writes the mean PR curve as CSV (header "recall,precision"), atomically.
void write_pr_curve_csv(const std::filesystem::path& path, const Summary& summary);

}  // namespace imret::eval
