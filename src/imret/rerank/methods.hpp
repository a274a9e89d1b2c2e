#pragma once
// The re-ranking methods (reranker.hpp says where each acts). Each class
// takes its parameters checked; make_reranker builds them from specs.
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "imret/rerank/neighbour_graph.hpp"
#include "imret/rerank/reranker.hpp"

namespace imret::rerank {

// αQE (Radenović et al., 2018): each query replaced by the weighted mean of
// itself (weight 1) and its first k shortlist items (weight max(cos, 0)^alpha),
// then searched again. k = 0 changes nothing; alpha = 0 is average QE.
class QueryExpansion : public Reranker {
 public:
  QueryExpansion(int64_t k, double alpha);
  std::string spec() const override;
  int64_t largest_count() const override { return k_; }
  bool expands_queries() const override { return k_ > 0; }
  int64_t items_read() const override { return k_; }
  at::Tensor expand_queries(const at::Tensor& queries, const search::SearchResult& shortlist,
                            const search::Index& index) const override;

 private:
  int64_t k_;
  double alpha_;
};

// DBA (Arandjelović & Zisserman, 2012; weighted as in Radenović et al.):
// each database vector replaced by the weighted mean of itself (weight 1)
// and its k nearest other database vectors (weight max(cos, 0)^alpha).
class DatabaseAugmentation : public Reranker {
 public:
  DatabaseAugmentation(int64_t k, double alpha);
  std::string spec() const override;
  int64_t largest_count() const override { return k_; }
  bool augments_database() const override { return k_ > 0; }
  at::Tensor augment_database(const at::Tensor& vectors, search::Metric metric) const override;

 private:
  int64_t k_;
  double alpha_;
};

// k-reciprocal re-ranking (Zhong et al., CVPR 2017), on each query's own
// neighbourhood: the query and its shortlist form the set the authors' code
// ranks (their `original_dist` over query + gallery, with one query), so the
// cost per query is bounded by the shortlist (depth K: O(K^2 D) for the
// distances, K^2 doubles of memory). Final distance = (1 - lambda) Jaccard +
// lambda original (squared distance, divided by its row's largest).
class KReciprocal : public Reranker {
 public:
  KReciprocal(int64_t k1, int64_t k2, double lambda);
  std::string spec() const override;
  int64_t largest_count() const override { return std::max(k1_, k2_); }
  bool reorders() const override { return true; }
  Reordered reorder(const at::Tensor& queries, const search::SearchResult& shortlist,
                    const search::Index& index) const override;

 private:
  int64_t k1_, k2_;
  double lambda_;
};

// The final k-reciprocal distances of item 0 (the query) to items 1 .. n-1,
// from the n x n squared distances `dist` (row-major, symmetric, zero
// diagonal): the authors' definitions (k-reciprocal sets with the 2/3
// expansion from sets of round(k1 / 2), Gaussian weights, local query
// expansion over k2, Jaccard distance, lambda mix). n - 1 values.
std::vector<double> k_reciprocal_distances(const std::vector<double>& dist, int64_t n, int64_t k1, int64_t k2,
                                           double lambda);

// Diffusion (Iscen et al., CVPR 2017), truncated to the shortlist: on the
// mutual k-nearest-neighbour graph of the database (edge weight
// max(cos, 0)^gamma), restricted to the query's shortlist and symmetrically
// normalised (S), solves (I - alpha S) f = y by conjugate gradient
// (`iterations` at most), y = max(cos(query, x), 0)^gamma on the first kq
// shortlist items; ranks by f. The graph is made once per database
// (prepare(): a k + 1 search of every database vector in the index).
class Diffusion : public Reranker {
 public:
  Diffusion(int64_t k, int64_t kq, double alpha, double gamma, int64_t iterations);
  std::string spec() const override;
  int64_t largest_count() const override { return std::max({k_, kq_, iterations_}); }
  bool reorders() const override { return true; }
  void prepare(const search::Index& index) override;
  bool needs_preparing() const override { return true; }
  Reordered reorder(const at::Tensor& queries, const search::SearchResult& shortlist,
                    const search::Index& index) const override;

 private:
  int64_t k_, kq_;
  double alpha_, gamma_;
  int64_t iterations_;
  std::shared_ptr<const NeighbourGraph> graph_;
};

// Solves A x = b for a symmetric positive definite A given as a product
// (apply(x) = A x), from x = 0, by conjugate gradient: at most `iterations`
// steps, stopping when |r| <= tolerance |b|. Returns x.
std::vector<double> conjugate_gradient(const std::function<void(const std::vector<double>&, std::vector<double>&)>& apply,
                                       const std::vector<double>& b, int64_t iterations, double tolerance);

}  // namespace imret::rerank
