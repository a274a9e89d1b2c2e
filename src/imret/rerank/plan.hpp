#pragma once
// rerank::Plan: the re-ranking methods a search runs, in order, chained with
// '+' ("dba:k=5+aqe:k=2"), and the two ways to run them: a top-k search over
// any index (imret search, index search, serve), and the full ranking of an
// evaluation (every database item scored, the shortlist re-ranked on top).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imret/rerank/reranker.hpp"
#include "imret/search/index.hpp"
#include "imret/search/similarity.hpp"

namespace imret::rerank {

constexpr int64_t kDefaultDepth = 100;

struct RerankedResult {
  // ids in the re-ranked order; scores: each item's distance or similarity
  // to the query as given (the index's metric), whatever the order.
  search::SearchResult result;
  // Q x k float32, higher = better: the last reordering method's score
  // (undefined when the plan reorders nothing).
  at::Tensor rerank_scores;
};

class Plan {
 public:
  Plan() = default;  // no re-ranking
  // "none" (or "") or specs joined by '+'. UsageError as make_reranker, or
  // for a depth below 1.
  Plan(const std::string& text, int64_t depth = kDefaultDepth);

  bool empty() const { return methods_.empty(); }
  // "none", or each method's full spec joined by '+'.
  std::string spec() const;
  int64_t depth() const { return depth_; }
  // The methods as given.
  const std::vector<std::shared_ptr<Reranker>>& methods() const { return methods_; }
  // The database-side part alone ("dba:k=5,alpha=3"), "" when none.
  std::string database_spec() const;

  // The vectors to index (N x D float32): each database method in turn.
  at::Tensor augment_database(const at::Tensor& vectors, search::Metric metric) const;
  // Once per database, before searches: the reordering methods' graphs.
  void prepare(const search::Index& index);
  // The largest whole-number parameter of its methods (0 when none), and
  // how many methods it chains: what a service limits in a request's plan.
  int64_t largest_count() const;
  size_t size() const { return methods_.size(); }
  // Whether prepare() has work to do (a graph that a changed database makes stale).
  bool needs_preparing() const;
  // The same methods (prepared ones shared) with another shortlist depth.
  Plan with_depth(int64_t depth) const;

  // The k best of each query: the top max(depth, k) from `index`, each query
  // method (a second search), then each reordering method, cut to k.
  // `index` holds the database as the plan augments it (built with
  // augment_database). Safe from several threads once prepared.
  RerankedResult search(const search::Index& index, const at::Tensor& queries, int64_t k,
                        const search::SearchParams& params = {}) const;

 private:
  std::vector<std::shared_ptr<Reranker>> methods_;
  int64_t depth_ = kDefaultDepth;
};

// The plan over a whole database, for the evaluation driver: scores(queries)
// gives the Q x N float32 CPU scores (higher = better) of the full ranking in
// which each query's re-ranked shortlist comes first, in its new order, and
// every other item after it in the first search's order (for a query
// method: the second search's). The database is augmented here.
class FullRanking {
 public:
  FullRanking(Plan plan, const at::Tensor& database, search::Metric metric, c10::Device device = c10::kCPU);
  at::Tensor scores(const at::Tensor& queries) const;
  // The exact index over the (augmented) database that the plan searched.
  const search::Index& index() const { return *index_; }

 private:
  Plan plan_;
  search::PreparedDatabase prepared_;
  std::unique_ptr<search::Index> index_;
};

}  // namespace imret::rerank
