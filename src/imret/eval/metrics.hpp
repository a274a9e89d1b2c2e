#pragma once
// Ranking metrics of retrieval: AP/mAP (exactly as scikit-learn's
// average_precision_score, ties included), mAP@R and R-precision (as
// pytorch-metric-learning defines them), MRR, P@K, R@K, hit rate@K, the
// interpolated precision-recall curve, and on request the graded metrics
// nDCG@K (exactly as scikit-learn's ndcg_score, ties averaged) and graded AP.
// Torch-free: a ranking is a row of scores, a row of relevance grades and,
// for the graded metrics, optionally a row of gains.
//
// Conventions (docs/metrics.md has the details):
//  - higher score = more similar; relevance 1 = relevant, 0 = not relevant,
//    -1 = excluded (removed before anything is computed, e.g. the query itself);
//  - AP uses one operating point per distinct score value (sklearn), so the
//    order of tied items does not matter;
//  - rank-based metrics (P@K, R@K, hit@K, mAP@R, R-precision, MRR, graded
//    AP) rank tied items by database order (lower index first); nDCG@K
//    averages the gains of tied items (sklearn's ignore_ties=False).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imret::eval {

struct MetricOptions {
  std::vector<int> ks = {1, 5, 10};  // cut-offs of P@K, R@K and hit rate@K; each >= 1
  int pr_points = 101;               // points of the interpolated PR curve; >= 2
  // Graded metrics (they read gains): off by default, so outputs without them
  // do not change. Gains are needed when either is on (graded()).
  std::vector<int> ndcg_ks;  // cut-offs of nDCG@K; each >= 1; empty = nDCG not computed
  bool graded_ap = false;    // compute graded AP (docs/metrics.md has the definition)

  bool graded() const { return graded_ap || !ndcg_ks.empty(); }
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

  // Graded metrics, only when options.graded(). When total_gain == 0 they are
  // 0 and the query is left out of their means (ideal DCG 0: nothing relevant).
  double total_gain = 0;                // sum of the gains of the non-excluded items
  std::vector<double> ndcg_at_k;        // one per options.ndcg_ks: sklearn.metrics.ndcg_score([gains], [scores], k=K)
  double graded_average_precision = 0;  // (1/sum g) sum_n (1/n) sum_{m<=n} min(g_m, g_n); 0 unless options.graded_ap
};

// Computes every metric of one ranking in O(n) after an O(n) radix sort;
// nDCG@K adds O(n + K log K) (partial selection of the ideal top K), graded
// AP O(P log P) over the P items with a positive gain.
// Needs: `scores` and `relevance` of length n >= 0 (relevance < 0 = excluded,
// > 0 = relevant, 0 = not relevant), options.ks and ndcg_ks all >= 1,
// pr_points >= 2. `gains` (length n, read only when options.graded()): the
// graded relevance of each item, >= 0 where relevance >= 0 (excluded items'
// gains are not looked at); nullptr = the 0/1 relevance as gains.
// Throws imret::Error on a NaN score, a NaN or negative gain (among the
// non-excluded items), or bad options. Thread-safe (per-thread scratch memory).
QueryMetrics evaluate_query(const float* scores, const int8_t* relevance, int64_t n, const MetricOptions& options,
                            const float* gains = nullptr);

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
  // Graded metrics: means over the queries whose gains sum to > 0.
  std::vector<int> ndcg_ks;          // empty: nDCG not computed
  std::vector<double> ndcg_at_k;     // one per ndcg_ks
  bool graded_ap = false;            // graded_map computed
  double graded_map = 0;             // mean graded AP
  int64_t queries_without_gain = 0;  // left out of the graded means (0 unless graded metrics were computed)

  bool graded() const { return graded_ap || !ndcg_ks.empty(); }

  // {"queries", "queries_without_relevant", "mAP", "mAP@R", "R-precision", "MRR",
  //  "P@K": {"1": ..}, "R@K": {..}, "hit@K": {..}, "pr_curve": {"recall": [..], "precision": [..]}}
  // and, only when computed, "nDCG@K": {"10": ..}, "graded mAP", "queries_without_gain".
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
  void add_graded(const QueryMetrics& metrics);

  MetricOptions options_;
  int64_t queries_ = 0;
  int64_t without_relevant_ = 0;
  double average_precision_ = 0, map_at_r_ = 0, r_precision_ = 0, reciprocal_rank_ = 0;
  std::vector<double> precision_at_k_, recall_at_k_, hit_rate_at_k_, interpolated_precision_;
  int64_t without_gain_ = 0;
  double graded_average_precision_ = 0;
  std::vector<double> ndcg_at_k_;
};

// Writes the mean PR curve as CSV (header "recall,precision"), atomically.
void write_pr_curve_csv(const std::filesystem::path& path, const Summary& summary);

}  // namespace imret::eval
