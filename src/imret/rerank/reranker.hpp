#pragma once
// rerank::Reranker: one re-ranking method, the step between a nearest-
// neighbour search and its results. A method acts at one of three places:
//  - on the database, once, before it is indexed (DBA: each vector replaced
//    by a weighted mean of itself and its neighbours);
//  - on the query, from its first shortlist, before a second search (αQE);
//  - on the shortlist: the query's top `depth` items put in a new order
//    (k-reciprocal re-ranking, diffusion).
// A Plan (plan.hpp) chains methods and runs them over any search::Index.
// Similarities inside the methods are cosine similarities of the vectors
// (the index's stored vectors, L2-normalised for a cosine index); k-reciprocal
// distances are squared Euclidean distances, as its authors' code computes.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "imret/core/named_spec.hpp"  // spec_number
#include "imret/search/index.hpp"

namespace imret::rerank {

// A shortlist put in a new order: for each place of the new order, the
// place in the shortlist of the item that comes there (-1 padding stays at
// the end), and that item's score under the method, higher = better.
struct Reordered {
  at::Tensor positions;  // Q x K int64, each row a permutation of 0 .. K-1
  at::Tensor scores;     // Q x K float32 (-inf for padding)
};

class Reranker {
 public:
  virtual ~Reranker() = default;
  // The method's spec with every parameter ("aqe:k=2,alpha=3"): make_reranker
  // builds the same method from it.
  virtual std::string spec() const = 0;
  // The largest of its whole-number parameters (k, k1, k2, kq, iterations):
  // what bounds its work per query, for a service to limit.
  virtual int64_t largest_count() const = 0;

  // Database side. Whether augment_database changes anything.
  virtual bool augments_database() const { return false; }
  // N x D float32 vectors -> the vectors to index instead (same shape).
  virtual at::Tensor augment_database(const at::Tensor& vectors, search::Metric metric) const { (void)metric; return vectors; }

  // Query side. Whether expand_queries makes new queries for a second search.
  virtual bool expands_queries() const { return false; }
  // How many of the first search's items expand_queries reads.
  virtual int64_t items_read() const { return 0; }
  // Q x D queries and their first shortlist (from `index`) -> Q x D queries
  // for the second search.
  virtual at::Tensor expand_queries(const at::Tensor& queries, const search::SearchResult& shortlist,
                                    const search::Index& index) const {
    (void)shortlist, (void)index;
    return queries;
  }

  // Shortlist side. Whether reorder changes the order of a shortlist.
  virtual bool reorders() const { return false; }
  // Work done once per database before any reorder (a neighbour graph of the
  // database). Call again after the index changes.
  virtual void prepare(const search::Index& index) { (void)index; }
  // Whether prepare() does work that a changed database makes stale.
  virtual bool needs_preparing() const { return false; }
  // The shortlist (Q x K from `index`) of each of the Q x D queries in a new
  // order. Safe to call from several threads at once.
  virtual Reordered reorder(const at::Tensor& queries, const search::SearchResult& shortlist,
                            const search::Index& index) const;
};

// A method from its spec: "aqe[:k=2,alpha=3]", "dba[:k=5,alpha=3]",
// "kreciprocal[:k1=20,k2=6,lambda=0.3]", "diffusion[:k=50,kq=10,alpha=0.99,
// gamma=3,iterations=20]" (defaults as shown). UsageError naming the spec and
// the valid names for an unknown method or parameter, or a value out of range.
std::unique_ptr<Reranker> make_reranker(const std::string& spec);

// The methods' names, for help texts and errors.
const char* method_names();

}  // namespace imret::rerank
